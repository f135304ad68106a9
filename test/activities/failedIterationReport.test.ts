/**
 * A campaign that fails in a stage ends its running iteration without finishIteration: the campaign
 * report written at its end links to that iteration's report, which must exist. PGlite and
 * MockActivityEnvironment: no Temporal server, no LLM.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { MockActivityEnvironment } from "@temporalio/testing";
import { eq } from "drizzle-orm";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { migrateDatabase, openDatabase } from "../../src/db/client.js";
import { iterations } from "../../src/db/schema.js";
import { rawCampaign } from "../helpers/selfEvolution.js";

test("a campaign that fails mid-iteration writes that iteration's report too, so the campaign report's link to it works", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-failed-iteration-report-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = await openDatabase(`pglite:${path.join(dir, "db")}`);
  const lines: string[] = [];
  try {
    await migrateDatabase(db);
    const activities = createActivities(activityDepsFor(db, dir, (m) => lines.push(m)));
    const config = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), output: { dir: "out" } };
    await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId: "c", config });
    await new MockActivityEnvironment().run(activities.startIteration, { campaignId: "c", iteration: 1 });
    await new MockActivityEnvironment().run(activities.finishIteration, { campaignId: "c", iteration: 1, status: "completed" as const });
    await new MockActivityEnvironment().run(activities.startIteration, { campaignId: "c", iteration: 2 });
    // A stage of iteration 2 failed with onStageFailure "fail": the campaign ends, the iteration row still says running.
    await new MockActivityEnvironment().run(activities.setCampaignStatus, { campaignId: "c", status: "failed" as const });

    const campaignDir = path.join(dir, "out", "c");
    const campaignReport = fs.readFileSync(path.join(campaignDir, "report.html"), "utf8");
    for (const iteration of [1, 2]) {
      assert.match(campaignReport, new RegExp(`<a href="iter-${iteration}/report.html">iteration ${iteration}</a>`));
      assert.ok(fs.existsSync(path.join(campaignDir, `iter-${iteration}`, "report.html")), `iteration ${iteration}'s report exists (${lines.join(" | ")})`);
    }
    assert.match(fs.readFileSync(path.join(campaignDir, "iter-2", "report.html"), "utf8"), /iteration failed/);
    const [row] = await db.db.select().from(iterations).where(eq(iterations.iteration, 2));
    assert.equal(row?.status, "failed");
    assert.deepEqual((row?.summary as { report?: unknown }).report, { path: path.join(campaignDir, "iter-2", "report.html") });
  } finally {
    await db.close();
  }
});
