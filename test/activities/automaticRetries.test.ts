/**
 * The report's stage runs count Temporal's automatic retries apart from an operator's: a step retried
 * by Temporal (a transient failure, a killed worker, a step left for another worker) before it
 * succeeded, or before it failed for good, read "attempt 1" when only retry-stage was counted.
 * Activities in MockActivityEnvironment (Temporal's attempt number as it hands a step over) on
 * PGlite, with the LLM simulator; no Temporal server.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { getStageRun } from "../../src/db/repos/stages.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { gatherReportData } from "../../src/reports/data.js";
import { renderReportHtml } from "../../src/reports/html.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { pgliteForTest } from "../helpers/pgliteForTest.js";

/** A step as Temporal hands it over: the same execution (run and activity id) attempt after attempt. */
const execution = (activityType: string, activityId: string, attempt: number) => ({
  workflowExecution: { workflowId: "wf-retries", runId: "run-1" },
  activityId,
  attempt,
  activityType,
});

test("automatic retries of a stage's steps are counted per stage run, apart from operator runs, once per retry", async (t) => {
  const { db, dir } = await pgliteForTest(t, "auto-retries");
  const sim = await startSimulator({ seed: 3, latencyMs: 1, maxConcurrency: 8, quiet: true });
  t.after(() => sim.close());
  const acts = createActivities({ ...activityDepsFor(db, dir, () => undefined), heartbeatIntervalMs: 100 });
  const campaignId = "retries";
  const stage = "synthesize.singleTurn";
  const ref = { campaignId, iteration: 1, stage };
  await new MockActivityEnvironment().run(acts.registerCampaign, {
    campaignId,
    config: simulatorCampaign(sim.url, { count: 4, batchSize: 4, stages: [{ name: stage, count: 4, batchSize: 4 }] }),
  });
  await new MockActivityEnvironment().run(acts.startIteration, { campaignId, iteration: 1 });
  // The plan succeeded on Temporal's 2nd attempt, the batch on its 4th (three attempts lost: a killed
  // worker, a step refused by a worker without the stage, a transient failure), finalize on its 1st.
  await new MockActivityEnvironment(execution("planStage", "1", 2)).run(acts.planStage, ref);
  await new MockActivityEnvironment(execution("runStageBatch", "2", 4)).run(acts.runStageBatch, { ...ref, batchIndex: 0 });
  // The same attempt handed over again (its completion was lost): the same three retries, not six.
  await new MockActivityEnvironment(execution("runStageBatch", "2", 4)).run(acts.runStageBatch, { ...ref, batchIndex: 0 });
  await new MockActivityEnvironment(execution("completeStage", "3", 1)).run(acts.completeStage, ref);

  const run = await getStageRun(db.db, ref);
  assert.equal(run?.status, "succeeded");
  assert.equal(run?.attempts, 1, "no operator retried the stage");
  const data = await gatherReportData(db.db, { campaignId, iteration: 1 });
  assert.deepEqual(
    data.stages?.map((s) => ({ stage: s.stage, operatorRuns: s.attempts, automaticRetries: s.automaticRetries })),
    [{ stage, operatorRuns: 1, automaticRetries: 4 }],
  );
  assert.equal((run?.result as Record<string, unknown>).written, 4, "the stage's summary is kept beside the retries");

  const html = renderReportHtml(data, { chartJs: "" });
  const table = /<table class="stages">(.*?)<\/table>/s.exec(html)?.[1] ?? "";
  assert.match(table, /<th>operator runs<\/th><th>automatic retries<\/th>/);
  assert.match(table, /<td>synthesize\.singleTurn<\/td><td>succeeded<\/td><td>1<\/td><td>4<\/td>/);
  const campaignHtml = renderReportHtml(await gatherReportData(db.db, { campaignId }), { chartJs: "" });
  assert.match(campaignHtml, /1 succeeded; automatic retries: synthesize\.singleTurn 4/);
});

test("a step that failed for good after automatic retries: the failed stage run says how many, and an operator's retry adds to them", async (t) => {
  const { db, dir } = await pgliteForTest(t, "auto-retries-failed");
  const acts = createActivities({ ...activityDepsFor(db, dir, () => undefined), heartbeatIntervalMs: 100 });
  const campaignId = "retries-failed";
  const stage = "synthesize.singleTurn";
  const ref = { campaignId, iteration: 1, stage };
  // Nothing listens there: the batch's endpoint is unavailable, which fails the step for good.
  await new MockActivityEnvironment().run(acts.registerCampaign, {
    campaignId,
    config: simulatorCampaign("http://127.0.0.1:9/v1", { count: 2, batchSize: 2, stages: [{ name: stage, count: 2, batchSize: 2 }] }),
  });
  await new MockActivityEnvironment().run(acts.startIteration, { campaignId, iteration: 1 });
  await new MockActivityEnvironment(execution("planStage", "1", 1)).run(acts.planStage, ref);
  const failure = await new MockActivityEnvironment(execution("runStageBatch", "2", 7)).run(acts.runStageBatch, { ...ref, batchIndex: 0 }).then(
    () => assert.fail("the batch ran against a dead endpoint"),
    (err: unknown) => err,
  );
  assert.ok(failure instanceof ApplicationFailure && failure.nonRetryable, `a final failure, got ${String(failure)}`);
  // The workflow records the failed stage (its summary is null): the retries stay.
  await new MockActivityEnvironment().run(acts.recordStageOutcome, { ...ref, status: "failed" as const, error: failure.message });
  let data = await gatherReportData(db.db, { campaignId, iteration: 1 });
  assert.deepEqual(
    data.stages?.map((s) => [s.status, s.attempts, s.automaticRetries]),
    [["failed", 1, 6]],
  );
  const banner = /<div class="banner failed" id="failed-stages">(.*?)<\/div>/s.exec(renderReportHtml(data, { chartJs: "" }))?.[1] ?? "";
  assert.match(banner, /synthesize\.singleTurn \(operator run 1, 6 automatic retries/);

  // retry-stage: a second operator run (another workflow run's plan), retried once by Temporal.
  await new MockActivityEnvironment({ ...execution("planStage", "9", 2), workflowExecution: { workflowId: "wf-retries", runId: "run-2" } }).run(
    acts.planStage,
    ref,
  );
  data = await gatherReportData(db.db, { campaignId, iteration: 1 });
  assert.deepEqual(
    data.stages?.map((s) => [s.status, s.attempts, s.automaticRetries]),
    [["running", 2, 7]],
  );
});
