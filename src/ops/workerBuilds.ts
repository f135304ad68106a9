/**
 * The builds of the workers on this database (the worker_builds table): each worker upserts its
 * build when it starts and refreshes it every BUILD_REFRESH_MS while it runs, so a worker can ask
 * whether a build newer than its own has been alive lately.
 *
 * Why: a config field or value this worker's build does not know is either a newer build's (a
 * rolling deploy: leave the step for a newer worker) or a mistake (a name misspelt in a config
 * started from the Temporal UI: say so now). With no newer build seen in RECENT_BUILD_MS, no worker
 * that would accept it is coming, so the config fails at once instead of after an hour of retries.
 *
 * Which build is newer is decided by version, then by when its commit was committed (recorded at build
 * time), which a rebuild does not change: a rollback to an older commit, built later, is not newer.
 * Rows of builds no worker ran for BUILD_RETENTION_MS (30 days) are deleted when a worker starts.
 *
 * Recording never crashes or stops a worker: a failed upsert (a database blip) is logged and the
 * next refresh tries again. Where the answer cannot be known (the table cannot be read, or this
 * worker's own build has not been recorded yet) callers keep the cautious behaviour: step aside.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { and, gte, lt, ne, sql } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { workerBuilds } from "../db/schema.js";
import { BUILD_INFO_FILE, codeVersion, readCommittedAt, type CodeVersion } from "../provenance/codeVersion.js";
import { installRoot } from "../training/paths.js";
import { thrownMessage } from "../util/thrown.js";

/** How recently a build must have been alive to count as one whose workers may still take a step. */
export const RECENT_BUILD_MS = 24 * 60 * 60_000;
/** How often a running worker refreshes its build's last_seen_at (well inside RECENT_BUILD_MS). */
export const BUILD_REFRESH_MS = 5 * 60_000;
/**
 * How long a build's row is kept after its last worker was seen: a worker deletes older rows when it
 * starts. Far past RECENT_BUILD_MS, so no decision ever reads a row this removes; the rows left say
 * which builds ran on the database in the last month (one row a build, so a busy deploy history no
 * longer grows the table forever).
 */
export const BUILD_RETENTION_MS = 30 * 24 * 60 * 60_000;

export interface BuildIdentity extends CodeVersion {
  /** When the build was made (dist/build-info.json), null where unknown. */
  builtAt: Date | null;
  /** When its commit was committed (dist/build-info.json, or git), null where unknown: a rebuild keeps it. */
  committedAt: Date | null;
  /** A hash of everything above: two builds of one commit with different changes or times differ. */
  buildId: string;
}

export interface SeenBuild {
  buildId: string;
  version: string;
  commit: string | null;
  dirty: boolean | null;
  builtAt: Date | null;
  committedAt: Date | null;
  firstSeenAt: Date;
  lastSeenAt: Date;
  lastWorker: string;
}

/** The commit time is not hashed: it follows from the commit (and was not recorded before 0014, so ids stay as they were). */
export function buildIdentity(v: CodeVersion, builtAt: Date | null, committedAt: Date | null = null): BuildIdentity {
  const buildId = createHash("sha256")
    .update(JSON.stringify([v.package, v.version, v.commit, v.dirty, builtAt?.toISOString() ?? null]))
    .digest("hex")
    .slice(0, 16);
  return { ...v, builtAt, committedAt, buildId };
}

let cached: BuildIdentity | undefined;
/** This process's build (read once). */
export function thisBuild(): BuildIdentity {
  if (!cached) {
    const v = codeVersion();
    cached = buildIdentity(v, readBuiltAt(installRoot()), readCommittedAt(installRoot(), process.env, v.commit));
  }
  return cached;
}

function readBuiltAt(root: string): Date | null {
  try {
    const info: unknown = JSON.parse(fs.readFileSync(path.join(root, "dist", BUILD_INFO_FILE), "utf8"));
    const at = info !== null && typeof info === "object" ? (info as { builtAt?: unknown }).builtAt : undefined;
    const d = typeof at === "string" ? new Date(at) : null;
    return d && !Number.isNaN(d.getTime()) ? d : null;
  } catch {
    // No build-info file (a checkout run without `npm run build`): the build time is unknown.
    return null;
  }
}

