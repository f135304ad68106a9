/**
 * Cluster-job stages against the real dev server, PostgreSQL and the real local launcher: a stage
 * defined in this test runs a job (a Node one-liner) that succeeds, fails and is retried by an
 * operator as a new attempt that sees the first one's work, and is cancelled with the campaign.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { readCampaignFacts } from "../../src/db/repos/campaignStatus.js";
import { clusterJobs } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import {
  abortSignal,
  campaignWorkflowId,
  iterationWorkflowId,
  pauseSignal,
  resumeSignal,
  retryStageUpdate,
  statusQuery,
  type CampaignStatus,
  type IterationStatus,
} from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";
import { testJobRegistry } from "../helpers/testJobStage.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("clusterjob");
  sim = await startSimulator({ seed: 3, latencyMs: 1, maxConcurrency: 8, quiet: true });
  workers = await env.startWorkers({ stages: testJobRegistry });
});
after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

const watch = { windowSeconds: 5, pollSeconds: 1 };
/** A campaign of one test stage (test/helpers/testJobStage.ts), watched in short windows. */
function startWithStage(campaignId: string, stage: Record<string, unknown>) {
  return env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: simulatorCampaign(sim.url, { stages: [{ watch, ...stage }] as never }), campaignId }],
  });
}
function start(campaignId: string, sleepMs = 1500, job: { prepareDelayMs?: number; steps?: boolean } = {}) {
  return startWithStage(campaignId, { name: "test.job", sleepMs, prepareDelayMs: job.prepareDelayMs ?? 0, steps: job.steps ?? true });
}
async function iterationStatus(campaignWfId: string): Promise<IterationStatus | undefined> {
  const c = (await env.client.workflow.getHandle(campaignWfId).query(statusQuery)) as CampaignStatus;
  if (!c.iterationWorkflowId) return undefined;
  return (await env.client.workflow.getHandle(c.iterationWorkflowId).query(statusQuery)) as IterationStatus;
}
const untilWaitingForOperator = (campaignWfId: string, timeoutMs: number) =>
  waitFor(
    "the stage to wait for an operator",
    async () => {
      const s = await iterationStatus(campaignWfId);
      return s?.state === "waiting_for_operator" ? s : undefined;
    },
    timeoutMs,
  );
const outDir = (campaignId: string) => path.join(env.workDir, ".toolloop/output", campaignId, "iter-1");
const jobsOf = (campaignId: string) => env.db.db.select().from(clusterJobs).where(eq(clusterJobs.campaignId, campaignId)).orderBy(clusterJobs.attempt);

test("a job stage submits one job, reports its progress, and completes when the job exits 0", { timeout: 120_000 }, async () => {
  const id = `job-ok-${Date.now().toString(36)}`;
  // Longer than one watch window, so the iteration hears about the running job before it ends.
  const handle = await start(id, 9000);
  const running = await waitFor("progress from the job", async () => {
    const s = await iterationStatus(handle.workflowId);
    return s?.stages[0]?.job?.state === "running" && (s.stages[0].itemsDone ?? 0) >= 1 ? s : undefined;
  });
  assert.equal(running.stages[0]?.itemsTotal, 2);
  const result = await handle.result();
  assert.equal(result.state, "completed");
  const jobs = await jobsOf(id);
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0]?.state, "succeeded");
  assert.equal(jobs[0]?.launcher, "local");
  assert.equal(fs.readFileSync(path.join(outDir(id), "attempts.txt"), "utf8"), "1\n");
});

