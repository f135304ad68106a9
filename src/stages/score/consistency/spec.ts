import { z } from "zod";
import { atMost, batchSize, fraction, onceFieldsValid, positiveInt, runIn, temperature } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { scoringFrom, scoringStatuses } from "../selection.js";

export const MAX_CONSISTENCY_SAMPLES = 64;

export const scoreConsistencySpec = defineStage({
  name: "score.consistency",
  title: "execution consistency",
  latency: "llm",
  batchTimeoutMinutes: 60,
  roles: ["policy"],
  reads: {
    kind: "samples",
    selection: (c) => ({ scope: c.from, statuses: c.statuses }),
    describe: "the iteration's pool (or every sample of the iteration) in the configured statuses, fixed into batches at planning",
  },
  writes: "sample_scores consistency (share of k policy samples that agree with the label, and the easy/medium/hard class); LLM requests",
  schema: z
    .strictObject({
      name: z.literal("score.consistency"),
      runIn,
      /** Samples per batch (k requests each): a batch costs ~6 history events; a retried batch scores only what is missing. */
      batchSize: batchSize(500),
      from: scoringFrom,
      statuses: scoringStatuses,
      /** Policy samples per item, each with its own seed (0..k-1). */
      k: positiveInt.max(MAX_CONSISTENCY_SAMPLES, atMost(MAX_CONSISTENCY_SAMPLES)).default(4),
      temperature: temperature.default(0.7),
      /** An item at or above this share of agreeing samples is easy. */
      easyAtLeast: fraction.default(0.75),
      /** An item at or below this share is hard; must be below easyAtLeast. */
      hardAtMost: fraction.default(0.25),
    })
    .superRefine((c, issue) => {
      if (!(c.hardAtMost < c.easyAtLeast))
        issue.addIssue({
          code: "custom",
          path: ["hardAtMost"],
          message: `expected hardAtMost (${c.hardAtMost}) below easyAtLeast (${c.easyAtLeast}), or an item could be both easy and hard`,
        });
    }, onceFieldsValid),
});
