/**
 * Retry by cause, in MockActivityEnvironment against real PostgreSQL: application failures are
 * counted per activity execution and end in a non-retryable FailedAfterRetries at the budget;
 * infrastructure failures are retryable and never counted; bad input fails at once.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { withFailurePolicy } from "../../activities/failurePolicy.js";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { activityFailures } from "../../src/db/schema.js";
import { ErrorType } from "../../src/framework/errorTypes.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { z } from "zod";
import { batchSize } from "../../src/config/fields.js";
import { createStageRegistry } from "../../src/framework/registry.js";
import { defineStage } from "../../src/framework/stageSpec.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { defaultStageRegistry } from "../../src/stages/registry.js";
import { STAGE_SPECS } from "../../src/stages/specs.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;

before(async () => {
  env = await createTestEnv("policy");
  sim = await startSimulator({ seed: 5, latencyMs: 1, maxConcurrency: 8, quiet: true });
});

after(async () => {
  await sim?.close();
  await env?.close();
});

/** An activity execution as Temporal would hand it over, attempt by attempt. */
const execution = (runId: string, attempt: number) => ({
  workflowExecution: { workflowId: `wf-${runId}`, runId },
  activityId: "7",
  attempt,
  activityType: "runStageBatch",
});

async function caught(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a failure");
}

test("an endpoint failing beyond its retries costs one attempt each time; the budget's last attempt is final", async () => {
  const activities = createActivities({ ...activityDepsFor(env.db, env.workDir, () => undefined), heartbeatIntervalMs: 100 });
  const campaignId = `budget-${Date.now().toString(36)}`;
  const config = simulatorCampaign(sim.url, { count: 4, batchSize: 4, stages: [{ name: "synthesize.singleTurn", count: 4, batchSize: 4 }] });
  config.endpoints.sim = { ...config.endpoints.sim!, maxRetries: 0 };
  await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config });
  await new MockActivityEnvironment().run(activities.planStage, { campaignId, iteration: 1, stage: "synthesize.singleTurn" });
  sim.setFaults({ rate500: 1 });
  try {
    const ref = { campaignId, iteration: 1, stage: "synthesize.singleTurn", batchIndex: 0 };
    const runId = `run-${campaignId}`;
    const seen: ApplicationFailure[] = [];
    for (const attempt of [1, 2, 3]) seen.push(await caught(new MockActivityEnvironment(execution(runId, attempt)).run(activities.runStageBatch, ref)));
    assert.deepEqual(
      seen.map((f) => [f.type, f.nonRetryable]),
      [
        ["LlmError:server", false],
        ["LlmError:server", false],
        [ErrorType.failedAfterRetries, true],
      ],
    );
    assert.match(seen[2]!.message, /HTTP 500.*failed 3 of 3 allowed attempts; infrastructure retries are not counted/);
    // The same attempt reported twice (a retried report) is still one failure.
    const again = await caught(new MockActivityEnvironment(execution(runId, 3)).run(activities.runStageBatch, ref));
    assert.equal(again.type, ErrorType.failedAfterRetries);
    const rows = await env.db.db
      .select()
      .from(activityFailures)
      .where(and(eq(activityFailures.runId, runId), eq(activityFailures.activityId, "7")));
    assert.deepEqual(rows.map((r) => r.attempt).sort(), [1, 2, 3]);
  } finally {
    sim.setFaults({});
  }
});

test("a database outage is the infrastructure's failure: retryable, never counted", async () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
  const activities = createActivities({
    ...activityDepsFor(env.db, env.workDir, () => undefined),
    getDb: () => Promise.reject(refused),
  });
  const runId = `outage-${Date.now().toString(36)}`;
  for (const attempt of [1, 2, 3, 4, 5, 6]) {
    const f = await caught(
      new MockActivityEnvironment(execution(runId, attempt)).run(activities.runStageBatch, {
        campaignId: "c",
        iteration: 1,
        stage: "synthesize.singleTurn",
        batchIndex: 0,
      }),
    );
    assert.equal(f.type, ErrorType.infrastructure);
    assert.equal(f.nonRetryable, false);
    assert.match(f.message, /ECONNREFUSED/);
  }
  const rows = await env.db.db.select().from(activityFailures).where(eq(activityFailures.runId, runId));
  assert.equal(rows.length, 0, "nothing counted toward the budget");
});