test("a job that reports no steps counts as all done once it succeeded (it showed 0 of 1 items)", { timeout: 120_000 }, async () => {
  const id = `job-nosteps-${Date.now().toString(36)}`;
  const handle = await start(id, 300, { steps: false });
  const result = await handle.result();
  assert.equal(result.state, "completed");
  const c = (await handle.query(statusQuery)) as CampaignStatus;
  const iterationId = c.iterationWorkflowId ?? iterationWorkflowId(handle.workflowId, 1);
  const it = (await env.client.workflow.getHandle(iterationId).query(statusQuery)) as IterationStatus;
  const stage = it.stages.find((s) => s.name === "test.job");
  assert.equal(stage?.state, "succeeded");
  assert.equal(stage?.job?.total, undefined, "the job reported no steps");
  assert.ok((stage?.itemsTotal ?? 0) > 0);
  assert.equal(stage?.itemsDone, stage?.itemsTotal);
});

test("a job stage reached while paused submits its job only after resume", { timeout: 120_000 }, async () => {
  // A slow endpoint keeps the batch stage before the job running while the pause arrives.
  const slow = await startSimulator({ seed: 4, latencyMs: 3000, maxConcurrency: 8, quiet: true });
  try {
    const id = `job-paused-${Date.now().toString(36)}`;
    const config = simulatorCampaign(slow.url, {
      stages: [
        { name: "synthesize.singleTurn", count: 2, batchSize: 2, mix: { standard: 1 } },
        { name: "test.job", sleepMs: 300, watch },
      ] as never,
    });
    const handle = await env.client.workflow.start("campaignWorkflow", {
      workflowId: campaignWorkflowId(id),
      taskQueue: taskQueues(env.queuePrefix).workflows,
      args: [{ config, campaignId: id }],
    });
    // Planned, not only "running": the stage shows running while it is still being planned, and a
    // pause then holds its only batch back, so it could never finish while paused. Once the plan's
    // batch count shows, the same workflow task has already scheduled that batch.
    await waitFor("the batch stage's batch to start", async () => {
      const s = (await iterationStatus(handle.workflowId))?.stages[0];
      return s?.state === "running" && s.batchesTotal > 0;
    });
    await handle.signal(pauseSignal);
    await waitFor("the batch stage to finish while paused", async () => {
      const s = await iterationStatus(handle.workflowId);
      return s?.state === "paused" && s.stages[0]?.state === "succeeded";
    });
    await new Promise((r) => setTimeout(r, 4000));
    assert.deepEqual(await jobsOf(id), [], "no job was submitted while paused");
    assert.equal((await iterationStatus(handle.workflowId))?.stages[1]?.job, undefined);
    await handle.signal(resumeSignal);
    const result = await handle.result();
    assert.equal(result.state, "completed");
    assert.deepEqual(
      (await jobsOf(id)).map((j) => j.state),
      ["succeeded"],
    );
  } finally {
    await slow.close();
  }
});

test("a failed job waits for the operator; retry runs attempt 2 as a new job over the same folder", { timeout: 180_000 }, async () => {
  const id = `job-retry-${Date.now().toString(36)}`;
  fs.mkdirSync(outDir(id), { recursive: true });
  fs.writeFileSync(path.join(outDir(id), "exit-1"), "3");
  const handle = await start(id, 300);
  const waiting = await untilWaitingForOperator(handle.workflowId, 90_000);
  assert.match(waiting.stages[0]?.lastError ?? "", /local job tl-.*-a1 failed \(exit 3\)/);
  assert.match(waiting.stages[0]?.lastError ?? "", /step:2/, "the error carries the end of the job's output");
  const c = (await env.client.workflow.getHandle(handle.workflowId).query(statusQuery)) as CampaignStatus;
  await env.client.workflow.getHandle(c.iterationWorkflowId as string).executeUpdate(retryStageUpdate, { args: [{}] });
  const result = await handle.result();
  assert.equal(result.state, "completed");
  const jobs = await jobsOf(id);
  assert.deepEqual(
    jobs.map((j) => [j.attempt, j.state, j.exitCode]),
    [
      [1, "failed", 3],
      [2, "succeeded", 0],
    ],
  );
  assert.equal(fs.readFileSync(path.join(outDir(id), "attempts.txt"), "utf8"), "1\n2\n", "attempt 2 ran over attempt 1's folder");
});

