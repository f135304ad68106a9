/**
 * Records a campaign started again right after it was terminated mid-iteration: the new run finds
 * its iteration's workflow id still held by the old run's iteration (iterationStart.ts). Built from
 * today's code it records the iteration-id-wait path (the marker, the cancel request, the retried
 * start); built from the code before that patch, the old path (the start fails and the campaign with
 * it). Run: `node dist/test/replay/recordRestartHistory.js [tag]` with TEMPORAL_ADDRESS and
 * DATABASE_URL set (or none, to start private servers); the tag names the file
 * (campaignWorkflow-restart-held-<tag>.json, default iteration-id-wait). Commit the JSON file it writes.
 */
import { historySaver, startReplayCampaign } from "./historyFiles.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import { iterationWorkflowId, statusQuery, type IterationStatus } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor } from "../helpers/testEnv.js";

const tag = process.argv[2] ?? "iteration-id-wait";
const env = await createTestEnv("record-restart");
const sim = await startSimulator({ seed: 5, latencyMs: 400, maxConcurrency: 8, quiet: true });
const workers = await env.startWorkers();
const save = await historySaver(env);
try {
  const config = simulatorCampaign(sim.url, { count: 24, batchSize: 8 });
  const first = await startReplayCampaign(env, "restart", config);
  const iteration = env.client.workflow.getHandle(iterationWorkflowId(first.workflowId, 1));
  await waitFor("a batch of iteration 1 in flight", async () => {
    const s = (await iteration.query(statusQuery).catch(() => undefined)) as IterationStatus | undefined;
    return (s?.stages[0]?.batchesTotal ?? 0) > 0;
  });
  await first.terminate("operator restarts the campaign");
  const second = await env.client.workflow.start("campaignWorkflow", {
    workflowId: first.workflowId,
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId: first.workflowId.replace(/^campaign-/, "") }],
  });
  const outcome = await second.result().then(
    (r) => `completed (${r.state})`,
    (e: unknown) => `failed: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`,
  );
  console.log(`the second run ${outcome}`);
  save(second.workflowId, `campaignWorkflow-restart-held-${tag}.json`, second.firstExecutionRunId);
} finally {
  await workers.stop();
  await sim.close();
  await env.close();
}
