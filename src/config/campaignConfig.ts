/**
 * Campaign configuration: the one input a campaign takes. Validated by the CLI before starting and
 * again inside the workflow (this module has no Node or I/O imports, so workflows may import it).
 */
import { z } from "zod";

/**
 * Upper bounds on everything a config can size. They keep a hostile or mistyped config from planning
 * work no history can hold (10^15 batches), from holding a worker for hours, or from carrying
 * megabytes into every workflow payload; each is far above what a real campaign needs.
 */
export const CONFIG_LIMITS = {
  /** Serialized config (JSON text, UTF-8 bytes); Temporal payloads are capped at 2 MB in all. */
  configBytes: 1024 * 1024,
  /** Samples one synthesize stage may produce per iteration. */
  count: 1_000_000,
  /** Batches one stage may plan: each is an activity in the iteration's history (50K events at most). */
  batchesPerStage: 10_000,
  iterations: 10_000,
  maxRetries: 20,
  maxTokens: 131_072,
  timeoutMs: 3_600_000,
  maxConcurrency: 4096,
  limitPerCategory: 100_000,
  stages: 64,
  toolSources: 256,
  endpoints: 64,
  nameLength: 63,
  modelLength: 256,
  pathLength: 4096,
  urlLength: 2048,
} as const;

/** Why a config has no business being large; said whenever one is refused for its size. */
export const CONFIG_SIZE_HINT = "a campaign config lists endpoints, roles, tool files and stages, never tools or samples themselves";
export const CONFIG_TOO_LARGE = `the config is larger than ${CONFIG_LIMITS.configBytes} bytes (1 MiB) of JSON; ${CONFIG_SIZE_HINT}`;

/** A value as messages quote it: short, and safe for anything a hostile input holds. */
function preview(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  return Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : typeof v;
}

const int = (what: string) => z.number({ error: `expected ${what}` }).int(`expected ${what}`);
const positiveInt = int("a positive integer").positive("expected a positive integer");
const nonNegativeInt = int("a non-negative integer").min(0, "expected a non-negative integer");
const atMost = (n: number, why = "") => `expected at most ${n}${why}`;
const fraction = z.number({ error: "expected a number between 0 and 1" }).min(0, "expected a number between 0 and 1").max(1, "expected a number between 0 and 1");
const temperature = z.number({ error: "expected a number between 0 and 2" }).min(0, "expected a number between 0 and 2").max(2, "expected a number between 0 and 2");
const boundedString = (max: number, what: string) =>
  z.string({ error: "expected a non-empty string" }).min(1, "expected a non-empty string").max(max, `expected at most ${max} characters (${what})`);
const name = boundedString(CONFIG_LIMITS.nameLength, "a name");
const model = boundedString(CONFIG_LIMITS.modelLength, "a model name");
const filePath = boundedString(CONFIG_LIMITS.pathLength, "a path").refine((p) => !p.includes("\0"), "must not contain a NUL character");

/**
 * Names that collide with properties every JavaScript object inherits. An endpoint called `toString`
 * or `__proto__` would be found by any lookup that is not an own-property check (and JSON's
 * `__proto__` key is silently dropped by record parsing), so they are refused outright.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), "prototype"]);
const reservedMessage = (n: string) => `"${n}" is a reserved name (it collides with a built-in JavaScript object property); choose another name`;

export const ENV_VAR_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export const endpointSchema = z.strictObject({
  /** OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 */
  baseUrl: z
    .url({ protocol: /^https?$/, error: "expected an http: or https: URL such as http://127.0.0.1:8000/v1" })
    .max(CONFIG_LIMITS.urlLength, `expected at most ${CONFIG_LIMITS.urlLength} characters (a URL)`),
  /** Name of the environment variable holding the API key; never the key itself. */
  apiKeyEnv: z
    .string({ error: "expected the name of an environment variable" })
    .regex(ENV_VAR_PATTERN, "expected an environment variable name (a letter or '_', then letters, digits or '_'; at most 128), not the key itself")
    .optional(),
  maxConcurrency: positiveInt.max(CONFIG_LIMITS.maxConcurrency, atMost(CONFIG_LIMITS.maxConcurrency)).default(16),
  timeoutMs: positiveInt.max(CONFIG_LIMITS.timeoutMs, atMost(CONFIG_LIMITS.timeoutMs, " (one hour)")).default(120_000),
  maxRetries: nonNegativeInt.max(CONFIG_LIMITS.maxRetries, atMost(CONFIG_LIMITS.maxRetries)).default(5),
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

