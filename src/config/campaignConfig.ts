/**
 * Campaign configuration: the envelope (endpoints, roles, tools, concurrency, failure policy) around
 * the ordered `stages[]`, whose union is built from the stage specs (src/stages/specs.ts). Parsed
 * once, by the CLI or the campaign's registration, and frozen (src/config/frozen.ts); workflows never
 * re-parse it. No Node or I/O imports.
 */
import { z } from "zod";
import type { AnyStageSpec } from "../framework/stageSpec.js";
import { STAGE_SPECS, type StageConfig, type StageName } from "../stages/specs.js";
import { clusterConfigSchema, DEFAULT_CLUSTER, rewardServiceReachIssue } from "../training/clusterConfig.js";
import { ENV_NAME, ENV_NAME_RULE } from "./envVar.js";
import { schedulesSchema } from "./scheduleConfig.js";
import { atMost, CONFIG_LIMITS, filePath, model, name, nonNegativeInt, positiveInt, preview, serviceUrl, temperature } from "./fields.js";
import { MAX_POOL_WEIGHT_REPEATS, poolWeightRepeats } from "../selection/poolWeight.js";
import { stageOrderWarnings } from "./stageOrder.js";
import { closestName } from "../util/closestName.js";

export { CONFIG_LIMITS } from "./fields.js";
export { BFCL_EVAL_CATEGORIES, BFCL_FAST_CATEGORIES } from "../bfcl/categoryNames.js";
export type { StageConfig, StageName } from "../stages/specs.js";

/** Why a config has no business being large; said whenever one is refused for its size. */
export const CONFIG_SIZE_HINT = "a campaign config lists endpoints, roles, tool files and stages, never tools or samples themselves";
export const CONFIG_TOO_LARGE = `the config is larger than ${CONFIG_LIMITS.configBytes} bytes (1 MiB) of JSON; ${CONFIG_SIZE_HINT}`;

/**
 * Names that collide with properties every JavaScript object inherits. An endpoint called `toString`
 * or `__proto__` would be found by any lookup that is not an own-property check (and JSON's
 * `__proto__` key is silently dropped by record parsing), so they are refused outright.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), "prototype"]);
const reservedMessage = (n: string) => `"${n}" is a reserved name (it collides with a built-in JavaScript object property); choose another name`;

/** Defaults of the endpoint fail-fast fields: a dead endpoint stops its stage in seconds, a hung one in about two minutes. */
export const ENDPOINT_FAIL_FAST_DEFAULTS = { connectTimeoutMs: 5_000, firstByteTimeoutMs: 40_000, attemptBudget: 3 } as const;
export const ENDPOINT_FAIL_FAST_LIMITS = { connectTimeoutMs: 60_000, attemptBudget: 100 } as const;

export const endpointSchema = z.strictObject({
  /** OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 */
  baseUrl: serviceUrl("http://127.0.0.1:8000/v1"),
  /** Name of the environment variable holding the API key; never the key itself. */
  apiKeyEnv: z
    .string({ error: "expected the name of an environment variable" })
    .regex(ENV_NAME, `expected an environment variable name (${ENV_NAME_RULE}), not the key itself`)
    .optional(),
  maxConcurrency: positiveInt.max(CONFIG_LIMITS.maxConcurrency, atMost(CONFIG_LIMITS.maxConcurrency)).default(16),
  timeoutMs: positiveInt.max(CONFIG_LIMITS.timeoutMs, atMost(CONFIG_LIMITS.timeoutMs, " (one hour)")).default(120_000),
  maxRetries: nonNegativeInt.max(CONFIG_LIMITS.maxRetries, atMost(CONFIG_LIMITS.maxRetries)).default(5),
  // Failing fast on dead or hung endpoints (README "Endpoint timeouts and attempt budget"). Optional,
  // with defaults applied where clients are built (ENDPOINT_FAIL_FAST_DEFAULTS), so configs that do
  // not set them keep the frozen form and hash they had before these fields existed.
  /** TCP connect deadline, checked while the endpoint is not known to answer. */
  connectTimeoutMs: positiveInt.max(ENDPOINT_FAIL_FAST_LIMITS.connectTimeoutMs, atMost(ENDPOINT_FAIL_FAST_LIMITS.connectTimeoutMs, " (one minute)")).optional(),
  /** Deadline for response headers (for non-streaming requests: the whole generation); capped by timeoutMs. */
  firstByteTimeoutMs: positiveInt.max(CONFIG_LIMITS.timeoutMs, atMost(CONFIG_LIMITS.timeoutMs, " (one hour)")).optional(),
  /** Unreachable attempts in a row (per worker process) after which the stage waits for an operator. */
  attemptBudget: positiveInt.max(ENDPOINT_FAIL_FAST_LIMITS.attemptBudget, atMost(ENDPOINT_FAIL_FAST_LIMITS.attemptBudget)).optional(),
});
export type EndpointConfig = z.infer<typeof endpointSchema>;

