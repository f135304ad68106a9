/**
 * Campaign configuration: the one input a campaign takes. Validated by the CLI before starting and
 * again inside the workflow (this module has no Node or I/O imports, so workflows may import it).
 */
import { z } from "zod";

const positiveInt = z.number({ error: "expected a positive integer" }).int("expected a positive integer").positive("expected a positive integer");
const nonNegativeInt = z.number({ error: "expected a non-negative integer" }).int("expected a non-negative integer").min(0, "expected a non-negative integer");
const fraction = z.number({ error: "expected a number between 0 and 1" }).min(0, "expected a number between 0 and 1").max(1, "expected a number between 0 and 1");
const name = z.string({ error: "expected a non-empty string" }).min(1, "expected a non-empty string");

export const endpointSchema = z.strictObject({
  /** OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 */
  baseUrl: z.url({ error: "expected an http(s) URL" }),
  /** Name of the environment variable holding the API key; never the key itself. */
  apiKeyEnv: z.string().optional(),
  maxConcurrency: positiveInt.default(16),
  timeoutMs: positiveInt.default(120_000),
  maxRetries: nonNegativeInt.default(5),
});
export type EndpointConfig = z.infer<typeof endpointSchema>;

export const roleSchema = z.strictObject({
  endpoint: name,
  model: name,
  temperature: z.number().min(0).max(2).default(0.7),
  maxTokens: positiveInt.default(1024),
});
export type RoleConfig = z.infer<typeof roleSchema>;

export const toolSourceSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({ kind: z.literal("example") }),
    z.strictObject({ kind: z.literal("mcp"), path: name }),
    z.strictObject({ kind: z.literal("openai"), path: name }),
  ],
  { error: 'expected kind to be one of "example", "mcp", "openai"' },
);
export type ToolSource = z.infer<typeof toolSourceSchema>;

/** Every stage the framework knows; anything else in `stages[]` is rejected. */
export const STAGE_NAMES = ["synthesize.singleTurn", "verify.rules", "export.dataset", "evaluate.bfcl", "evaluate.probe"] as const;

const batchSize = positiveInt.max(2000, "expected at most 2000").default(200);

export const synthesizeSingleTurnStageSchema = z.strictObject({
  name: z.literal("synthesize.singleTurn"),
  batchSize,
  /** Samples to synthesize per iteration. */
  count: positiveInt,
  /** Relative proportions of the three single-turn kinds; normalised, at least one must be > 0. */
  mix: z
    .strictObject({ standard: fraction.default(0.6), parallel: fraction.default(0.25), irrelevance: fraction.default(0.15) })
    .default({ standard: 0.6, parallel: 0.25, irrelevance: 0.15 })
    .refine((m) => m.standard + m.parallel + m.irrelevance > 0, "expected at least one proportion above 0"),
  /** Tools offered per sample (the target tools plus distractors). */
  toolsPerSample: positiveInt.max(32).default(4),
  maxParallelCalls: positiveInt.max(8).default(3),
});

export const verifyRulesStageSchema = z.strictObject({ name: z.literal("verify.rules"), batchSize });

export const exportDatasetStageSchema = z.strictObject({
  name: z.literal("export.dataset"),
  batchSize: positiveInt.max(100_000).default(5000),
  /** Which sample statuses to export. */
  include: z.array(z.enum(["verified", "pending", "rejected"])).min(1).default(["verified"]),
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
    .array(z.enum(BFCL_EVAL_CATEGORIES, { error: (i) => `unknown BFCL category ${JSON.stringify(i.input)}; expected one of ${BFCL_EVAL_CATEGORIES.join(", ")}` }))
    .min(1, "expected at least one category")
    .refine((c) => new Set(c).size === c.length, "expected each category at most once"),
  /** Evaluate only the first N entries of each category (quick runs); omitted = the whole category. */
  limitPerCategory: positiveInt.optional(),
  /** Categories per batch (one bfcl-eval process each); 1 keeps retries small. */
  batchSize: positiveInt.max(17).default(1),
  /** Parallel requests bfcl-eval makes; default: the policy endpoint's maxConcurrency. */
  threads: positiveInt.max(256).optional(),
  temperature: z.number().min(0).max(2).default(0.001),
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
      error: (i) => `unknown or multi-turn BFCL category ${JSON.stringify(i.input)}; the fast probe scores: ${BFCL_PROBE_CATEGORIES.join(", ")}`,
    }))
    .min(1, "expected at least one category")
    .refine((c) => new Set(c).size === c.length, "expected each category at most once")
    .default([...BFCL_PROBE_CATEGORIES]),
  /** Probe only the first N entries of each category; omitted = the whole category. */
  limitPerCategory: positiveInt.optional(),
  /** Matcher mode: "strict" (optimal parallel matching) or "bfcl" (the official behaviour). */
  mode: z.enum(["bfcl", "strict"], { error: 'expected "bfcl" or "strict"' }).default("strict"),
  /** Categories per batch; 1 keeps retries small. */
  batchSize: positiveInt.max(13).default(1),
});

