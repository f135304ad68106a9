/**
 * The report counts Temporal's automatic retries of an iteration's own steps (registration, loading
 * the plan, starting and finishing the iteration with its reports, recording a stage's outcome, the
 * campaign's end, an abort's cancel request), not only those of stage steps: a registration retried
 * twice or a report written on its 4th attempt read as if nothing had been retried. Activities in
 * MockActivityEnvironment (Temporal's attempt number as it hands a step over) on PGlite; no Temporal
 * server, no LLM.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import type { Client } from "@temporalio/client";
import { eq, sql } from "drizzle-orm";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { upsertIteration } from "../../src/db/repos/campaigns.js";
import { iterations } from "../../src/db/schema.js";
import { gatherReportData } from "../../src/reports/data.js";
import { renderReportHtml } from "../../src/reports/html.js";
import { pgliteForTest } from "../helpers/pgliteForTest.js";
import { rawCampaign } from "../helpers/selfEvolution.js";

/** A step as Temporal hands it over: the same execution (workflow, run and activity id) attempt after attempt. */
const handedOver = (activityType: string, activityId: string, attempt: number, workflowId = "campaign-c-iter-1") => ({
  workflowExecution: { workflowId, runId: `run-of-${workflowId}` },
  activityId,
  attempt,
  activityType,
});
const run = <A extends unknown[], R>(info: ReturnType<typeof handedOver>, fn: (...args: A) => Promise<R>, ...args: A) =>
  new MockActivityEnvironment(info).run(fn, ...args);

test("automatic retries of an iteration's own steps are recorded once per call and shown in its report; an iteration from before reads not recorded", async (t) => {
  const { db, dir } = await pgliteForTest(t, "iteration-steps");
  const cancelled: string[] = [];
  const temporalClient = async () => ({ workflow: { getHandle: (id: string) => ({ cancel: async () => void cancelled.push(id) }) } }) as unknown as Client;
  const acts = createActivities({ ...activityDepsFor(db, dir, () => undefined), temporalClient });
  const config = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), output: { dir: "out" } };
  const ref = { campaignId: "c", iteration: 1 };

  // The registration succeeded on Temporal's 3rd attempt (the campaign workflow's), the iteration's start on its 2nd,
  // handed over twice (its completion lost): 1 retry, not 2.
  await run(handedOver("registerCampaign", "1", 3, "campaign-c"), acts.registerCampaign, { campaignId: "c", workflowId: "campaign-c", config });
  await run(handedOver("loadCampaignPlan", "1", 1), acts.loadCampaignPlan, ref);
  await run(handedOver("startIteration", "2", 2), acts.startIteration, ref);
  await run(handedOver("startIteration", "2", 2), acts.startIteration, ref);
  // A stage skipped by the operator, recorded at once; an abort's cancel request of the iteration, retried once.
  await run(handedOver("recordStageOutcome", "3", 1), acts.recordStageOutcome, { ...ref, stage: "verify.rules", status: "skipped" as const });
  await run(handedOver("requestWorkflowCancel", "4", 2), acts.requestWorkflowCancel, { workflowId: "campaign-c-iter-1" });
  assert.deepEqual(cancelled, ["campaign-c-iter-1"]);
  // The reports are written on the 4th attempt: they count its own 3 retries.
  await run(handedOver("finishIteration", "5", 4), acts.finishIteration, { ...ref, status: "completed" as const });
  // The campaign's end (no iteration of its own): its latest iteration's, retried once.
  await run(handedOver("setCampaignStatus", "2", 2, "campaign-c"), acts.setCampaignStatus, { campaignId: "c", status: "completed" as const });

  const data = await gatherReportData(db.db, ref);
  assert.deepEqual(data.iterationSteps, [
    { iteration: 1, step: "registerCampaign", calls: 1, automaticRetries: 2 },
    { iteration: 1, step: "loadCampaignPlan", calls: 1, automaticRetries: 0 },
    { iteration: 1, step: "startIteration", calls: 1, automaticRetries: 1 },
    { iteration: 1, step: "recordStageOutcome", calls: 1, automaticRetries: 0 },
    { iteration: 1, step: "requestWorkflowCancel", calls: 1, automaticRetries: 1 },
    { iteration: 1, step: "finishIteration", calls: 1, automaticRetries: 3 },
    { iteration: 1, step: "setCampaignStatus", calls: 1, automaticRetries: 1 },
  ]);
  const html = renderReportHtml(data, { chartJs: "" });
  const table = /<table class="iteration-steps">(.*?)<\/table>/s.exec(html)?.[1] ?? "";
  assert.match(table, /<th>step<\/th><th>what it does<\/th><th>calls<\/th><th>automatic retries<\/th>/);
  assert.match(table, /<td>registerCampaign<\/td><td>[^<]+<\/td><td>1<\/td><td>2<\/td>/);
  assert.match(table, /<td>finishIteration<\/td><td>counts the samples and writes the reports<\/td><td>1<\/td><td>3<\/td>/);
  // The report finishIteration wrote already counted its own retries.
  const written = fs.readFileSync(path.join(dir, "out", "c", "iter-1", "report.html"), "utf8");
  assert.match(/<table class="iteration-steps">(.*?)<\/table>/s.exec(written)?.[1] ?? "", /<td>finishIteration<\/td><td>[^<]+<\/td><td>1<\/td><td>3<\/td>/);
  // The campaign report's iterations table names them beside the stages' own.
  const campaignHtml = renderReportHtml(await gatherReportData(db.db, { campaignId: "c" }), { chartJs: "" });
  assert.match(
    campaignHtml,
    /automatic retries of iteration steps: registerCampaign 2, startIteration 1, requestWorkflowCancel 1, finishIteration 3, setCampaignStatus 1/,
  );

  // Iteration 2 ran before the steps were recorded (its row only): "not recorded", not 0 retries.
  await upsertIteration(db.db, { campaignId: "c", iteration: 2, status: "completed" });
  const before = renderReportHtml(await gatherReportData(db.db, { campaignId: "c", iteration: 2 }), { chartJs: "" });
  assert.match(before, /<p id="iteration-steps-not-recorded">Automatic retries of this iteration's own steps: not recorded/);
  assert.doesNotMatch(before, /<table class="iteration-steps">/);
  // Report data gathered before the field existed renders the same way.
  const { iterationSteps: _absent, ...old } = data;
  assert.match(renderReportHtml(old, { chartJs: "" }), /<p id="iteration-steps-not-recorded">/);
});

test("a record that cannot be written never fails the step: it is logged and the step runs", async (t) => {
  const { db, dir } = await pgliteForTest(t, "iteration-steps-unwritable");
  const lines: string[] = [];
  const acts = createActivities(activityDepsFor(db, dir, (m) => lines.push(m)));
  const config = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), output: { dir: "out" } };
  await run(handedOver("registerCampaign", "1", 1, "campaign-c"), acts.registerCampaign, { campaignId: "c", workflowId: "campaign-c", config });
  // The table gone (a database migrated back, say): the iteration still starts.
  await db.db.execute(sql`DROP TABLE iteration_steps`);
  await run(handedOver("startIteration", "2", 2), acts.startIteration, { campaignId: "c", iteration: 1 });
  assert.ok(
    lines.some((l) => /^\[retries\] startIteration run-of-campaign-c-iter-1\/2: its attempt 2 not recorded: /.test(l)),
    lines.join("\n"),
  );
  const rows = await db.db.select({ status: iterations.status }).from(iterations).where(eq(iterations.campaignId, "c"));
  assert.deepEqual(rows, [{ status: "running" }]);
});