export const roleSchema = z.strictObject({
  endpoint: name,
  model,
  temperature: temperature.default(0.7),
  maxTokens: positiveInt.max(CONFIG_LIMITS.maxTokens, atMost(CONFIG_LIMITS.maxTokens)).default(1024),
});
export type RoleConfig = z.infer<typeof roleSchema>;

export const toolSourceSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({ kind: z.literal("example") }),
    z.strictObject({ kind: z.literal("mcp"), path: filePath }),
    z.strictObject({ kind: z.literal("openai"), path: filePath }),
  ],
  { error: 'expected kind to be one of "example", "mcp", "openai"' },
);
export type ToolSource = z.infer<typeof toolSourceSchema>;

/** Role names are keys of `roles` (generator, judge, policy, user, planner, ...). */
const ROLE_NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,62}$/;

/**
 * The `stages[]` entry schema for a list of specs: a union keyed by name, whose "unknown stage"
 * message lists the names the specs define.
 */
function stageUnion(specs: readonly AnyStageSpec[]) {
  const names = specs.map((s) => `"${s.name}"`).join(", ");
  const [first, ...rest] = specs.map((s) => s.schema) as [z.ZodType, ...z.ZodType[]];
  // discriminatedUnion needs object schemas; every spec's schema is a strict object with a literal name.
  return z.discriminatedUnion("name", [first, ...rest] as unknown as [z.core.$ZodTypeDiscriminable, ...z.core.$ZodTypeDiscriminable[]], {
    error: (issue): string | undefined => (issue.code === "invalid_union" ? `unknown stage name; expected one of ${names}` : undefined),
  });
}

const CAMPAIGN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;
const campaignName = z
  .string({ error: "expected a non-empty string" })
  .regex(CAMPAIGN_NAME, "expected letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)");

const endpointName = name.refine((n) => !RESERVED_NAMES.has(n), { error: (i) => reservedMessage(String(i.input)) });
const roleName = z
  .string({ error: "expected a role name" })
  .regex(ROLE_NAME, "expected a role name: a letter, then letters, digits or '_' (at most 63)")
  .refine((n) => !RESERVED_NAMES.has(n), { error: (i) => reservedMessage(String(i.input)) });

function buildCampaignConfigSchema<C>(stage: z.ZodType<C>, specs: readonly AnyStageSpec[]) {
  return (
    z
      .strictObject({
        name: campaignName,
        /** Optional explicit id; default is derived from name by the CLI. */
        campaignId: campaignName.optional(),
        seed: nonNegativeInt.max(Number.MAX_SAFE_INTEGER, atMost(Number.MAX_SAFE_INTEGER)).default(0),
        iterations: positiveInt.max(CONFIG_LIMITS.iterations, atMost(CONFIG_LIMITS.iterations)).default(1),
        endpoints: z
          .record(endpointName, endpointSchema, { error: "expected an object of named endpoints" })
          .refine((e) => Object.keys(e).length > 0, "expected at least one endpoint")
          .refine((e) => Object.keys(e).length <= CONFIG_LIMITS.endpoints, `expected at most ${CONFIG_LIMITS.endpoints} endpoints`),
        /** Roles by name; each stage spec says which it calls. */
        roles: z
          .record(roleName, roleSchema, { error: "expected an object of named roles" })
          .refine((r) => Object.keys(r).length <= CONFIG_LIMITS.roles, `expected at most ${CONFIG_LIMITS.roles} roles`),
        tools: z.strictObject({
          sources: z
            .array(toolSourceSchema, { error: "expected a list of tool sources" })
            .min(1, "expected at least one tool source")
            .max(CONFIG_LIMITS.toolSources, `expected at most ${CONFIG_LIMITS.toolSources} tool sources`),
        }),
        stages: z
          .array(stage, { error: "expected a list of stages" })
          .min(1, "expected at least one stage")
          .max(CONFIG_LIMITS.stages, `expected at most ${CONFIG_LIMITS.stages} stages`),
        concurrency: z.strictObject({ batchesInParallel: positiveInt.max(64, atMost(64)).default(4) }).default({ batchesInParallel: 4 }),
        /** What a failed stage does: wait for an operator (retry/skip/abort), fail the campaign, or skip. */
        onStageFailure: z.enum(["wait", "fail", "skip"], { error: 'expected "wait", "fail" or "skip"' }).default("wait"),
        output: z.strictObject({ dir: filePath.default(".toolloop/output") }).default({ dir: ".toolloop/output" }),
        /** Where training, merge and serving jobs run, and the reward service they call. */
        cluster: clusterConfigSchema.default(DEFAULT_CLUSTER),
        /** Schedules (weekly campaigns): Temporal Schedules starting a new campaign from this config (src/config/scheduleConfig.ts). */
        schedules: schedulesSchema,
      })
      // `when`: cross-field problems are reported together with field problems, not only once those are fixed.
      .check(
        z.superRefine(
          (cfg, ctx) => {
            for (const issue of crossFieldIssues(cfg, specs)) ctx.addIssue({ code: "custom", ...issue });
          },
          { when: () => true },
        ),
      )
  );
}

