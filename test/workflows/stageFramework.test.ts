/**
 * The stage framework's promises, against the real dev server and PostgreSQL: a stage added with
 * only a spec and a handler runs in a campaign; a selection stage's batches keep their members when
 * rows are added after planning; a changed config on an existing campaign id is refused with the
 * differences unless a new config version is asked for; relative tool paths resolve against the
 * config file's folder; dedupe.exact keeps one sample per exact key; a stage whose finalize finds
 * every item failed (EveryItemFailedError) waits for an operator and runs its batches again on retry.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { WorkflowFailedError } from "@temporalio/client";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { createActivities } from "../../activities/index.js";
import type { BatchCounts, RegisterCampaignResult, StagePlanResult } from "../../activities/types.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { freezeCampaignConfig } from "../../src/config/frozen.js";
import { batchSampleIds } from "../../src/db/repos/stageBatchItems.js";
import { upsertIteration } from "../../src/db/repos/campaigns.js";
import { insertSamples } from "../../src/db/repos/samples.js";
import { campaignConfigs, samples } from "../../src/db/schema.js";
import { batchSize } from "../../src/config/fields.js";
import { createStageRegistry } from "../../src/framework/registry.js";
import { failIfNothingSucceeded, stageFailurePolicy, sumBatchResults, type BatchResult, type StageHandler } from "../../src/framework/stage.js";
import { defineStage } from "../../src/framework/stageSpec.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { STAGE_SPECS } from "../../src/stages/specs.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

// A stage defined here, in the test: it counts the iteration's samples by kind, batch by batch.
const countKindsSpec = defineStage({
  name: "test.countKinds",
  title: "count samples by kind (test fixture)",
  latency: "default",
  batchTimeoutMinutes: 5,
  roles: [],
  reads: { kind: "samples", selection: () => ({ scope: "iteration" }), describe: "the iteration's samples" },
  writes: "nothing: counters only",
  schema: z.strictObject({ name: z.literal("test.countKinds"), batchSize: batchSize(7) }),
});
const countKindsHandler: StageHandler<{ name: "test.countKinds"; batchSize: number }> = {
  name: "test.countKinds",
  async runBatch(ctx, batchIndex) {
    const rows = await ctx.batchSamples(batchIndex, { limit: 1000 });
    const out: Record<string, number> & { items: number } = { items: rows.length };
    for (const r of rows) out[`kind_${r.kind}`] = (out[`kind_${r.kind}`] ?? 0) + 1;
    return out;
  },
};
// A stage defined here whose batches fail every item for the endpoint's reason until `endpointFixed`.
const everyFailsSpec = defineStage({
  name: "test.everyFails",
  title: "fails every item until fixed (test fixture)",
  latency: "default",
  batchTimeoutMinutes: 5,
  roles: [],
  reads: { kind: "samples", selection: () => ({ scope: "iteration" }), describe: "the iteration's samples" },
  writes: "nothing: counters only",
  schema: z.strictObject({ name: z.literal("test.everyFails"), batchSize: batchSize(2) }),
});
let endpointFixed = false;
const notesSeenByFinalize: string[][] = [];
const classNotesSeenByFinalize: (Record<string, string> | undefined)[] = [];
const everyFailsHandler: StageHandler<{ name: "test.everyFails"; batchSize: number }> = {
  name: "test.everyFails",
  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    const rows = await ctx.batchSamples(batchIndex, { limit: 1000 });
    if (endpointFixed) return { items: rows.length, succeeded: rows.length };
    // The first sample of all times out, the rest are refused: the first of each class is kept apart.
    rows.forEach((r, i) => progress.noteFailure?.(`batch ${batchIndex}: ${r.id} refused`, batchIndex === 0 && i === 0 ? "timeout" : "http400"));
    return { items: rows.length, succeeded: 0, failed: rows.length, failedByEndpoint: rows.length };
  },
  async finalize(ctx, batches, notes) {
    notesSeenByFinalize.push(notes?.firstFailures ?? []);
    classNotesSeenByFinalize.push(notes?.firstFailureByClass);
    const s = sumBatchResults(batches);
    failIfNothingSucceeded(
      "test.everyFails",
      {
        succeeded: s.succeeded ?? 0,
        failed: s.failed ?? 0,
        failedByEndpoint: s.failedByEndpoint ?? 0,
        firstFailures: notes?.firstFailures ?? [],
        check: "Check the fixture's endpoint",
      },
      stageFailurePolicy(ctx),
    );
    return s;
  },
};
const registry = createStageRegistry([...STAGE_SPECS, countKindsSpec, everyFailsSpec], {
  ...STAGE_HANDLERS,
  "test.countKinds": countKindsHandler,
  "test.everyFails": everyFailsHandler,
});

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("framework");
  sim = await startSimulator({ seed: 21, latencyMs: 1, maxConcurrency: 16, quiet: true });
  workers = await env.startWorkers({ stages: registry });
});

after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

const run = (config: unknown, campaignId: string, extra: Record<string, unknown> = {}) =>
  env.client.workflow.execute("campaignWorkflow", {
    workflowId: `${campaignWorkflowId(campaignId)}-${Math.random().toString(36).slice(2, 8)}`,
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId, ...extra }],
  });

test("a stage defined only by a spec and a handler (in this test) runs in a campaign", { timeout: 120_000 }, async () => {
  const campaignId = `fixture-${Date.now().toString(36)}`;
  const raw = simulatorCampaign(sim.url, { stages: [{ name: "synthesize.singleTurn", count: 30, batchSize: 10 }, { name: "test.countKinds" }] });
  const frozen = freezeCampaignConfig(raw, { configDir: env.workDir, specs: registry.specs });
  assert.ok(frozen.ok, frozen.ok ? "" : frozen.error.message);
  assert.deepEqual(frozen.frozen.stages[1], {
    name: "test.countKinds",
    title: "count samples by kind (test fixture)",
    latency: "default",
    batchTimeoutMinutes: 5,
    plannedLocally: true,
  });
  const result = (await run(frozen.frozen, campaignId)) as { state: string };
  assert.equal(result.state, "completed");
  const stored = Number(
    (
      await env.db.db
        .select({ n: sql<number>`count(*)::int` })
        .from(samples)
        .where(eq(samples.campaignId, campaignId))
    )[0]?.n,
  );
  const stageRun = await env.db.db.execute(sql`select result, batches_total from stage_runs where campaign_id = ${campaignId} and stage = 'test.countKinds'`);
  const row = (stageRun as unknown as { rows: { result: Record<string, number>; batches_total: number }[] }).rows[0];
  assert.ok(row, "the fixture stage ran and recorded its result");
  assert.equal(row.result.items, stored, "it read every sample of the iteration");
  assert.equal(row.batches_total, Math.ceil(stored / 7), "batches of its own default batchSize (7)");
  assert.equal((row.result.kind_standard ?? 0) + (row.result.kind_parallel ?? 0) + (row.result.kind_irrelevance ?? 0), stored);
});

test("a selection stage's batches keep their members when rows are added after planning", { timeout: 120_000 }, async () => {
  const activities = createActivities({ ...activityDepsFor(env.db, env.workDir, () => undefined), stages: registry });
  const campaignId = `fixed-${Date.now().toString(36)}`;
  const raw = simulatorCampaign(sim.url, {
    stages: [
      { name: "synthesize.singleTurn", count: 20, batchSize: 20 },
      { name: "verify.rules", batchSize: 6 },
    ],
  });
  await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config: raw });
  const synth = { campaignId, iteration: 1, stage: "synthesize.singleTurn" };
  await new MockActivityEnvironment().run(activities.planStage, synth);
  await new MockActivityEnvironment().run(activities.runStageBatch, { ...synth, batchIndex: 0 });

  const verify = { campaignId, iteration: 1, stage: "verify.rules" };
  const plan = (await new MockActivityEnvironment().run(activities.planStage, verify)) as StagePlanResult;
  assert.ok(!plan.alreadyDone);
  const batches = plan.batches;
  const before = await Promise.all(Array.from({ length: batches }, (_, b) => batchSampleIds(env.db.db, verify, b)));
  // Another stage adds rows to the iteration, with ids that sort among the planned ones.
  const added = ["0", "8", "f"].map((p, i) => ({
    id: `${p}-added-${campaignId}`,
    campaignId,
    iteration: 1,
    kind: "standard",
    origin: "expanded",
    messages: [{ role: "user" as const, content: `added ${i}` }],
    tools: [],
  }));
  await insertSamples(env.db.db, added);
  const again = await new MockActivityEnvironment().run(activities.planStage, verify);
  assert.deepEqual(again, plan, "re-planning a running stage keeps its plan");
  const after = await Promise.all(Array.from({ length: batches }, (_, b) => batchSampleIds(env.db.db, verify, b)));
  assert.deepEqual(after, before, "the same ids in the same batches");
  assert.ok(!after.flat().some((id) => id.includes("-added-")), "the rows added later are in no batch");
  const r = (await new MockActivityEnvironment().run(activities.runStageBatch, { ...verify, batchIndex: 0 })) as BatchCounts;
  assert.equal(r.items, before[0]?.length);
});

test("a changed config on an existing campaign id is refused with the differences; --config-version records version 2", { timeout: 120_000 }, async () => {
  const activities = createActivities({ ...activityDepsFor(env.db, env.workDir, () => undefined), stages: registry });
  const campaignId = `changed-${Date.now().toString(36)}`;
  const v1 = simulatorCampaign(sim.url, { count: 10, batchSize: 5 });
  await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config: v1 });
  await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config: v1 }); // same config: fine, idempotent
  const v2 = simulatorCampaign(sim.url, { count: 12, batchSize: 5 });
  await assert.rejects(new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config: v2 }), (err: unknown) => {
    const e = err as { type?: string; message: string; nonRetryable?: boolean };
    assert.equal(e.type, "ConfigChanged");
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /registered with another config \(version 1\); differences:\n {2}stages\[0\]\.count: 10 -> 12\n/);
    assert.match(e.message, /--config-version/);
    return true;
  });
  const reg = (await new MockActivityEnvironment().run(activities.registerCampaign, {
    campaignId,
    config: v2,
    newConfigVersion: true,
  })) as RegisterCampaignResult;
  assert.equal(reg.plan?.configVersion, 2);
  const versions = await env.db.db.select().from(campaignConfigs).where(eq(campaignConfigs.campaignId, campaignId));
  assert.deepEqual(
    versions.map((v) => [v.version, v.appliesFromIteration]).sort(),
    [
      [1, 1],
      [2, 1],
    ],
    "no iteration completed yet: version 2 applies from iteration 1",
  );

  // Once every iteration has completed, a new version would apply to none: refused, unless it adds iterations.
  await upsertIteration(env.db.db, { campaignId, iteration: 1, status: "completed" });
  const v3 = simulatorCampaign(sim.url, { count: 13, batchSize: 5 });
  assert.equal(v3.iterations ?? 1, 1);
  await assert.rejects(new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config: v3, newConfigVersion: true }), (err: unknown) => {
    const e = err as { type?: string; message: string; nonRetryable?: boolean };
    assert.equal(e.type, "ConfigChanged");
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /has completed 1 iteration: config version 3 would apply from iteration 2, past its iterations \(1\)/);
    return true;
  });
  const more = (await new MockActivityEnvironment().run(activities.registerCampaign, {
    campaignId,
    config: { ...v3, iterations: 2 },
    newConfigVersion: true,
  })) as RegisterCampaignResult;
  assert.equal(more.plan?.configVersion, 3);
  const v3Row = (await env.db.db.select().from(campaignConfigs).where(eq(campaignConfigs.campaignId, campaignId))).find((v) => v.version === 3);
  assert.equal(v3Row?.appliesFromIteration, 2, "a version that adds an iteration applies from it");

  // Through the workflow: the refusal is the campaign's failure, with the same message.
  await assert.rejects(run(simulatorCampaign(sim.url, { count: 14, batchSize: 5 }), campaignId), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String((err.cause as Error).message), /stages\[0\]\.count: 13 -> 14/);
    return true;
  });
});

test("relative tool paths resolve against the config file's folder, once, when frozen", () => {
  const dir = fs.mkdtempSync(path.join(env.workDir, "cfg-"));
  const frozen = freezeCampaignConfig({ ...simulatorCampaign(sim.url), tools: { sources: [{ kind: "mcp", path: "tools/list.json" }] } }, { configDir: dir });
  assert.ok(frozen.ok);
  assert.deepEqual(frozen.frozen.config.tools.sources, [{ kind: "mcp", path: path.join(dir, "tools/list.json") }]);
  assert.equal(frozen.frozen.configDir, dir);
  // Freezing a frozen config changes nothing (the CLI freezes; the campaign's registration checks).
  const again = freezeCampaignConfig(frozen.frozen, { configDir: "/elsewhere" });
  assert.ok(again.ok);
  assert.equal(again.hash, frozen.hash);
});

test("dedupe.exact marks all but one sample of each exact key as duplicate", { timeout: 120_000 }, async () => {
  const activities = createActivities({ ...activityDepsFor(env.db, env.workDir, () => undefined), stages: registry });
  const campaignId = `dedupe-${Date.now().toString(36)}`;
  await new MockActivityEnvironment().run(activities.registerCampaign, {
    campaignId,
    config: simulatorCampaign(sim.url, { stages: [{ name: "dedupe.exact", batchSize: 2 }] }),
  });
  const call = (city: string) => [{ id: "c1", type: "function" as const, function: { name: "get_weather", arguments: JSON.stringify({ city }) } }];
  const sample = (id: string, user: string, city: string) => ({
    id: `${id}-${campaignId}`,
    campaignId,
    iteration: 1,
    kind: "standard",
    origin: "synthesized",
    messages: [
      { role: "user" as const, content: user },
      { role: "assistant" as const, content: null, tool_calls: call(city) },
    ],
    tools: [],
  });
  await insertSamples(env.db.db, [
    sample("a", "Weather in Paris?", "Paris"),
    sample("b", "  weather in PARIS? ", "Paris"), // same after normalising the user turn
    sample("c", "Weather in Paris?", "Lyon"), // another answer
    sample("d", "Weather in Rome?", "Rome"),
    sample("e", "weather in rome?", "Rome"),
  ]);
  const ref = { campaignId, iteration: 1, stage: "dedupe.exact" };
  const plan = (await new MockActivityEnvironment().run(activities.planStage, ref)) as StagePlanResult;
  assert.ok(!plan.alreadyDone);
  assert.equal(plan.batches, 3);
  for (let b = 0; b < 3; b++) await new MockActivityEnvironment().run(activities.runStageBatch, { ...ref, batchIndex: b });
  const summary = await new MockActivityEnvironment().run(activities.completeStage, ref);
  assert.deepEqual(summary, { keyed: 5, duplicates: 2, kept: 3, rejected: 0 });
  const rows = await env.db.db
    .select({ id: samples.id, status: samples.status })
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId)));
  assert.deepEqual(
    rows
      .filter((r) => r.status === "duplicate")
      .map((r) => r.id[0])
      .sort(),
    ["b", "e"],
    "the first by id of each key is kept",
  );
});

test(
  "a stage whose every item failed for the endpoint's reason fails non-retryably after its batches, and its batches run again on retry",
  { timeout: 120_000 },
  async () => {
    const activities = createActivities({ ...activityDepsFor(env.db, env.workDir, () => undefined), stages: registry });
    const campaignId = `everyfails-${Date.now().toString(36)}`;
    await new MockActivityEnvironment().run(activities.registerCampaign, {
      campaignId,
      config: simulatorCampaign(sim.url, { stages: [{ name: "test.everyFails", batchSize: 2 }] }),
    });
    await insertSamples(
      env.db.db,
      ["a", "b", "c"].map((id) => ({
        id: `${id}-${campaignId}`,
        campaignId,
        iteration: 1,
        kind: "standard",
        origin: "synthesized",
        messages: [{ role: "user" as const, content: `question ${id}` }],
        tools: [],
      })),
    );
    const ref = { campaignId, iteration: 1, stage: "test.everyFails" };
    const plan = (await new MockActivityEnvironment().run(activities.planStage, ref)) as StagePlanResult;
    assert.ok(!plan.alreadyDone);
    assert.deepEqual(plan.pendingBatches, [0, 1]);
    for (const b of plan.pendingBatches) {
      const counts = (await new MockActivityEnvironment().run(activities.runStageBatch, { ...ref, batchIndex: b })) as BatchCounts;
      assert.ok(
        Object.values(counts).every((v) => typeof v === "number"),
        "the workflow gets only counts (it sums them)",
      );
    }
    await assert.rejects(new MockActivityEnvironment().run(activities.completeStage, ref), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.nonRetryable, true);
      assert.equal(err.type, "StageInputError");
      assert.match(
        err.message,
        /^test\.everyFails: no sample succeeded; 3 failed, 3 of them .* The first: batch 0: a-\S+ refused\. Check the fixture's endpoint/,
      );
      return true;
    });
    assert.deepEqual(
      notesSeenByFinalize.at(-1),
      [`batch 0: a-${campaignId} refused`, `batch 1: c-${campaignId} refused`],
      "each batch's first note, in batch order",
    );
    assert.deepEqual(
      classNotesSeenByFinalize.at(-1),
      { timeout: `batch 0: a-${campaignId} refused`, http400: `batch 0: b-${campaignId} refused` },
      "the first note of each class, kept with the batches' done records",
    );

    // retry-stage after the fix: planning finds every batch pending again, not only finalize.
    endpointFixed = true;
    const retry = (await new MockActivityEnvironment().run(activities.planStage, ref)) as StagePlanResult;
    assert.ok(!retry.alreadyDone);
    assert.deepEqual(retry.pendingBatches, [0, 1]);
    for (const b of retry.pendingBatches) await new MockActivityEnvironment().run(activities.runStageBatch, { ...ref, batchIndex: b });
    assert.deepEqual(await new MockActivityEnvironment().run(activities.completeStage, ref), { items: 3, succeeded: 3 });
  },
);
