/**
 * Records histories of the operator surface (since PATCH_OPERATOR_SURFACE; now on the lean-history path): a two-iteration
 * campaign (first run and its iteration), an abort from the CLI (the abort signal; the workflow
 * requests its own cancellation: campaign and iteration end Canceled), an iteration that waited for an operator and was retried,
 * and a campaign that failed with its stage's error. The other recorders keep their own paths.
 * Run: `node dist/test/replay/recordOperatorHistories.js` with TEMPORAL_ADDRESS and DATABASE_URL set
 * (or none, to start private servers). Commit the JSON files it writes.
 */
import { abortCampaign } from "../../src/cli/abortAndMetadata.js";
import { failingCampaign, historySaver, iterationStatusOf, startReplayCampaign } from "./historyFiles.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { pauseSignal, resumeSignal, retryStageUpdate } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor } from "../helpers/testEnv.js";

/** Names the code path recorded (the newest patch); files of older paths stay committed. */
const HISTORY_TAG = "lean-history";

const env = await createTestEnv("record-ops");
const sim = await startSimulator({ seed: 1, latencyMs: 5, maxConcurrency: 16, quiet: true });
const workers = await env.startWorkers();
const saveHistory = await historySaver(env);
const start = (name: string, config: unknown) => startReplayCampaign(env, name, config);
const iterationOf = (h: Parameters<typeof iterationStatusOf>[1]) => iterationStatusOf(env, h);
const failing = (over: Record<string, unknown>) => failingCampaign(sim.url, over);
const save = (workflowId: string, runId: string | undefined, name: string) => saveHistory(workflowId, `${name}-${HISTORY_TAG}.json`, runId);
try {
  const h1 = await start("two-iterations", simulatorCampaign(sim.url, { iterations: 2, count: 20, batchSize: 10 }));
  await h1.result();
  save(h1.workflowId, h1.firstExecutionRunId, "campaignWorkflow-two-iterations-run1");
  save(`${h1.workflowId}-iter-1`, undefined, "iterationWorkflow-iteration1");
  save(h1.workflowId, undefined, "campaignWorkflow-two-iterations-run2");

  const hAbort = await start("abort", simulatorCampaign(sim.url, { count: 200, batchSize: 10, concurrency: { batchesInParallel: 1 } }));
  await waitFor("a batch", async () => ((await iterationOf(hAbort))?.stages[0]?.batchesDone ?? 0) >= 1);
  await hAbort.signal(pauseSignal);
  await new Promise((r) => setTimeout(r, 300));
  await abortCampaign(env.client, hAbort.workflowId, "recording the abort path");
  await hAbort.result().catch(() => undefined);
  save(hAbort.workflowId, hAbort.firstExecutionRunId, "campaignWorkflow-pause-abort");
  save(`${hAbort.workflowId}-iter-1`, undefined, "iterationWorkflow-pause-abort");

  sim.setFaults({ rate500: 1 });
  const hRetry = await start("operator", failing({}));
  await waitFor("operator wait", async () => (await iterationOf(hRetry))?.state === "waiting_for_operator", 120_000);
  sim.setFaults({});
  await hRetry.signal(resumeSignal);
  await hRetry.executeUpdate(retryStageUpdate, { args: [{}] });
  await hRetry.result();
  save(hRetry.workflowId, hRetry.firstExecutionRunId, "campaignWorkflow-operator-retry");
  save(`${hRetry.workflowId}-iter-1`, undefined, "iterationWorkflow-operator-retry");

  sim.setFaults({ rate500: 1 });
  const hFail = await start("fail", failing({ onStageFailure: "fail" }));
  await hFail.result().catch(() => undefined);
  sim.setFaults({});
  save(hFail.workflowId, hFail.firstExecutionRunId, "campaignWorkflow-policy-fail");
  save(`${hFail.workflowId}-iter-1`, undefined, "iterationWorkflow-policy-fail");
} finally {
  await workers.stop();
  await sim.close();
  await env.close();
}
