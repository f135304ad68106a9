import { z } from "zod";
import { batchSize, endOfTurnTokens, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { scoringFrom, scoringStatuses } from "../selection.js";

export const scorePerplexitySpec = defineStage({
  name: "score.perplexity",
  title: "label perplexity",
  latency: "llm",
  batchTimeoutMinutes: 60,
  roles: ["policy"],
  reads: {
    kind: "samples",
    selection: (c) => ({ scope: c.from, statuses: c.statuses }),
    describe: "the iteration's pool (or every sample of the iteration) in the configured statuses, fixed into batches at planning",
  },
  writes:
    "sample_scores label_ppl (the label's perplexity under the served policy) and own_ppl (the policy's greedy answer's, LoopTool's definition); LLM requests",
  schema: z.strictObject({
    name: z.literal("score.perplexity"),
    runIn,
    /** Samples per batch: a batch costs ~6 history events however small, and a retried batch scores only what is missing. */
    batchSize: batchSize(1000),
    /** Score the iteration's pool (default) or every sample the iteration made. */
    from: scoringFrom,
    statuses: scoringStatuses,
    /** Also the policy's own-output perplexity (LoopTool's definition), for comparison. */
    ownOutput: z.boolean({ error: "expected true or false" }).default(true),
    /**
     * The policy's end-of-turn token(s) as /tokenize writes them, for a model whose token is not on
     * the built-in list (the summary's warning counts such labels); they replace that list.
     */
    endOfTurnTokens: endOfTurnTokens.optional(),
  }),
});
