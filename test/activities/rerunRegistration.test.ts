/**
 * A campaign started again under its id (`campaign start --id` after it failed or was aborted) is
 * running again in PostgreSQL from its registration on. Its row kept the earlier run's end until the
 * new run ended: the reports written meanwhile said "campaign status failed", and `model stop` took
 * the policy server the new run calls for unused and stopped it without --force. PGlite and
 * MockActivityEnvironment: no Temporal server, no LLM, no server process.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { MockActivityEnvironment } from "@temporalio/testing";
import { eq } from "drizzle-orm";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { migrateDatabase, openDatabase } from "../../src/db/client.js";
import { recordJobIntent, recordJobStatus, recordJobSubmitted } from "../../src/db/repos/clusterJobs.js";
import { campaigns } from "../../src/db/schema.js";
import { stopServedPolicy, StopServedPolicyError } from "../../src/training/servedPolicyJobs.js";
import { rawCampaign } from "../helpers/selfEvolution.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

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

/**
 * An abort of the run that is registering: the campaign workflow cancels registerCampaign without
 * waiting for it (TRY_CANCEL) and writes "aborted" with setCampaignStatus at once, while the
 * registration runs on (it loads the tool files after reading the row). Its "running" came last and
 * left the aborted campaign running in PostgreSQL. Interleaved here for certain: the tool file is a
 * FIFO, so the registration waits in it, after its read, until the abort is written.
 */
test("an abort written while a rerun registers wins: the campaign stays aborted, not running", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-rerun-abort-"));
  const db = await openDatabase(`pglite:${path.join(dir, "db")}`);
  t.after(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await migrateDatabase(db);
  const logged: string[] = [];
  const activities = createActivities(activityDepsFor(db, dir, (m) => logged.push(m)));
  const run = <A, R>(fn: (a: A) => Promise<R>, arg: A) => new MockActivityEnvironment().run(fn, arg);
  const tools = path.join(dir, "tools.json");
  const toolsJson = fs.readFileSync(path.join(REPO_ROOT, "test", "fixtures", "tools", "mcp-tools-list.json"));
  fs.writeFileSync(tools, toolsJson);
  const config = {
    ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }),
    tools: { sources: [{ kind: "mcp", path: tools }] },
  };
  const status = async () => (await db.db.select({ status: campaigns.status }).from(campaigns).where(eq(campaigns.id, "c")))[0]?.status;

  await run(activities.registerCampaign, { campaignId: "c", config });
  await run(activities.setCampaignStatus, { campaignId: "c", status: "failed" as const });

  // `campaign start --id c`: the registration reads the row (failed), then blocks reading the tool file.
  fs.rmSync(tools);
  execFileSync("mkfifo", [tools]);
  const registering = run(activities.registerCampaign, { campaignId: "c", config });
  const writer = await fs.promises.open(tools, "w"); // opens once the registration has opened it to read
  // `campaign abort c` meanwhile: the workflow's abort path writes "aborted".
  await run(activities.setCampaignStatus, { campaignId: "c", status: "aborted" as const });
  assert.equal(await status(), "aborted");
  await writer.writeFile(toolsJson);
  await writer.close();
  await registering;
  assert.equal(await status(), "aborted", "the abort came after the registration's read: it stays");
  assert.ok(
    logged.some((l) => /^\[campaign\] c: not marked running again: its status was written while it registered/.test(l)),
    logged.join("\n"),
  );

  // Started again with nothing in between: running, as before.
  fs.rmSync(tools);
  fs.writeFileSync(tools, toolsJson);
  await run(activities.registerCampaign, { campaignId: "c", config });
  assert.equal(await status(), "running");
});
