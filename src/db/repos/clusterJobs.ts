/** Cluster jobs of stages (training, merge, serving): recorded before submit, updated as they are watched. */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { clusterJobs, type ClusterJobState } from "../schema.js";
import type { StageKey } from "./stages.js";

export type ClusterJobRow = typeof clusterJobs.$inferSelect;

export async function getClusterJob(db: Db, name: string): Promise<ClusterJobRow | undefined> {
  const rows = await db.select().from(clusterJobs).where(eq(clusterJobs.name, name)).limit(1);
  return rows[0];
}

/** The stage's jobs, newest attempt first. */
export async function listStageJobs(db: Db, k: StageKey): Promise<ClusterJobRow[]> {
  return db
    .select()
    .from(clusterJobs)
    .where(and(eq(clusterJobs.campaignId, k.campaignId), eq(clusterJobs.iteration, k.iteration), eq(clusterJobs.stage, k.stage)))
    .orderBy(desc(clusterJobs.attempt));
}

/** Records the intent to submit (idempotent: a second call keeps the first row). */
export async function recordJobIntent(
  db: Db,
  row: { name: string; campaignId: string; iteration: number; stage: string; attempt: number; launcher: string; request: unknown },
): Promise<void> {
  await db
    .insert(clusterJobs)
    .values({ ...row, state: "submitting" })
    .onConflictDoNothing({ target: clusterJobs.name });
}

export async function recordJobSubmitted(db: Db, name: string, externalId: string): Promise<void> {
  await db
    .update(clusterJobs)
    .set({
      externalId,
      state: sql`CASE WHEN ${clusterJobs.state} = 'submitting' THEN 'pending' ELSE ${clusterJobs.state} END`,
      submittedAt: sql`coalesce(${clusterJobs.submittedAt}, now())`,
      updatedAt: sql`now()`,
    })
    .where(eq(clusterJobs.name, name));
}

export async function recordJobStatus(
  db: Db,
  name: string,
  s: { state: ClusterJobState; exitCode?: number; message?: string; progress?: unknown; finished?: boolean },
  /** Only while the row is in one of these states (a concurrent writer that recorded the end first wins). */
  onlyIfStates?: ClusterJobState[],
): Promise<boolean> {
  const updated = await db
    .update(clusterJobs)
    .set({
      state: s.state,
      exitCode: s.exitCode ?? null,
      message: s.message ?? null,
      ...(s.progress !== undefined ? { progress: s.progress } : {}),
      updatedAt: sql`now()`,
      ...(s.finished ? { finishedAt: sql`coalesce(${clusterJobs.finishedAt}, now())` } : {}),
    })
    .where(and(eq(clusterJobs.name, name), onlyIfStates ? inArray(clusterJobs.state, onlyIfStates) : undefined))
    .returning({ name: clusterJobs.name });
  return updated.length > 0;
}

/** A campaign's jobs of one stage (every iteration and attempt), optionally in some states only. */
export async function listCampaignStageJobs(db: Db, campaignId: string, stage: string, states?: ClusterJobState[]): Promise<ClusterJobRow[]> {
  return db
    .select()
    .from(clusterJobs)
    .where(and(eq(clusterJobs.campaignId, campaignId), eq(clusterJobs.stage, stage), states ? inArray(clusterJobs.state, states) : undefined))
    .orderBy(clusterJobs.iteration, clusterJobs.attempt);
}