type Issue = { path: (string | number)[]; message: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Checks that span fields: role endpoints exist, every stage's roles are configured, stage names are
 * unique, no stage plans more batches than CONFIG_LIMITS allows, and the train.grpo job can reach the
 * reward service (clusterConfig.ts: rewardServiceReachIssue). Runs on the possibly half-parsed
 * value (field problems are reported too), so it only looks at what has the expected shape.
 */
function crossFieldIssues(cfg: unknown, specs: readonly AnyStageSpec[]): Issue[] {
  if (!isRecord(cfg)) return [];
  const issues: Issue[] = [];
  const endpoints = isRecord(cfg.endpoints) ? cfg.endpoints : undefined;
  const roles = isRecord(cfg.roles) ? cfg.roles : undefined;
  if (endpoints && roles) {
    for (const [role, r] of Object.entries(roles)) {
      if (!isRecord(r) || typeof r.endpoint !== "string" || r.endpoint.length > CONFIG_LIMITS.nameLength) continue;
      // Own properties only: "constructor" or "toString" must not resolve to Object.prototype's.
      if (!Object.hasOwn(endpoints, r.endpoint)) {
        const defined = Object.keys(endpoints);
        issues.push({
          path: ["roles", role, "endpoint"],
          message: `unknown endpoint ${JSON.stringify(r.endpoint)}; defined: ${defined.length > 0 ? defined.join(", ") : "(none)"}`,
        });
      }
    }
  }
  if (!Array.isArray(cfg.stages) || cfg.stages.length > CONFIG_LIMITS.stages) return issues;
  const seen = new Map<string, number>();
  let slots: { count: number; index: number } | undefined;
  /** The stage whose job calls the reward service, and on how many nodes it runs. */
  let rewardJob: { nodes: number } | undefined;
  /** export.verl stages with no validation share, and the train.grpo stage that runs verl's trainer on their sets. */
  const noValidation: number[] = [];
  let verlGrpo: number | undefined;
  cfg.stages.forEach((s: unknown, i) => {
    if (!isRecord(s) || typeof s.name !== "string") return;
    const spec = specs.find((x) => x.name === s.name);
    if (!spec) return;
    const earlier = seen.get(s.name);
    if (earlier !== undefined) issues.push({ path: ["stages", i, "name"], message: `duplicate stage "${s.name}" (also stages[${earlier}])` });
    else seen.set(s.name, i);
    for (const role of spec.roles) {
      if (!roles || !Object.hasOwn(roles, role)) {
        issues.push({
          path: ["roles", role],
          message: `stages[${i}] (${s.name}) calls the ${role} role; add roles.${role} ({ "endpoint": ..., "model": ... })`,
        });
      }
    }
    // The stage's own defaults tell its batch size; an invalid entry is reported by the union.
    const parsed = spec.schema.safeParse(s);
    if (!parsed.success) return;
    // Roles the entry itself names (a judge committee's members).
    for (const { role, path } of spec.configuredRoles?.(parsed.data) ?? []) {
      if (!roles || !Object.hasOwn(roles, role))
        issues.push({ path: ["stages", i, ...path], message: `names the role ${JSON.stringify(role)}; add roles.${role} ({ "endpoint": ..., "model": ... })` });
    }
    if (s.name === "train.grpo") rewardJob = { nodes: (parsed.data as { grpo: { nnodes: number } }).grpo.nnodes };
    if (s.name === "export.verl" && (parsed.data as { valFraction: number }).valFraction === 0) noValidation.push(i);
    if (s.name === "train.grpo") {
      const g = parsed.data as { trainer: string; grpo: { extraOverrides: string[] } };
      // An override of data.val_files gives verl a validation set of the user's own.
      if (g.trainer === "verl" && !g.grpo.extraOverrides.some((o) => /^\+{0,2}data\.val_files=/.test(o))) verlGrpo = i;
    }
    const stage = parsed.data as { batchSize: number };
    if (spec.reads.kind === "slots") {
      const count = spec.reads.items(parsed.data);
      slots = { count, index: i };
      const issue = batchPlanIssue(count, stage.batchSize, `count ${count}`);
      if (issue) issues.push({ path: ["stages", i, "batchSize"], message: issue });
    } else if (spec.reads.kind === "samples" && !spec.reads.oneBatch && slots) {
      // These stages batch the samples the synthesizing stage before them produced.
      const issue = batchPlanIssue(slots.count, stage.batchSize, `${slots.count} samples from stages[${slots.index}].count`);
      if (issue) issues.push({ path: ["stages", i, "batchSize"], message: issue });
    }
  });
  if (verlGrpo !== undefined) {
    for (const i of noValidation)
      issues.push({
        path: ["stages", i, "valFraction"],
        message:
          `0 leaves train.grpo (stages[${verlGrpo}], trainer verl) an empty validation set, and verl's GRPO trainer stops before its first step ` +
          "(`Validation dataloader is empty!`); use a valFraction above 0 (e.g. 0.05), or give verl a validation set in grpo.extraOverrides (data.val_files=...)",
      });
  }
  if (rewardJob) {
    // Only a cluster section that parses (its field problems are reported by its own schema).
    const cluster = clusterConfigSchema.safeParse(cfg.cluster ?? {});
    const issue = cluster.success ? rewardServiceReachIssue(cluster.data, rewardJob.nodes) : undefined;
    if (issue) issues.push({ path: ["cluster", ...issue.path], message: issue.message });
  }
  return issues;
}

function batchPlanIssue(items: number, batchSize: number, what: string): string | undefined {
  const batches = Math.ceil(items / batchSize);
  if (batches <= CONFIG_LIMITS.batchesPerStage) return undefined;
  const needed = Math.ceil(items / CONFIG_LIMITS.batchesPerStage);
  return `would plan ${batches} batches (${what} / batchSize ${batchSize}); a stage may plan at most ${CONFIG_LIMITS.batchesPerStage}: raise batchSize to at least ${needed}`;
}

/** The built-in stages' config schema. */
export const campaignConfigSchema = buildCampaignConfigSchema(stageUnion(STAGE_SPECS) as unknown as z.ZodType<StageConfig>, STAGE_SPECS);

export type CampaignConfigInput = z.input<typeof campaignConfigSchema>;
export type CampaignConfig = z.infer<typeof campaignConfigSchema>;
export type RoleConfigs = CampaignConfig["roles"];

/** Renders a zod path as `stages[2].batchSize`; keys a dotted path would garble are quoted (and cut when huge). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (typeof p === "string" && /^[A-Za-z0-9_$-]{1,64}$/.test(p)) {
      out += out === "" ? p : `.${p}`;
    } else {
      const key = String(p);
      out += `[${JSON.stringify(key.length > 64 ? key.slice(0, 64) : key)}${key.length > 64 ? `… (${key.length} characters)` : ""}]`;
    }
  }
  return out === "" ? "(root)" : out;
}

export class InvalidCampaignConfigError extends Error {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join("; "));
    this.name = "InvalidCampaignConfig";
  }
}

/** `warnings`: accepted but deprecated spellings (a former stage name), each naming the new one. */
export type ParseResult = { ok: true; config: CampaignConfig; warnings: string[] } | { ok: false; error: InvalidCampaignConfigError };

/** Beyond this many, the rest are summarised: a config of garbage should not print megabytes. */
export const MAX_REPORTED_ISSUES = 100;

/** UTF-8 length of a string without TextEncoder (not every workflow sandbox has it). */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Why `input` is too big to be a config (its JSON text over CONFIG_LIMITS.configBytes), or undefined.
 * Checked before the schema so a huge input costs one serialisation, not a walk with an issue per item.
 */
export function configSizeIssue(input: unknown): string | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch (err) {
    // Cycles, BigInts, or nesting deeper than the serialiser's stack: nothing a JSON file can hold.
    return `the config cannot be serialised as JSON (${err instanceof Error ? err.message : String(err)})`;
  }
  if (text === undefined) return undefined; // undefined/functions: the schema says what is wrong
  // Bytes are at most 3 per UTF-16 unit, so short texts need no count.
  if (text.length * 3 <= CONFIG_LIMITS.configBytes) return undefined;
  return utf8Length(text) > CONFIG_LIMITS.configBytes ? CONFIG_TOO_LARGE : undefined;
}

