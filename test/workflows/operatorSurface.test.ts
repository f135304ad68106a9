/**
 * The campaign's operator surface against the real dev server and Postgres: abort (CLI, UI Cancel
 * button, a bare `abort` signal) ends both workflows as Canceled with the reason recorded; a failed
 * stage fails the campaign with the stage's own message and type; the current details follow the
 * stage; the memo carries the config hash and output folder; the UI's handler lists (the workflow
 * metadata query) show only operator controls.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { WorkflowFailedError, type WorkflowHandle } from "@temporalio/client";
import { eq } from "drizzle-orm";
import { abortCampaign } from "../../src/cli/abortAndMetadata.js";
import { campaigns, iterations } from "../../src/db/schema.js";
import { ErrorType } from "../../src/framework/errorTypes.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import { abortSignal, campaignWorkflowId, statusQuery, type CampaignStatus, type IterationStatus } from "../../workflows/definitions.js";
import { CANCEL_WITHOUT_REASON } from "../../workflows/operatorSurface.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("opsurface");
  sim = await startSimulator({ seed: 11, latencyMs: 30, maxConcurrency: 8, quiet: true });
  workers = await env.startWorkers();
});

after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

interface WorkflowMetadata {
  definition: { signalDefinitions: { name: string }[]; updateDefinitions: { name: string }[]; queryDefinitions: { name: string }[] };
  currentDetails: string;
}
const metadata = (h: WorkflowHandle) => h.query<WorkflowMetadata>("__temporal_workflow_metadata");

let counter = 0;
function start(config: unknown, prefix: string) {
  const campaignId = `${prefix}-${Date.now().toString(36)}-${counter++}`;
  return env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
}

/** A campaign slow enough to be caught mid-stage: one batch at a time. */
const slowCampaign = () => simulatorCampaign(sim.url, { count: 400, batchSize: 10, concurrency: { batchesInParallel: 1 } });

async function runningIteration(h: WorkflowHandle): Promise<WorkflowHandle> {
  const c = await waitFor("a finished batch", async () => {
    const s = (await h.query(statusQuery)) as CampaignStatus;
    if (!s.iterationWorkflowId) return undefined;
    const it = (await env.client.workflow.getHandle(s.iterationWorkflowId).query(statusQuery)) as IterationStatus;
    return (it.stages[0]?.batchesDone ?? 0) >= 1 ? s : undefined;
  });
  return env.client.workflow.getHandle(c.iterationWorkflowId as string);
}

async function campaignRowStatus(campaignId: string): Promise<string | undefined> {
  const rows = await env.db.db.select({ status: campaigns.status }).from(campaigns).where(eq(campaigns.id, campaignId));
  return rows[0]?.status;
}

async function iterationRowStatuses(campaignId: string): Promise<string[]> {
  const rows = await env.db.db
    .select({ status: iterations.status, finishedAt: iterations.finishedAt })
    .from(iterations)
    .where(eq(iterations.campaignId, campaignId));
  return rows.map((r) => `${r.status}${r.finishedAt ? "" : " (not finished)"}`);
}

async function assertCanceledWithReason(h: WorkflowHandle, iteration: WorkflowHandle, reason: RegExp) {
  await assert.rejects(h.result(), (err: unknown) => err instanceof WorkflowFailedError && /cancel/i.test(String(err.cause?.name ?? err.cause)));
  assert.equal((await h.describe()).status.name, "CANCELLED", "the UI shows the campaign Canceled");
  assert.equal((await iteration.describe()).status.name, "CANCELLED", "and its iteration too");
  const status = (await h.query(statusQuery)) as CampaignStatus;
  assert.equal(status.state, "aborted");
  assert.match(status.lastError ?? "", reason);
  const it = (await iteration.query(statusQuery)) as IterationStatus;
  assert.equal(it.state, "aborted");
  assert.match(it.lastError ?? "", reason);
  assert.match((await metadata(h)).currentDetails, /aborted/);
  assert.equal(await campaignRowStatus(status.campaignId), "aborted", "Postgres records the abort");
}

test("campaign abort (the CLI's: the abort signal with a reason) ends campaign and iteration as Canceled with the reason", async () => {
  const h = await start(slowCampaign(), "abort-cli");
  const iteration = await runningIteration(h);
  await abortCampaign(env.client, h.workflowId, "wrong tool set");
  // Idempotent: a second abort changes nothing (the first reason stays).
  await abortCampaign(env.client, h.workflowId, "second thoughts").catch(() => undefined);
  await assertCanceledWithReason(h, iteration, /^aborted by operator: wrong tool set$/);
});

