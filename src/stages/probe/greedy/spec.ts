import { z } from "zod";
import { batchSize, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";

/** Samples per batch: a batch costs ~6 history events; a retried batch probes only what is left. */
const PROBE_BATCH_SIZE = 1000;

/** LoopTool's greedy capability probing: the trained policy, greedy, on its own training pool. */
export const probeGreedySpec = defineStage({
  name: "probe.greedy",
  title: "greedy capability probe",
  latency: "llm",
  batchTimeoutMinutes: 30,
  roles: ["policy"],
  makes: () => ["probeMismatches"],
  reads: {
    kind: "samples",
    selection: () => ({ scope: "pool", statuses: ["verified"] }),
    describe: "the iteration's verified pool samples, fixed into batches at planning",
  },
  writes: "probe_results: the policy's greedy answer per pool sample, whether it matches the label (matcher, strict mode) and why not",
  schema: z.strictObject({ name: z.literal("probe.greedy"), runIn, batchSize: batchSize(PROBE_BATCH_SIZE) }),
});
