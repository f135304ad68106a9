/**
 * Rows left `running` by a campaign workflow that ended without writing its end. Only terminated and
 * timed-out workflows were recorded (as `terminated`); a cancelled one (an abort while it registered,
 * on a run started before the abort-waits-for-registration patch) or a failed one (its last status
 * write failed for good) stayed running for good. Real SQL (PGlite); Temporal's answer is given.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { eq } from "drizzle-orm";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertCampaign, setCampaignStatus } from "../../../src/db/repos/campaigns.js";
import { campaigns } from "../../../src/db/schema.js";
import { endedRunMessage, markEndedRuns } from "../../../src/schedules/endedRuns.js";

test("a running row whose workflow ended is recorded by how it ended: terminated, timed out, cancelled or failed; others are left", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-ended-runs-"));
  const db = await openDatabase(`pglite:${path.join(dir, "db")}`);
  t.after(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await migrateDatabase(db);
  const temporal: Record<string, string | undefined> = {
    "wf-term": "TERMINATED",
    "wf-timeout": "TIMED_OUT",
    "wf-cancel": "CANCELED",
    "wf-fail": "FAILED",
    "wf-run": "RUNNING",
    "wf-done": "COMPLETED",
    "wf-gone": undefined,
  };
  for (const wf of Object.keys(temporal)) await insertCampaign(db.db, { id: wf.replace("wf-", "c-"), name: "n", config: {}, workflowId: wf });
  const rows = async () =>
    db.db.select({ id: campaigns.id, workflowId: campaigns.workflowId, updatedAt: campaigns.updatedAt, status: campaigns.status }).from(campaigns);
  const statusOf = async (id: string) => (await rows()).find((r) => r.id === id)?.status;

  // Rows registered without a run id (as by builds before it was recorded): marked while unchanged since read.
  const described = async (wf: string) => (temporal[wf] === undefined ? undefined : { runId: `${wf}-run-1`, status: temporal[wf] });

  const read = await rows();
  // Written since the read: a rerun's registration, say. It wins.
  const cancelledRead = read.find((r) => r.id === "c-cancel")!;
  const marked = await markEndedRuns(db.db, read, described);
  assert.deepEqual(marked.map((m) => [m.campaignId, m.workflowStatus, m.rowStatus]).sort(), [
    ["c-cancel", "CANCELED", "aborted"],
    ["c-fail", "FAILED", "failed"],
    ["c-term", "TERMINATED", "terminated"],
    ["c-timeout", "TIMED_OUT", "terminated"],
  ]);
  for (const [id, status] of Object.entries({ "c-run": "running", "c-done": "running", "c-gone": "running", "c-cancel": "aborted", "c-fail": "failed" }))
    assert.equal(await statusOf(id), status, id);
  const cancelled = marked.find((m) => m.campaignId === "c-cancel")!;
  assert.match(
    endedRunMessage(cancelled),
    /^campaign c-cancel: its workflow wf-cancel was cancelled \(aborted\) without recording its end; recorded as aborted$/,
  );
  assert.match(
    endedRunMessage(marked.find((m) => m.campaignId === "c-fail")!),
    /^campaign c-fail: its workflow wf-fail failed without recording its end; recorded as failed$/,
  );

  // Asked again: nothing left to record. A row read before another status was written is left as written.
  assert.deepEqual(await markEndedRuns(db.db, await rows(), described), []);
  await setCampaignStatus(db.db, "c-cancel", "failed");
  await db.db.update(campaigns).set({ status: "running" }).where(eq(campaigns.id, "c-cancel"));
  assert.deepEqual(await markEndedRuns(db.db, [cancelledRead], described), [], "a row changed since it was read is not marked");
  assert.equal(await statusOf("c-cancel"), "running");
});
