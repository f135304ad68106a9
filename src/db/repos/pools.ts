/** Training pools (pool_members): which samples each iteration trains on, and why. */
import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { poolMembers, type PoolReason } from "../schema.js";

export type PoolMemberRow = typeof poolMembers.$inferSelect;
export type NewPoolMember = Omit<typeof poolMembers.$inferInsert, "createdAt">;

/** Writes members; a member already in the pool keeps its row (a re-run of the selection writes the same rows). */
export async function insertPoolMembers(db: Db, rows: NewPoolMember[]): Promise<number> {
  let written = 0;
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    if (chunk.length === 0) continue;
    const r = await db.insert(poolMembers).values(chunk).onConflictDoNothing().returning({ id: poolMembers.sampleId });
    written += r.length;
  }
  return written;
}

/** Removes an iteration's pool (a selection planned again from scratch). */
export async function clearPool(db: Db, campaignId: string, iteration: number): Promise<void> {
  await db.delete(poolMembers).where(and(eq(poolMembers.campaignId, campaignId), eq(poolMembers.iteration, iteration)));
}

/** Members per reason, with their summed weight. */
export async function poolComposition(db: Db, campaignId: string, iteration: number): Promise<Record<PoolReason, { n: number; weight: number }>> {
  const rows = await db
    .select({ reason: poolMembers.reason, n: sql<number>`count(*)::int`, weight: sql<number>`coalesce(sum(${poolMembers.weight}), 0)::float8` })
    .from(poolMembers)
    .where(and(eq(poolMembers.campaignId, campaignId), eq(poolMembers.iteration, iteration)))
    .groupBy(poolMembers.reason);
  const out = {} as Record<PoolReason, { n: number; weight: number }>;
  for (const r of rows) out[r.reason] = { n: Number(r.n), weight: Number(r.weight) };
  return out;
}

export async function listPoolMembers(db: Db, campaignId: string, iteration: number): Promise<PoolMemberRow[]> {
  return db
    .select()
    .from(poolMembers)
    .where(and(eq(poolMembers.campaignId, campaignId), eq(poolMembers.iteration, iteration)))
    .orderBy(asc(poolMembers.sampleId));
}

/** Every pool a sample was in (for lineage). */
export async function poolsOfSample(db: Db, sampleId: string): Promise<PoolMemberRow[]> {
  return db.select().from(poolMembers).where(eq(poolMembers.sampleId, sampleId)).orderBy(asc(poolMembers.iteration));
}
