import { z } from "zod";
import { BFCL_EVAL_CATEGORIES } from "../../../bfcl/categoryNames.js";
import { atMost, limitPerCategory, positiveInt, preview, temperature, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";

export const evaluateBfclSpec = defineStage({
  name: "evaluate.bfcl",
  title: "BFCL evaluation (bfcl-eval)",
  latency: "llm",
  batchTimeoutMinutes: 240,
  // Planning checks (and on first use installs) the bfcl-eval environment: minutes, not a workflow task's work.
  heavyPlanning: true,
  roles: ["policy"],
  reads: { kind: "external", describe: "the BFCL v3 data; the official bfcl-eval package asks the policy endpoint" },
  writes: "bfcl_scores rows (evaluator bfcl-eval): per category and the leaderboard's group scores",
  schema: z.strictObject({
    name: z.literal("evaluate.bfcl"),
    runIn,
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
  }),
});
