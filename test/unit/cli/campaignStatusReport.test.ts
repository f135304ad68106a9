/**
 * `campaign status` with Temporal out of reach finds the campaign's report where the worker wrote
 * it (the iteration reports it recorded in PostgreSQL), not a copy at a folder guessed from the
 * current folder or TOOLLOOP_BASE_DIR (such a copy's links to the iteration reports are broken).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadCampaignView } from "../../../src/cli/campaignStatus.js";
import { cliEnv } from "../../../src/cli/env.js";
import { freezeCampaignConfig } from "../../../src/config/frozen.js";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertConfigVersion } from "../../../src/db/repos/campaignConfigs.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";

test("campaign status without Temporal: the report in the folder the worker recorded, never a stray copy at the guessed folder", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-status-report-"));
  const db = await openDatabase("pglite:memory");
  const savedBaseDir = process.env.TOOLLOOP_BASE_DIR;
  t.after(async () => {
    if (savedBaseDir === undefined) delete process.env.TOOLLOOP_BASE_DIR;
    else process.env.TOOLLOOP_BASE_DIR = savedBaseDir;
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await migrateDatabase(db);
  const raw = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), output: { dir: ".toolloop/output" } };
  const frozen = freezeCampaignConfig(raw, { configDir: dir });
  assert.ok(frozen.ok);
  await insertCampaign(db.db, { id: "c", name: "status", config: raw });
  await insertConfigVersion(db.db, "c", { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
  // The worker ran with --base-dir <dir>/worker and wrote iteration 1's report there.
  const campaignDir = path.join(dir, "worker", ".toolloop", "output", "c");
  await upsertIteration(db.db, {
    campaignId: "c",
    iteration: 1,
    status: "completed",
    summary: { report: { path: path.join(campaignDir, "iter-1", "report.html") } },
  });
  // A copy at the folder this process would guess (output.dir under TOOLLOOP_BASE_DIR), as an older `report build` left one.
  process.env.TOOLLOOP_BASE_DIR = path.join(dir, "guess");
  const stray = path.join(dir, "guess", ".toolloop", "output", "c", "report.html");
  fs.mkdirSync(path.dirname(stray), { recursive: true });
  fs.writeFileSync(stray, "stray");

  const sources = { db, notes: ["Temporal: unreachable (test)"], errors: [], close: async () => undefined };
  const before = await loadCampaignView(sources, cliEnv(), "c");
  assert.equal(before.reportPath, undefined, `the worker's folder has no campaign report yet; the stray copy is not it (${before.reportPath})`);
  assert.equal(before.outputDir, campaignDir, "the outputs are where the worker wrote");

  fs.mkdirSync(campaignDir, { recursive: true });
  fs.writeFileSync(path.join(campaignDir, "report.html"), "real");
  const after = await loadCampaignView(sources, cliEnv(), "c");
  assert.equal(after.reportPath, path.join(campaignDir, "report.html"));
});
