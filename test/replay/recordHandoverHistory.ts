/**
 * Records a two-iteration campaign's first run on the handover-status path (patch
 * handover-status-v1: the run sets `CampaignStatus` to "continued_as_new" before it continues as
 * new). The same campaign on the path before it is `campaignWorkflow-two-iterations-run1-lean-history.json`
 * (recordHistories.ts). Run: `node dist/test/replay/recordHandoverHistory.js` with TEMPORAL_ADDRESS
 * and DATABASE_URL set (or none, to start private servers). Commit the JSON file it writes.
 */
import { historySaver, startReplayCampaign } from "./historyFiles.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv } from "../helpers/testEnv.js";

/** Names the code path recorded (the newest patch); files of older paths stay committed. */
const HISTORY_TAG = "handover-status";

const env = await createTestEnv("record-handover");
const sim = await startSimulator({ seed: 1, latencyMs: 5, maxConcurrency: 16, quiet: true });
const workers = await env.startWorkers();
const save = await historySaver(env);
try {
  const h = await startReplayCampaign(env, "two-iterations", simulatorCampaign(sim.url, { iterations: 2, count: 20, batchSize: 10 }));
  await h.result();
  save(h.workflowId, `campaignWorkflow-two-iterations-run1-${HISTORY_TAG}.json`, h.firstExecutionRunId);
} finally {
  await workers.stop();
  await sim.close();
  await env.close();
}