/**
 * The campaign's result; fails at once, with the stage's error, if a stage waits for an operator
 * instead. The watch stops with the result (a poll left running would outlive the test's client).
 */
async function completesWithoutOperator(handle: Awaited<ReturnType<typeof start>>) {
  let settled = false;
  const waiting = (async () => {
    while (!settled) {
      const s = await iterationStatus(handle.workflowId).catch(() => undefined);
      if (!settled && s?.state === "waiting_for_operator") throw new Error(`the stage waits for an operator: ${s.stages[0]?.lastError ?? ""}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return undefined as never;
  })();
  try {
    return await Promise.race([handle.result(), waiting]);
  } finally {
    settled = true;
    await waiting.catch(() => undefined);
  }
}

/** Aborts the campaign and waits for it to end as Canceled. */
async function abortCampaign(handle: Awaited<ReturnType<typeof start>>): Promise<void> {
  await handle.signal(abortSignal, { reason: "test" });
  await assert.rejects(handle.result());
  assert.equal((await handle.describe()).status.name, "CANCELLED");
}

test(
  "a campaign started again after its job failed and it was aborted runs attempt 2 as a new job (not attempt 1's failed one)",
  { timeout: 180_000 },
  async () => {
    const id = `job-resume-failed-${Date.now().toString(36)}`;
    fs.mkdirSync(outDir(id), { recursive: true });
    fs.writeFileSync(path.join(outDir(id), "exit-1"), "3");
    const first = await start(id, 300);
    await untilWaitingForOperator(first.workflowId, 90_000);
    await abortCampaign(first);
    // The operator fixed the cause and starts the campaign again under its id (README: resume a failed campaign).
    const again = await start(id, 300);
    const result = await completesWithoutOperator(again);
    assert.equal(result.state, "completed", "the resumed run's job ran and succeeded");
    assert.deepEqual(
      (await jobsOf(id)).map((j) => [j.attempt, j.state, j.exitCode]),
      [
        [1, "failed", 3],
        [2, "succeeded", 0],
      ],
    );
    assert.equal(fs.readFileSync(path.join(outDir(id), "attempts.txt"), "utf8"), "1\n2\n");
  },
);

test("a campaign started again after an abort cancelled its running job runs attempt 2 as a new job", { timeout: 180_000 }, async () => {
  const id = `job-resume-cancelled-${Date.now().toString(36)}`;
  fs.mkdirSync(outDir(id), { recursive: true });
  fs.writeFileSync(path.join(outDir(id), "sleep-1"), "120000");
  const first = await start(id, 300);
  await waitFor("the job to run", async () => (await jobsOf(id))[0]?.state === "running");
  await abortCampaign(first);
  await waitFor("the job row to say cancelled", async () => (await jobsOf(id))[0]?.state === "cancelled");
  const again = await start(id, 300);
  assert.equal((await completesWithoutOperator(again)).state, "completed");
  assert.deepEqual(
    (await jobsOf(id)).map((j) => [j.attempt, j.state]),
    [
      [1, "cancelled"],
      [2, "succeeded"],
    ],
  );
});

test(
  "a job lost with its machine (process gone, no exit code) runs its next attempt by itself; the campaign completes without an operator",
  { timeout: 180_000 },
  async () => {
    const id = `job-lost-${Date.now().toString(36)}`;
    fs.mkdirSync(outDir(id), { recursive: true });
    fs.writeFileSync(path.join(outDir(id), "sleep-1"), "120000");
    const handle = await start(id, 300);
    await waitFor("the job to run", async () => (await jobsOf(id))[0]?.state === "running");
    // Its row says running once the process is launched; its script's first line (attempts.txt) may
    // not have run yet on a loaded machine, and a kill before it leaves no trace of attempt 1.
    await waitFor("attempt 1 to start its script", async () => fs.existsSync(path.join(outDir(id), "attempts.txt")));
    const pid = Number((await jobsOf(id))[0]?.externalId);
    // The machine goes down: the job's whole process group dies at once, nothing writes an exit code.
    process.kill(-pid, "SIGKILL");
    assert.equal((await completesWithoutOperator(handle)).state, "completed");
    assert.deepEqual(
      (await jobsOf(id)).map((j) => [j.attempt, j.state]),
      [
        [1, "lost"],
        [2, "succeeded"],
      ],
    );
    assert.equal(fs.readFileSync(path.join(outDir(id), "attempts.txt"), "utf8"), "1\n2\n", "attempt 2 resumed over attempt 1's folder");
  },
);

test("aborting the campaign cancels the running job on its cluster", { timeout: 120_000 }, async () => {
  const id = `job-abort-${Date.now().toString(36)}`;
  const handle = await start(id, 120_000);
  await waitFor("the job to run", async () => (await jobsOf(id))[0]?.state === "running");
  const pid = Number((await jobsOf(id))[0]?.externalId);
  assert.ok(pid > 0);
  await handle.signal(abortSignal, { reason: "test" });
  // Abort ends the campaign as Canceled (operator-surface patch), with the reason in its status.
  await assert.rejects(handle.result());
  assert.equal((await handle.describe()).status.name, "CANCELLED");
  assert.equal(((await handle.query(statusQuery)) as CampaignStatus).state, "aborted");
  const job = await waitFor("the job row to say cancelled", async () => {
    const j = (await jobsOf(id))[0];
    return j?.state === "cancelled" ? j : undefined;
  });
  assert.ok(job.finishedAt);
  await waitFor("the job's process to be gone", async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
});

test("aborting the campaign while its job is being submitted cancels the job once submitted (it never runs on unwatched)", { timeout: 120_000 }, async () => {
  const id = `job-abort-submit-${Date.now().toString(36)}`;
  // prepare takes 12 s (a slow submit: sbatch on a busy controller; longer than the 6 s heartbeat timeout); the job itself would run 120 s.
  const handle = await start(id, 120_000, { prepareDelayMs: 12_000 });
  const childId = `${handle.workflowId}-iter-1-test.job-job-a1`;
  await waitFor("the job stage to start submitting", async () => {
    try {
      return (await env.client.workflow.getHandle(childId).describe()).status.name === "RUNNING";
    } catch {
      return false;
    }
  });
  assert.equal((await jobsOf(id)).length, 0, "aborted before the job was submitted");
  await handle.signal(abortSignal, { reason: "test" });
  await assert.rejects(handle.result());
  assert.equal((await handle.describe()).status.name, "CANCELLED");
  // The stage's job workflow waited for the submit, then cancelled the job it started: its process is gone.
  await assert.rejects(env.client.workflow.getHandle(childId).result());
  // The submit went on after the abort and started the job; it must not be left running, unwatched.
  await waitFor("the job to be submitted", async () => Boolean((await jobsOf(id))[0]?.externalId), 30_000);
  const job = await waitFor(
    "the job row to say cancelled",
    async () => {
      const j = (await jobsOf(id))[0];
      return j?.state === "cancelled" ? j : undefined;
    },
    20_000,
  );
  assert.equal(job.message, "cancelled by toolloop (stage cancelled)");
  const pid = Number(job.externalId);
  assert.ok(pid > 0);
  await waitFor("the job's process to be gone", async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
});

test(
  "a server job that runs without serving past its readiness deadline is cancelled and the stage waits for the operator with its log; one that serves in time completes",
  { timeout: 120_000 },
  async () => {
    const startServer = (campaignId: string, readyTimeoutSeconds: number) => startWithStage(campaignId, { name: "test.server", readyTimeoutSeconds });
    const id = `job-hung-${Date.now().toString(36)}`;
    const handle = await startServer(id, 3);
    const waiting = await untilWaitingForOperator(handle.workflowId, 60_000);
    const error = waiting.stages[0]?.lastError ?? "";
    assert.match(
      error,
      /local job tl-.*-a1 cancelled \(exit 143\): the server ran \d+ s without serving, past its readiness deadline of 3 s \(readyTimeoutMinutes\), and its job was cancelled/,
    );
    assert.match(error, /test server starting/, "the error carries the end of the server's log");
    const [job] = await jobsOf(id);
    assert.equal(job?.state, "cancelled");
    assert.ok(job?.finishedAt);
    const runningSince = (job?.progress as { clock?: { runningSince?: string } } | null)?.clock?.runningSince;
    assert.ok(runningSince && Date.parse(runningSince) <= Date.now(), "the time it was first seen running is kept with its progress");
    assert.equal((job?.progress as { done?: number }).done, undefined, "no steps are invented for a job that reports none (status read 'step 0')");
    const pid = Number(job?.externalId);
    await waitFor("the server's process to be gone", async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    await handle.signal(abortSignal, { reason: "test done" });
    await assert.rejects(handle.result());

    // Serving within the deadline: done, the job left running (as a policy server is).
    const served = `job-served-${Date.now().toString(36)}`;
    fs.mkdirSync(outDir(served), { recursive: true });
    fs.writeFileSync(path.join(outDir(served), "ready"), "");
    const ok = await startServer(served, 60);
    assert.equal((await ok.result()).state, "completed");
    const [server] = await jobsOf(served);
    assert.equal(server?.state, "running");
    // What `campaign status` reads of it: a server job, when it started running, and its deadline.
    const facts = await readCampaignFacts(env.db.db, served);
    const watched = facts?.stages.find((s) => s.name === "test.server")?.job?.watch;
    assert.equal(watched?.completion, "ready");
    assert.equal(watched?.readyTimeoutMs, 60_000);
    assert.ok(watched?.runningSince && Date.parse(watched.runningSince) <= Date.now());
    // The whole job (the launcher runs it in a process group of its own), not only its wrapper shell.
    process.kill(-Number(server?.externalId), "SIGTERM");
  },
);

test(
  "a training job with neither a new step nor new output past its stall deadline is cancelled and the stage waits for the operator with its log; one whose steps keep coming runs past it",
  { timeout: 120_000 },
  async () => {
    const startJob = (campaignId: string, job: Record<string, unknown>) => startWithStage(campaignId, { name: "test.job", ...job });
    // Step 1 at once, then nothing for a minute: hung.
    const id = `job-stalled-${Date.now().toString(36)}`;
    const handle = await startJob(id, { sleepMs: 60_000, stallTimeoutSeconds: 3 });
    const waiting = await untilWaitingForOperator(handle.workflowId, 60_000);
    const error = waiting.stages[0]?.lastError ?? "";
    assert.match(
      error,
      /local job tl-.*-a1 cancelled \(exit 143\): no new step and no new output for \d+ s \(at step 1 of 2\), past its stall deadline of 3 s \(stallTimeoutMinutes\), and its job was cancelled/,
    );
    assert.match(error, /step:1 - critic\/score\/mean:0\.25/, "the error carries the end of its log");
    const [job] = await jobsOf(id);
    assert.equal(job?.state, "cancelled");
    await handle.signal(abortSignal, { reason: "test done" });
    await assert.rejects(handle.result());

    // A step every 500 ms for 6 s: twice the stall deadline in all, never that long without a step.
    const steady = `job-steady-${Date.now().toString(36)}`;
    const ok = await startJob(steady, { sleepMs: 6000, stepEveryMs: 500, stallTimeoutSeconds: 3 });
    assert.equal((await ok.result()).state, "completed");
    assert.deepEqual(
      (await jobsOf(steady)).map((j) => j.state),
      ["succeeded"],
    );
  },
);
