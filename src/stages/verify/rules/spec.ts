import { z } from "zod";
import { batchSize, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";

export const verifyRulesSpec = defineStage({
  name: "verify.rules",
  title: "rule verification",
  latency: "default",
  batchTimeoutMinutes: 15,
  roles: [],
  reads: { kind: "samples", selection: () => ({ scope: "iteration" }), describe: "every sample of the iteration, fixed into batches at planning" },
  writes: "each sample's rules verdict and status (verified or rejected)",
  schema: z.strictObject({ name: z.literal("verify.rules"), runIn, batchSize: batchSize(200) }),
});
