/**
 * Registering a raw config (a start from the Temporal UI, which nothing validated) with what this
 * worker's build does not know, decided by the builds recorded in worker_builds (src/ops/workerBuilds.ts):
 *
 * - A misspelt field (`batchSzie`) or stage name was refused as a newer build's, retried for an hour,
 *   then failed as InvalidCampaignConfig: the user waited an hour for a typo. Now, with no newer build
 *   alive in the last 24 h, it fails at once, naming the field and the name it most likely meant.
 * - A value only a newer build accepts (batchSize 3000 where this build allows 2000) failed at once as
 *   InvalidCampaignConfig on an old worker although newer workers polled the queue. Now, with a newer
 *   build alive lately, it is left for another worker (StageNotOnThisWorker) as an unknown field is.
 *
 * PGlite and MockActivityEnvironment: no Temporal server, no LLM.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { z } from "zod";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { batchSize, runIn } from "../../src/config/fields.js";
import type { DbHandle } from "../../src/db/client.js";
import { ErrorType } from "../../src/framework/errorTypes.js";
import { createStageRegistry } from "../../src/framework/registry.js";
import { buildIdentity, recordWorkerBuild } from "../../src/ops/workerBuilds.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { STAGE_SPECS } from "../../src/stages/specs.js";
import { verifyRulesSpec } from "../../src/stages/verify/rules/spec.js";
import { pgliteForTest } from "../helpers/pgliteForTest.js";
import { rawCampaign } from "../helpers/selfEvolution.js";

const HOUR = 60 * 60_000;
const build = (version: string, commitChar: string, builtAt: string) =>
  buildIdentity({ package: "toolloop", version, commit: commitChar.repeat(40), dirty: false }, new Date(builtAt));
/** This worker's build, the one after it, and one before it. */
const thisOne = build("0.1.0", "a", "2026-12-01T00:00:00Z");
const newerOne = build("0.2.0", "b", "2026-12-06T00:00:00Z");
const olderOne = build("0.0.9", "c", "2026-11-01T00:00:00Z");

/** The newer build: verify.rules batches of up to 5000 (this build: 2000). */
const newerValues = createStageRegistry(
  STAGE_SPECS.map((s) =>
    s.name === "verify.rules" ? { ...verifyRulesSpec, schema: z.strictObject({ name: z.literal("verify.rules"), runIn, batchSize: batchSize(200, 5000) }) } : s,
  ),
  STAGE_HANDLERS,
);

const config = (rules: Record<string, unknown>) =>
  rawCampaign({
    simUrl: "http://127.0.0.1:1/v1",
    stages: [
      { name: "synthesize.singleTurn", count: 4, batchSize: 4 },
      { name: "verify.rules", ...rules },
    ],
  });

async function caught(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a failure, but the config was registered");
}

/** A worker of `thisOne` (recorded as alive now, as the worker command does at start) registering `raw`, scheduled `agoMs` ago. */
async function registerOnThisWorker(db: DbHandle, dir: string, raw: unknown, agoMs = 0, opts: { record?: boolean } = {}) {
  if (opts.record ?? true) await recordWorkerBuild(db.db, thisOne, "1@this-host");
  const worker = createActivities({ ...activityDepsFor(db, dir, () => undefined), build: thisOne });
  const info = {
    workflowExecution: { workflowId: "wf-reg", runId: "r-reg" },
    activityId: "1",
    attempt: 1,
    activityType: "registerCampaign",
    taskQueue: "q-default",
    scheduledTimestampMs: Date.now() - agoMs,
  };
  return caught(new MockActivityEnvironment(info).run(worker.registerCampaign, { campaignId: "c", config: raw }));
}

test("a misspelt field or stage name with no newer build about fails at once, naming it and the name it likely meant", async (t) => {
  const { db, dir } = await pgliteForTest(t, "builds-typo");
  // An older build alive now does not count: it knows less than this one.
  await recordWorkerBuild(db.db, olderOne, "3@old-host");
  // A newer build alive more than 24 h ago does not count either: its workers are gone.
  await recordWorkerBuild(db.db, newerOne, "2@new-host", new Date(Date.now() - 25 * HOUR));

  const typo = await registerOnThisWorker(db, dir, config({ batchSzie: 50 }));
  assert.deepEqual([typo.type, typo.nonRetryable], [ErrorType.invalidConfig, true], typo.message);
  assert.match(
    typo.message,
    /^stages\[1\]: unknown field "batchSzie"; did you mean stages\[1\]\.batchSize instead of stages\[1\]\.batchSzie\? \(this worker's build, toolloop 0\.1\.0, commit aaaaaaaaaaaa, build [0-9a-f]{16}, does not know field stages\[1\]\.batchSzie, and no newer build has run a worker on this database in the last 24 h, so no worker would accept it\): fix the config and start the campaign again$/,
  );

  const stage = await registerOnThisWorker(
    db,
    dir,
    rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "synthesize.singleTurn", count: 4 }, { name: "verify.rulse" }] }),
  );
  assert.deepEqual([stage.type, stage.nonRetryable], [ErrorType.invalidConfig, true], stage.message);
  assert.match(stage.message, /did you mean "verify\.rules" instead of "verify\.rulse" \(stages\[1\]\.name\)\?/);
  assert.match(stage.message, /does not know stage "verify\.rulse" \(stages\[1\]\.name\), and no newer build/);

  // A field no known name is close to: named, no guess.
  const far = await registerOnThisWorker(db, dir, config({ cpusPerTask: 8 }));
  assert.equal(far.type, ErrorType.invalidConfig, far.message);
  assert.match(
    far.message,
    /^stages\[1\]: unknown field "cpusPerTask" \(this worker's build, .* does not know field stages\[1\]\.cpusPerTask, and no newer build/,
  );
  assert.doesNotMatch(far.message, /did you mean/);
});

