/**
 * One database handle type for both drivers: node-postgres (production, tests) and PGlite (the
 * embedded default for the demo). Both are drizzle PgDatabase instances over the same schema.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type * as Pg from "pg";
import * as schema from "./schema.js";
import { thrownMessage } from "../util/thrown.js";
import { checkDatabaseUrl, DatabaseUrlError } from "./databaseUrl.js";
import { retryTransient, type TransientRetryOptions } from "./transient.js";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface DbHandle {
  db: Db;
  driver: "pg" | "pglite";
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../migrations");

/**
 * `postgres://...` -> node-postgres pool; `pglite:<dir>` or `pglite:memory` -> embedded PGlite. A URL
 * or PGlite folder that cannot be used throws DatabaseUrlError.
 */
export async function openDatabase(
  url: string,
  opts: { poolSize?: number; transientRetry?: TransientRetryOptions; /** node-postgres only; default: no limit. */ connectTimeoutMs?: number } = {},
): Promise<DbHandle> {
  const target = checkDatabaseUrl(url);
  if (target.driver === "pglite") {
    const dir = "dir" in target ? target.dir : undefined;
    const { PGlite } = await import("@electric-sql/pglite");
    const { drizzle } = await import("drizzle-orm/pglite");
    let client: InstanceType<typeof PGlite>;
    const exitCode = process.exitCode;
    try {
      client = dir === undefined ? new PGlite() : new PGlite(dir);
      await client.waitReady;
    } catch (err) {
      // PGlite's WebAssembly Postgres exiting sets the process's exit code too; the caller decides that.
      process.exitCode = exitCode;
      // E.g. a folder holding something other than a PGlite database: PGlite says only "exit(1)".
      throw new DatabaseUrlError(`DATABASE_URL: PGlite cannot open ${url} (${thrownMessage(err)}); give an empty folder or one PGlite created`, {
        cause: err,
      });
    }
    return { db: drizzle(client, { schema }) as unknown as Db, driver: "pglite", close: () => client.close() };
  }
  const pg = await import("pg");
  const { drizzle } = await import("drizzle-orm/node-postgres");
  const pool = resilientPool(
    pg.default.Pool,
    { connectionString: url, max: opts.poolSize ?? 10, ...(opts.connectTimeoutMs !== undefined ? { connectionTimeoutMillis: opts.connectTimeoutMs } : {}) },
    opts.transientRetry,
  );
  // An idle client dropped by a server restart is replaced on next use; without a listener the pool would crash the process.
  pool.on("error", (err) => console.error(`[db] idle client error: ${err.message}`));
  return { db: drizzle(pool, { schema }) as unknown as Db, driver: "pg", close: () => pool.end() };
}

/**
 * A pg Pool whose one-shot queries ride out a database restart: a query failing with a connection
 * error is retried with backoff (for up to a minute by default) instead of failing the activity and
 * losing its in-flight LLM work. Safe because every statement we send outside a transaction is
 * idempotent (upserts, insert-if-absent, reads); queries on a checked-out client (transactions)
 * are not retried.
 */
function resilientPool(Pool: typeof Pg.Pool, config: Pg.PoolConfig, retry: TransientRetryOptions = {}): Pg.Pool {
  let outageSince: number | undefined;
  class ResilientPool extends Pool {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override query(...args: any[]): any {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const base = (): any => (super.query as (...a: unknown[]) => unknown)(...args);
      if (typeof args[args.length - 1] === "function") return base();
      return retryTransient(base, {
        ...retry,
        onRetry: (err, attempt, delayMs) => {
          if (outageSince === undefined) {
            outageSince = Date.now();
            console.error(`[db] database unavailable (${err instanceof Error ? err.message : String(err)}); retrying`);
          }
          retry.onRetry?.(err, attempt, delayMs);
        },
      }).then((r) => {
        if (outageSince !== undefined) {
          console.error(`[db] database reachable again after ${Date.now() - outageSince} ms`);
          outageSince = undefined;
        }
        return r;
      });
    }
  }
  return new ResilientPool(config);
}

/** Applies the committed drizzle-kit migrations (idempotent: drizzle records what it applied). */
export async function migrateDatabase(handle: DbHandle, migrationsFolder = MIGRATIONS_DIR): Promise<void> {
  if (handle.driver === "pglite") {
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    await migrate(handle.db as never, { migrationsFolder });
  } else {
    const { migrate } = await import("drizzle-orm/node-postgres/migrator");
    await withMigrationLock(handle, () => migrate(handle.db as never, { migrationsFolder }));
  }
}

/** pg_advisory_lock key of toolloop's migrations (any constant no other code of the database uses). */
export const MIGRATION_LOCK_KEY = 7_411_600_001;

/**
 * One migrator at a time per database: drizzle's migrator reads the latest applied migration and then
 * applies the newer ones, so two at once on a new database (several hosts each running `db migrate`
 * before their worker, or `services up` beside it) both ran CREATE TABLE and one failed. The lock is
 * held by its own session (not one of the pool's, which may have a single connection) and released
 * when that session ends, also when this process dies.
 */
async function withMigrationLock(handle: DbHandle, fn: () => Promise<void>): Promise<void> {
  const pool = (handle.db as unknown as { $client: Pg.Pool }).$client;
  const pg = await import("pg");
  const session = new pg.default.Client(pool.options);
  // A dropped session releases the lock; the migration itself still runs in its own transaction.
  session.on("error", (err) => console.error(`[db] migration lock session: ${err.message}`));
  await session.connect();
  try {
    await session.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await fn();
  } finally {
    await session.end();
  }
}

/** One round trip to the server: resolves when it answers, rejects with the driver's error otherwise. */
export async function pingDatabase(handle: DbHandle): Promise<void> {
  await handle.db.execute(sql`SELECT 1`);
}