/**
 * Every `__proto__` key anywhere in the parsed JSON. zod's record parsing drops it without a word
 * (a role or env entry would vanish from the frozen config), so it is refused wherever it appears,
 * records with user-chosen keys (endpoints, roles, env, headers, ...) and fixed objects alike.
 * Iterative, with paths built only for a hit: the size check bounds the input, not its depth.
 */
function reservedKeyIssues(input: unknown): { path: string; message: string }[] {
  type Node = { value: unknown; key?: string | number; parent?: Node };
  const issues: { path: string; message: string }[] = [];
  const stack: Node[] = [{ value: input }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const { value, key } = node;
    if (key === "__proto__") {
      const path: (string | number)[] = [];
      for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) path.unshift(n.key);
      issues.push({ path: formatPath(path), message: reservedMessage(key) });
    } else if (Array.isArray(value)) {
      // Children pushed last-first, so issues come out in the document's order.
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: node });
    } else if (isRecord(value)) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: value[keys[i]!], key: keys[i], parent: node });
    }
  }
  return issues;
}

/**
 * zod issues less the safe-integer range issue of a field that has another: 1e300 is an integer but
 * not a safe one, and the field's own bound ("expected at most 10000") is the message that helps.
 */
function withoutShadowedIssues(issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const safeRange = (i: z.core.$ZodIssue) => (i.code === "too_big" || i.code === "too_small") && i.origin === "int";
  const perPath = new Map<string, number>();
  const key = (i: z.core.$ZodIssue) => JSON.stringify(i.path.map(String));
  for (const i of issues) perPath.set(key(i), (perPath.get(key(i)) ?? 0) + 1);
  return issues.filter((i) => !(safeRange(i) && perPath.get(key(i))! > 1));
}

