import { z } from "zod";
import { bfclCategoryList } from "../../../config/bfclFields.js";
import { atMost, limitPerCategory, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";

export const evaluateBfclFastSpec = defineStage({
  name: "evaluate.bfclFast",
  title: "BFCL fast check (toolloop matcher)",
  latency: "llm",
  batchTimeoutMinutes: 60,
  roles: ["policy"],
  reads: { kind: "external", describe: "the BFCL v3 non-multi-turn data; the policy answers, our matcher scores in process" },
  writes: "bfcl_scores rows (evaluator toolloop-matcher) per category and an overall_probe row",
  formerNames: ["evaluate.probe"],
  schema: z.strictObject({
    name: z.literal("evaluate.bfclFast"),
    runIn,
    categories: bfclCategoryList("the fast check scores"),
    /** Check only the first N entries of each category; omitted = the whole category. */
    limitPerCategory: limitPerCategory.optional(),
    /** Matcher mode: "strict" (optimal parallel matching) or "bfcl" (the official behaviour). */
    mode: z.enum(["bfcl", "strict"], { error: 'expected "bfcl" or "strict"' }).default("strict"),
    /** Categories per batch; 1 keeps retries small. */
    batchSize: positiveInt.max(13, atMost(13)).default(1),
  }),
});
