import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { campaigns, stageBatches, stageRuns, type StageRunStatus } from "../schema.js";

export interface StageKey {
  campaignId: string;
  iteration: number;
  stage: string;
}

/**
 * A stage starting or ending is a change of its campaign: `campaign list` orders and shows campaigns
 * by their last update (a stage waiting for an operator would otherwise leave it at its start time).
 */
async function touchCampaign(db: Db, campaignId: string): Promise<void> {
  await db
    .update(campaigns)
    .set({ updatedAt: sql`now()` })
    .where(eq(campaigns.id, campaignId));
}

const keyWhere = (k: StageKey) => and(eq(stageRuns.campaignId, k.campaignId), eq(stageRuns.iteration, k.iteration), eq(stageRuns.stage, k.stage));

export async function getStageRun(db: Db, k: StageKey) {
  const rows = await db.select().from(stageRuns).where(keyWhere(k)).limit(1);
  return rows[0];
}

/** Marks a stage running; a re-run of a failed stage counts another attempt. */
export async function beginStageRun(db: Db, k: StageKey, batchesTotal: number, itemsTotal: number): Promise<void> {
  await db
    .insert(stageRuns)
    .values({ ...k, status: "running", batchesTotal, itemsTotal })
    .onConflictDoUpdate({
      target: [stageRuns.campaignId, stageRuns.iteration, stageRuns.stage],
      set: {
        status: "running",
        batchesTotal,
        itemsTotal,
        error: null,
        attempts: sql`CASE WHEN ${stageRuns.status} = 'running' THEN ${stageRuns.attempts} ELSE ${stageRuns.attempts} + 1 END`,
      },
    });
  await touchCampaign(db, k.campaignId);
}

export async function finishStageRun(db: Db, k: StageKey, status: Exclude<StageRunStatus, "running">, result: unknown, error?: string): Promise<void> {
  await db
    .insert(stageRuns)
    .values({ ...k, status, result: result ?? null, error: error ?? null, finishedAt: sql`now()` })
    .onConflictDoUpdate({
      target: [stageRuns.campaignId, stageRuns.iteration, stageRuns.stage],
      set: { status, result: result ?? null, error: error ?? null, finishedAt: sql`now()` },
    });
  await touchCampaign(db, k.campaignId);
}

export async function listDoneBatches(db: Db, k: StageKey): Promise<{ batchIndex: number; result: unknown }[]> {
  return db
    .select({ batchIndex: stageBatches.batchIndex, result: stageBatches.result })
    .from(stageBatches)
    .where(and(eq(stageBatches.campaignId, k.campaignId), eq(stageBatches.iteration, k.iteration), eq(stageBatches.stage, k.stage)))
    .orderBy(stageBatches.batchIndex);
}

export async function recordBatchDone(db: Db, k: StageKey, batchIndex: number, result: unknown): Promise<void> {
  await db
    .insert(stageBatches)
    .values({ ...k, batchIndex, result })
    .onConflictDoUpdate({
      target: [stageBatches.campaignId, stageBatches.iteration, stageBatches.stage, stageBatches.batchIndex],
      set: { result, finishedAt: sql`now()` },
    });
}
