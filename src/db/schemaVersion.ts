/**
 * Whether a database has every migration this installation ships (migrations/meta/_journal.json).
 * drizzle's migrator applies the journal entries newer than the latest `created_at` it recorded in
 * drizzle.__drizzle_migrations; the same comparison here says which entries an upgrade still needs,
 * so a worker of a newer toolloop refuses to start on an older schema (naming `db migrate`) instead
 * of failing its activities with "column does not exist".
 */
import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import type { DbHandle } from "./client.js";

export interface JournalEntry {
  tag: string;
  when: number;
}

export interface SchemaState {
  /** The migrations this installation ships, oldest first. */
  shipped: JournalEntry[];
  /** Those the database has not applied (newer than its latest applied one). */
  pending: JournalEntry[];
  /** The latest migration the database recorded (its `when`), undefined when it has none. */
  latestApplied: number | undefined;
}

export function readJournal(migrationsFolder: string): JournalEntry[] {
  const file = path.join(migrationsFolder, "meta", "_journal.json");
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { entries?: { tag?: unknown; when?: unknown }[] };
  return (parsed.entries ?? []).map((e, i) => {
    if (typeof e.tag !== "string" || typeof e.when !== "number") throw new Error(`${file}: entries[${i}] needs a string tag and a numeric when`);
    return { tag: e.tag, when: e.when };
  });
}

/** The journal entries newer than the database's latest applied migration (all of them when it has none). */
export function pendingEntries(shipped: readonly JournalEntry[], latestApplied: number | undefined): JournalEntry[] {
  return latestApplied === undefined ? [...shipped] : shipped.filter((e) => e.when > latestApplied);
}

export async function schemaState(handle: DbHandle, migrationsFolder: string): Promise<SchemaState> {
  const shipped = readJournal(migrationsFolder);
  const rowsOf = (r: unknown) => (r as { rows?: Record<string, unknown>[] }).rows ?? (r as Record<string, unknown>[]) ?? [];
  const exists = rowsOf(await handle.db.execute(sql`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS present`));
  let latestApplied: number | undefined;
  if (exists[0]?.present === true) {
    const last = rowsOf(await handle.db.execute(sql`SELECT max(created_at)::text AS last FROM drizzle.__drizzle_migrations`));
    const raw = last[0]?.last;
    latestApplied = typeof raw === "string" && raw !== "" ? Number(raw) : undefined;
  }
  return { shipped, pending: pendingEntries(shipped, latestApplied), latestApplied };
}

/** One line for an operator: what is missing and the command that applies it; undefined when nothing is. */
export function pendingMigrationsMessage(state: SchemaState, where: string): string | undefined {
  if (state.pending.length === 0) return undefined;
  const names = state.pending.map((e) => e.tag);
  const shown = names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more` : names.join(", ");
  const has =
    state.latestApplied === undefined ? "has no toolloop schema" : `lacks ${names.length} of this version's ${state.shipped.length} migrations (${shown})`;
  return `the database at ${where} ${has}: run \`toolloop db migrate\` first (compose: the toolloop-migrate service), then start the worker again`;
}
