/** Samples expand.errors wrote: counts per status for the stage summary. */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { samples } from "../schema.js";

export async function expansionStatusCounts(db: Db, campaignId: string, iteration: number): Promise<Record<string, number>> {
  const rows = await db
    .select({ status: samples.status, n: sql<number>`count(*)::int` })
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.iteration, iteration), eq(samples.stage, "expand.errors")))
    .groupBy(samples.status);
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}
