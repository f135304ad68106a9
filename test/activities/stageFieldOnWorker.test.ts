/**
 * Rolling deploys, a field instead of a stage: a newer build added a field to a stage both builds
 * have (here `cpusPerTask` on verify.rules). A config it froze carries the field, and a worker of the
 * older build ran that stage's steps without it, not a word said (its schema was never applied to
 * the frozen config; applied, it would only have refused or dropped the key). Now such a step is
 * left for another worker as a missing stage's is (activities/stageOnWorker.ts): retryable,
 * uncounted, naming the field, the worker's build and the task queue to upgrade; after the limit
 * the stage waits for the operator. Configs an older build froze, and fields a newer build retired,
 * still run. PGlite and MockActivityEnvironment: no Temporal server, no LLM.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { createActivities } from "../../activities/index.js";
import type { StagePlanResult } from "../../activities/types.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { batchSize, runIn } from "../../src/config/fields.js";
import { DATASET_ROW_FORMATS } from "../../src/export/rowFormats.js";
import { activityFailures } from "../../src/db/schema.js";
import { ErrorType } from "../../src/framework/errorTypes.js";
import { createStageRegistry } from "../../src/framework/registry.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { exportDatasetSpec } from "../../src/stages/export/dataset/spec.js";
import { STAGE_SPECS } from "../../src/stages/specs.js";
import { verifyRulesSpec } from "../../src/stages/verify/rules/spec.js";
import { pgliteForTest } from "../helpers/pgliteForTest.js";
import { rawCampaign } from "../helpers/selfEvolution.js";

/** The newer build: verify.rules has an optional `cpusPerTask` (as a new field should be: no default, so configs without it freeze as before). */
const newerRules = {
  ...verifyRulesSpec,
  schema: z.strictObject({ name: z.literal("verify.rules"), runIn, batchSize: batchSize(200), cpusPerTask: z.number().int().positive().optional() }),
};
const newer = createStageRegistry(
  STAGE_SPECS.map((s) => (s.name === "verify.rules" ? newerRules : s)),
  STAGE_HANDLERS,
);
/** A still newer build that dropped `cpusPerTask` again, saying so in retiredFields. */
const retiring = createStageRegistry(
  STAGE_SPECS.map((s) => (s.name === "verify.rules" ? { ...verifyRulesSpec, retiredFields: ["cpusPerTask"] } : s)),
  STAGE_HANDLERS,
);

const execution = (runId: string, attempt: number, taskQueue: string, scheduledAgoMs = 0) => ({
  workflowExecution: { workflowId: `wf-${runId}`, runId },
  activityId: "3",
  attempt,
  activityType: "planStage",
  taskQueue,
  scheduledTimestampMs: Date.now() - scheduledAgoMs,
});

async function caught(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a failure, but the step ran (without the field, or with a value its build refuses)");
}

const config = (rules: Record<string, unknown>) =>
  rawCampaign({
    simUrl: "http://127.0.0.1:1/v1",
    stages: [
      { name: "synthesize.singleTurn", count: 4, batchSize: 4 },
      { name: "verify.rules", ...rules },
    ],
  });

