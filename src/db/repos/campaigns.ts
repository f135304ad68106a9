import { eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { campaigns, iterations, type CampaignRowStatus, type IterationRowStatus } from "../schema.js";

export async function upsertCampaign(db: Db, c: { id: string; name: string; config: unknown }): Promise<void> {
  await db
    .insert(campaigns)
    .values({ id: c.id, name: c.name, config: c.config })
    .onConflictDoUpdate({ target: campaigns.id, set: { config: c.config, updatedAt: sql`now()` } });
}

export async function getCampaign(db: Db, id: string) {
  const rows = await db.select().from(campaigns).where(eq(campaigns.id, id)).limit(1);
  return rows[0];
}

export async function setCampaignStatus(db: Db, id: string, status: CampaignRowStatus): Promise<void> {
  await db.update(campaigns).set({ status, updatedAt: sql`now()` }).where(eq(campaigns.id, id));
}

export async function upsertIteration(db: Db, it: { campaignId: string; iteration: number; status: IterationRowStatus; summary?: unknown }): Promise<void> {
  const finished = it.status === "running" ? null : sql`now()`;
  await db
    .insert(iterations)
    .values({ campaignId: it.campaignId, iteration: it.iteration, status: it.status, summary: it.summary ?? null })
    .onConflictDoUpdate({
      target: [iterations.campaignId, iterations.iteration],
      set: { status: it.status, summary: it.summary ?? null, finishedAt: finished },
    });
}
