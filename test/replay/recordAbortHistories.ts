/**
 * Records aborts that catch batches in flight (no pause first, unlike recordOperatorHistories'
 * pause-abort): a campaign whose iteration runs its batches in lanes, and one whose large stage runs
 * them in a chunk child. Their histories hold the cancelled batch activities, so the replay test
 * covers how the code path of HISTORY_TAG handles a batch's cancellation: `lean-history` files
 * the batch left running (TRY_CANCEL), `abort-waits` ones the batch waited for until it stopped.
 * Run: `node dist/test/replay/recordAbortHistories.js` with TEMPORAL_ADDRESS and DATABASE_URL set
 * (or none, to start private servers). Commit the JSON files it writes.
 */
import { abortCampaign } from "../../src/cli/abortAndMetadata.js";
import { historySaver, iterationStatusOf, startReplayCampaign } from "./historyFiles.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { BATCHES_PER_CHILD } from "../../workflows/stageBatches.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor } from "../helpers/testEnv.js";

/** Names the code path recorded (the newest patch); files of older paths stay committed. */
const HISTORY_TAG = "abort-waits";

const env = await createTestEnv("record-abort");
// Batches of a few seconds (more than the ~5 s a cancel may take to reach a heartbeating activity at
// most): the abort catches them in flight.
const sim = await startSimulator({ seed: 1, latencyMs: 100, maxConcurrency: 16, quiet: true });
const workers = await env.startWorkers();
const saveHistory = await historySaver(env);
const save = (workflowId: string, runId: string | undefined, name: string) => saveHistory(workflowId, `${name}-${HISTORY_TAG}.json`, runId);
const abortMidBatch = async (name: string, config: unknown, running: (h: Handle) => Promise<boolean>) => {
  const h = await startReplayCampaign(env, name, config);
  await waitFor("batches running", () => running(h));
  await abortCampaign(env.client, h.workflowId, "recording an abort mid-batch");
  await h.result().catch(() => undefined);
  return h;
};
type Handle = Awaited<ReturnType<typeof startReplayCampaign>>;
const chunkOf = (h: Handle) => `${h.workflowId}-iter-1-synthesize.singleTurn-a1-from0`;
try {
  const lanes = await abortMidBatch(
    "abort-lanes",
    simulatorCampaign(sim.url, { count: 2000, batchSize: 200, concurrency: { batchesInParallel: 2 } }),
    async (h) => ((await iterationStatusOf(env, h))?.stages[0]?.batchesDone ?? 0) >= 1,
  );
  save(lanes.workflowId, lanes.firstExecutionRunId, "campaignWorkflow-abort-mid-batch");
  save(`${lanes.workflowId}-iter-1`, undefined, "iterationWorkflow-abort-mid-batch");

  const chunked = await abortMidBatch(
    "abort-chunk",
    simulatorCampaign(sim.url, {
      stages: [{ name: "synthesize.singleTurn", count: BATCHES_PER_CHILD + 5, batchSize: 1 }],
      concurrency: { batchesInParallel: 4 },
    }),
    // The chunk reports its batches only when it ends: a few completed activities in its history will do.
    async (h) => {
      const events = await env.client.workflow
        .getHandle(chunkOf(h))
        .fetchHistory()
        .then((hist) => hist.events ?? [])
        .catch(() => []);
      return events.filter((e) => e.activityTaskCompletedEventAttributes).length >= 2;
    },
  );
  save(`${chunked.workflowId}-iter-1`, undefined, "iterationWorkflow-abort-mid-chunk");
  save(chunkOf(chunked), undefined, "stageBatchesWorkflow-abort-mid-chunk");
} finally {
  await workers.stop();
  await sim.close();
  await env.close();
}