test("a misspelt field while a newer build is about is left for it (it decides), the guess said meanwhile", async (t) => {
  const { db, dir } = await pgliteForTest(t, "builds-typo-deploy");
  await recordWorkerBuild(db.db, newerOne, "2@new-host");
  const early = await registerOnThisWorker(db, dir, config({ batchSzie: 50 }));
  assert.deepEqual([early.type, early.nonRetryable], [ErrorType.stageNotOnWorker, false], early.message);
  assert.match(
    early.message,
    /^the config names field stages\[1\]\.batchSzie, which this worker does not know \(worker .*\): a newer build's field, e\.g\. during a rolling deploy, retried \(not counted as a failure\) for another worker of task queue q-default to take; if it is a misspelt name, the campaign fails as InvalidCampaignConfig 60 min after its registration was scheduled; a newer build ran a worker lately \(toolloop 0\.2\.0, commit bbbbbbbbbbbb, build [0-9a-f]{16}: worker 2@new-host, 0 min ago\); did you mean stages\[1\]\.batchSize instead of stages\[1\]\.batchSzie\?$/,
  );
  const late = await registerOnThisWorker(db, dir, config({ batchSzie: 50 }), 61 * 60_000);
  assert.deepEqual([late.type, late.nonRetryable], [ErrorType.invalidConfig, true], late.message);
  assert.match(late.message, /; did you mean stages\[1\]\.batchSize instead of stages\[1\]\.batchSzie\?$/);
});

test("a value only a newer build accepts is left for a newer worker while one is about, and fails at once naming the value when none is", async (t) => {
  const { db, dir } = await pgliteForTest(t, "builds-value");
  const raw = config({ batchSize: 3000 });

  // No newer build about: this build's verdict stands, at once.
  const alone = await registerOnThisWorker(db, dir, raw);
  assert.deepEqual([alone.type, alone.nonRetryable], [ErrorType.invalidConfig, true], alone.message);
  assert.match(
    alone.message,
    /^stages\[1\]\.batchSize: expected at most 2000 \(this worker's build, toolloop 0\.1\.0, .* does not know value stages\[1\]\.batchSize = 3000 \(this build: expected at most 2000\), and no newer build has run a worker on this database in the last 24 h/,
  );

  // A newer build's worker is about (a rolling deploy): the old worker steps aside for it.
  await recordWorkerBuild(db.db, newerOne, "2@new-host");
  const deploy = await registerOnThisWorker(db, dir, raw);
  assert.deepEqual([deploy.type, deploy.nonRetryable], [ErrorType.stageNotOnWorker, false], deploy.message);
  assert.match(
    deploy.message,
    /^the config names value stages\[1\]\.batchSize = 3000 \(this build: expected at most 2000\), which this worker does not know \(worker .*\): a newer build's value, e\.g\. during a rolling deploy, retried \(not counted as a failure\) for another worker of task queue q-default to take; if it is a mistake, the campaign fails as InvalidCampaignConfig 60 min after its registration was scheduled; a newer build ran a worker lately/,
  );
  // Still refused an hour on: no worker that accepts it took it.
  const late = await registerOnThisWorker(db, dir, raw, 61 * 60_000);
  assert.deepEqual([late.type, late.nonRetryable], [ErrorType.invalidConfig, true], late.message);
  assert.match(
    late.message,
    /^stages\[1\]\.batchSize: expected at most 2000 \(no worker of task queue q-default knew value stages\[1\]\.batchSize = 3000 .* in the 61 min/,
  );

  // The newer build registers it.
  await new MockActivityEnvironment().run(createActivities({ ...activityDepsFor(db, dir, () => undefined), stages: newerValues }).registerCampaign, {
    campaignId: "c",
    config: raw,
  });
});

test("with the builds unknown (this worker's not recorded yet) registration stays cautious, as before the builds were recorded", async (t) => {
  const { db, dir } = await pgliteForTest(t, "builds-unknown");
  const typo = await registerOnThisWorker(db, dir, config({ batchSzie: 50 }), 0, { record: false });
  assert.deepEqual([typo.type, typo.nonRetryable], [ErrorType.stageNotOnWorker, false], typo.message);
  const value = await registerOnThisWorker(db, dir, config({ batchSize: 3000 }), 0, { record: false });
  assert.deepEqual([value.type, value.nonRetryable], [ErrorType.invalidConfig, true], value.message);
  assert.match(value.message, /^stages\[1\]\.batchSize: expected at most 2000$/);
});
