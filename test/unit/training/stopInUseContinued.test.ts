/**
 * `model stop` refuses to stop the server a running campaign calls (src/training/servedPolicyJobs.ts),
 * including a scheduled run that continues the campaign and has not served its own yet. A run whose
 * config moved to another base model does not call its predecessor's server (its stages call the
 * configured policy, src/training/servedPolicy.ts stagePolicy): the stop was refused for it all the
 * same. PGlite; the stop itself goes as far as the local launcher (no record of the job here).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { eq } from "drizzle-orm";
import { freezeCampaignConfig } from "../../../src/config/frozen.js";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertConfigVersion } from "../../../src/db/repos/campaignConfigs.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { recordJobIntent, recordJobStatus } from "../../../src/db/repos/clusterJobs.js";
import { upsertModelVersion } from "../../../src/db/repos/modelVersions.js";
import { campaigns } from "../../../src/db/schema.js";
import { stopServedPolicy, StopServedPolicyError } from "../../../src/training/servedPolicyJobs.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";

async function setUp(t: TestContext, successorBase: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-stop-continued-"));
  const db = await openDatabase("pglite:memory");
  t.after(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await migrateDatabase(db);
  // wk-a: completed, its iteration-1 server (trained from old-base) still running.
  await insertCampaign(db.db, { id: "wk-a", name: "wk", config: {}, scheduleId: "wk", scheduledAt: new Date("2026-11-30T06:00:00Z") });
  await db.db.update(campaigns).set({ status: "completed" }).where(eq(campaigns.id, "wk-a"));
  await upsertModelVersion(db.db, { campaignId: "wk-a", iteration: 1, kind: "merged", path: "/out/wk-a", baseModel: "old-base", parentId: null });
  const job = "wk-a-1-serve-policy-a1";
  await recordJobIntent(db.db, { name: job, campaignId: "wk-a", iteration: 1, stage: "serve.policy", attempt: 1, launcher: "local", request: {} });
  await recordJobStatus(db.db, job, { state: "running" });
  await upsertModelVersion(db.db, {
    campaignId: "wk-a",
    iteration: 1,
    kind: "served",
    baseModel: "old-base",
    parentId: "wk-a:1:merged",
    url: "http://old-node:8001/v1",
    servedModel: "wk-a-iter-1",
    jobName: job,
  });
  await upsertIteration(db.db, { campaignId: "wk-a", iteration: 1, status: "completed" });
  // wk-b: running, continues wk-a, trains from successorBase, has served nothing yet.
  const raw = rawCampaign({
    simUrl: "http://127.0.0.1:1/v1",
    stages: [
      { name: "synthesize.singleTurn", count: 4, batchSize: 4 },
      { name: "score.perplexity", batchSize: 4 },
      { name: "export.verl", valFraction: 0.1 },
      { name: "train.grpo", trainer: "standin", baseModel: successorBase, grpo: { trainBatchSize: 4, ppoMiniBatchSize: 4, rolloutN: 2 } },
      { name: "train.merge", trainer: "standin" },
      { name: "serve.policy", engine: "simulator" },
    ],
  });
  const frozen = freezeCampaignConfig(raw, { configDir: dir });
  assert.ok(frozen.ok);
  await insertCampaign(db.db, { id: "wk-b", name: "wk", config: raw, scheduleId: "wk", scheduledAt: new Date("2026-12-07T06:00:00Z"), continuesFrom: "wk-a" });
  await insertConfigVersion(db.db, "wk-b", { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
  const stop = () => stopServedPolicy(db.db, { campaignId: "wk-a", launcherConfig: { kind: "local", stateDir: path.join(dir, "jobs") } });
  return { stop };
}

async function refusal(p: Promise<unknown>): Promise<StopServedPolicyError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StopServedPolicyError, String(e));
    return e;
  }
  assert.fail("expected a StopServedPolicyError");
}

test("model stop is refused while a continuing run of the same base model calls the server", async (t) => {
  const { stop } = await setUp(t, "old-base");
  const e = await refusal(stop());
  assert.equal(e.kind, "in-use");
  assert.match(e.message, /campaign wk-b continues from it and calls it until its own serve\.policy/);
});

test("a continuing run trained from another base model does not call the server: model stop goes ahead", async (t) => {
  const { stop } = await setUp(t, "new-base");
  const e = await refusal(stop());
  // Past the in-use check: the local launcher here has no record of the job.
  assert.equal(e.kind, "not-found", e.message);
  assert.match(e.message, /the local launcher here has no record of wk-a-1-serve-policy-a1/);
});
