/**
 * Activities in MockActivityEnvironment against real PostgreSQL and the LLM simulator: a retried
 * batch does only the slots still open, and cancellation stops its work promptly.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { CancelledFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { and, eq, inArray } from "drizzle-orm";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { llmRequests, samples, stageBatches } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { slotKey, type SynthesisProgress } from "../../src/stages/synthesize/singleTurn/handler.js";
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

test("a retried batch generates only the slots still open and counts each slot once", async () => {
  const campaignId = `resume-${Date.now().toString(36)}`;
  await registered(campaignId, sim.url, 20, 10);
  const ref = { campaignId, iteration: 1, stage: "synthesize.singleTurn", batchIndex: 1 };
  const first = await new MockActivityEnvironment().run(activities.runStageBatch, ref);
  assert.deepEqual(first, { items: 10, written: 10, failed: 0, duplicates: 0 });

  // An attempt killed after writing slots 10..15: its batch record and the last four samples never landed.
  await env.db.db.delete(stageBatches).where(eq(stageBatches.campaignId, campaignId));
  await env.db.db.delete(samples).where(
    and(
      eq(samples.campaignId, campaignId),
      inArray(
        samples.slotKey,
        [16, 17, 18, 19].map((s) => slotKey(campaignId, 1, s)),
      ),
    ),
  );
  sim.resetStats();
  const menv = new MockActivityEnvironment({ heartbeatDetails: { settled: 3, total: 10, written: 3, failed: 0, duplicates: 0 } });
  const beats: SynthesisProgress[] = [];
  menv.on("heartbeat", (d: SynthesisProgress) => beats.push(d));
  const result = await menv.run(activities.runStageBatch, ref);
  // Slots 16..19 only, whatever stale details the attempt was handed: two LLM calls each.
  assert.equal(sim.stats().byPath["/v1/chat/completions"], 8);
  const rows = await env.db.db.select({ slotKey: samples.slotKey }).from(samples).where(eq(samples.campaignId, campaignId));
  assert.deepEqual(
    rows.map((r) => Number(r.slotKey?.split("/").pop())).sort((a, b) => a - b),
    range(10, 20),
  );
  assert.deepEqual(result, { items: 10, written: 10, failed: 0, duplicates: 0 }, "each slot counted once across the two attempts");
  assert.equal(beats[0]?.settled, 6, "progress starts from what the database holds");
  assert.equal(beats.at(-1)?.settled, 10);
  for (let i = 1; i < beats.length; i++)
    assert.ok((beats[i] as SynthesisProgress).settled >= (beats[i - 1] as SynthesisProgress).settled, "progress is monotone");

  // Every request of the batch is in the ledger, completed, with the simulator's token counts.
  const ledger = await env.db.db
    .select()
    .from(llmRequests)
    .where(and(eq(llmRequests.campaignId, campaignId), eq(llmRequests.batchIndex, 1)));
  assert.equal(ledger.length, 28, "20 requests of the first attempt, 8 of the second");
  assert.ok(ledger.every((r) => r.status === "ok" && r.promptTokens > 0 && r.finishedAt !== null));

  // Running the finished batch again is a no-op that returns the recorded result.
  sim.resetStats();
  const again = await new MockActivityEnvironment().run(activities.runStageBatch, ref);
  assert.deepEqual(again, result);
  assert.equal(sim.stats().requests, 0);
});

test("slots whose samples come out identical in one write: one is written, the others are duplicates, and the batch settles", async () => {
  // One tool, standard requests only: every slot asks the simulator the same thing, and its content
  // is a function of the request, so all ten samples are one sample (one id) in one write.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-one-tool-"));
  const toolsFile = path.join(dir, "tools.json");
  const tool = {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather of a city.",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  };
  fs.writeFileSync(toolsFile, JSON.stringify([tool]));
  try {
    const campaignId = `same-${Date.now().toString(36)}`;
    const config = simulatorCampaign(sim.url, {
      tools: { sources: [{ kind: "openai", path: toolsFile }] },
      stages: [{ name: "synthesize.singleTurn", count: 10, batchSize: 10, mix: { standard: 1, parallel: 0, irrelevance: 0 }, toolsPerSample: 1 }],
    });
    await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config });
    await new MockActivityEnvironment().run(activities.planStage, { campaignId, iteration: 1, stage: "synthesize.singleTurn" });
    const result = await new MockActivityEnvironment().run(activities.runStageBatch, {
      campaignId,
      iteration: 1,
      stage: "synthesize.singleTurn",
      batchIndex: 0,
    });
    assert.deepEqual(result, { items: 10, written: 1, failed: 0, duplicates: 9 });
    const rows = await env.db.db.select({ id: samples.id }).from(samples).where(eq(samples.campaignId, campaignId));
    assert.equal(rows.length, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
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

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