/** zod issues less what reservedKeyIssues says better: a fixed object's "unknown field" for `__proto__`. */
function withoutReservedKeys(issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((i) => {
    if (i.code !== "unrecognized_keys" || !i.keys.includes("__proto__")) return [i];
    const keys = i.keys.filter((k) => k !== "__proto__");
    return keys.length === 0 ? [] : [{ ...i, keys }];
  });
}

const schemas = new WeakMap<readonly AnyStageSpec[], z.ZodType<CampaignConfig>>();
function schemaFor(specs: readonly AnyStageSpec[]): z.ZodType<CampaignConfig> {
  if (specs === STAGE_SPECS) return campaignConfigSchema as unknown as z.ZodType<CampaignConfig>;
  let schema = schemas.get(specs);
  if (!schema) schemas.set(specs, (schema = buildCampaignConfigSchema(stageUnion(specs), specs) as unknown as z.ZodType<CampaignConfig>));
  return schema;
}

/** Renames stages given by a former name (the spec's `formerNames`), saying so in a warning. */
function renameFormerStages(input: unknown, specs: readonly AnyStageSpec[]): { input: unknown; warnings: string[] } {
  if (!isRecord(input) || !Array.isArray(input.stages)) return { input, warnings: [] };
  const warnings: string[] = [];
  const stages = input.stages.map((s: unknown, i) => {
    if (!isRecord(s) || typeof s.name !== "string") return s;
    const current = specs.find((spec) => spec.formerNames?.includes(s.name as string));
    if (!current) return s;
    warnings.push(`stages[${i}].name: "${s.name}" is deprecated; it is now "${current.name}" (same stage, same options)`);
    return { ...s, name: current.name };
  });
  return warnings.length === 0 ? { input, warnings } : { input: { ...input, stages }, warnings };
}

