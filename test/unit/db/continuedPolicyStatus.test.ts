/**
 * `campaign status` of a scheduled run that continues another says which policy its stages before
 * serve.policy call while the predecessor decides it, and why (src/db/repos/campaignStatus.ts,
 * src/training/servedPolicy.ts): after a base-model change they call the configured roles.policy,
 * not the old lineage's server, and nothing said so. PGlite.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { renderCampaignView } from "../../../src/cli/statusView.js";
import { freezeCampaignConfig } from "../../../src/config/frozen.js";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertConfigVersion } from "../../../src/db/repos/campaignConfigs.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { readCampaignFacts } from "../../../src/db/repos/campaignStatus.js";
import { upsertModelVersion } from "../../../src/db/repos/modelVersions.js";
import { campaignView } from "../../../src/status/campaignView.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";

async function continuing(t: TestContext, predecessorBase: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-continued-status-"));
  const db = await openDatabase("pglite:memory");
  t.after(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await migrateDatabase(db);
  await insertCampaign(db.db, { id: "wk-a", name: "wk", config: {}, scheduleId: "wk", scheduledAt: new Date("2026-11-30T06:00:00Z") });
  await upsertModelVersion(db.db, { campaignId: "wk-a", iteration: 1, kind: "merged", path: "/out/wk-a", baseModel: predecessorBase, parentId: null });
  await upsertModelVersion(db.db, {
    campaignId: "wk-a",
    iteration: 1,
    kind: "served",
    baseModel: predecessorBase,
    parentId: "wk-a:1:merged",
    url: "http://old-node:8001/v1",
    servedModel: "wk-a-iter-1",
  });
  await upsertIteration(db.db, { campaignId: "wk-a", iteration: 1, status: "completed" });
  const raw = rawCampaign({
    simUrl: "http://127.0.0.1:1/v1",
    stages: [
      { name: "synthesize.singleTurn", count: 4, batchSize: 4 },
      { name: "score.perplexity", batchSize: 4 },
      { name: "export.verl", valFraction: 0.1 },
      { name: "train.grpo", trainer: "standin", baseModel: "new-base", grpo: { trainBatchSize: 4, ppoMiniBatchSize: 4, rolloutN: 2 } },
      { name: "train.merge", trainer: "standin" },
      { name: "serve.policy", engine: "simulator" },
    ],
  });
  const frozen = freezeCampaignConfig(raw, { configDir: dir });
  assert.ok(frozen.ok);
  await insertCampaign(db.db, { id: "wk-b", name: "wk", config: raw, scheduleId: "wk", scheduledAt: new Date("2026-12-07T06:00:00Z"), continuesFrom: "wk-a" });
  await insertConfigVersion(db.db, "wk-b", { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
  await upsertIteration(db.db, { campaignId: "wk-b", iteration: 1, status: "running" });
  return db;
}

const statusText = async (db: Awaited<ReturnType<typeof continuing>>) => {
  const facts = await readCampaignFacts(db.db, "wk-b");
  assert.ok(facts);
  const view = campaignView({ campaignId: "wk-b", db: facts });
  return { view, text: renderCampaignView(view) };
};

test("status of a run whose config moved to another base model says its stages call the configured policy, and why", async (t) => {
  const db = await continuing(t, "old-base");
  const { view, text } = await statusText(db);
  const expected =
    "policy: the policy role calls the configured roles.policy, model toolloop-sim-policy at endpoint sim (http://127.0.0.1:1/v1) until this run's own serve.policy: " +
    "wk-a's served policy wk-a-iter-1 (wk-a:1:served) was trained from base model old-base, not the configured baseModel new-base, so this run trains from new-base and does not call it";
  assert.ok(text.split("\n").includes(expected), text);
  assert.equal(`policy: ${view.continuedPolicy}`, expected, "--json carries it too");
  // Once the run serves its own, its stages call that: nothing to say.
  await upsertModelVersion(db.db, {
    campaignId: "wk-b",
    iteration: 1,
    kind: "served",
    baseModel: "new-base",
    url: "http://new:8000/v1",
    servedModel: "wk-b-iter-1",
  });
  await upsertIteration(db.db, { campaignId: "wk-b", iteration: 2, status: "running" });
  assert.doesNotMatch((await statusText(db)).text, /^policy:/m);
});

test("status of a run on the same base model says its stages call the predecessor's served policy", async (t) => {
  const db = await continuing(t, "new-base");
  const { text } = await statusText(db);
  assert.ok(
    text
      .split("\n")
      .includes(
        "policy: the policy role calls wk-a's served policy wk-a-iter-1 at http://old-node:8001/v1 (wk-a:1:served; trained from base model new-base, the configured baseModel) until this run's own serve.policy",
      ),
    text,
  );
});