export const stageSchema = z.discriminatedUnion("name", [synthesizeSingleTurnStageSchema, verifyRulesStageSchema, exportDatasetStageSchema, evaluateBfclStageSchema, evaluateProbeStageSchema], {
  error: (issue): string | undefined =>
    issue.code === "invalid_union"
      ? `unknown stage name; expected one of ${STAGE_NAMES.map((s) => `"${s}"`).join(", ")}`
      : undefined,
});
export type StageConfig = z.infer<typeof stageSchema>;
export type StageName = (typeof STAGE_NAMES)[number];

export const campaignConfigSchema = z
  .strictObject({
    name: name.regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, "expected letters, digits, '.', '_' or '-' (at most 63)"),
    /** Optional explicit id; default is derived from name by the CLI. */
    campaignId: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/).optional(),
    seed: nonNegativeInt.default(0),
    iterations: positiveInt.max(10_000).default(1),
    endpoints: z.record(name, endpointSchema).refine((e) => Object.keys(e).length > 0, "expected at least one endpoint"),
    roles: z.strictObject({ generator: roleSchema, judge: roleSchema.optional(), policy: roleSchema.optional() }),
    tools: z.strictObject({ sources: z.array(toolSourceSchema).min(1, "expected at least one tool source") }),
    stages: z.array(stageSchema).min(1, "expected at least one stage"),
    concurrency: z
      .strictObject({ batchesInParallel: positiveInt.max(64).default(4) })
      .default({ batchesInParallel: 4 }),
    /** What a failed stage does: wait for an operator (retry/skip/abort), fail the campaign, or skip. */
    onStageFailure: z.enum(["wait", "fail", "skip"]).default("wait"),
    output: z.strictObject({ dir: name.default(".toolloop/output") }).default({ dir: ".toolloop/output" }),
  })
  .superRefine((cfg, ctx) => {
    for (const [role, r] of Object.entries(cfg.roles)) {
      if (r && !(r.endpoint in cfg.endpoints)) {
        ctx.addIssue({ code: "custom", path: ["roles", role, "endpoint"], message: `unknown endpoint "${r.endpoint}"; defined: ${Object.keys(cfg.endpoints).join(", ")}` });
      }
    }
    const seen = new Map<string, number>();
    cfg.stages.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: "custom", path: ["stages", i, "name"], message: `duplicate stage "${s.name}" (also stages[${seen.get(s.name)}])` });
      seen.set(s.name, i);
    });
  });

export type CampaignConfigInput = z.input<typeof campaignConfigSchema>;
export type CampaignConfig = z.infer<typeof campaignConfigSchema>;

/** Renders a zod path as `stages[2].batchSize`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
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

export function parseCampaignConfig(input: unknown): ParseResult {
  const r = campaignConfigSchema.safeParse(input);
  if (r.success) return { ok: true, config: r.data };
  const issues = r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
  return { ok: false, error: new InvalidCampaignConfigError(issues) };
}

/** Config of one stage by name, typed. */
export function stageConfig<N extends StageName>(cfg: CampaignConfig, stage: N): Extract<StageConfig, { name: N }> | undefined {
  return cfg.stages.find((s) => s.name === stage) as Extract<StageConfig, { name: N }> | undefined;
}
