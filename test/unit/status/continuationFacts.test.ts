/**
 * `campaign status` of a scheduled run says what it continues, on PGlite: the iteration of its
 * predecessor it reads up to, the predecessor's policy its training does not take (trained from
 * another base model) and the schedule's runs it passed over, with why. Before, it said
 * "continues from X (its policy and pool)" only, also when the policy was not X's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { eq } from "drizzle-orm";
import { renderCampaignView } from "../../../src/cli/statusView.js";
import type { FrozenCampaignConfig } from "../../../src/config/frozen.js";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertConfigVersion } from "../../../src/db/repos/campaignConfigs.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { readCampaignFacts } from "../../../src/db/repos/campaignStatus.js";
import { upsertModelVersion } from "../../../src/db/repos/modelVersions.js";
import { campaigns, type CampaignRowStatus } from "../../../src/db/schema.js";
import { campaignView } from "../../../src/status/campaignView.js";

/** 06:00 UTC on `day` of November 2026 (a fraction: later that day). */
const at = (day: number) => new Date(Date.UTC(2026, 10, 1, 6) + (day - 1) * 86_400_000);

test("status names the predecessor's iteration read up to, a policy not taken and the runs passed over", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const db = h.db;
    const run = async (id: string, day: number, p: { status: CampaignRowStatus; merged?: string; completed?: number[]; continuesFrom?: string }) => {
      await insertCampaign(db, {
        id,
        name: "wk",
        config: {},
        scheduleId: "wk",
        scheduledAt: at(day),
        ...(p.continuesFrom ? { continuesFrom: p.continuesFrom } : {}),
      });
      await db.update(campaigns).set({ status: p.status }).where(eq(campaigns.id, id));
      for (const i of p.completed ?? []) await upsertIteration(db, { campaignId: id, iteration: i, status: "completed" });
      if (p.merged) await upsertModelVersion(db, { campaignId: id, iteration: 2, kind: "merged", path: `/out/${id}`, baseModel: p.merged, parentId: null });
    };
    const config = (baseModel: string) =>
      ({
        schemaVersion: 1,
        config: { iterations: 2, onStageFailure: "wait", output: { dir: "out" }, stages: [{ name: "train.grpo", trainer: "standin", baseModel }] },
      }) as unknown as FrozenCampaignConfig;

    // wk-a completed iterations 1 and 2 with a policy; wk-b runs on (terminateOther/allowAll); wk-c trained nothing.
    await run("wk-a", 2, { status: "completed", merged: "old-base", completed: [1, 2] });
    await run("wk-b", 9, { status: "running", merged: "old-base" });
    await run("wk-c", 16, { status: "failed" });
    await run("wk-d", 23, { status: "running", continuesFrom: "wk-a" });
    await insertConfigVersion(db, "wk-d", { version: 1, sha256: "d", frozen: config("old-base"), appliesFromIteration: 1 });
    const line = async (id: string) => /^schedule: .*$/m.exec(renderCampaignView(campaignView({ campaignId: id, db: await readCampaignFacts(db, id) })))?.[0];
    assert.equal(
      await line("wk-d"),
      "schedule: wk, run scheduled for 2026-11-23T06:00:00.000Z; continues from wk-a, up to its iteration 2 (its policy and pool); passed over wk-c (registered no policy), wk-b (still running)",
    );
    const facts = await readCampaignFacts(db, "wk-d");
    assert.deepEqual(facts?.continuation, {
      upToIteration: 2,
      passedOver: [
        { campaignId: "wk-c", why: "registered no policy" },
        { campaignId: "wk-b", why: "still running" },
      ],
    });

    // The schedule moved to a new base model: wk-e keeps wk-a's pool but not its policy, and says so.
    await db.update(campaigns).set({ status: "terminated" }).where(eq(campaigns.id, "wk-b"));
    await run("wk-e", 30, { status: "running", continuesFrom: "wk-a" });
    await insertConfigVersion(db, "wk-e", { version: 1, sha256: "e", frozen: config("new-base"), appliesFromIteration: 1 });
    assert.equal(
      await line("wk-e"),
      "schedule: wk, run scheduled for 2026-11-30T06:00:00.000Z; continues from wk-a, up to its iteration 2 (its pool; not its policy wk-a:2:merged, trained from base model old-base: training starts from the configured baseModel new-base); passed over wk-d (still running), wk-c (registered no policy), wk-b (still running when this run registered)",
    );

    // A predecessor that completed no iteration, and a first run that passed over one still running.
    await run("wk-f", 31, { status: "running", continuesFrom: "wk-c" });
    assert.match(
      (await line("wk-f")) ?? "",
      /; continues from wk-c, which completed no iteration \(what it made\) \(its policy and pool\); passed over wk-e \(still running\), wk-d \(still running\)$/,
    );
    await run("wk-0", 1, { status: "running" });
    await run("wk-1", 1.5, { status: "running" });
    assert.match(
      (await line("wk-1")) ?? "",
      /; started from scratch \(no earlier run of the schedule had registered a policy\); passed over wk-0 \(still running\)$/,
    );
  } finally {
    await h.close();
  }
});