/**
 * Validates a campaign config and applies defaults; every problem is reported at once, each with
 * its field path. `specs` defaults to the built-in stages (a test may add its own).
 */
export function parseCampaignConfig(raw: unknown, specs: readonly AnyStageSpec[] = STAGE_SPECS): ParseResult {
  const tooBig = configSizeIssue(raw);
  if (tooBig !== undefined) return { ok: false, error: new InvalidCampaignConfigError([{ path: "(root)", message: tooBig }]) };
  const { input, warnings } = renameFormerStages(raw, specs);
  const r = schemaFor(specs).safeParse(input);
  const reserved = reservedKeyIssues(input);
  if (r.success && reserved.length === 0)
    return {
      ok: true,
      config: r.data,
      warnings: [...warnings, ...poolWeightWarnings(r.data), ...partialMixWarnings(input, r.data), ...stageOrderWarnings(r.data, specs)],
    };
  const zodIssues = r.success ? [] : withoutShadowedIssues(withoutReservedKeys(r.error.issues));
  const issues = [...reserved, ...zodIssues.map((i) => ({ path: formatPath(i.path), message: issueMessage(i) }))];
  if (issues.length > MAX_REPORTED_ISSUES) {
    const rest = issues.length - MAX_REPORTED_ISSUES;
    issues.length = MAX_REPORTED_ISSUES;
    issues.push({ path: "(root)", message: `and ${rest} more problem${rest === 1 ? "" : "s"} not listed` });
  }
  return { ok: false, error: new InvalidCampaignConfigError(issues) };
}

/**
 * Fields around the stages (dotted paths, `*` for a name: `endpoints.*.oldKnob`) an older build wrote
 * and this one no longer defines: a field removed or renamed goes here (a stage's own go into its
 * spec's retiredFields), else campaigns frozen with it stop (unknownConfigFields). None so far.
 */
export const RETIRED_ENVELOPE_FIELDS: readonly string[] = [];

const matchesField = (pattern: string, at: readonly PropertyKey[]): boolean => {
  const parts = pattern.split(".");
  return parts.length === at.length && parts.every((p, i) => p === "*" || p === String(at[i]));
};

/**
 * Fields of a config that this build's schemas do not define, each as its path (`stages[1].cpusPerTask`,
 * `endpoints.sim.attemptBudget`): what a newer build added, so a worker of this build would run the
 * config without them (every config object is strict, but a frozen config is never parsed again).
 * A stage entry's fields listed in its spec's `retiredFields` (a field an older build wrote that
 * this one no longer reads) are not unknown: configs frozen before its removal keep running.
 * Stage names this build lacks are not fields (activities/stageOnWorker.ts unknownStageNames).
 */
export function unknownConfigFields(
  config: unknown,
  specs: readonly AnyStageSpec[] = STAGE_SPECS,
  retiredEnvelopeFields: readonly string[] = RETIRED_ENVELOPE_FIELDS,
): { path: (string | number)[]; text: string }[] {
  return configThisBuildRefuses(config, specs, retiredEnvelopeFields).unknownFields;
}

/** A value of a (frozen) config this build's schemas refuse: where, what it is, and what this build expects there. */
export interface RejectedConfigValue {
  path: (string | number)[];
  /** The path as the config's author writes it: `stages[1].batchSize`, `(root)` for the config as a whole. */
  text: string;
  /** The value, previewed (`3000`, `"parquet"`), or `absent`; undefined for a problem of the whole config. */
  value?: string;
  /** This build's own message for it (`expected at most 2000`, `expected "bfcl" or "strict"`). */
  expected: string;
}

/**
 * Values of a (frozen) config this build's schemas refuse, each with its path, the value and this
 * build's message: a newer build's (a new enum member, a looser bound, a field it made optional), so a
 * worker of this build would run the step with a value it never validated (a frozen config is never
 * parsed again) or fail on it in a way that names nothing. Fields it does not define at all are
 * unknownConfigFields'. A config every build refuses never gets this far: the CLI and registration
 * parse a config before freezing it.
 */
