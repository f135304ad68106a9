import { z } from "zod";
import { batchSize, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";

export const dedupeExactSpec = defineStage({
  name: "dedupe.exact",
  title: "exact-duplicate removal",
  latency: "default",
  batchTimeoutMinutes: 15,
  roles: [],
  reads: {
    kind: "samples",
    selection: () => ({ scope: "iteration", statuses: ["pending", "verified", "rejected"] }),
    describe: "the iteration's samples not yet marked duplicate, fixed into batches at planning",
  },
  writes:
    "each sample's exact key (normalised user turns + answer); status duplicate on every pending or verified sample of a key but its keeper (the first verified by id, else the first pending); rejected samples keep their status",
  schema: z.strictObject({ name: z.literal("dedupe.exact"), runIn, batchSize: batchSize(1000, 10_000) }),
});
