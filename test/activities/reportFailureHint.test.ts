/**
 * An iteration whose report could not be written: finishIteration's log line gives the command that
 * builds it, and that command works as printed from anywhere. The failed report recorded no folder,
 * so without this worker's --base-dir `report build` could not know where the campaign's outputs
 * are. PGlite and MockActivityEnvironment: no Temporal server, no LLM.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { migrateDatabase, openDatabase } from "../../src/db/client.js";
import { rawCampaign } from "../helpers/selfEvolution.js";

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

test("a report that could not be written: the logged report build command names the worker's --base-dir and writes it where the worker would have", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-hint-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const workerBase = path.join(dir, "worker base");
  const dbDir = path.join(dir, "db");
  const db = await openDatabase(`pglite:${dbDir}`);
  const lines: string[] = [];
  try {
    await migrateDatabase(db);
    const activities = createActivities(activityDepsFor(db, workerBase, (m) => lines.push(m)));
    const config = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), output: { dir: ".toolloop/output" } };
    await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId: "c", config });
    await new MockActivityEnvironment().run(activities.startIteration, { campaignId: "c", iteration: 1 });
    // A file where the iteration's folder goes: the report cannot be written.
    const iterDir = path.join(workerBase, ".toolloop", "output", "c", "iter-1");
    fs.mkdirSync(path.dirname(iterDir), { recursive: true });
    fs.writeFileSync(iterDir, "in the way");
    await new MockActivityEnvironment().run(activities.finishIteration, { campaignId: "c", iteration: 1, status: "completed" as const });
    fs.rmSync(iterDir);
  } finally {
    await db.close();
  }

  const hint = lines.find((l) => l.includes("no report written"));
  assert.ok(hint, lines.join("\n"));
  const m = /build it with: toolloop (report build c --iteration 1) --base-dir (".*")$/.exec(hint);
  assert.ok(m, `the command names this worker's --base-dir: ${hint}`);
  const args = [...m[1]!.split(" "), "--base-dir", JSON.parse(m[2]!) as string];
  const elsewhere = path.join(dir, "elsewhere");
  fs.mkdirSync(elsewhere);
  const built = spawnSync(process.execPath, [CLI, ...args], {
    cwd: elsewhere,
    env: { ...process.env, DATABASE_URL: `pglite:${dbDir}`, TOOLLOOP_BASE_DIR: "" },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(built.status, 0, built.stderr);
  assert.equal(built.stdout.trim(), path.join(workerBase, ".toolloop", "output", "c", "iter-1", "report.html"));
  assert.ok(fs.existsSync(built.stdout.trim()));
});