test("bad input fails at once: an unknown campaign, a stage not in the config", async () => {
  const activities = createActivities(activityDepsFor(env.db, env.workDir, () => undefined));
  const unknown = await caught(
    new MockActivityEnvironment(execution("bad-1", 1)).run(activities.runStageBatch, {
      campaignId: "no-such-campaign",
      iteration: 1,
      stage: "verify.rules",
      batchIndex: 0,
    }),
  );
  assert.deepEqual([unknown.type, unknown.nonRetryable], [ErrorType.unknownCampaign, true]);

  const campaignId = `input-${Date.now().toString(36)}`;
  await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config: simulatorCampaign(sim.url, { count: 4, batchSize: 4 }) });
  const missing = await caught(
    new MockActivityEnvironment(execution("bad-2", 1)).run(activities.planStage, { campaignId, iteration: 1, stage: "evaluate.bfcl" }),
  );
  assert.deepEqual([missing.type, missing.nonRetryable], [ErrorType.stageInput, true]);
  assert.match(missing.message, /evaluate\.bfcl.*not in campaign/);
});

test("a stage this worker's build lacks (a rolling deploy) is left for another worker: retryable, never counted, until the limit", async () => {
  // The campaign was registered (its config frozen) by a newer build that has test.newStage.
  const newStage = defineStage({
    name: "test.newStage",
    title: "a stage only the newer build has (test fixture)",
    latency: "llm",
    batchTimeoutMinutes: 5,
    roles: [],
    reads: { kind: "samples", selection: () => ({ scope: "iteration" }), describe: "the iteration's samples" },
    writes: "nothing",
    schema: z.strictObject({ name: z.literal("test.newStage"), batchSize: batchSize(5) }),
  });
  const newer = createStageRegistry([...STAGE_SPECS, newStage], {
    ...STAGE_HANDLERS,
    "test.newStage": { name: "test.newStage", runBatch: async () => ({ items: 0 }) },
  });
  const campaignId = `deploy-${Date.now().toString(36)}`;
  const config = simulatorCampaign(sim.url, { stages: [{ name: "synthesize.singleTurn", count: 4, batchSize: 4 }, { name: "test.newStage" }] });
  await new MockActivityEnvironment().run(createActivities({ ...activityDepsFor(env.db, env.workDir, () => undefined), stages: newer }).registerCampaign, {
    campaignId,
    config,
  });
  const logged: string[] = [];
  const older = createActivities({ ...activityDepsFor(env.db, env.workDir, (m) => logged.push(m)), stages: defaultStageRegistry() });
  const ref = { campaignId, iteration: 1, stage: "test.newStage" };
  const runId = `deploy-run-${campaignId}`;
  const scheduledTimestampMs = Date.now();
  const steps = [() => older.planStage(ref), () => older.runStageBatch({ ...ref, batchIndex: 0 }), () => older.completeStage(ref)];
  for (const [attempt, step] of steps.entries()) {
    const f = await caught(new MockActivityEnvironment({ ...execution(runId, attempt + 1), taskQueue: "q-llm", scheduledTimestampMs }).run(step));
    assert.deepEqual([f.type, f.nonRetryable], [ErrorType.stageNotOnWorker, false], f.message);
    assert.match(f.message, /stage "test\.newStage" is not known to this worker \(worker \d+@.*toolloop .*; it runs: .*synthesize\.singleTurn/);
    assert.match(
      f.message,
      /rolling deploy.*retried \(not counted as a failure\) for another worker of task queue q-llm.*within 60 min.*upgrade the workers polling q-llm/,
    );
  }
  assert.equal(logged.filter((l) => l.startsWith("[deploy]")).length, 1, "the worker says so once, not at every retry");
  const rows = await env.db.db.select().from(activityFailures).where(eq(activityFailures.runId, runId));
  assert.equal(rows.length, 0, "nothing counted toward the budget: another worker may run it");

  // Registering such a config on the older worker (the CLI of the newer build validated it): left for another worker too.
  const register = (scheduledAgoMs: number) =>
    caught(
      new MockActivityEnvironment({ ...execution(`${runId}-reg`, 1), taskQueue: "q-default", scheduledTimestampMs: Date.now() - scheduledAgoMs }).run(
        older.registerCampaign,
        { campaignId: `${campaignId}-2`, config },
      ),
    );
  const reg = await register(0);
  assert.deepEqual([reg.type, reg.nonRetryable], [ErrorType.stageNotOnWorker, false], reg.message);
  assert.match(
    reg.message,
    /the config names stage "test\.newStage" \(stages\[1\]\.name\), which this worker does not know \(worker .*\): a newer build's stage, e\.g\. during a rolling deploy, retried .* for another worker of task queue q-default to take; if it is a misspelt name, the campaign fails as InvalidCampaignConfig 60 min after/,
  );
  // A misspelt name (a start from the Temporal UI) is bad input in the end, naming the field.
  const misspelt = await register(61 * 60_000);
  assert.deepEqual([misspelt.type, misspelt.nonRetryable], [ErrorType.invalidConfig, true]);
  assert.match(
    misspelt.message,
    /stages\[1\].*unknown stage name.*no worker of task queue q-default knew stage "test\.newStage" \(stages\[1\]\.name\) in the 61 min/s,
  );

  // Still refused an hour after the step was scheduled: no worker with the stage is coming; the operator is told what to do.
  const late = await caught(
    new MockActivityEnvironment({ ...execution(runId, 40), taskQueue: "q-llm", scheduledTimestampMs: Date.now() - 61 * 60_000 }).run(older.runStageBatch, {
      ...ref,
      batchIndex: 0,
    }),
  );
  assert.deepEqual([late.type, late.nonRetryable], [ErrorType.failedAfterRetries, true]);
  assert.match(
    late.message,
    new RegExp(
      `stage "test\\.newStage" is not known to the workers of task queue q-llm that took this step in the 61 min since it was scheduled \\(last: worker .*\\): ` +
        `upgrade the workers polling q-llm to a build that has the stage, then: toolloop campaign retry-stage ${campaignId} --stage test\\.newStage`,
    ),
  );
});

test("a failed query's failure says why, not the statement's parameters (a batch insert's samples)", async () => {
  const samples = "x".repeat(50_000);
  // A real drizzle query error against a port nothing listens on: the outage is in its cause only.
  const pool = new pg.Pool({ host: "127.0.0.1", port: 1, user: "postgres", database: "toolloop", connectionTimeoutMillis: 2000 });
  try {
    const unreachable = drizzle(pool);
    const outage = await caught(
      new MockActivityEnvironment(execution(`q-outage-${Date.now().toString(36)}`, 1)).run(() =>
        withFailurePolicy({ getDb: async () => env.db.db, budget: 3 }, () => unreachable.execute(sql`insert into samples select ${samples}`)),
      ),
    );
    assert.equal(outage.type, ErrorType.infrastructure);
    assert.match(outage.cause?.message ?? "", /ECONNREFUSED/, "the cause Temporal records is the driver's error");
    assert.ok(!(outage.cause?.message ?? "").includes(samples.slice(0, 100)), "without the parameters");
    assert.match(outage.message, /^infrastructure: database query failed: connect ECONNREFUSED 127\.0\.0\.1:1 \(query: insert into samples select \$1\)$/);
  } finally {
    await pool.end();
  }

  // A statement the database refuses: counted, with the server's reason and no parameters.
  const runId = `q-error-${Date.now().toString(36)}`;
  const refused = await caught(
    new MockActivityEnvironment(execution(runId, 1)).run(() =>
      withFailurePolicy({ getDb: async () => env.db.db, budget: 3 }, () => env.db.db.execute(sql`select ${samples}::text, 1 / 0`)),
    ),
  );
  assert.equal(refused.nonRetryable, false);
  assert.equal(refused.cause?.message, "division by zero");
  assert.match(refused.message, /^database query failed: division by zero \(22012\) \(query: select \$1::text, 1 \/ 0\) \(attempt 1 of 3\)$/);
  const rows = await env.db.db.select().from(activityFailures).where(eq(activityFailures.runId, runId));
  assert.equal(rows.length, 1);
  assert.ok(!rows[0]!.message.includes(samples.slice(0, 100)), "the parameters are not in the recorded message");
});
