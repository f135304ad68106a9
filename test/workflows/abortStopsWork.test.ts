/**
 * An abort that catches batches in flight, against the real dev server and Postgres: the batches
 * stop (they see the cancel at a heartbeat) before the iteration writes its report, so no sample or
 * LLM request row comes after the reports or the workflows' close, and the reports agree with the
 * database and with each other (the iteration report says aborted).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, test } from "node:test";
import { WorkflowFailedError } from "@temporalio/client";
import { sql } from "drizzle-orm";
import { abortCampaign } from "../../src/cli/abortAndMetadata.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { campaignReportPath, iterationReportPath } from "../../src/output/layout.js";
import { buildReportHtml, campaignReportDir } from "../../src/reports/build.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId, iterationWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("abortwaits");
  // Batches of 200 slots take several seconds: longer than a cancel takes to reach them.
  sim = await startSimulator({ seed: 5, latencyMs: 100, maxConcurrency: 16, quiet: true });
  workers = await env.startWorkers();
});

after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

interface Written {
  samples: number;
  requests: number;
  /** The newest row's time (ms since the epoch); 0 when none. */
  lastSample: number;
  lastRequest: number;
}

async function written(campaignId: string): Promise<Written> {
  const r = await env.db.db.execute(sql`
    SELECT (SELECT count(*) FROM samples WHERE campaign_id = ${campaignId})::int AS samples,
      (SELECT count(*) FROM llm_requests WHERE campaign_id = ${campaignId})::int AS requests,
      (SELECT max(created_at) FROM samples WHERE campaign_id = ${campaignId}) AS last_sample,
      (SELECT max(greatest(sent_at, finished_at)) FROM llm_requests WHERE campaign_id = ${campaignId}) AS last_request`);
  const row = (Array.isArray(r) ? r[0] : (r as { rows: Record<string, unknown>[] }).rows[0]) as Record<string, unknown>;
  const ms = (v: unknown) => (v ? new Date(v as string).getTime() : 0);
  return { samples: Number(row.samples), requests: Number(row.requests), lastSample: ms(row.last_sample), lastRequest: ms(row.last_request) };
}

/** The summary table's "samples written" and "LLM requests" cells and its status rows. */
function summaryOf(html: string) {
  const cell = (name: string) => new RegExp(`<tr><th>${name}</th><td>([^<]*)</td></tr>`).exec(html)?.[1];
  return {
    status: cell("status \\(when generated\\)"),
    campaignStatus: cell("campaign status \\(when generated\\)"),
    // "samples written" in the campaign report, "samples written (this iteration)" in an iteration's.
    samples: cell("samples written(?: \\(this iteration\\))?"),
    requests: cell("LLM requests"),
  };
}

/** The total of a "432 pending, 12 rejected" cell. */
const total = (cell: string | undefined) => [...(cell ?? "").matchAll(/(\d+) \w+/g)].reduce((s, m) => s + Number(m[1]), 0);

test("an abort waits for the running batches to stop: no row after the reports, reports agree with the database", async () => {
  const campaignId = `abort-waits-${Date.now().toString(36)}`;
  const h = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: simulatorCampaign(sim.url, { count: 2000, batchSize: 200, concurrency: { batchesInParallel: 2 } }), campaignId }],
  });
  // Both batches under way (samples being written), none finished.
  await waitFor("samples being written", async () => (await written(campaignId)).samples >= 20);
  await abortCampaign(env.client, h.workflowId, "testing");
  await assert.rejects(h.result(), (err: unknown) => err instanceof WorkflowFailedError && /cancel/i.test(String(err.cause?.name ?? err.cause)));
  const iteration = env.client.workflow.getHandle(iterationWorkflowId(h.workflowId, 1));
  const [campaignClosed, iterationClosed] = await Promise.all([h.describe(), iteration.describe()]);
  assert.equal(iterationClosed.status.name, "CANCELLED");
  const atClose = await written(campaignId);

  // What a batch left running would still write (the defect: ~2 s of samples after the report).
  await new Promise((r) => setTimeout(r, 6000));
  const later = await written(campaignId);
  assert.deepEqual(later, atClose, "nothing is written after the workflows closed");
  assert.ok(later.samples >= 20 && later.samples < 2000, `the abort caught the stage mid-way (${later.samples} samples)`);

  const dir = await campaignReportDir(env.db.db, env.workDir, campaignId);
  const iterationFile = iterationReportPath(dir, 1);
  const campaignFile = campaignReportPath(dir);
  const iterationReportAt = fs.statSync(iterationFile).mtimeMs;
  assert.ok(later.lastSample <= iterationReportAt, "the last sample was written before the iteration's report");
  assert.ok(later.lastRequest <= iterationReportAt, "the last LLM request was recorded before the iteration's report");
  const closedAt = Math.min(campaignClosed.closeTime!.getTime(), iterationClosed.closeTime!.getTime());
  assert.ok(later.lastSample <= closedAt && later.lastRequest <= closedAt, "and before the workflows closed");

  // The reports as written, a report built now (`report build`) and the database agree.
  const [iterationReport, campaignReport] = [summaryOf(fs.readFileSync(iterationFile, "utf8")), summaryOf(fs.readFileSync(campaignFile, "utf8"))];
  const builtNow = summaryOf(await buildReportHtml(env.db.db, { campaignId }));
  assert.equal(campaignReport.status, "aborted");
  assert.deepEqual(campaignReport, builtNow, "the campaign report as `report build` makes it now");
  assert.equal(iterationReport.status, "iteration aborted", "the iteration report says its iteration was aborted");
  assert.deepEqual(
    { samples: iterationReport.samples, requests: iterationReport.requests },
    { samples: campaignReport.samples, requests: campaignReport.requests },
    "one iteration: both reports count the same",
  );
  assert.equal(total(campaignReport.samples), later.samples, "the report's samples are the database's");
  assert.equal(Number(/^\d+/.exec(campaignReport.requests ?? "")?.[0]), later.requests, "and its LLM requests");
});
