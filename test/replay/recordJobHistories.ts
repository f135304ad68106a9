/**
 * Records the histories of the cluster-job path (since patch cluster-job-stages-v1): an iteration whose
 * job stage failed on attempt 1, waited for the operator and succeeded on attempt 2, with both
 * stageJob children. Uses the test job stage (test/helpers/testJobStage.ts) on the real local
 * launcher; an iteration paused while the stage before its job stage ran (patch
 * pause-holds-cluster-jobs-v1: the job is submitted only after resume); and (since patch
 * cancel-during-submit-v1, whose marker only the stageJob children carry: the iteration file it
 * writes repeats the lean-history path and need not be committed) a stageJob child whose campaign
 * was aborted while the job was being submitted; and (since patch job-attempt-from-database-v1) the
 * iteration of a campaign started again after its job failed and it was aborted; and (since patches
 * lost-job-type-v1 and stage-self-recovery-v1) a job lost with its machine, retried by the iteration
 * itself, and a stage whose endpoint went down and came back, retried once it answered. Run: `node dist/test/replay/recordJobHistories.js` (TEMPORAL_ADDRESS and DATABASE_URL
 * set, or none); commit the JSON files it writes.
 */
import fs from "node:fs";
import path from "node:path";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { eq } from "drizzle-orm";
import { clusterJobs } from "../../src/db/schema.js";
import { historySaver } from "./historyFiles.js";
import { taskQueues } from "../../src/taskQueues.js";
import {
  abortSignal,
  campaignWorkflowId,
  pauseSignal,
  resumeSignal,
  retryStageUpdate,
  statusQuery,
  type CampaignStatus,
  type IterationStatus,
} from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor } from "../helpers/testEnv.js";
import { testJobRegistry } from "../helpers/testJobStage.js";

/** Names the code path recorded (the newest patch); files of older paths stay committed. */
const HISTORY_TAG = "cancel-during-submit";

