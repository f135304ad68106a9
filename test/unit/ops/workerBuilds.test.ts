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