export function rejectedConfigValues(config: unknown, specs: readonly AnyStageSpec[] = STAGE_SPECS): RejectedConfigValue[] {
  return configThisBuildRefuses(config, specs).rejectedValues;
}

/** One parse of a (frozen) config with this build's schemas: its unknown fields and its refused values. */
export function configThisBuildRefuses(
  config: unknown,
  specs: readonly AnyStageSpec[] = STAGE_SPECS,
  retiredEnvelopeFields: readonly string[] = RETIRED_ENVELOPE_FIELDS,
): { unknownFields: { path: (string | number)[]; text: string }[]; rejectedValues: RejectedConfigValue[] } {
  const { input } = renameFormerStages(config, specs);
  const r = schemaFor(specs).safeParse(input);
  if (r.success) return { unknownFields: [], rejectedValues: [] };
  const stages = isRecord(input) && Array.isArray(input.stages) ? input.stages : [];
  const retired = (at: readonly PropertyKey[]): boolean => {
    if (at[0] !== "stages") return retiredEnvelopeFields.some((f) => matchesField(f, at));
    if (typeof at[1] !== "number") return false;
    const entry: unknown = stages[at[1]];
    const spec = isRecord(entry) ? specs.find((s) => s.name === entry.name) : undefined;
    return spec?.retiredFields?.includes(at.slice(2).map(String).join(".")) ?? false;
  };
  const unknownFields: { path: (string | number)[]; text: string }[] = [];
  const rejectedValues: RejectedConfigValue[] = [];
  for (const issue of withoutShadowedIssues(r.error.issues)) {
    const at = issue.path.map((p) => (typeof p === "number" ? p : String(p)));
    if (issue.code !== "unrecognized_keys") {
      const value = at.length === 0 ? undefined : valueAt(input, at);
      rejectedValues.push({
        path: at,
        text: formatPath(at),
        ...(at.length === 0 ? {} : { value: value === undefined ? "absent" : preview(value) }),
        expected: issueMessage(issue),
      });
      continue;
    }
    // `__proto__` is a reserved name every build refuses (reservedKeyIssues), never a newer build's field.
    for (const key of issue.keys.filter((k) => k !== "__proto__")) {
      const field = [...at, key];
      if (!retired(field)) unknownFields.push({ path: field, text: formatPath(field) });
    }
  }
  return { unknownFields, rejectedValues };
}

/**
 * The field a misspelt one at `path` most likely meant (`batchSize` for `stages[1].batchSzie`): the
 * closest name this build defines in the same object (src/util/closestName.ts), or undefined.
 */
export function suggestedField(config: unknown, path: readonly (string | number)[], specs: readonly AnyStageSpec[] = STAGE_SPECS): string | undefined {
  const name = path.at(-1);
  if (typeof name !== "string") return undefined;
  const { input } = renameFormerStages(config, specs);
  return closestName(name, fieldsDefinedAt(schemaFor(specs), input, path.slice(0, -1)));
}

/**
 * The field names this build's schema defines for the object at `path` of `value`, walking zod's
 * definitions: wrappers to what they wrap, records and arrays to their items, a union to the
 * options its discriminator (a stage's `name`) picks, or all of them.
 */
function fieldsDefinedAt(schema: z.core.$ZodType, value: unknown, path: readonly (string | number)[]): string[] {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const inner = (key: string) => def[key] as z.core.$ZodType;
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
    case "nonoptional":
      return fieldsDefinedAt(inner("innerType"), value, path);
    case "pipe":
      return fieldsDefinedAt(inner("in"), value, path);
    case "lazy":
      return fieldsDefinedAt((def.getter as () => z.core.$ZodType)(), value, path);
    case "intersection":
      return [...fieldsDefinedAt(inner("left"), value, path), ...fieldsDefinedAt(inner("right"), value, path)];
    case "union": {
      const options = def.options as z.core.$ZodType[];
      const by = typeof def.discriminator === "string" ? def.discriminator : undefined;
      const tag = by !== undefined && isRecord(value) ? value[by] : undefined;
      const picked = tag === undefined ? [] : options.filter((o) => o._zod.propValues?.[by!]?.has(tag as never));
      return (picked.length > 0 ? picked : options).flatMap((o) => fieldsDefinedAt(o, value, path));
    }
    case "object": {
      const shape = def.shape as Record<string, z.core.$ZodType>;
      if (path.length === 0) return Object.keys(shape);
      const next = shape[String(path[0])];
      return next ? fieldsDefinedAt(next, valueAt(value, path.slice(0, 1)), path.slice(1)) : [];
    }
    case "record":
      return path.length === 0 ? [] : fieldsDefinedAt(inner("valueType"), valueAt(value, path.slice(0, 1)), path.slice(1));
    case "array":
      return path.length === 0 ? [] : fieldsDefinedAt(inner("element"), valueAt(value, path.slice(0, 1)), path.slice(1));
    default:
      return [];
  }
}