test("a step whose stage config has a field the worker's build lacks is left for another worker, naming the field; later the stage waits for the operator", async (t) => {
  const { db, dir } = await pgliteForTest(t, "stage-field");
  const logged: string[] = [];
  const withStages = (stages: typeof newer) => createActivities({ ...activityDepsFor(db, dir, (m) => logged.push(m)), stages });
  const older = createActivities(activityDepsFor(db, dir, (m) => logged.push(m)));
  // Registered (frozen) by the newer build: the field is in the stored config.
  await new MockActivityEnvironment().run(withStages(newer).registerCampaign, { campaignId: "c", config: config({ cpusPerTask: 8 }) });

  const rules = { campaignId: "c", iteration: 1, stage: "verify.rules" };
  for (const attempt of [1, 2]) {
    const f = await caught(new MockActivityEnvironment(execution("r1", attempt, "q-default")).run(older.planStage, rules));
    assert.deepEqual([f.type, f.nonRetryable], [ErrorType.stageNotOnWorker, false], f.message);
    assert.match(
      f.message,
      /^stage "verify\.rules": the campaign's config has field stages\[1\]\.cpusPerTask, which this worker's build does not define \(worker \d+@.*toolloop .*; it runs: .*verify\.rules.*\), so it would run without it: a newer build's, e\.g\. during a rolling deploy; retried \(not counted as a failure\) for another worker of task queue q-default to take; if none that defines it takes it within 60 min of its scheduling the stage waits for an operator: upgrade the workers polling q-default$/,
    );
  }
  assert.equal(logged.filter((l) => l.startsWith("[deploy]")).length, 1, "the worker says so once, not at every retry");
  const counted = await db.db.select().from(activityFailures).where(eq(activityFailures.runId, "r1"));
  assert.equal(counted.length, 0, "nothing counted toward the failure budget: another worker may run it");

  // A stage whose entry has no such field runs on the older worker: the field is not its business.
  const synth: StagePlanResult = await new MockActivityEnvironment(execution("r2", 1, "q-llm")).run(older.planStage, {
    ...rules,
    stage: "synthesize.singleTurn",
  });
  assert.equal(synth.alreadyDone, false);

  // Still refused an hour after it was scheduled: no worker that defines the field is coming.
  const late = await caught(new MockActivityEnvironment(execution("r1", 9, "q-default", 61 * 60_000)).run(older.planStage, rules));
  assert.deepEqual([late.type, late.nonRetryable], [ErrorType.failedAfterRetries, true]);
  assert.match(
    late.message,
    /^stage "verify\.rules": the campaign's config has field stages\[1\]\.cpusPerTask, which the workers of task queue q-default that took this step in the 61 min since it was scheduled do not define \(last: worker .*\): upgrade the workers polling q-default to the build that froze the config, then: toolloop campaign retry-stage c --stage verify\.rules$/,
  );

  // The newer build runs it; so does a build that retired the field (configs frozen before keep running).
  const planned: StagePlanResult = await new MockActivityEnvironment(execution("r3", 1, "q-default")).run(withStages(newer).planStage, rules);
  assert.equal(planned.alreadyDone, false);
  await new MockActivityEnvironment(execution("r4", 1, "q-default")).run(withStages(retiring).planStage, rules);
});

test("a config an older build froze (without the newer field) runs on the newer build", async (t) => {
  const { db, dir } = await pgliteForTest(t, "stage-field-old");
  await new MockActivityEnvironment().run(createActivities(activityDepsFor(db, dir, () => undefined)).registerCampaign, {
    campaignId: "c",
    config: config({ batchSize: 50 }),
  });
  const newerWorker = createActivities({ ...activityDepsFor(db, dir, () => undefined), stages: newer });
  const plan: StagePlanResult = await new MockActivityEnvironment(execution("o1", 1, "q-default")).run(newerWorker.planStage, {
    campaignId: "c",
    iteration: 1,
    stage: "verify.rules",
  });
  assert.equal(plan.alreadyDone, false);
});