const env = await createTestEnv("record-jobs");
const sim = await startSimulator({ seed: 1, latencyMs: 5, maxConcurrency: 16, quiet: true });
const workers = await env.startWorkers({ stages: testJobRegistry });
const saveHistory = await historySaver(env);
const save = (workflowId: string, name: string) => saveHistory(workflowId, `${name}-${HISTORY_TAG}.json`);
try {
  const campaignId = `replay-job-${Date.now()}`;
  const dir = path.join(env.workDir, ".toolloop/output", campaignId, "iter-1");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "exit-1"), "3");
  const h = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [
      {
        config: simulatorCampaign(sim.url, { stages: [{ name: "test.job", sleepMs: 2500, watch: { windowSeconds: 5, pollSeconds: 1 } }] as never }),
        campaignId,
      },
    ],
  });
  const iterStatus = async () => {
    const c = (await h.query(statusQuery)) as CampaignStatus;
    return c.iterationWorkflowId ? ((await env.client.workflow.getHandle(c.iterationWorkflowId).query(statusQuery)) as IterationStatus) : undefined;
  };
  await waitFor("operator wait", async () => (await iterStatus())?.state === "waiting_for_operator", 120_000);
  const iterationId = `${h.workflowId}-iter-1`;
  await env.client.workflow.getHandle(iterationId).executeUpdate(retryStageUpdate, { args: [{}] });
  await h.result();
  save(iterationId, "iterationWorkflow-job-retry");
  save(`${iterationId}-test.job-job-a1`, "stageJobWorkflow-failed");
  save(`${iterationId}-test.job-job-a2`, "stageJobWorkflow-succeeded");

  // Aborted while the job is being submitted (prepare takes 8 s): the child waits for the submit, then cancels the job.
  const abortedId = `replay-job-abort-${Date.now()}`;
  const a = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(abortedId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [
      {
        config: simulatorCampaign(sim.url, {
          stages: [{ name: "test.job", sleepMs: 60_000, prepareDelayMs: 8000, watch: { windowSeconds: 5, pollSeconds: 1 } }] as never,
        }),
        campaignId: abortedId,
      },
    ],
  });
  const childId = `${a.workflowId}-iter-1-test.job-job-a1`;
  await waitFor("the job child to run", async () => {
    try {
      return (await env.client.workflow.getHandle(childId).describe()).status.name === "RUNNING";
    } catch {
      return false;
    }
  });
  await a.signal(abortSignal, { reason: "record" });
  await a.result().catch(() => undefined);
  await env.client.workflow
    .getHandle(childId)
    .result()
    .catch(() => undefined);
  save(childId, "stageJobWorkflow-abort-during-submit");

  // Started again after its job failed and the campaign was aborted (patch job-attempt-from-database-v1):
  // the new iteration run's job runs as attempt 2, not as attempt 1's failed job.
  const resumedId = `replay-job-resumed-${Date.now()}`;
  const resumedDir = path.join(env.workDir, ".toolloop/output", resumedId, "iter-1");
  fs.mkdirSync(resumedDir, { recursive: true });
  fs.writeFileSync(path.join(resumedDir, "exit-1"), "3");
  const startResumed = () =>
    env.client.workflow.start("campaignWorkflow", {
      workflowId: campaignWorkflowId(resumedId),
      taskQueue: taskQueues(env.queuePrefix).workflows,
      args: [
        {
          config: simulatorCampaign(sim.url, { stages: [{ name: "test.job", sleepMs: 300, watch: { windowSeconds: 5, pollSeconds: 1 } }] as never }),
          campaignId: resumedId,
        },
      ],
    });
  const r1 = await startResumed();
  const resumedIteration = env.client.workflow.getHandle(`${r1.workflowId}-iter-1`);
  await waitFor(
    "operator wait",
    async () => ((await resumedIteration.query(statusQuery).catch(() => undefined)) as IterationStatus | undefined)?.state === "waiting_for_operator",
    120_000,
  );
  await r1.signal(abortSignal, { reason: "record" });
  await r1.result().catch(() => undefined);
  await (await startResumed()).result();
  saveHistory(`${r1.workflowId}-iter-1`, "iterationWorkflow-job-resumed-job-attempt-from-database.json");

  // A job lost with its machine (patches lost-job-type-v1 and stage-self-recovery-v1): the iteration runs attempt 2 by itself.
  const lostId = `replay-job-lost-${Date.now()}`;
  const lostDir = path.join(env.workDir, ".toolloop/output", lostId, "iter-1");
  fs.mkdirSync(lostDir, { recursive: true });
  fs.writeFileSync(path.join(lostDir, "sleep-1"), "120000");
  const lost = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(lostId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [
      {
        config: simulatorCampaign(sim.url, { stages: [{ name: "test.job", sleepMs: 300, watch: { windowSeconds: 5, pollSeconds: 1 } }] as never }),
        campaignId: lostId,
      },
    ],
  });
  const lostJobPid = await waitFor("the job to run", async () => {
    const [row] = await env.db.db.select().from(clusterJobs).where(eq(clusterJobs.campaignId, lostId));
    return row?.state === "running" ? Number(row.externalId) : undefined;
  });
  process.kill(-lostJobPid, "SIGKILL");
  await lost.result();
  saveHistory(`${lost.workflowId}-iter-1`, "iterationWorkflow-job-lost-stage-self-recovery.json");
  saveHistory(`${lost.workflowId}-iter-1-test.job-job-a1`, "stageJobWorkflow-lost-lost-job-type.json");

  // An endpoint that is down, then back (patch stage-self-recovery-v1): the waiting stage retries by itself.
  const down = await startSimulator({ seed: 4, latencyMs: 5, maxConcurrency: 4, quiet: true });
  const downPort = Number(new URL(down.url).port);
  await down.close();
  const downUrl = `http://127.0.0.1:${downPort}/v1`;
  const downConfig = simulatorCampaign(downUrl, { count: 8, batchSize: 4 });
  downConfig.endpoints = { sim: { baseUrl: downUrl, maxConcurrency: 2, timeoutMs: 60_000, maxRetries: 5, attemptBudget: 3, connectTimeoutMs: 1000 } };
  downConfig.roles = { generator: { endpoint: "sim", model: "toolloop-sim" } };
  const downId = `replay-endpoint-back-${Date.now()}`;
  const hd = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(downId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: downConfig, campaignId: downId }],
  });
  const downIteration = env.client.workflow.getHandle(`${hd.workflowId}-iter-1`);
  await waitFor(
    "the stage to watch its endpoint",
    async () => ((await downIteration.query(statusQuery).catch(() => undefined)) as IterationStatus | undefined)?.stages[0]?.recovery !== undefined,
    60_000,
  );
  const back = await startSimulator({ port: downPort, seed: 4, latencyMs: 5, maxConcurrency: 4, quiet: true });
  try {
    await hd.result();
  } finally {
    await back.close();
  }
  saveHistory(`${hd.workflowId}-iter-1`, "iterationWorkflow-endpoint-back-stage-self-recovery.json");

  // Paused while the batch stage before the job stage runs (a slow endpoint keeps it running).
  const slow = await startSimulator({ seed: 2, latencyMs: 3000, maxConcurrency: 16, quiet: true });
  try {
    const pausedId = `replay-job-paused-${Date.now()}`;
    const hp = await env.client.workflow.start("campaignWorkflow", {
      workflowId: campaignWorkflowId(pausedId),
      taskQueue: taskQueues(env.queuePrefix).workflows,
      args: [
        {
          config: simulatorCampaign(slow.url, {
            stages: [
              { name: "synthesize.singleTurn", count: 2, batchSize: 2, mix: { standard: 1 } },
              { name: "test.job", sleepMs: 300, watch: { windowSeconds: 5, pollSeconds: 1 } },
            ] as never,
          }),
          campaignId: pausedId,
        },
      ],
    });
    const pausedIteration = env.client.workflow.getHandle(`${hp.workflowId}-iter-1`);
    const pausedStatus = async () => (await pausedIteration.query(statusQuery).catch(() => undefined)) as IterationStatus | undefined;
    // Planned (its batch scheduled), not only "running": a pause during planning holds the batch back.
    await waitFor("the batch stage's batch to start", async () => ((await pausedStatus())?.stages[0]?.batchesTotal ?? 0) > 0);
    await hp.signal(pauseSignal);
    await waitFor("the batch stage to finish while paused", async () => {
      const s = await pausedStatus();
      return s?.state === "paused" && s.stages[0]?.state === "succeeded";
    });
    await new Promise((r) => setTimeout(r, 2000));
    await hp.signal(resumeSignal);
    await hp.result();
    saveHistory(`${hp.workflowId}-iter-1`, "iterationWorkflow-job-paused-pause-holds-jobs.json");
  } finally {
    await slow.close();
  }
} finally {
  await workers.stop();
  await sim.close();
  await env.close();
}