/** Every stage the framework knows; anything else in `stages[]` is rejected. */
export const STAGE_NAMES = ["synthesize.singleTurn", "verify.rules", "export.dataset", "evaluate.bfcl", "evaluate.probe"] as const;

const batchSize = positiveInt.max(2000, atMost(2000)).default(200);
const limitPerCategory = positiveInt.max(CONFIG_LIMITS.limitPerCategory, atMost(CONFIG_LIMITS.limitPerCategory));

export const synthesizeSingleTurnStageSchema = z.strictObject({
  name: z.literal("synthesize.singleTurn"),
  batchSize,
  /** Samples to synthesize per iteration. */
  count: positiveInt.max(CONFIG_LIMITS.count, atMost(CONFIG_LIMITS.count, " samples per iteration")),
  /** Relative proportions of the three single-turn kinds; normalised, at least one must be > 0. */
  mix: z
    .strictObject({ standard: fraction.default(0.6), parallel: fraction.default(0.25), irrelevance: fraction.default(0.15) })
    .default({ standard: 0.6, parallel: 0.25, irrelevance: 0.15 })
    .refine((m) => m.standard + m.parallel + m.irrelevance > 0, "expected at least one proportion above 0"),
  /** Tools offered per sample (the target tools plus distractors). */
  toolsPerSample: positiveInt.max(32, atMost(32)).default(4),
  maxParallelCalls: positiveInt.max(8, atMost(8)).default(3),
});

export const verifyRulesStageSchema = z.strictObject({ name: z.literal("verify.rules"), batchSize });

export const exportDatasetStageSchema = z.strictObject({
  name: z.literal("export.dataset"),
  batchSize: positiveInt.max(100_000, atMost(100_000)).default(5000),
  /** Which sample statuses to export. */
  include: z
    .array(z.enum(["verified", "pending", "rejected"], { error: 'expected "verified", "pending" or "rejected"' }), { error: "expected a list of sample statuses" })
    .min(1, "expected at least one status")
    .max(3, "expected each status at most once")
    .refine((c) => new Set(c).size === c.length, "expected each status at most once")
    .default(["verified"]),
});

/** BFCL v3 category names the evaluate.bfcl stage accepts (src/evaluation/categories.ts maps them to bfcl-eval's names). */
export const BFCL_EVAL_CATEGORIES = [
  "simple", "multiple", "parallel", "parallel_multiple", "java", "javascript", "irrelevance",
  "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance",
  "multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context",
] as const;

export const evaluateBfclStageSchema = z.strictObject({
  name: z.literal("evaluate.bfcl"),
  categories: z
    .array(z.enum(BFCL_EVAL_CATEGORIES, { error: (i) => `unknown BFCL category ${preview(i.input)}; expected one of ${BFCL_EVAL_CATEGORIES.join(", ")}` }))
    .min(1, "expected at least one category")
    .refine((c) => new Set(c).size === c.length, "expected each category at most once"),
  /** Evaluate only the first N entries of each category (quick runs); omitted = the whole category. */
  limitPerCategory: limitPerCategory.optional(),
  /** Categories per batch (one bfcl-eval process each); 1 keeps retries small. */
  batchSize: positiveInt.max(17, atMost(17)).default(1),
  /** Parallel requests bfcl-eval makes; default: the policy endpoint's maxConcurrency. */
  threads: positiveInt.max(256, atMost(256)).optional(),
  temperature: temperature.default(0.001),
});

/**
 * The non-multi-turn categories the fast probe (our matcher, in process) can score; the same list as
 * BFCL_SINGLE_TURN_CATEGORIES in src/bfcl/data.ts, repeated here because this module stays free of I/O.
 */
export const BFCL_PROBE_CATEGORIES = BFCL_EVAL_CATEGORIES.filter((c) => !c.startsWith("multi_turn"));

