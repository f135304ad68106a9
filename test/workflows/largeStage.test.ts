/**
 * A stage with more batches than one history should hold runs them in child workflows of at most
 * BATCHES_PER_CHILD batches each, so the iteration's history stays small however large the count.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import { samples, stageSlotOutcomes } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId, iterationWorkflowId } from "../../workflows/definitions.js";
import { BATCHES_PER_CHILD } from "../../workflows/stageBatches.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("large");
  sim = await startSimulator({ seed: 9, latencyMs: 0, maxConcurrency: 32, quiet: true });
  workers = await env.startWorkers();
});

after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

test("a stage of 510 batches runs as two chunk children; the iteration's history stays small", { timeout: 300_000 }, async () => {
  const count = BATCHES_PER_CHILD + 10;
  const campaignId = `large-${Date.now().toString(36)}`;
  const config = simulatorCampaign(sim.url, {
    stages: [
      { name: "synthesize.singleTurn", count, batchSize: 1 },
      { name: "verify.rules", batchSize: 200 },
    ],
    concurrency: { batchesInParallel: 16 },
  });
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  const result = (await handle.result()) as { state: string };
  assert.equal(result.state, "completed");

  const stored = Number(
    (
      await env.db.db
        .select({ n: sql<number>`count(distinct ${samples.slotKey})::int` })
        .from(samples)
        .where(eq(samples.campaignId, campaignId))
    )[0]?.n,
  );
  const outcomes = Number(
    (
      await env.db.db
        .select({ n: sql<number>`count(*)::int` })
        .from(stageSlotOutcomes)
        .where(eq(stageSlotOutcomes.campaignId, campaignId))
    )[0]?.n,
  );
  assert.equal(stored + outcomes, count, `every slot settled once (${stored} samples, ${outcomes} failed or duplicate)`);

  const iterationId = iterationWorkflowId(handle.workflowId, 1);
  const chunkIds = [`${iterationId}-synthesize.singleTurn-a1-from0`, `${iterationId}-synthesize.singleTurn-a1-from${BATCHES_PER_CHILD}`];
  for (const id of chunkIds) {
    const d = await env.client.workflow.getHandle(id).describe();
    assert.equal(d.type, "stageBatchesWorkflow");
    assert.equal(d.status.name, "COMPLETED");
  }
  const chunkResults = await Promise.all(
    chunkIds.map((id) => env.client.workflow.getHandle(id).result() as Promise<{ batchesDone: number; counts: Record<string, number> }>),
  );
  assert.deepEqual(
    chunkResults.map((r) => r.batchesDone),
    [BATCHES_PER_CHILD, 10],
  );
  assert.equal(
    chunkResults.reduce((a, r) => a + (r.counts.written ?? 0), 0),
    stored,
    "chunk counters add up to the stored samples",
  );

  const history = await env.client.workflow.getHandle(iterationId).fetchHistory();
  const events = history.events?.length ?? 0;
  // Without chunks the synthesis stage alone would take over 3 * 510 events here.
  assert.ok(events < 200, `iteration history has ${events} events`);
});
