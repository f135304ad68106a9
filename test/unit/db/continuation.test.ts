/**
 * What a scheduled run continues from (src/db/repos/continuation.ts), on PGlite:
 * - a predecessor still running (overlap allowAll, terminateOther) is passed over: its pool and
 *   policy were still changing, so a run that continued from it selected from its unscored next
 *   round and recorded a parent model that its training job did not start from;
 * - a predecessor that failed (or was aborted) part-way through an iteration is continued from its
 *   latest completed iteration: that iteration's policy and the pool it was scored on, not a pool
 *   selected for a round that never trained or scored;
 * - a predecessor's policy trained from another base model than the run's training stage names (the
 *   schedule's config moved to a new base) is not trained on: the run starts from its base model.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { eq } from "drizzle-orm";
import { migrateDatabase, openDatabase, type DbHandle } from "../../../src/db/client.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import {
  latestModelVersionOrPredecessor,
  poolLineage,
  previousPoolRound,
  previousScheduledCampaign,
  startingPolicy,
} from "../../../src/db/repos/continuation.js";
import { upsertModelVersion } from "../../../src/db/repos/modelVersions.js";
import { insertSamples } from "../../../src/db/repos/samples.js";
import { replaceSelection } from "../../../src/db/repos/selection.js";
import { campaigns, type CampaignRowStatus } from "../../../src/db/schema.js";

const at = (minute: number) => new Date(Date.UTC(2026, 11, 7, 6, minute));

async function withDb(fn: (h: DbHandle) => Promise<void>) {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    await fn(h);
  } finally {
    await h.close();
  }
}

/** A scheduled run of "wk" at `minute`, with a merged policy and a pool in each of `trained` iterations. */
async function run(
  h: DbHandle,
  id: string,
  minute: number,
  p: { status: CampaignRowStatus; trained: number[]; completed: number[]; pools: number[]; continuesFrom?: string },
) {
  await insertCampaign(h.db, {
    id,
    name: "wk",
    config: {},
    scheduleId: "wk",
    scheduledAt: at(minute),
    ...(p.continuesFrom ? { continuesFrom: p.continuesFrom } : {}),
  });
  await h.db.update(campaigns).set({ status: p.status }).where(eq(campaigns.id, id));
  for (const i of p.trained)
    await upsertModelVersion(h.db, { campaignId: id, iteration: i, kind: "merged", path: `/out/${id}/iter-${i}/merged`, baseModel: "base", parentId: null });
  for (const i of p.completed) await upsertIteration(h.db, { campaignId: id, iteration: i, status: "completed" });
  for (const i of p.pools) {
    const sampleId = `${id}-s${i}`;
    await insertSamples(h.db, [
      { id: sampleId, campaignId: id, iteration: i, kind: "standard", origin: "synthesized", status: "verified", messages: [], tools: [] } as never,
    ]);
    await replaceSelection(h.db, id, i, [{ sampleId, reason: "seed", weight: 1, details: {} }], []);
  }
}

test("a run continues from the schedule's latest run that is no longer running", async () => {
  await withDb(async (h) => {
    await run(h, "wk-a", 0, { status: "completed", trained: [1, 2], completed: [1, 2], pools: [1, 2] });
    // wk-b (started under overlap allowAll) still runs when wk-c registers; it has merged iteration 1 already.
    await run(h, "wk-b", 10, { status: "running", trained: [1], completed: [1], pools: [1, 2], continuesFrom: "wk-a" });
    assert.equal(await previousScheduledCampaign(h.db, { scheduleId: "wk", before: at(20), excludeId: "wk-c" }), "wk-a");
    // Once it has ended (completed, failed or aborted) it is the one to continue from.
    for (const status of ["completed", "failed", "aborted"] as const) {
      await h.db.update(campaigns).set({ status }).where(eq(campaigns.id, "wk-b"));
      assert.equal(await previousScheduledCampaign(h.db, { scheduleId: "wk", before: at(20), excludeId: "wk-c" }), "wk-b", status);
    }
  });
});

test("a predecessor that failed part-way through an iteration is continued from its latest completed iteration", async () => {
  await withDb(async (h) => {
    // wk-a completed iteration 1, then in iteration 2 selected its pool and merged, and failed before it scored.
    await run(h, "wk-a", 0, { status: "failed", trained: [1, 2], completed: [1], pools: [1, 2] });
    await run(h, "wk-b", 10, { status: "running", trained: [], completed: [], pools: [], continuesFrom: "wk-a" });
    assert.deepEqual(await previousPoolRound(h.db, "wk-b", 1), { campaignId: "wk-a", iteration: 1 });
    assert.equal((await latestModelVersionOrPredecessor(h.db, "wk-b", "merged", 1))?.id, "wk-a:1:merged");
    // Its own rounds come first once it has any.
    await upsertModelVersion(h.db, { campaignId: "wk-b", iteration: 1, kind: "merged", path: "/out/wk-b/1", baseModel: "base", parentId: "wk-a:1:merged" });
    assert.equal((await latestModelVersionOrPredecessor(h.db, "wk-b", "merged", 2))?.id, "wk-b:1:merged");
  });
});

