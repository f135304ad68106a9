/**
 * A stage starting or ending updates its campaign's row, so `campaign list` (newest update first)
 * shows a campaign whose stage just failed and waits for an operator at the top, with that time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { listCampaignRows } from "../../../src/db/repos/campaignStatus.js";
import { insertCampaign } from "../../../src/db/repos/campaigns.js";
import { beginStageRun, finishStageRun } from "../../../src/db/repos/stages.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";

test("beginStageRun and finishStageRun move the campaign's updatedAt, and campaign list's order with it", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const db = h.db;
    const raw = rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] });
    await insertCampaign(db, { id: "older", name: "older", config: raw });
    await sleep(20);
    await insertCampaign(db, { id: "newer", name: "newer", config: raw });
    const updated = async (id: string) => (await listCampaignRows(db, { limit: 10 })).find((r) => r.campaignId === id)!.updatedAt;
    assert.deepEqual(
      (await listCampaignRows(db, { limit: 10 })).map((r) => r.campaignId),
      ["newer", "older"],
    );

    const stage = { campaignId: "older", iteration: 1, stage: "verify.rules" };
    const t0 = await updated("older");
    await sleep(20);
    await beginStageRun(db, stage, 1, 10);
    const t1 = await updated("older");
    assert.ok(t1 > t0, `a stage starting updates its campaign (${t0} -> ${t1})`);
    await sleep(20);
    await finishStageRun(db, stage, "failed", null, "endpoint down");
    const t2 = await updated("older");
    assert.ok(t2 > t1, `a stage failing updates its campaign (${t1} -> ${t2})`);
    const rows = await listCampaignRows(db, { limit: 10 });
    assert.deepEqual(
      rows.map((r) => r.campaignId),
      ["older", "newer"],
    );
    assert.deepEqual([rows[0]?.stage, rows[0]?.stageStatus, rows[0]?.stageError], ["verify.rules", "failed", "endpoint down"]);
  } finally {
    await h.close();
  }
});
