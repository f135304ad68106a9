/**
 * Activities in MockActivityEnvironment against real PostgreSQL and the LLM simulator: a batch
 * resumes from its heartbeat details, and cancellation stops its work promptly.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CancelledFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { eq } from "drizzle-orm";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { samples } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import type { SynthesisProgress } from "../../src/stages/synthesizeSingleTurn.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let activities: ReturnType<typeof createActivities>;

before(async () => {
  env = await createTestEnv("acts");
  sim = await startSimulator({ seed: 2, latencyMs: 5, maxConcurrency: 8, quiet: true });
  activities = createActivities({ ...activityDepsFor(env.db, env.workDir, () => undefined), heartbeatIntervalMs: 100 });
});

after(async () => {
  await sim?.close();
  await env?.close();
});

async function registered(campaignId: string, simUrl: string, count: number, batchSize: number) {
  const config = simulatorCampaign(simUrl, { count, batchSize, stages: [{ name: "synthesize.singleTurn", count, batchSize }] });
  await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config });
  await new MockActivityEnvironment().run(activities.planStage, { campaignId, iteration: 1, stage: "synthesize.singleTurn" });
}

test("a batch resumes from its heartbeat details: slots below nextSlot are not generated again", async () => {
  const campaignId = `resume-${Date.now().toString(36)}`;
  await registered(campaignId, sim.url, 20, 10);
  sim.resetStats();
  const resumeFrom: SynthesisProgress = { nextSlot: 14, written: 4, existing: 0, failed: 0 };
  const menv = new MockActivityEnvironment({ heartbeatDetails: resumeFrom });
  const beats: SynthesisProgress[] = [];
  menv.on("heartbeat", (d: SynthesisProgress) => beats.push(d));
  const result = await menv.run(activities.runStageBatch, { campaignId, iteration: 1, stage: "synthesize.singleTurn", batchIndex: 1 });
  // Slots 14..19 only: two LLM calls each (user simulator + tool agent).
  assert.equal(sim.stats().byPath["/v1/chat/completions"], 12);
  const rows = await env.db.db.select({ slotKey: samples.slotKey }).from(samples).where(eq(samples.campaignId, campaignId));
  assert.deepEqual(rows.map((r) => Number(r.slotKey?.split("/").pop())).sort((a, b) => a - b), [14, 15, 16, 17, 18, 19]);
  assert.deepEqual(result, { items: 10, written: 10, existing: 0, failed: 0, duplicates: 0 }, "counters carried over from the details");
  assert.ok(beats.length > 0);
  assert.equal(beats.at(-1)?.nextSlot, 20);
  // Progress reported is monotone.
  for (let i = 1; i < beats.length; i++) assert.ok((beats[i] as SynthesisProgress).nextSlot >= (beats[i - 1] as SynthesisProgress).nextSlot);

  // Running the finished batch again is a no-op that returns the recorded result.
  sim.resetStats();
  const again = await new MockActivityEnvironment().run(activities.runStageBatch, { campaignId, iteration: 1, stage: "synthesize.singleTurn", batchIndex: 1 });
  assert.deepEqual(again, result);
  assert.equal(sim.stats().requests, 0);
});

test("a batch retried without details skips the slots already stored", async () => {
  const campaignId = `reslot-${Date.now().toString(36)}`;
  await registered(campaignId, sim.url, 10, 10);
  await new MockActivityEnvironment({ heartbeatDetails: { nextSlot: 6, written: 0, existing: 0, failed: 0 } }).run(activities.runStageBatch, {
    campaignId,
    iteration: 1,
    stage: "synthesize.singleTurn",
    batchIndex: 0,
  });
  // Pretend the batch record was lost: the slot keys alone keep the rerun from generating again.
  const { stageBatches } = await import("../../src/db/schema.js");
  await env.db.db.delete(stageBatches).where(eq(stageBatches.campaignId, campaignId));
  sim.resetStats();
  const r = await new MockActivityEnvironment().run(activities.runStageBatch, { campaignId, iteration: 1, stage: "synthesize.singleTurn", batchIndex: 0 });
  assert.equal((r as Record<string, number>).existing, 4);
  assert.equal((r as Record<string, number>).written, 6);
  assert.equal(sim.stats().byPath["/v1/chat/completions"], 12);
});

test("cancellation stops a batch promptly: in-flight calls are aborted and no new ones start", async () => {
  const slow = await startSimulator({ seed: 4, latencyMs: 300, maxConcurrency: 4, quiet: true });
  try {
    const campaignId = `cancel-${Date.now().toString(36)}`;
    await registered(campaignId, slow.url, 200, 200);
    slow.resetStats();
    const menv = new MockActivityEnvironment();
    const running = menv.run(activities.runStageBatch, { campaignId, iteration: 1, stage: "synthesize.singleTurn", batchIndex: 0 });
    await new Promise((r) => setTimeout(r, 700));
    const t0 = Date.now();
    menv.cancel();
    await assert.rejects(running, (err: unknown) => err instanceof CancelledFailure || (err as Error).name === "AbortError" || /cancel/i.test(String(err)));
    assert.ok(Date.now() - t0 < 5000, `stopped within 5 s (took ${Date.now() - t0} ms)`);
    const requestsAtCancel = slow.stats().requests;
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(slow.stats().requests, requestsAtCancel, "no request after cancellation");
    assert.ok(requestsAtCancel < 40, `only a few requests were made (${requestsAtCancel})`);
    const stored = await env.db.db.select({ id: samples.id }).from(samples).where(eq(samples.campaignId, campaignId));
    assert.ok(stored.length < 20);
  } finally {
    await slow.close();
  }
});