/** The value at `path` in a plain JSON value (own properties only), undefined where there is none. */
function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let v = root;
  for (const p of path) {
    if (Array.isArray(v) && typeof p === "number") v = v[p];
    else if (isRecord(v) && Object.hasOwn(v, p)) v = v[p];
    else return undefined;
  }
  return v;
}

/**
 * Pool weights become whole repeats of an item's train rows in export.verl (verl's parquet has no
 * per-row weight): rounded, at least one, at most MAX_POOL_WEIGHT_REPEATS. A weight that rounding
 * or the cap changes is accepted (stored configs keep working) and said once here.
 */
function poolWeightWarnings(config: CampaignConfig): string[] {
  const warnings: string[] = [];
  config.stages.forEach((s, i) => {
    if (s.name !== "select.nextRound") return;
    for (const field of ["hardWeight", "easyWeight"] as const) {
      const w = (s as Record<string, unknown>)[field];
      if (typeof w !== "number" || w === poolWeightRepeats(w)) continue;
      warnings.push(
        `stages[${i}].${field}: ${w} becomes ${poolWeightRepeats(w)} train row${poolWeightRepeats(w) === 1 ? "" : "s"} per item in export.verl (weights are whole repeats, at least 1 and at most ${MAX_POOL_WEIGHT_REPEATS}: verl's parquet has no per-row weight)`,
      );
    }
  });
  return warnings;
}

/**
 * A select.nextRound `mix` that names only some sources keeps the defaults of the others (a share is
 * relative: they all split the budget). Accepted as before (stored configs keep their meaning), and
 * said once here with the shares the budget is really split by, since a mix of two sources reads as
 * "only these two".
 */
function partialMixWarnings(input: unknown, config: CampaignConfig): string[] {
  const warnings: string[] = [];
  const rawStages = isRecord(input) && Array.isArray(input.stages) ? input.stages : [];
  config.stages.forEach((s, i) => {
    if (s.name !== "select.nextRound") return;
    const raw = rawStages[i] as unknown;
    const given = isRecord(raw) && isRecord(raw.mix) ? raw.mix : undefined;
    if (!given) return;
    const mix = s.mix as Record<string, number>;
    const omitted = Object.keys(mix).filter((k) => !Object.hasOwn(given, k) && (mix[k] ?? 0) > 0);
    if (omitted.length === 0) return;
    const total = Object.values(mix).reduce((a, b) => a + b, 0);
    const split = Object.entries(mix)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${Math.round((1000 * v) / total) / 10}%`)
      .join(", ");
    warnings.push(
      `stages[${i}].mix: ${omitted.map((k) => `${k} (${mix[k]})`).join(", ")} not given, so ${omitted.length === 1 ? "it keeps its default share" : "they keep their default shares"}; the budget is split ${split}. Give a source 0 to leave it out`,
    );
  });
  return warnings;
}

/** zod says "Invalid key in record" for a bad endpoint name; the key's own problem is what helps. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    const shown = issue.keys.slice(0, 5).map(preview).join(", ");
    const more = issue.keys.length > 5 ? ` and ${issue.keys.length - 5} more` : "";
    return `unknown field${issue.keys.length === 1 ? "" : "s"} ${shown}${more}`;
  }
  if (issue.code === "invalid_key") {
    const inner = issue.issues[0]?.message;
    return inner === undefined ? "invalid name" : `invalid name: ${inner}`;
  }
  return issue.message;
}

/** Config of one stage by name, typed. */
export function stageConfig<N extends StageName>(cfg: CampaignConfig, stage: N): Extract<StageConfig, { name: N }> | undefined {
  return cfg.stages.find((s) => s.name === stage) as Extract<StageConfig, { name: N }> | undefined;
}
