/**
 * Records the histories the replay test checks: a two-iteration campaign (campaign run + its first
 * iteration), an iteration that waited for an operator, was paused, resumed and retried, and (since
 * the stage-chunks patch) an iteration whose large stage ran in chunk children, with one chunk.
 * File names carry the newest patch the code path records (HISTORY_TAG), so histories of older
 * paths stay committed beside them and keep being replayed.
 * Run: `node dist/test/replay/recordHistories.js` with TEMPORAL_ADDRESS and DATABASE_URL set (or
 * none, to start private servers). Commit the JSON files it writes.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { failingCampaign, historySaver, iterationStatusOf, startReplayCampaign } from "./historyFiles.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import {
  abortSignal,
  campaignWorkflowId,
  pauseSignal,
  resumeSignal,
  retryStageUpdate,
  skipStageUpdate,
  statusQuery,
  type CampaignStatus,
  type IterationStatus,
} from "../../workflows/definitions.js";
import { BATCHES_PER_CHILD } from "../../workflows/stageBatches.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor } from "../helpers/testEnv.js";

const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/replay/histories");
fs.mkdirSync(outDir, { recursive: true });

/** Names the code path recorded: bump it with each patched() change and keep the older files. */
const HISTORY_TAG = "lean-history";

const env = await createTestEnv("record");
const sim = await startSimulator({ seed: 1, latencyMs: 5, maxConcurrency: 16, quiet: true });
const workers = await env.startWorkers();
// The Temporal CLI's JSON export is the format every Temporal tool (and Worker.runReplayHistory) reads.
const saveHistory = await historySaver(env);
const save = (workflowId: string, runId: string | undefined, name: string) => saveHistory(workflowId, `${name}-${HISTORY_TAG}.json`, runId);
try {
  const id1 = `replay-two-iterations`;
  const h1 = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(`${id1}-${Date.now()}`),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: simulatorCampaign(sim.url, { iterations: 2, count: 20, batchSize: 10 }), campaignId: `${id1}-${Date.now()}` }],
  });
  await h1.result();
  await save(h1.workflowId, h1.firstExecutionRunId, "campaignWorkflow-two-iterations-run1");
  await save(`${h1.workflowId}-iter-1`, undefined, "iterationWorkflow-iteration1");
  // The run after continue-as-new loads its plan instead of registering (a local activity on the lean path).
  await save(h1.workflowId, undefined, "campaignWorkflow-two-iterations-run2");

  const h2 = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(`replay-operator-${Date.now()}`),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [
      { config: simulatorCampaign(sim.url, { count: 400, batchSize: 10, concurrency: { batchesInParallel: 1 } }), campaignId: `replay-operator-${Date.now()}` },
    ],
  });
  const iterStatus = async () => {
    const c = (await h2.query(statusQuery)) as CampaignStatus;
    return c.iterationWorkflowId ? ((await env.client.workflow.getHandle(c.iterationWorkflowId).query(statusQuery)) as IterationStatus) : undefined;
  };
  await waitFor("a batch", async () => ((await iterStatus())?.stages[0]?.batchesDone ?? 0) >= 1);
  await h2.signal(pauseSignal);
  await new Promise((r) => setTimeout(r, 500));
  await h2.signal(resumeSignal);
  sim.setFaults({ rate500: 1 });
  await waitFor("operator wait", async () => (await iterStatus())?.state === "waiting_for_operator", 120_000);
  sim.setFaults({});
  const c = (await h2.query(statusQuery)) as CampaignStatus;
  await env.client.workflow.getHandle(c.iterationWorkflowId as string).executeUpdate(retryStageUpdate, { args: [{}] });
  await h2.result();
  await save(h2.workflowId, h2.firstExecutionRunId, "campaignWorkflow-operator-retry");
  await save(c.iterationWorkflowId as string, undefined, "iterationWorkflow-operator-retry");

  const id3 = `replay-chunks-${Date.now()}`;
  const h3 = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(id3),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [
      {
        config: simulatorCampaign(sim.url, {
          stages: [{ name: "synthesize.singleTurn", count: BATCHES_PER_CHILD + 5, batchSize: 1 }],
          concurrency: { batchesInParallel: 16 },
        }),
        campaignId: id3,
      },
    ],
  });
  await h3.result();
  const iteration3 = `${h3.workflowId}-iter-1`;
  await save(iteration3, undefined, "iterationWorkflow-stage-chunks");
  // The small second chunk (the first one's 500 batches make a history of a few MB).
  await save(`${iteration3}-synthesize.singleTurn-a1-from${BATCHES_PER_CHILD}`, undefined, "stageBatchesWorkflow-chunk");

  // Every failure policy, and the remaining stage kinds (dedupe.exact, evaluate.bfclFast).
  const failing = (over: Record<string, unknown>) => failingCampaign(sim.url, over);
  const startPolicy = (name: string, config: unknown) => startReplayCampaign(env, name, config);
  const iterationOf = (h: Parameters<typeof iterationStatusOf>[1]) => iterationStatusOf(env, h);

  sim.setFaults({ rate500: 1 });
  const hSkipWait = await startPolicy("wait-skip", failing({}));
  await waitFor("operator wait", async () => (await iterationOf(hSkipWait))?.state === "waiting_for_operator", 120_000);
  sim.setFaults({});
  await hSkipWait.executeUpdate(skipStageUpdate, { args: [{}] });
  await hSkipWait.result();
  await save(`${hSkipWait.workflowId}-iter-1`, undefined, "iterationWorkflow-wait-skip");

  sim.setFaults({ rate500: 1 });
  const hFail = await startPolicy("fail", failing({ onStageFailure: "fail" }));
  await hFail.result().catch(() => undefined);
  await save(`${hFail.workflowId}-iter-1`, undefined, "iterationWorkflow-policy-fail");
  const hSkip = await startPolicy("skip", failing({ onStageFailure: "skip" }));
  await hSkip.result();
  await save(`${hSkip.workflowId}-iter-1`, undefined, "iterationWorkflow-policy-skip");
  sim.setFaults({});

  const hAbort = await startPolicy("abort", simulatorCampaign(sim.url, { count: 200, batchSize: 10, concurrency: { batchesInParallel: 1 } }));
  await waitFor("a batch", async () => ((await iterationOf(hAbort))?.stages[0]?.batchesDone ?? 0) >= 1);
  await hAbort.signal(pauseSignal);
  await new Promise((r) => setTimeout(r, 300));
  await hAbort.signal(abortSignal, { reason: "recording the abort path" });
  // Since the operator-surface patch an aborted campaign ends Canceled: its result rejects.
  await hAbort.result().catch(() => undefined);
  await save(hAbort.workflowId, hAbort.firstExecutionRunId, "campaignWorkflow-pause-abort");
  await save(`${hAbort.workflowId}-iter-1`, undefined, "iterationWorkflow-pause-abort");

  const hKinds = await startPolicy(
    "stage-kinds",
    simulatorCampaign(sim.url, {
      roles: { generator: { endpoint: "sim", model: "toolloop-sim" }, policy: { endpoint: "sim", model: "toolloop-sim-policy" } },
      stages: [
        { name: "synthesize.singleTurn", count: 20, batchSize: 10 },
        { name: "verify.rules" },
        { name: "dedupe.exact" },
        { name: "export.dataset" },
        { name: "evaluate.bfclFast", categories: ["simple"], limitPerCategory: 3 },
      ],
    }),
  );
  await hKinds.result();
  await save(`${hKinds.workflowId}-iter-1`, undefined, "iterationWorkflow-stage-kinds");
} finally {
  await workers.stop();
  await sim.close();
  await env.close();
}