test("the UI's Cancel button (a bare cancel request) is recorded as an abort", async () => {
  const h = await start(slowCampaign(), "abort-ui");
  const iteration = await runningIteration(h);
  await h.cancel();
  await assertCanceledWithReason(h, iteration, new RegExp(CANCEL_WITHOUT_REASON.replace(/[()`]/g, ".")));
});

test("a bare abort signal (the UI's Signal button) ends as Canceled too: the workflow asks for its own cancellation", async () => {
  const h = await start(slowCampaign(), "abort-signal");
  const iteration = await runningIteration(h);
  await h.signal(abortSignal, { reason: "from the signal dialog" });
  await assertCanceledWithReason(h, iteration, /from the signal dialog/);
});

test("a failed stage fails the campaign with the stage's own message and type", async () => {
  const failing = await startSimulator({ seed: 12, latencyMs: 5, maxConcurrency: 4, quiet: true });
  failing.setFaults({ rate500: 1 });
  try {
    const h = await start(
      simulatorCampaign(failing.url, {
        count: 10,
        batchSize: 5,
        onStageFailure: "fail",
        endpoints: { sim: { baseUrl: failing.url, maxConcurrency: 4, timeoutMs: 10_000, maxRetries: 0 } },
      }),
      "fail",
    );
    await assert.rejects(h.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      const cause = err.cause as { message: string; type?: string };
      assert.match(cause.message, /^stage synthesize\.singleTurn failed: /);
      assert.doesNotMatch(cause.message, /Child Workflow execution failed/);
      assert.equal(cause.type, ErrorType.stageFailed);
      return true;
    });
    const status = (await h.query(statusQuery)) as CampaignStatus;
    assert.equal(status.state, "failed");
    assert.match(status.lastError ?? "", /^stage synthesize\.singleTurn failed: .*500/);
    assert.equal(status.lastErrorType, ErrorType.stageFailed);
    assert.equal(await campaignRowStatus(status.campaignId), "failed");
    // The iteration the stage failed in ended with the campaign (its row read "running" for ever before).
    assert.deepEqual(await iterationRowStatuses(status.campaignId), ["failed"]);
  } finally {
    await failing.close();
  }
});

test("current details follow the stage, the memo carries the config, and only operator controls are listed", async () => {
  const h = await start(simulatorCampaign(sim.url, { count: 120, batchSize: 10, concurrency: { batchesInParallel: 1 } }), "details");
  const iteration = await runningIteration(h);
  const first = await metadata(iteration);
  assert.match(first.currentDetails, /stage synthesize\.singleTurn/);
  assert.match(first.currentDetails, /\*\*synthesize\.singleTurn\*\*: running · batches \d+ of 12/);
  assert.match(first.currentDetails, /toolloop campaign pause /);
  const campaignDetails = await waitFor("the campaign's details name the stage", async () => {
    const d = (await metadata(h)).currentDetails;
    return /stage synthesize\.singleTurn/.test(d) ? d : undefined;
  });
  assert.match(campaignDetails, /Iteration 1 of 1/);
  assert.match(campaignDetails, /\*\*Config\*\*: version 1, sha256 [0-9a-f]{64}/);
  assert.match(campaignDetails, /\*\*Report\*\*: \/.*\/report\.html/);

  const desc = await h.describe();
  const memo = desc.memo as { configHash?: string; configVersion?: number; outputDir?: string; report?: string };
  assert.match(memo.configHash ?? "", /^[0-9a-f]{64}$/);
  assert.equal(memo.configVersion, 1);
  assert.ok(memo.outputDir?.startsWith(env.workDir), `output folder under the worker's base dir (${memo.outputDir})`);
  assert.equal(memo.report, `${memo.outputDir}/report.html`);
  const iterDesc = await iteration.describe();
  assert.match((await iterDesc.staticSummary()) ?? "", /^iteration 1 of 1 of campaign /);

  for (const [handle, internal] of [
    [h, ["iterationProgress"]],
    [iteration, ["jobProgress", "operatorDecision"]],
  ] as const) {
    const def = (await metadata(handle)).definition;
    const signals = def.signalDefinitions.map((s) => s.name).sort();
    assert.deepEqual(signals, ["abort", "pause", "resume"]);
    for (const name of internal) assert.ok(!signals.includes(name), `${name} is not listed`);
    assert.deepEqual(def.updateDefinitions.map((u) => u.name).sort(), ["retryStage", "skipStage"]);
  }

  const later = await waitFor(
    "the next stage",
    async () => {
      const d = (await metadata(iteration).catch(() => undefined))?.currentDetails;
      return d && /stage verify\.rules|stage export\.dataset|: completed/.test(d) ? d : undefined;
    },
    120_000,
  );
  assert.match(later, /\*\*synthesize\.singleTurn\*\*: succeeded/);
  assert.equal((await h.result()).state, "completed");
  assert.match((await metadata(h)).currentDetails, /: completed/);
});
