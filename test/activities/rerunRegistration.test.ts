/**
 * A campaign started again under its id (`campaign start --id` after it failed or was aborted) is
 * running again in PostgreSQL from its registration on. Its row kept the earlier run's end until the
 * new run ended: the reports written meanwhile said "campaign status failed", and `model stop` took
 * the policy server the new run calls for unused and stopped it without --force. PGlite and
 * MockActivityEnvironment: no Temporal server, no LLM, no server process.
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
import { recordJobIntent, recordJobStatus, recordJobSubmitted } from "../../src/db/repos/clusterJobs.js";
import { campaigns } from "../../src/db/schema.js";
import { stopServedPolicy, StopServedPolicyError } from "../../src/training/servedPolicyJobs.js";
import { rawCampaign } from "../helpers/selfEvolution.js";

test("a failed campaign started again is running in PostgreSQL: its reports say so and `model stop` refuses its policy server", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-rerun-registration-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = await openDatabase(`pglite:${path.join(dir, "db")}`);
  try {
    await migrateDatabase(db);
    const activities = createActivities(activityDepsFor(db, dir, () => undefined));
    const run = <A, R>(fn: (a: A) => Promise<R>, arg: A) => new MockActivityEnvironment().run(fn, arg);
    const config = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), output: { dir: "out" } };
    const status = async () => (await db.db.select({ status: campaigns.status }).from(campaigns).where(eq(campaigns.id, "c")))[0]?.status;

    // The first run served a policy in iteration 1, then failed in iteration 2.
    await run(activities.registerCampaign, { campaignId: "c", config });
    await run(activities.startIteration, { campaignId: "c", iteration: 1 });
    const job = "tl-c-i1-serve-policy-a1";
    await recordJobIntent(db.db, { name: job, campaignId: "c", iteration: 1, stage: "serve.policy", attempt: 1, launcher: "local", request: {} });
    await recordJobSubmitted(db.db, job, "999999");
    await recordJobStatus(db.db, job, { state: "running" });
    await run(activities.finishIteration, { campaignId: "c", iteration: 1, status: "completed" as const });
    await run(activities.startIteration, { campaignId: "c", iteration: 2 });
    await run(activities.setCampaignStatus, { campaignId: "c", status: "failed" as const });
    assert.equal(await status(), "failed");

    // `campaign start --id c` again: the new run registers and goes on with iteration 2.
    await run(activities.registerCampaign, { campaignId: "c", config });
    assert.equal(await status(), "running", "registered again: running, not the earlier run's end");

    await assert.rejects(stopServedPolicy(db.db, { campaignId: "c" }), (err: unknown) => {
      assert.ok(err instanceof StopServedPolicyError, String(err));
      assert.equal(err.kind, "in-use");
      assert.match(err.message, /campaign c itself is running \(PostgreSQL says so\) and calls it/);
      return true;
    });

    await run(activities.startIteration, { campaignId: "c", iteration: 2 });
    await run(activities.finishIteration, { campaignId: "c", iteration: 2, status: "completed" as const });
    const report = fs.readFileSync(path.join(dir, "out", "c", "iter-2", "report.html"), "utf8");
    assert.match(report, /<tr><th>campaign status \(when generated\)<\/th><td>running<\/td><\/tr>/);
  } finally {
    await db.close();
  }
});
