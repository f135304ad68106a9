/**
 * A campaign run that finds its iteration's workflow id still taken. Terminating a campaign (the
 * Temporal UI's Terminate, a reset) cancels its running iteration through the parent close policy,
 * but that iteration takes a while to stop (its batches are cancelled and waited for, its reports
 * written). A campaign started again under the same id before then reached its iteration's start
 * while the old iteration still held the id: the new run failed with "Workflow execution already
 * started" and PostgreSQL went on saying the campaign was running. Now the new run asks the old
 * iteration to stop, waits for it, and runs.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { campaigns } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId, iterationWorkflowId, statusQuery, type IterationStatus } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("restart");
  // Slow enough that a batch is in flight when the campaign is terminated, and still is when the new
  // run reaches its iteration's start (a batch takes a few seconds).
  sim = await startSimulator({ seed: 5, latencyMs: 1200, maxConcurrency: 8, quiet: true });
  workers = await env.startWorkers();
});
after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

test("a campaign terminated mid-iteration and started again at once waits for its old iteration to stop, then completes", { timeout: 180_000 }, async () => {
  const id = `restart-${Date.now().toString(36)}`;
  const start = () =>
    env.client.workflow.start("campaignWorkflow", {
      workflowId: campaignWorkflowId(id),
      taskQueue: taskQueues(env.queuePrefix).workflows,
      args: [{ config: simulatorCampaign(sim.url, { count: 24, batchSize: 8 }), campaignId: id }],
    });
  const first = await start();
  const iterationId = iterationWorkflowId(first.workflowId, 1);
  await waitFor("a batch of iteration 1 in flight", async () => {
    const s = (await env.client.workflow
      .getHandle(iterationId)
      .query(statusQuery)
      .catch(() => undefined)) as IterationStatus | undefined;
    return (s?.stages[0]?.batchesTotal ?? 0) > 0;
  });
  const oldIteration = await env.client.workflow.getHandle(iterationId).describe();
  await first.terminate("operator restarts the campaign");

  const second = await start();
  const result = await second.result();
  assert.equal(result.state, "completed");
  assert.equal(result.iterations[0]?.samples.verified, 24);
  // The new run did find the id held (the old iteration stops only after its batch's cancellation
  // reaches the activity on a heartbeat), and took the waiting path rather than racing past it.
  const events = (await second.fetchHistory()).events ?? [];
  assert.ok(
    events.some((e) => e.startChildWorkflowExecutionFailedEventAttributes),
    "the first start of the new run's iteration was refused",
  );
  assert.equal(events.filter((e) => e.requestCancelExternalWorkflowExecutionInitiatedEventAttributes).length, 1, "the old iteration was asked to stop once");

  // The old iteration was cancelled, not left running; the new one is another run under the same id.
  const closed = await env.client.workflow.getHandle(iterationId, oldIteration.runId).describe();
  assert.equal(closed.status.name, "CANCELLED");
  const current = await env.client.workflow.getHandle(iterationId).describe();
  assert.notEqual(current.runId, oldIteration.runId);
  assert.equal(current.status.name, "COMPLETED");
  const [row] = await env.db.db.select().from(campaigns).where(eq(campaigns.id, id));
  assert.equal(row?.status, "completed");
});