test("a predecessor that completed no iteration (it failed in its first, after training) is continued from what it made", async () => {
  await withDb(async (h) => {
    await run(h, "wk-a", 0, { status: "failed", trained: [1], completed: [], pools: [1] });
    await run(h, "wk-b", 10, { status: "running", trained: [], completed: [], pools: [], continuesFrom: "wk-a" });
    assert.deepEqual(await previousPoolRound(h.db, "wk-b", 1), { campaignId: "wk-a", iteration: 1 });
    assert.equal((await latestModelVersionOrPredecessor(h.db, "wk-b", "merged", 1))?.id, "wk-a:1:merged");
  });
});

test("a completed predecessor is continued from its last iteration", async () => {
  await withDb(async (h) => {
    await run(h, "wk-a", 0, { status: "completed", trained: [1, 2], completed: [1, 2], pools: [1, 2] });
    await run(h, "wk-b", 10, { status: "running", trained: [], completed: [], pools: [], continuesFrom: "wk-a" });
    assert.deepEqual(await previousPoolRound(h.db, "wk-b", 1), { campaignId: "wk-a", iteration: 2 });
    assert.equal((await latestModelVersionOrPredecessor(h.db, "wk-b", "merged", 1))?.id, "wk-a:2:merged");
  });
});

test("training continues from the predecessor's policy only when it was trained from the configured base model", async () => {
  await withDb(async (h) => {
    await run(h, "wk-a", 0, { status: "completed", trained: [1, 2], completed: [1, 2], pools: [1, 2] });
    await run(h, "wk-b", 10, { status: "running", trained: [], completed: [], pools: [], continuesFrom: "wk-a" });
    const same = await startingPolicy(h.db, "wk-b", 1, "base");
    assert.equal(same.version?.id, "wk-a:2:merged");
    assert.equal(same.passedOver, undefined);
    // The schedule's config now names a new base model: the old lineage's policy is passed over, and said so.
    const moved = await startingPolicy(h.db, "wk-b", 1, "new-base");
    assert.equal(moved.version, undefined);
    assert.equal(moved.passedOver?.id, "wk-a:2:merged");
    // The run's own policy (trained from the new base) is its next iteration's start.
    await upsertModelVersion(h.db, { campaignId: "wk-b", iteration: 1, kind: "merged", path: "/out/wk-b/1", baseModel: "new-base", parentId: null });
    assert.equal((await startingPolicy(h.db, "wk-b", 2, "new-base")).version?.id, "wk-b:1:merged");
  });
});

test("a selection's earlier pools follow the whole lineage, through a run without pools, bounded and safe from a cycle", async () => {
  await withDb(async (h) => {
    await run(h, "wk-a", 0, { status: "completed", trained: [1, 2], completed: [1, 2], pools: [1, 2] });
    // wk-b failed in its second iteration after selecting its pool: wk-c continues from its first.
    await run(h, "wk-b", 10, { status: "failed", trained: [1, 2], completed: [1], pools: [1, 2], continuesFrom: "wk-a" });
    // wk-d selected no pool (its select.nextRound skipped): wk-e's lineage passes through it.
    await run(h, "wk-c", 20, { status: "completed", trained: [1], completed: [1], pools: [1], continuesFrom: "wk-b" });
    await run(h, "wk-d", 30, { status: "completed", trained: [1], completed: [1], pools: [], continuesFrom: "wk-c" });
    await run(h, "wk-e", 40, { status: "running", trained: [], completed: [], pools: [], continuesFrom: "wk-d" });
    assert.deepEqual(await poolLineage(h.db, "wk-e", 3), {
      pools: [
        { campaignId: "wk-a", upTo: 2 },
        { campaignId: "wk-b", upTo: 1 },
        { campaignId: "wk-c", upTo: 1 },
        { campaignId: "wk-e", before: 3 },
      ],
    });
    assert.deepEqual(await poolLineage(h.db, "wk-a", 2), { pools: [{ campaignId: "wk-a", before: 2 }] }, "a run that continues nothing");
    // The bound: the campaign and two runs before it.
    assert.deepEqual(await poolLineage(h.db, "wk-e", 1, 3), {
      pools: [
        { campaignId: "wk-c", upTo: 1 },
        { campaignId: "wk-e", before: 1 },
      ],
      stoppedAt: { campaignId: "wk-b", why: "bound" },
    });
    // continues_from edited by hand into a cycle: the walk ends where it meets a run twice.
    await h.db.update(campaigns).set({ continuesFrom: "wk-c" }).where(eq(campaigns.id, "wk-a"));
    assert.deepEqual(await poolLineage(h.db, "wk-e", 1), {
      pools: [
        { campaignId: "wk-a", upTo: 2 },
        { campaignId: "wk-b", upTo: 1 },
        { campaignId: "wk-c", upTo: 1 },
        { campaignId: "wk-e", before: 1 },
      ],
      stoppedAt: { campaignId: "wk-c", why: "cycle" },
    });
  });
});