export const thisWorker = (): string => `${process.pid}@${os.hostname()}`;

/** Says `build` is alive now (idempotent: one row a build, its last_seen_at moved on). */
export async function recordWorkerBuild(db: Db, build: BuildIdentity, worker: string, now: Date = new Date()): Promise<void> {
  await db
    .insert(workerBuilds)
    .values({
      buildId: build.buildId,
      package: build.package,
      version: build.version,
      commit: build.commit,
      dirty: build.dirty,
      builtAt: build.builtAt,
      committedAt: build.committedAt,
      firstSeenAt: now,
      lastSeenAt: now,
      lastWorker: worker,
    })
    // GREATEST: a worker whose clock is behind another's never moves last_seen_at back.
    // COALESCE: a row recorded by a worker that did not know the commit time learns it (one build, one commit).
    .onConflictDoUpdate({
      target: workerBuilds.buildId,
      set: {
        lastSeenAt: sql`greatest(${workerBuilds.lastSeenAt}, ${now})`,
        lastWorker: worker,
        committedAt: sql`coalesce(${workerBuilds.committedAt}, excluded.committed_at)`,
      },
    });
}

/**
 * Deletes the rows of builds no worker has been seen running for `olderThanMs` (default
 * BUILD_RETENTION_MS), never `keep`'s (the caller's own build, whatever its row says); returns the
 * build ids deleted.
 */
export async function pruneWorkerBuilds(db: Db, keep: Pick<BuildIdentity, "buildId">, opts: { olderThanMs?: number; now?: Date } = {}): Promise<string[]> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - (opts.olderThanMs ?? BUILD_RETENTION_MS));
  const rows = await db
    .delete(workerBuilds)
    .where(and(lt(workerBuilds.lastSeenAt, cutoff), ne(workerBuilds.buildId, keep.buildId)))
    .returning({ buildId: workerBuilds.buildId });
  return rows.map((r) => r.buildId);
}

/**
 * Records this worker's build now (resolved once tried, so the worker polls with its build known) and
 * every `intervalMs`; failures are logged (once per outage, and when it recovers), never thrown. Once
 * recorded, it deletes the rows of builds not seen for BUILD_RETENTION_MS (once per process: a worker
 * start), saying how many; a failed delete is logged and left for the next start.
 * Resolves to the function that stops it.
 */