export const evaluateProbeStageSchema = z.strictObject({
  name: z.literal("evaluate.probe"),
  categories: z
    .array(z.string().refine((c) => BFCL_PROBE_CATEGORIES.includes(c as (typeof BFCL_PROBE_CATEGORIES)[number]), {
      error: (i) => `unknown or multi-turn BFCL category ${preview(i.input)}; the fast probe scores: ${BFCL_PROBE_CATEGORIES.join(", ")}`,
    }))
    .min(1, "expected at least one category")
    .refine((c) => new Set(c).size === c.length, "expected each category at most once")
    .default([...BFCL_PROBE_CATEGORIES]),
  /** Probe only the first N entries of each category; omitted = the whole category. */
  limitPerCategory: limitPerCategory.optional(),
  /** Matcher mode: "strict" (optimal parallel matching) or "bfcl" (the official behaviour). */
  mode: z.enum(["bfcl", "strict"], { error: 'expected "bfcl" or "strict"' }).default("strict"),
  /** Categories per batch; 1 keeps retries small. */
  batchSize: positiveInt.max(13, atMost(13)).default(1),
});

export const stageSchema = z.discriminatedUnion("name", [synthesizeSingleTurnStageSchema, verifyRulesStageSchema, exportDatasetStageSchema, evaluateBfclStageSchema, evaluateProbeStageSchema], {
  error: (issue): string | undefined =>
    issue.code === "invalid_union"
      ? `unknown stage name; expected one of ${STAGE_NAMES.map((s) => `"${s}"`).join(", ")}`
      : undefined,
});
export type StageConfig = z.infer<typeof stageSchema>;
export type StageName = (typeof STAGE_NAMES)[number];

const CAMPAIGN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;
const campaignName = z.string({ error: "expected a non-empty string" }).regex(CAMPAIGN_NAME, "expected letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)");

const endpointName = name.refine((n) => !RESERVED_NAMES.has(n), { error: (i) => reservedMessage(String(i.input)) });

export const campaignConfigSchema = z
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
    roles: z.strictObject({ generator: roleSchema, judge: roleSchema.optional(), policy: roleSchema.optional() }),
    tools: z.strictObject({
      sources: z
        .array(toolSourceSchema, { error: "expected a list of tool sources" })
        .min(1, "expected at least one tool source")
        .max(CONFIG_LIMITS.toolSources, `expected at most ${CONFIG_LIMITS.toolSources} tool sources`),
    }),
    stages: z.array(stageSchema, { error: "expected a list of stages" }).min(1, "expected at least one stage").max(CONFIG_LIMITS.stages, `expected at most ${CONFIG_LIMITS.stages} stages`),
    concurrency: z
      .strictObject({ batchesInParallel: positiveInt.max(64, atMost(64)).default(4) })
      .default({ batchesInParallel: 4 }),
    /** What a failed stage does: wait for an operator (retry/skip/abort), fail the campaign, or skip. */
    onStageFailure: z.enum(["wait", "fail", "skip"], { error: 'expected "wait", "fail" or "skip"' }).default("wait"),
    output: z.strictObject({ dir: filePath.default(".toolloop/output") }).default({ dir: ".toolloop/output" }),
  })
  // `when`: cross-field problems are reported together with field problems, not only once those are fixed.
  .check(z.superRefine((cfg, ctx) => {
    for (const issue of crossFieldIssues(cfg)) ctx.addIssue({ code: "custom", ...issue });
  }, { when: () => true }));

