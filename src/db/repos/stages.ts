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

/**
 * Where a stage run's row (`result`, beside its summary) keeps the automatic retries Temporal made of
 * its steps: execution (activity type, workflow run and activity id) -> retries before its latest
 * attempt. `attempts` counts operator runs only (retry-stage); these are the attempts the operator never
 * saw (a transient failure, a killed worker, a step left for another worker). A row without the key
 * was begun before they were recorded.
 */
export const STEP_RETRIES_KEY = "stepRetries";

/** A stage run's summary as its stage made it: its `result` without the recorded automatic retries. */
export function stageSummaryOf(result: unknown): Record<string, unknown> | null {
  if (result === null || typeof result !== "object" || Array.isArray(result)) return null;
  const { [STEP_RETRIES_KEY]: _retries, ...summary } = result as Record<string, unknown>;
  return summary;
}

/** Marks a stage running; a re-run of a failed stage counts another attempt. */
export async function beginStageRun(db: Db, k: StageKey, batchesTotal: number, itemsTotal: number): Promise<void> {
  await db
    .insert(stageRuns)
    .values({ ...k, status: "running", batchesTotal, itemsTotal, result: { [STEP_RETRIES_KEY]: {} } })
    .onConflictDoUpdate({
      target: [stageRuns.campaignId, stageRuns.iteration, stageRuns.stage],
      set: {
        status: "running",
        batchesTotal,
        itemsTotal,
        // From now on its automatic retries are recorded (a row begun before kept no count).
        result: sql`CASE WHEN ${stageRuns.result} ? ${STEP_RETRIES_KEY} THEN ${stageRuns.result} ELSE coalesce(${stageRuns.result}, '{}'::jsonb) || jsonb_build_object(${STEP_RETRIES_KEY}::text, '{}'::jsonb) END`,
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

/** The stage run's outcome; `result` (its summary, null for a failed or skipped run) replaces the row's, whose recorded automatic retries stay. */
export async function finishStageRun(db: Db, k: StageKey, status: Exclude<StageRunStatus, "running">, result: unknown, error?: string): Promise<void> {
  const summary = result === undefined || result === null ? sql`NULL::jsonb` : sql`${JSON.stringify(result)}::jsonb`;
  await db
    .insert(stageRuns)
    .values({ ...k, status, result: result ?? null, error: error ?? null, finishedAt: sql`now()` })
    .onConflictDoUpdate({
      target: [stageRuns.campaignId, stageRuns.iteration, stageRuns.stage],
      set: {
        status,
        result: sql`CASE WHEN ${stageRuns.result} ? ${STEP_RETRIES_KEY}
          THEN coalesce(${summary}, '{}'::jsonb) || jsonb_build_object(${STEP_RETRIES_KEY}::text, ${stageRuns.result}->${STEP_RETRIES_KEY})
          ELSE ${summary} END`,
        error: error ?? null,
        finishedAt: sql`now()`,
      },
    });
  await touchCampaign(db, k.campaignId);
}

/**
 * Records that Temporal retried one execution of a stage's step `retries` times before its current
 * attempt (its attempt number less one), on the stage run's row; the highest count of an execution
 * stands, so an attempt handed over again is not counted twice. False when the stage run has no row
 * yet (a first run's plan: recorded once the plan has begun it) or none that records retries.
 */
export async function recordStepRetries(db: Db, k: StageKey, execution: string, retries: number): Promise<boolean> {
  const updated = await db
    .update(stageRuns)
    .set({
      result: sql`jsonb_set(${stageRuns.result}, ${`{${STEP_RETRIES_KEY}}`}::text[], (${stageRuns.result}->${STEP_RETRIES_KEY}) || jsonb_build_object(${execution}::text,
        greatest(coalesce((${stageRuns.result}->${STEP_RETRIES_KEY}->>${execution}::text)::int, 0), ${retries}::int)))`,
    })
    .where(and(keyWhere(k), sql`${stageRuns.result} ? ${STEP_RETRIES_KEY}`))
    .returning({ stage: stageRuns.stage });
  return updated.length > 0;
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
