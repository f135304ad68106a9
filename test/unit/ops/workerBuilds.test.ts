/**
 * The worker_builds table (src/ops/workerBuilds.ts): one row a build, upserted idempotently; which
 * builds count as newer and recent; a recorder that outlives database blips; and the did-you-mean
 * guess (src/util/closestName.ts) used when a config names what no build knows. PGlite.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Db } from "../../../src/db/client.js";
import { workerBuilds } from "../../../src/db/schema.js";
import { buildIdentity, isNewerBuild, newerBuildsSeen, recordWorkerBuild, startBuildRecorder } from "../../../src/ops/workerBuilds.js";
import { closestName, editDistance } from "../../../src/util/closestName.js";
import { pgliteForTest } from "../../helpers/pgliteForTest.js";

const HOUR = 60 * 60_000;
const v = (version: string, commit: string | null, builtAt: string | null) =>
  buildIdentity({ package: "toolloop", version, commit, dirty: false }, builtAt === null ? null : new Date(builtAt));

test("a build is recorded once, its last sighting moved on (never back), its first kept", async (t) => {
  const { db } = await pgliteForTest(t, "builds-upsert");
  const b = v("0.1.0", "a".repeat(40), "2026-12-01T00:00:00Z");
  const t0 = new Date("2026-12-07T10:00:00Z");
  await recordWorkerBuild(db.db, b, "1@h1", t0);
  await recordWorkerBuild(db.db, b, "2@h2", new Date(t0.getTime() + HOUR));
  // A worker whose clock is behind: last_seen_at stays.
  await recordWorkerBuild(db.db, b, "3@h3", new Date(t0.getTime() + HOUR / 2));
  const rows = await db.db.select().from(workerBuilds);
  assert.equal(rows.length, 1);
  assert.deepEqual(
    [rows[0]!.buildId, rows[0]!.version, rows[0]!.commit, rows[0]!.firstSeenAt.toISOString(), rows[0]!.lastSeenAt.toISOString(), rows[0]!.lastWorker],
    [b.buildId, "0.1.0", "a".repeat(40), t0.toISOString(), new Date(t0.getTime() + HOUR).toISOString(), "3@h3"],
  );
});

test("builds differ by version, commit, changes and build time; newer is a higher version, else later built, else later seen", () => {
  const ids = new Set([
    v("0.1.0", "a".repeat(40), "2026-12-01T00:00:00Z").buildId,
    v("0.1.1", "a".repeat(40), "2026-12-01T00:00:00Z").buildId,
    v("0.1.0", "b".repeat(40), "2026-12-01T00:00:00Z").buildId,
    v("0.1.0", "a".repeat(40), "2026-12-02T00:00:00Z").buildId,
    buildIdentity({ package: "toolloop", version: "0.1.0", commit: "a".repeat(40), dirty: true }, new Date("2026-12-01T00:00:00Z")).buildId,
  ]);
  assert.equal(ids.size, 5);
  const seen = (version: string, builtAt: string | null, firstSeenAt: string) => ({
    version,
    builtAt: builtAt === null ? null : new Date(builtAt),
    firstSeenAt: new Date(firstSeenAt),
  });
  // Version first, numerically (0.10.0 after 0.9.0), whatever the times.
  assert.equal(isNewerBuild(seen("0.10.0", "2026-01-01", "2026-01-01"), seen("0.9.0", "2026-12-01", "2026-12-01")), true);
  assert.equal(isNewerBuild(seen("0.9.0", "2026-12-01", "2026-12-01"), seen("0.10.0", "2026-01-01", "2026-01-01")), false);
  // Same version: built later.
  assert.equal(isNewerBuild(seen("0.1.0", "2026-12-02", "2026-12-01"), seen("0.1.0", "2026-12-01", "2026-12-03")), true);
  // Same version, a build time unknown: first seen later.
  assert.equal(isNewerBuild(seen("0.1.0", null, "2026-12-05"), seen("0.1.0", "2026-12-01", "2026-12-03")), true);
  assert.equal(isNewerBuild(seen("0.1.0", null, "2026-12-02"), seen("0.1.0", "2026-12-01", "2026-12-03")), false);
});

test("a rollback (an older commit, rebuilt later) is not newer: commit times decide before build times; the same commit is never newer", () => {
  const at = (iso: string) => new Date(iso);
  const build = (commit: string, committedAt: string | null, builtAt: string, firstSeenAt: string, dirty: boolean | null = false) => ({
    version: "0.1.0",
    commit: commit.repeat(40),
    dirty,
    committedAt: committedAt === null ? null : at(committedAt),
    builtAt: at(builtAt),
    firstSeenAt: at(firstSeenAt),
  });
  // The current build: commit b (committed 12-05), built 12-05. The rollback: commit a (committed 12-01), built and first seen 12-07.
  const current = build("b", "2026-12-05T10:00:00Z", "2026-12-05T11:00:00Z", "2026-12-05T12:00:00Z");
  const rollback = build("a", "2026-12-01T10:00:00Z", "2026-12-07T11:00:00Z", "2026-12-07T12:00:00Z");
  assert.equal(isNewerBuild(rollback, current), false, "the rolled-back old commit is older, though built later");
  assert.equal(isNewerBuild(current, rollback), true, "so the rollback's workers step aside for the current build, not the reverse");
  // A forward deploy: a later commit is newer whenever it was built.
  const forward = build("c", "2026-12-06T10:00:00Z", "2026-12-04T00:00:00Z", "2026-12-06T12:00:00Z");
  assert.equal(isNewerBuild(forward, current), true);
  // The same commit rebuilt (no uncommitted changes): the same code, neither is newer.
  const rebuilt = build("b", "2026-12-05T10:00:00Z", "2026-12-07T11:00:00Z", "2026-12-07T12:00:00Z");
  assert.equal(isNewerBuild(rebuilt, current), false);
  assert.equal(isNewerBuild(current, rebuilt), false);
  // The same commit with uncommitted changes: other code, so the build time decides.
  const patched = build("b", "2026-12-05T10:00:00Z", "2026-12-07T11:00:00Z", "2026-12-07T12:00:00Z", true);
  assert.equal(isNewerBuild(patched, current), true);
  // A commit time unknown (a build from before it was recorded, an image built without TOOLLOOP_GIT_COMMIT_TIME): build time, then first sighting, as before.
  assert.equal(isNewerBuild(build("a", null, "2026-12-07T11:00:00Z", "2026-12-07T12:00:00Z"), current), true);
  assert.equal(isNewerBuild({ ...rollback, builtAt: null }, { ...current, committedAt: null, builtAt: null }), true, "first seen later");
  // A higher version still wins over commit times.
  assert.equal(isNewerBuild({ ...rollback, version: "0.2.0" }, current), true);
});

test("a rollback recorded in worker_builds is not a newer build for the current build's workers; the current build is one for the rollback's", async (t) => {
  const { db } = await pgliteForTest(t, "builds-rollback");
  const now = new Date("2026-12-07T12:00:00Z");
  const identity = (commit: string, committedAt: string, builtAt: string) =>
    buildIdentity({ package: "toolloop", version: "0.1.0", commit: commit.repeat(40), dirty: false }, new Date(builtAt), new Date(committedAt));
  const current = identity("b", "2026-12-05T10:00:00Z", "2026-12-05T11:00:00Z");
  const rollback = identity("a", "2026-12-01T10:00:00Z", "2026-12-07T11:00:00Z");
  await recordWorkerBuild(db.db, current, "1@h", new Date(now.getTime() - HOUR));
  await recordWorkerBuild(db.db, rollback, "2@h", now);
  const rows = await db.db.select().from(workerBuilds);
  assert.deepEqual(
    rows.map((r) => [r.buildId, r.committedAt?.toISOString()]).sort(),
    [
      [current.buildId, "2026-12-05T10:00:00.000Z"],
      [rollback.buildId, "2026-12-01T10:00:00.000Z"],
    ].sort(),
  );
  assert.deepEqual(await newerBuildsSeen(db.db, current, { now }), { known: true, newer: [], withinMs: 24 * HOUR });
  const forRollback = await newerBuildsSeen(db.db, rollback, { now });
  assert.deepEqual(forRollback.known && forRollback.newer.map((b) => b.buildId), [current.buildId]);
});

test("newer builds seen: only newer ones alive within the window; unknown while this build is not recorded or the table cannot be read", async (t) => {
  const { db } = await pgliteForTest(t, "builds-newer");
  const now = new Date("2026-12-07T12:00:00Z");
  const mine = v("0.2.0", "a".repeat(40), "2026-12-01T00:00:00Z");
  const before = await newerBuildsSeen(db.db, mine, { now });
  assert.deepEqual(before.known, false);
  assert.match((before as { why: string }).why, /this worker's build [0-9a-f]{16} is not recorded in worker_builds yet/);

  await recordWorkerBuild(db.db, mine, "1@h", now);
  await recordWorkerBuild(db.db, v("0.1.0", "b".repeat(40), null), "2@h", now); // older
  await recordWorkerBuild(db.db, v("0.3.0", "c".repeat(40), null), "3@h", new Date(now.getTime() - 25 * HOUR)); // newer, long gone
  assert.deepEqual(await newerBuildsSeen(db.db, mine, { now }), { known: true, newer: [], withinMs: 24 * HOUR });
  const fresh = v("0.3.1", "d".repeat(40), null);
  await recordWorkerBuild(db.db, fresh, "4@h", new Date(now.getTime() - 23 * HOUR));
  const seen = await newerBuildsSeen(db.db, mine, { now });
  assert.equal(seen.known, true);
  assert.deepEqual(seen.known && seen.newer.map((b) => [b.buildId, b.version, b.lastWorker]), [[fresh.buildId, "0.3.1", "4@h"]]);
  // A narrower window leaves it out.
  const narrow = await newerBuildsSeen(db.db, mine, { now, withinMs: HOUR });
  assert.deepEqual(narrow.known && narrow.newer, []);

  const broken = { select: () => ({ from: () => ({ where: () => Promise.reject(new Error("Connection terminated unexpectedly")) }) }) } as unknown as Db;
  const unreadable = await newerBuildsSeen(broken, mine, { now });
  assert.equal(unreadable.known, false);
  assert.match((unreadable as { why: string }).why, /could not be read: .*Connection terminated unexpectedly/);
});

test("the recorder records at start, survives a database that fails (said once, and when it is back), and stops", async (t) => {
  const { db } = await pgliteForTest(t, "builds-recorder");
  const b = v("0.1.0", "e".repeat(40), null);
  const logged: string[] = [];
  let down = true;
  const stop = await startBuildRecorder({
    getDb: async () => {
      if (down) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      return db.db;
    },
    log: (m) => logged.push(m),
    build: b,
    intervalMs: 20,
  });
  t.after(stop);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(logged.length, 1, logged.join("\n"));
  assert.match(
    logged[0]!,
    /^worker: could not record build toolloop 0\.1\.0, commit eeeeeeeeeeee, build [0-9a-f]{16} in worker_builds \(retried every 20 ms\): .*ECONNREFUSED/,
  );
  assert.equal((await db.db.select().from(workerBuilds)).length, 0);
  down = false;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(logged.length, 2, logged.join("\n"));
  assert.match(logged[1]!, /recorded again in worker_builds$/);
  const rows = await db.db.select().from(workerBuilds);
  assert.deepEqual(
    rows.map((r) => r.buildId),
    [b.buildId],
  );
  stop();
  const last = rows[0]!.lastSeenAt.getTime();
  await new Promise((r) => setTimeout(r, 80));
  const after = await db.db.select().from(workerBuilds);
  assert.ok(after[0]!.lastSeenAt.getTime() - last < 60, "no refresh after stop (beyond one in flight)");
});

test("did you mean: the closest known name within a third of its length, none when far or tied", () => {
  assert.equal(editDistance("batchSzie", "batchSize"), 1, "a swap of neighbours counts one");
  assert.equal(closestName("batchSzie", ["name", "runIn", "batchSize"]), "batchSize");
  assert.equal(closestName("maxconcurrency", ["maxConcurrency", "timeoutMs"]), "maxConcurrency");
  assert.equal(closestName("cpusPerTask", ["name", "runIn", "batchSize"]), undefined);
  assert.equal(closestName("ab", ["ac", "ad"]), undefined, "a tie guesses nothing");
  assert.equal(closestName("verify.rulse", ["verify.rules", "verify.judges"]), "verify.rules");
});
