/**
 * Workflows against the real Temporal dev server and real PostgreSQL, with the LLM simulator as the
 * only stand-in. Each test starts a campaign and drives it the way an operator would.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { WorkflowFailedError } from "@temporalio/client";
import { and, eq, sql } from "drizzle-orm";
import { samples, stageBatches } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import {
  campaignWorkflowId,
  pauseSignal,
  resumeSignal,
  retryStageUpdate,
  statusQuery,
  type CampaignStatus,
  type IterationStatus,
} from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { CampaignStatusKey, HANDED_OVER } from "../../workflows/searchAttributes.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("wf");
  sim = await startSimulator({ seed: 3, latencyMs: 5, maxConcurrency: 16, quiet: true });
  workers = await env.startWorkers();
});

after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

let counter = 0;
function start(config: unknown, campaignId = `wf-${Date.now().toString(36)}-${counter++}`) {
  return env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
}

async function iterationStatus(campaignWfId: string): Promise<IterationStatus | undefined> {
  const c = (await env.client.workflow.getHandle(campaignWfId).query(statusQuery)) as CampaignStatus;
  if (!c.iterationWorkflowId) return undefined;
  return (await env.client.workflow.getHandle(c.iterationWorkflowId).query(statusQuery)) as IterationStatus;
}

async function sampleCount(campaignId: string, iteration?: number): Promise<number> {
  const where = iteration === undefined ? eq(samples.campaignId, campaignId) : and(eq(samples.campaignId, campaignId), eq(samples.iteration, iteration));
  const rows = await env.db.db
    .select({ n: sql<number>`count(*)::int` })
    .from(samples)
    .where(where);
  return Number(rows[0]?.n ?? 0);
}

test("a two-iteration campaign runs end to end: samples, verdicts and exports per iteration", async () => {
  const campaignId = `two-iter-${Date.now().toString(36)}`;
  const handle = await start(simulatorCampaign(sim.url, { iterations: 2, count: 30, batchSize: 10 }), campaignId);
  const result = await handle.result();
  assert.equal(result.state, "completed");
  assert.deepEqual(
    result.iterations.map((i: { iteration: number }) => i.iteration),
    [1, 2],
  );
  for (const it of [1, 2]) {
    assert.equal(await sampleCount(campaignId, it), 30, `iteration ${it} stores every slot once`);
    const manifestPath = path.join(env.workDir, ".toolloop/output", campaignId, `iter-${it}`, "dataset.manifest.json");
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
    const verified = await env.db.db
      .select({ n: sql<number>`count(*)::int` })
      .from(samples)
      .where(and(eq(samples.campaignId, campaignId), eq(samples.iteration, it), eq(samples.status, "verified")));
    // The example tools include two BFCL function signatures: samples offering one are left out, and counted.
    assert.equal(
      manifest.rows + manifest.decontamination.excluded.count,
      Number(verified[0]?.n),
      "the export holds the verified samples, less BFCL test items",
    );
    assert.ok(manifest.rows > 0);
  }
  // Every sample went through rule verification.
  const pending = await env.db.db
    .select({ n: sql<number>`count(*)::int` })
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.status, "pending")));
  assert.equal(Number(pending[0]?.n), 0);
  // The second iteration ran in a new run (continue-as-new), not in the first run's history.
  const desc = await env.client.workflow.getHandle(handle.workflowId).describe();
  assert.notEqual(desc.runId, handle.firstExecutionRunId);
  // The closed first run is not listed by a search for running campaigns; the last run says completed.
  const first = await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
  assert.deepEqual(first.typedSearchAttributes.get(CampaignStatusKey), HANDED_OVER);
  assert.deepEqual(desc.typedSearchAttributes.get(CampaignStatusKey), "completed");
  const final = (await env.client.workflow.getHandle(handle.workflowId).query(statusQuery)) as CampaignStatus;
  assert.equal(final.state, "completed");
  assert.equal(final.iteration, 2);
});

test("a bad config fails at once, non-retryable, naming the field", async () => {
  const cfg = simulatorCampaign(sim.url) as { stages: Record<string, unknown>[] };
  cfg.stages[1] = { name: "verify.rules", batchSize: 0 };
  const handle = await start(cfg);
  await assert.rejects(handle.result(), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause as { type?: string; message: string; nonRetryable?: boolean };
    assert.equal(cause.type, "InvalidCampaignConfig");
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /stages\[1\]\.batchSize: expected a positive integer/);
    return true;
  });
});

test("a stage whose endpoint fails every call waits for the operator; retryStage after recovery redoes no finished batch", async () => {
  const failing = await startSimulator({ seed: 5, latencyMs: 30, maxConcurrency: 4, quiet: true });
  try {
    const campaignId = `fail-${Date.now().toString(36)}`;
    const count = 60;
    const handle = await start(
      simulatorCampaign(failing.url, {
        count,
        batchSize: 10,
        concurrency: { batchesInParallel: 1 },
        stages: [{ name: "synthesize.singleTurn", count, batchSize: 10 }],
      }),
      campaignId,
    );
    // Let two batches finish, then make the endpoint fail every call.
    await waitFor("two finished batches", async () => ((await iterationStatus(handle.workflowId))?.stages[0]?.batchesDone ?? 0) >= 2);
    failing.setFaults({ rate500: 1 });
    const waiting = await waitFor(
      "the stage to wait for an operator",
      async () => {
        const s = await iterationStatus(handle.workflowId);
        return s?.state === "waiting_for_operator" ? s : undefined;
      },
      90_000,
    );
    assert.equal(waiting.stages[0]?.state, "waiting_for_operator");
    assert.match(waiting.stages[0]?.lastError ?? "", /500|server/i);
    // The campaign hears of it by a signal from the iteration, a moment later on a loaded machine.
    const campaignStatus = await waitFor("the campaign to say it waits for an operator", async () => {
      const c = (await env.client.workflow.getHandle(handle.workflowId).query(statusQuery)) as CampaignStatus;
      return c.state === "waiting_for_operator" ? c : undefined;
    });
    assert.equal(campaignStatus.state, "waiting_for_operator");

    const doneBefore = await env.db.db.select().from(stageBatches).where(eq(stageBatches.campaignId, campaignId));
    const storedBefore = await sampleCount(campaignId);
    assert.ok(doneBefore.length >= 2 && doneBefore.length < 6, `some but not all batches finished (${doneBefore.length})`);

    failing.setFaults({});
    failing.resetStats();
    const iterationHandle = env.client.workflow.getHandle(campaignStatus.iterationWorkflowId as string);
    const accepted = await iterationHandle.executeUpdate(retryStageUpdate, { args: [{ stage: "synthesize.singleTurn" }] });
    assert.equal(accepted.stage, "synthesize.singleTurn");
    const result = await handle.result();
    assert.equal(result.state, "completed");
    assert.equal(await sampleCount(campaignId), count);
    // Two LLM calls per missing sample, and nothing for the samples stored before the retry.
    assert.equal(failing.stats().byPath["/v1/chat/completions"], 2 * (count - storedBefore));
    const doneAfter = await env.db.db.select().from(stageBatches).where(eq(stageBatches.campaignId, campaignId));
    for (const b of doneBefore) {
      const again = doneAfter.find((x) => x.batchIndex === b.batchIndex && x.stage === b.stage);
      assert.equal(again?.finishedAt.getTime(), b.finishedAt.getTime(), `batch ${b.batchIndex} was not redone`);
    }
  } finally {
    await failing.close();
  }
});

test("retryStage is rejected when no stage is waiting", async () => {
  const handle = await start(simulatorCampaign(sim.url, { count: 400, batchSize: 20 }));
  const c = await waitFor("the iteration to start", async () => {
    const s = (await env.client.workflow.getHandle(handle.workflowId).query(statusQuery)) as CampaignStatus;
    return s.iterationWorkflowId ? s : undefined;
  });
  await assert.rejects(
    env.client.workflow.getHandle(c.iterationWorkflowId as string).executeUpdate(retryStageUpdate, { args: [{}] }),
    // The validator's message travels as the cause of WorkflowUpdateFailedError.
    (err: unknown) => /no stage is waiting/.test(String((err as { cause?: { message?: string } }).cause?.message)),
  );
  await env.client.workflow.getHandle(c.iterationWorkflowId as string).terminate("test done");
  await handle.terminate("test done").catch(() => undefined);
});

test("pause holds new batches back, resume finishes; the status query shows progress", async () => {
  const slow = await startSimulator({ seed: 9, latencyMs: 40, maxConcurrency: 4, quiet: true });
  try {
    const campaignId = `pause-${Date.now().toString(36)}`;
    const count = 80;
    const handle = await start(
      simulatorCampaign(slow.url, {
        count,
        batchSize: 10,
        concurrency: { batchesInParallel: 1 },
        stages: [{ name: "synthesize.singleTurn", count, batchSize: 10 }],
      }),
      campaignId,
    );
    const progressSeen: number[] = [];
    await waitFor("first batch", async () => {
      const s = await iterationStatus(handle.workflowId);
      if (s?.stages[0]) progressSeen.push(s.stages[0].itemsDone);
      return (s?.stages[0]?.batchesDone ?? 0) >= 1;
    });
    await handle.signal(pauseSignal);
    const paused = await waitFor("paused state", async () => {
      const s = (await env.client.workflow.getHandle(handle.workflowId).query(statusQuery)) as CampaignStatus;
      return s.paused && s.currentIteration?.paused ? s : undefined;
    });
    assert.equal(paused.state, "paused");
    // The batch in flight may finish; after that nothing moves while paused.
    await new Promise((r) => setTimeout(r, 1500));
    const a = await iterationStatus(handle.workflowId);
    await new Promise((r) => setTimeout(r, 1500));
    const b = await iterationStatus(handle.workflowId);
    assert.equal(b?.stages[0]?.batchesDone, a?.stages[0]?.batchesDone);
    assert.equal(await sampleCount(campaignId), b?.stages[0]?.itemsDone);
    assert.ok((b?.stages[0]?.itemsDone ?? 0) < count, "paused before the end");
    assert.equal(b?.state, "paused");

    await handle.signal(resumeSignal);
    const result = await handle.result();
    assert.equal(result.state, "completed");
    assert.equal(await sampleCount(campaignId), count);
    // Progress was monotone and bounded by the plan.
    for (let i = 1; i < progressSeen.length; i++) assert.ok((progressSeen[i] as number) >= (progressSeen[i - 1] as number));
    assert.ok(progressSeen.every((n) => n <= count));
  } finally {
    await slow.close();
  }
});
