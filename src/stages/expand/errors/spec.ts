import { z } from "zod";
import { atMost, batchSize, boundedString, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { committeeRolePaths, committeeSchema, SINGLE_JUDGE } from "../../../judging/committeeConfig.js";
import { COMPLEXITIES, DEFAULT_PERSONAS, DEFAULT_STYLES } from "../../../expansion/variationDefaults.js";

const choices = (what: string) =>
  z
    .array(boundedString(200, what))
    .min(1, `expected at least one ${what}`)
    .max(256, atMost(256))
    .refine((l) => new Set(l).size === l.length, `expected each ${what} at most once`);

export const expandErrorsSpec = defineStage({
  name: "expand.errors",
  title: "error-driven expansion",
  latency: "llm",
  batchTimeoutMinutes: 60,
  roles: ["generator"],
  makes: () => ["samples"],
  configuredRoles: (c) => committeeRolePaths(c.committee),
  reads: {
    kind: "samples",
    selection: () => ({ scope: "errorSeeds" }),
    describe: "the iteration's error seeds (label_judgements action error_seed), fixed into batches at planning",
  },
  writes:
    "perSeed samples per error seed (origin expanded, parent the seed, stage expand.errors, verified by rules, the seed's call shape and the judge committee's label check, or rejected with the verdicts), or a slot outcome; LLM requests",
  schema: z.strictObject({
    name: z.literal("expand.errors"),
    runIn,
    /** Error seeds per batch (perSeed new samples each): a batch costs ~6 history events; a retried batch redoes only unsettled slots. */
    batchSize: batchSize(100, 500),
    /** New samples per error seed. */
    perSeed: positiveInt.max(32, atMost(32)).default(3),
    variation: z
      .strictObject({
        personas: choices("persona").default([...DEFAULT_PERSONAS]),
        styles: choices("style").default([...DEFAULT_STYLES]),
        complexities: z
          .array(z.enum(COMPLEXITIES, { error: 'expected "simpler", "same" or "richer"' }))
          .min(1, "expected at least one complexity")
          .refine((l) => new Set(l).size === l.length, "expected each complexity at most once")
          .default([...COMPLEXITIES]),
      })
      .default({ personas: [...DEFAULT_PERSONAS], styles: [...DEFAULT_STYLES], complexities: [...COMPLEXITIES] }),
    /** The judges that check each new label (contract A, label-check). */
    committee: committeeSchema.default(SINGLE_JUDGE),
  }),
});
