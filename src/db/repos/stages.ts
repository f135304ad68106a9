import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { campaigns, clusterJobs, stageBatches, stageRuns, type StageRunStatus } from "../schema.js";

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

/**
 * The attempt a cluster-job stage runs its job as now (after beginStageRun): the stage run's own
 * count, or, when the job of that attempt or a later one is `spent` (ended in a state this run cannot
 * use: failed, cancelled by an abort, lost), the attempt after it, recorded as the stage run's count.
 * A job still queued or running is this run's (a campaign resumed after its workflow was terminated
 * watches the job it left).
 */
export async function stageJobAttempt(db: Db, k: StageKey, spent: (state: string) => boolean): Promise<number> {
  const run = await getStageRun(db, k);
  const counted = run?.attempts ?? 1;
  const jobs = await db
    .select({ attempt: clusterJobs.attempt, state: clusterJobs.state })
    .from(clusterJobs)
    .where(and(eq(clusterJobs.campaignId, k.campaignId), eq(clusterJobs.iteration, k.iteration), eq(clusterJobs.stage, k.stage)))
    .orderBy(clusterJobs.attempt);
  let attempt = counted;
  for (const j of jobs) if (j.attempt >= attempt && spent(j.state)) attempt = j.attempt + 1;
  if (attempt !== counted) await db.update(stageRuns).set({ attempts: attempt }).where(keyWhere(k));
  return attempt;
}

/**
 * Adds `note` to a failed stage run's error once (what the iteration does about the failure, for
 * `campaign status`); the stage's next run clears the error.
 */
export async function noteFailedStageRun(db: Db, k: StageKey, note: string): Promise<void> {
  await db
    .update(stageRuns)
    .set({
      error: sql`CASE WHEN strpos(coalesce(${stageRuns.error}, ''), ${note}) > 0 THEN ${stageRuns.error} ELSE concat_ws('; ', ${stageRuns.error}, ${note}::text) END`,
    })
    .where(and(keyWhere(k), eq(stageRuns.status, "failed")));
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

/** Forgets a stage's done batches, so that its next run runs every batch again (each skips the work already stored). */
export async function forgetDoneBatches(db: Db, k: StageKey): Promise<void> {
  await db.delete(stageBatches).where(and(eq(stageBatches.campaignId, k.campaignId), eq(stageBatches.iteration, k.iteration), eq(stageBatches.stage, k.stage)));
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
