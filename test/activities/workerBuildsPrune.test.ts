/**
 * worker_builds is pruned (src/ops/workerBuilds.ts): nothing deleted its rows, one a build, forever.
 * Now a worker's build recorder, at start, deletes the rows of builds no worker ran for 30 days
 * (BUILD_RETENTION_MS, far past the 24 h any decision reads), never the worker's own. Real PostgreSQL:
 * the suite's DATABASE_URL (shared with other test files, so only this file's rows are looked at), else
 * a private one.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { inArray } from "drizzle-orm";
import type { DbHandle } from "../../src/db/client.js";
import { workerBuilds } from "../../src/db/schema.js";
import { BUILD_RETENTION_MS, buildIdentity, pruneWorkerBuilds, recordWorkerBuild, startBuildRecorder, type BuildIdentity } from "../../src/ops/workerBuilds.js";
import { migratedTestDatabase } from "../helpers/stageResources.js";

const DAY = 24 * 60 * 60_000;
let db: DbHandle;
const stops: (() => Promise<void>)[] = [];
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-builds-prune-"));

before(async () => {
  db = await migratedTestDatabase(workDir, stops);
});
after(async () => {
  if (made.length) await db.db.delete(workerBuilds).where(inArray(workerBuilds.buildId, made));
  for (const stop of stops.reverse()) await stop();
  fs.rmSync(workDir, { recursive: true, force: true });
});

/**
 * A build of this file only (a random commit), so rows other test files record are never asserted on.
 * Built long ago: in the suite's shared database a build made now would be newer than the suite's own
 * (its commit time unknown, so build times decide), and every other file's worker would then step
 * aside for a config it does not know instead of failing it at once. Deleted after the file too.
 */
const made: string[] = [];
const aBuild = (): BuildIdentity => {
  const b = buildIdentity(
    { package: "toolloop", version: "0.1.0", commit: randomUUID().replace(/-/g, "").padEnd(40, "0"), dirty: false },
    new Date("2020-01-01T00:00:00Z"),
  );
  made.push(b.buildId);
  return b;
};

async function present(builds: BuildIdentity[]): Promise<string[]> {
  const ids = builds.map((b) => b.buildId);
  const rows = await db.db.select({ buildId: workerBuilds.buildId }).from(workerBuilds).where(inArray(workerBuilds.buildId, ids));
  return builds.filter((b) => rows.some((r) => r.buildId === b.buildId)).map((b) => b.buildId);
}

test("the retention is 30 days, far past the 24 h window newer builds are looked for in", () => {
  assert.equal(BUILD_RETENTION_MS, 30 * DAY);
});

test("pruneWorkerBuilds deletes builds not seen for 30 days, keeps those seen since and the caller's own however old its row", async () => {
  const now = new Date();
  const gone = aBuild();
  const lately = aBuild();
  const atTheEdge = aBuild();
  const mine = aBuild();
  await recordWorkerBuild(db.db, gone, "1@old", new Date(now.getTime() - 31 * DAY));
  await recordWorkerBuild(db.db, lately, "2@h", new Date(now.getTime() - 2 * DAY));
  await recordWorkerBuild(db.db, atTheEdge, "3@h", new Date(now.getTime() - 30 * DAY + 60_000));
  await recordWorkerBuild(db.db, mine, "4@h", new Date(now.getTime() - 90 * DAY));
  const deleted = await pruneWorkerBuilds(db.db, mine, { now });
  assert.ok(deleted.includes(gone.buildId), "the build not seen for 31 days is deleted");
  assert.deepEqual(await present([gone, lately, atTheEdge, mine]), [lately.buildId, atTheEdge.buildId, mine.buildId]);
  assert.deepEqual(
    (await pruneWorkerBuilds(db.db, mine, { now })).filter((id) => [lately, atTheEdge, mine].some((b) => b.buildId === id)),
    [],
    "idempotent",
  );
});

test("a worker's build recorder prunes at start (once), says how many it deleted, and keeps its own build's row", async () => {
  const now = Date.now();
  const old = [aBuild(), aBuild()];
  for (const b of old) await recordWorkerBuild(db.db, b, "9@gone", new Date(now - 45 * DAY));
  const mine = aBuild();
  const logged: string[] = [];
  const stop = await startBuildRecorder({ getDb: async () => db.db, log: (m) => logged.push(m), build: mine, intervalMs: 20 });
  assert.deepEqual(await present([...old, mine]), [mine.buildId]);
  // Other files' stale rows may be deleted with these: the count is at least this file's two.
  const said = logged.map((m) => /^worker: deleted (\d+) builds? no worker ran for 30 days from worker_builds$/.exec(m)).find((m) => m !== null);
  assert.ok(said && Number(said[1]) >= 2, logged.join("\n"));
  // A refresh (every 20 ms here) does not prune again, only a start does: a stale row recorded meanwhile stays.
  const later = aBuild();
  await recordWorkerBuild(db.db, later, "8@gone", new Date(now - 45 * DAY));
  await new Promise((r) => setTimeout(r, 100));
  stop();
  assert.deepEqual(await present([later]), [later.buildId]);
  const again = await startBuildRecorder({ getDb: async () => db.db, log: () => undefined, build: mine, intervalMs: 60_000 });
  again();
  assert.deepEqual(await present([later]), [], "the next start prunes it");
});

test("a failed delete is logged and the worker goes on: its build is recorded", async () => {
  const mine = aBuild();
  const logged: string[] = [];
  // The database records the build, then refuses the delete.
  const refusing = new Proxy(db.db, {
    get(target, prop, receiver) {
      if (prop === "delete") return () => ({ where: () => ({ returning: () => Promise.reject(new Error("permission denied for table worker_builds")) }) });
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  const stop = await startBuildRecorder({ getDb: async () => refusing, log: (m) => logged.push(m), build: mine, intervalMs: 60_000 });
  stop();
  assert.deepEqual(await present([mine]), [mine.buildId]);
  assert.deepEqual(logged, [
    "worker: could not delete builds no worker ran for 30 days from worker_builds (tried again at the next start): permission denied for table worker_builds",
  ]);
});