test("registering a raw config (a start from the Temporal UI) with a newer build's field on an older worker: left for another worker, then InvalidCampaignConfig naming the field", async (t) => {
  const { db, dir } = await pgliteForTest(t, "stage-field-register");
  const older = createActivities(activityDepsFor(db, dir, () => undefined));
  const register = (agoMs: number) =>
    caught(
      new MockActivityEnvironment(execution("g1", 1, "q-default", agoMs)).run(older.registerCampaign, { campaignId: "c", config: config({ cpusPerTask: 8 }) }),
    );
  const early = await register(0);
  assert.deepEqual([early.type, early.nonRetryable], [ErrorType.stageNotOnWorker, false], early.message);
  assert.match(
    early.message,
    /^the config names field stages\[1\]\.cpusPerTask, which this worker does not know \(worker .*\): a newer build's field, e\.g\. during a rolling deploy, retried \(not counted as a failure\) for another worker of task queue q-default to take; if it is a misspelt name, the campaign fails as InvalidCampaignConfig 60 min after/,
  );
  const late = await register(61 * 60_000);
  assert.deepEqual([late.type, late.nonRetryable], [ErrorType.invalidConfig, true]);
  assert.match(late.message, /^stages\[1\]: unknown field "cpusPerTask" \(no worker of task queue q-default knew field stages\[1\]\.cpusPerTask in the 61 min/);
  // The newer build registers it.
  await new MockActivityEnvironment().run(createActivities({ ...activityDepsFor(db, dir, () => undefined), stages: newer }).registerCampaign, {
    campaignId: "c",
    config: config({ cpusPerTask: 8 }),
  });
});

/**
 * A value instead of a field: a newer build loosened verify.rules' batchSize bound (at most 5000) and
 * added an export.dataset format ("parquet"). A config it froze carries those values, which this
 * build's schema refuses; the older worker ran the steps with them unchecked (batches of 3000 planned,
 * rows written in some format) or failed on them naming nothing. Now each step is left for another
 * worker, naming the field, the value and what this build expects there.
 */
const newerValues = createStageRegistry(
  STAGE_SPECS.map((s) =>
    s.name === "verify.rules"
      ? { ...verifyRulesSpec, schema: z.strictObject({ name: z.literal("verify.rules"), runIn, batchSize: batchSize(200, 5000) }) }
      : s.name === "export.dataset"
        ? {
            ...exportDatasetSpec,
            schema: (exportDatasetSpec.schema as unknown as z.ZodObject).extend({ format: z.enum([...DATASET_ROW_FORMATS, "parquet"]).default("toolloop") }),
          }
        : s,
  ),
  STAGE_HANDLERS,
);

test("a step whose stage config has a value the worker's build refuses (a newer build's enum member or bound) is left for another worker, naming the field, the value and what this build accepts", async (t) => {
  const { db, dir } = await pgliteForTest(t, "stage-value");
  const logged: string[] = [];
  const older = createActivities(activityDepsFor(db, dir, (m) => logged.push(m)));
  const newerWorker = createActivities({ ...activityDepsFor(db, dir, () => undefined), stages: newerValues });
  const raw = rawCampaign({
    simUrl: "http://127.0.0.1:1/v1",
    stages: [
      { name: "synthesize.singleTurn", count: 4, batchSize: 4 },
      { name: "verify.rules", batchSize: 3000 },
      { name: "export.dataset", format: "parquet" },
    ],
  });
  assert.ok(!parseCampaignConfig(raw).ok, "this build refuses the config (the CLI says so before a start)");
  await new MockActivityEnvironment().run(newerWorker.registerCampaign, { campaignId: "c", config: raw });

  const rules = { campaignId: "c", iteration: 1, stage: "verify.rules" };
  for (const attempt of [1, 2]) {
    const f = await caught(new MockActivityEnvironment(execution("v1", attempt, "q-default")).run(older.planStage, rules));
    assert.deepEqual([f.type, f.nonRetryable], [ErrorType.stageNotOnWorker, false], f.message);
    assert.match(
      f.message,
      /^stage "verify\.rules": the campaign's config has stages\[1\]\.batchSize = 3000, which this worker's build does not accept \(this build: expected at most 2000; worker \d+@.*toolloop .*; it runs: .*verify\.rules.*\), so it would run with a value it never checked: a newer build's, e\.g\. during a rolling deploy; retried \(not counted as a failure\) for another worker of task queue q-default to take; if none that accepts it takes it within 60 min of its scheduling the stage waits for an operator: upgrade the workers polling q-default$/,
    );
  }
  const exportStep = await caught(new MockActivityEnvironment(execution("v2", 1, "q-default")).run(older.planStage, { ...rules, stage: "export.dataset" }));
  assert.equal(exportStep.type, ErrorType.stageNotOnWorker, exportStep.message);
  assert.match(
    exportStep.message,
    /config has stages\[2\]\.format = "parquet", which this worker's build does not accept \(this build: expected "toolloop" or "openai-strict"; /,
  );
  assert.doesNotMatch(exportStep.message, /batchSize/, "another stage's value is not this step's business");
  assert.equal(logged.filter((l) => l.startsWith("[deploy]")).length, 2, "said once per stage and value, not at every retry");
  const counted = await db.db.select().from(activityFailures).where(eq(activityFailures.runId, "v1"));
  assert.equal(counted.length, 0, "nothing counted toward the failure budget: another worker may run it");

  // A stage whose values this build accepts runs on the older worker.
  const synth: StagePlanResult = await new MockActivityEnvironment(execution("v3", 1, "q-llm")).run(older.planStage, {
    ...rules,
    stage: "synthesize.singleTurn",
  });
  assert.equal(synth.alreadyDone, false);

  // An hour on: the stage waits for the operator, told what to upgrade.
  const late = await caught(new MockActivityEnvironment(execution("v1", 9, "q-default", 61 * 60_000)).run(older.planStage, rules));
  assert.deepEqual([late.type, late.nonRetryable], [ErrorType.failedAfterRetries, true]);
  assert.match(
    late.message,
    /^stage "verify\.rules": the campaign's config has stages\[1\]\.batchSize = 3000, which the workers of task queue q-default that took this step in the 61 min since it was scheduled do not accept \(their build: expected at most 2000; last: worker .*\): upgrade the workers polling q-default to the build that froze the config, then: toolloop campaign retry-stage c --stage verify\.rules$/,
  );

  // The newer build runs it.
  const planned: StagePlanResult = await new MockActivityEnvironment(execution("v4", 1, "q-default")).run(newerWorker.planStage, rules);
  assert.equal(planned.alreadyDone, false);
});
