/**
 * An iteration row's end time is the iteration's own: a campaign started again runs its completed
 * iterations again as no-ops (startIteration, then finishIteration), which used to mark them running
 * and finished "now", so iteration 1 read as ending after iteration 2 started (stored history and
 * reports). A failed or aborted iteration run again is running again, then ends anew. PGlite.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { and, eq } from "drizzle-orm";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { closeRunningIterations, insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { iterations } from "../../../src/db/schema.js";

test("a completed iteration run again keeps its status and end time; a failed one runs and ends anew", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    await insertCampaign(h.db, { id: "c", name: "rows", config: {} });
    const row = async (n: number) =>
      (
        await h.db
          .select()
          .from(iterations)
          .where(and(eq(iterations.campaignId, "c"), eq(iterations.iteration, n)))
      )[0]!;
    const pause = () => new Promise((r) => setTimeout(r, 20));

    await upsertIteration(h.db, { campaignId: "c", iteration: 1, status: "running" });
    await upsertIteration(h.db, { campaignId: "c", iteration: 1, status: "completed", summary: { samples: { verified: 3 } } });
    const done = await row(1);
    assert.equal(done.status, "completed");
    assert.ok(done.finishedAt);
    await upsertIteration(h.db, { campaignId: "c", iteration: 2, status: "running" });
    await closeRunningIterations(h.db, "c", "failed");
    await pause();

    // The campaign started again: iteration 1 replays as a no-op, iteration 2 runs for real.
    await upsertIteration(h.db, { campaignId: "c", iteration: 1, status: "running" });
    const replaying = await row(1);
    assert.equal(replaying.status, "completed", "a done iteration is not shown running while it replays");
    assert.equal(replaying.finishedAt?.getTime(), done.finishedAt?.getTime());
    await upsertIteration(h.db, { campaignId: "c", iteration: 1, status: "completed", summary: { samples: { verified: 3 } } });
    assert.equal((await row(1)).finishedAt?.getTime(), done.finishedAt?.getTime(), "its end time is its own");

    const failedAt = (await row(2)).finishedAt;
    await upsertIteration(h.db, { campaignId: "c", iteration: 2, status: "running" });
    assert.equal((await row(2)).status, "running");
    assert.equal((await row(2)).finishedAt, null, "a resumed iteration is open again");
    await pause();
    await upsertIteration(h.db, { campaignId: "c", iteration: 2, status: "completed" });
    const resumed = await row(2);
    assert.equal(resumed.status, "completed");
    assert.ok(resumed.finishedAt && failedAt && resumed.finishedAt.getTime() > failedAt.getTime(), "it ends when it really ended");
  } finally {
    await h.close();
  }
});