type Issue = { path: (string | number)[]; message: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const isPositiveInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

/**
 * Checks that span fields: role endpoints exist, stage names are unique, and no stage plans more
 * batches than one history holds. Runs on the possibly half-parsed value (field problems are
 * reported too), so it only looks at what has the expected shape.
 */
function crossFieldIssues(cfg: unknown): Issue[] {
  if (!isRecord(cfg)) return [];
  const issues: Issue[] = [];
  const endpoints = isRecord(cfg.endpoints) ? cfg.endpoints : undefined;
  if (endpoints && isRecord(cfg.roles)) {
    for (const [role, r] of Object.entries(cfg.roles)) {
      if (!isRecord(r) || typeof r.endpoint !== "string" || r.endpoint.length > CONFIG_LIMITS.nameLength) continue;
      // Own properties only: "constructor" or "toString" must not resolve to Object.prototype's.
      if (!Object.hasOwn(endpoints, r.endpoint)) {
        const defined = Object.keys(endpoints);
        issues.push({ path: ["roles", role, "endpoint"], message: `unknown endpoint ${JSON.stringify(r.endpoint)}; defined: ${defined.length > 0 ? defined.join(", ") : "(none)"}` });
      }
    }
  }
  if (!Array.isArray(cfg.stages) || cfg.stages.length > CONFIG_LIMITS.stages) return issues;
  const seen = new Map<string, number>();
  let synthesized: { count: number; index: number } | undefined;
  cfg.stages.forEach((s: unknown, i) => {
    if (!isRecord(s) || typeof s.name !== "string") return;
    const earlier = seen.get(s.name);
    if (earlier !== undefined) issues.push({ path: ["stages", i, "name"], message: `duplicate stage "${s.name}" (also stages[${earlier}])` });
    else seen.set(s.name, i);
    const batchSize = s.batchSize ?? DEFAULT_BATCH_SIZES[s.name];
    if (!isPositiveInt(batchSize)) return;
    if (s.name === "synthesize.singleTurn" && isPositiveInt(s.count) && s.count <= CONFIG_LIMITS.count) {
      synthesized = { count: s.count, index: i };
      const issue = batchPlanIssue(s.count, batchSize, `count ${s.count}`);
      if (issue) issues.push({ path: ["stages", i, "batchSize"], message: issue });
    } else if ((s.name === "verify.rules" || s.name === "export.dataset") && synthesized) {
      // These stages batch the samples the synthesize stage before them produced.
      const issue = batchPlanIssue(synthesized.count, batchSize, `${synthesized.count} samples from stages[${synthesized.index}].count`);
      if (issue) issues.push({ path: ["stages", i, "batchSize"], message: issue });
    }
  });
  return issues;
}

/** Defaults of `batchSize` per stage, as the schemas apply them (needed before they are applied). */
const DEFAULT_BATCH_SIZES: Record<string, number> = { "synthesize.singleTurn": 200, "verify.rules": 200, "export.dataset": 5000 };

function batchPlanIssue(items: number, batchSize: number, what: string): string | undefined {
  const batches = Math.ceil(items / batchSize);
  if (batches <= CONFIG_LIMITS.batchesPerStage) return undefined;
  const needed = Math.ceil(items / CONFIG_LIMITS.batchesPerStage);
  return `would plan ${batches} batches (${what} / batchSize ${batchSize}); a stage may plan at most ${CONFIG_LIMITS.batchesPerStage}: raise batchSize to at least ${needed}`;
}

export type CampaignConfigInput = z.input<typeof campaignConfigSchema>;
export type CampaignConfig = z.infer<typeof campaignConfigSchema>;

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

export type ParseResult = { ok: true; config: CampaignConfig } | { ok: false; error: InvalidCampaignConfigError };

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

/** Endpoint names zod's record parsing would drop without a word (`__proto__`) or that collide with built-ins. */
function reservedKeyIssues(input: unknown): { path: string; message: string }[] {
  if (!isRecord(input) || !isRecord(input.endpoints)) return [];
  return Object.keys(input.endpoints)
    .filter((k) => k === "__proto__")
    .map((k) => ({ path: formatPath(["endpoints", k]), message: reservedMessage(k) }));
}

export function parseCampaignConfig(input: unknown): ParseResult {
  const tooBig = configSizeIssue(input);
  if (tooBig !== undefined) return { ok: false, error: new InvalidCampaignConfigError([{ path: "(root)", message: tooBig }]) };
  const r = campaignConfigSchema.safeParse(input);
  const reserved = reservedKeyIssues(input);
  if (r.success && reserved.length === 0) return { ok: true, config: r.data };
  const issues = [...reserved, ...(r.success ? [] : r.error.issues.map((i) => ({ path: formatPath(i.path), message: issueMessage(i) })))];
  if (issues.length > MAX_REPORTED_ISSUES) {
    const rest = issues.length - MAX_REPORTED_ISSUES;
    issues.length = MAX_REPORTED_ISSUES;
    issues.push({ path: "(root)", message: `and ${rest} more problem${rest === 1 ? "" : "s"} not listed` });
  }
  return { ok: false, error: new InvalidCampaignConfigError(issues) };
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
