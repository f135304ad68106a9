/**
 * One database handle type for both drivers: node-postgres (production, tests) and PGlite (the
 * embedded default for the demo). Both are drizzle PgDatabase instances over the same schema.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema.js";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface DbHandle {
  db: Db;
  driver: "pg" | "pglite";
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../migrations");

/** `postgres://...` -> node-postgres pool; `pglite:<dir>` or `pglite:memory` -> embedded PGlite. */
export async function openDatabase(url: string, opts: { poolSize?: number } = {}): Promise<DbHandle> {
  if (url.startsWith("pglite:")) {
    const { PGlite } = await import("@electric-sql/pglite");
    const { drizzle } = await import("drizzle-orm/pglite");
    const where = url.slice("pglite:".length);
    const client = where === "memory" || where === "" ? new PGlite() : new PGlite(where);
    await client.waitReady;
    return { db: drizzle(client, { schema }) as unknown as Db, driver: "pglite", close: () => client.close() };
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`DATABASE_URL: expected postgres://... or pglite:<dir>, got "${url}"`);
  const pg = await import("pg");
  const { drizzle } = await import("drizzle-orm/node-postgres");
  const pool = new pg.default.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
  pool.on("error", (err) => console.error(`[db] idle client error: ${err.message}`));
  return { db: drizzle(pool, { schema }) as unknown as Db, driver: "pg", close: () => pool.end() };
}

/** Applies the committed drizzle-kit migrations (idempotent: drizzle records what it applied). */
export async function migrateDatabase(handle: DbHandle, migrationsFolder = MIGRATIONS_DIR): Promise<void> {
  if (handle.driver === "pglite") {
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    await migrate(handle.db as never, { migrationsFolder });
  } else {
    const { migrate } = await import("drizzle-orm/node-postgres/migrator");
    await migrate(handle.db as never, { migrationsFolder });
  }
}