export async function startBuildRecorder(p: { getDb(): Promise<Db>; log(m: string): void; build?: BuildIdentity; intervalMs?: number }): Promise<() => void> {
  const build = p.build ?? thisBuild();
  const worker = thisWorker();
  const intervalMs = p.intervalMs ?? BUILD_REFRESH_MS;
  const every = intervalMs < 1000 ? `${intervalMs} ms` : `${Math.round(intervalMs / 1000)} s`;
  let failing = false;
  let pruned = false;
  const prune = async (db: Db) => {
    pruned = true;
    try {
      const gone = await pruneWorkerBuilds(db, build);
      if (gone.length > 0)
        p.log(
          `worker: deleted ${gone.length} build${gone.length === 1 ? "" : "s"} no worker ran for ${BUILD_RETENTION_MS / 86_400_000} days from worker_builds`,
        );
    } catch (err) {
      p.log(
        `worker: could not delete builds no worker ran for ${BUILD_RETENTION_MS / 86_400_000} days from worker_builds (tried again at the next start): ${thrownMessage(err)}`,
      );
    }
  };
  // One at a time: a database that hangs must not pile up upserts.
  let inFlight = false;
  const beat = async () => {
    if (inFlight) return;
    inFlight = true;
    try {
      const db = await p.getDb();
      await recordWorkerBuild(db, build, worker);
      if (!pruned) await prune(db);
      if (failing) p.log(`worker: build ${describeBuild(build)} recorded again in worker_builds`);
      failing = false;
    } catch (err) {
      if (!failing) p.log(`worker: could not record build ${describeBuild(build)} in worker_builds (retried every ${every}): ${thrownMessage(err)}`);
      failing = true;
    } finally {
      inFlight = false;
    }
  };
  await beat();
  // beat() never rejects: its failures are logged above.
  const timer = setInterval(() => {
    beat().catch(() => undefined);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Numeric parts of a version (`0.10.2` -> [0, 10, 2]); a pre-release suffix is ignored. */
function versionParts(v: string): number[] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/**
 * Whether `other` is a newer build than `mine`: a higher package version; at the same version (or one
 * that cannot be compared), never one of the same commit without uncommitted changes (the same code,
 * so it knows nothing this build does not); else committed later when both commit times are known (a
 * rollback, an older commit built again later, stays older); else, where a commit time is unknown
 * (a build from before it was recorded, an image built without TOOLLOOP_GIT_COMMIT_TIME), made later
 * when both build times are known, else first seen on this database later (the newer build of a
 * deploy starts its workers after the old one did).
 */
export function isNewerBuild(other: ComparedBuild, mine: ComparedBuild): boolean {
  const a = versionParts(other.version);
  const b = versionParts(mine.version);
  if (a && b) {
    for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  }
  if (other.commit && other.commit === mine.commit && other.dirty === false && mine.dirty === false) return false;
  if (other.committedAt && mine.committedAt && other.committedAt.getTime() !== mine.committedAt.getTime()) return other.committedAt > mine.committedAt;
  if (other.builtAt && mine.builtAt && other.builtAt.getTime() !== mine.builtAt.getTime()) return other.builtAt > mine.builtAt;
  return other.firstSeenAt > mine.firstSeenAt;
}

/** What isNewerBuild compares; `commit`, `dirty` and `committedAt` may be absent (unknown). */
export type ComparedBuild = Pick<SeenBuild, "version" | "builtAt" | "firstSeenAt"> & Partial<Pick<SeenBuild, "commit" | "dirty" | "committedAt">>;

export type NewerBuilds =
  /** This build is recorded: `newer` are the builds newer than it alive within the window (maybe none). */
  | { known: true; newer: SeenBuild[]; withinMs: number }
  /** Not known (the table could not be read, or this build is not recorded yet): callers stay cautious. */
  | { known: false; why: string };

/** The builds newer than `build` that a worker of has been alive within `withinMs` of `now`. */
export async function newerBuildsSeen(db: Db, build: BuildIdentity = thisBuild(), opts: { withinMs?: number; now?: Date } = {}): Promise<NewerBuilds> {
  const withinMs = opts.withinMs ?? RECENT_BUILD_MS;
  const now = opts.now ?? new Date();
  let rows: SeenBuild[];
  try {
    rows = await db
      .select({
        buildId: workerBuilds.buildId,
        version: workerBuilds.version,
        commit: workerBuilds.commit,
        dirty: workerBuilds.dirty,
        builtAt: workerBuilds.builtAt,
        committedAt: workerBuilds.committedAt,
        firstSeenAt: workerBuilds.firstSeenAt,
        lastSeenAt: workerBuilds.lastSeenAt,
        lastWorker: workerBuilds.lastWorker,
      })
      .from(workerBuilds)
      .where(gte(workerBuilds.lastSeenAt, new Date(now.getTime() - withinMs)));
  } catch (err) {
    return { known: false, why: `the builds of the workers could not be read: ${thrownMessage(err)}` };
  }
  const mine = rows.find((r) => r.buildId === build.buildId);
  if (!mine) return { known: false, why: `this worker's build ${build.buildId} is not recorded in worker_builds yet` };
  return { known: true, newer: rows.filter((r) => r.buildId !== build.buildId && isNewerBuild(r, mine)), withinMs };
}

/** `toolloop 0.1.0, commit 0123456789ab (uncommitted changes), build 1a2b...` */
export function describeBuild(b: { package?: string; version: string; commit: string | null; dirty?: boolean | null; buildId: string }): string {
  const commit = b.commit ? `, commit ${b.commit.slice(0, 12)}${b.dirty ? " (uncommitted changes)" : ""}` : "";
  return `${b.package ?? "toolloop"} ${b.version}${commit}, build ${b.buildId}`;
}
