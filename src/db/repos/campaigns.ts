import { and, desc, eq, isNotNull, isNull, ne, or, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { campaignDirOfIterationReport } from "../../output/layout.js";
import { configForIteration } from "./campaignConfigs.js";
import { campaigns, iterations, type CampaignRowStatus, type IterationRowStatus } from "../schema.js";

/**
 * Records a campaign once; `config` is the config as first submitted (the frozen versions live in
 * campaign_configs). A second registration never overwrites it.
 */
export async function insertCampaign(
  db: Db,
  c: {
    id: string;
    name: string;
    config: unknown;
    workflowId?: string;
    workflowRunId?: string;
    scheduleId?: string;
    scheduledAt?: Date;
    continuesFrom?: string;
  },
): Promise<void> {
  await db
    .insert(campaigns)
    .values({
      id: c.id,
      name: c.name,
      config: c.config,
      workflowId: c.workflowId ?? null,
      workflowRunId: c.workflowRunId ?? null,
      scheduleId: c.scheduleId ?? null,
      scheduledAt: c.scheduledAt ?? null,
      continuesFrom: c.continuesFrom ?? null,
    })
    .onConflictDoNothing();
}

/** The highest iteration that completed (0 when none did). */
export async function lastCompletedIteration(db: Db, campaignId: string): Promise<number> {
  const rows = await db
    .select({ n: sql<number>`coalesce(max(${iterations.iteration}), 0)::int` })
    .from(iterations)
    .where(and(eq(iterations.campaignId, campaignId), eq(iterations.status, "completed")));
  return Number(rows[0]?.n ?? 0);
}

/** The campaign's workflow id as registered (scheduled runs' ids are not `campaign-<id>`). */
export async function campaignWorkflowIdOf(db: Db, campaignId: string): Promise<string | undefined> {
  const rows = await db.select({ workflowId: campaigns.workflowId }).from(campaigns).where(eq(campaigns.id, campaignId)).limit(1);
  return rows[0]?.workflowId ?? undefined;
}

export async function getCampaign(db: Db, id: string) {
  const rows = await db.select().from(campaigns).where(eq(campaigns.id, id)).limit(1);
  return rows[0];
}

/**
 * A registered campaign started again (`campaign start --id` after it failed, was aborted or
 * completed) is running again: its row said how the earlier run ended until this run ended too, so
 * the reports written meanwhile said "failed" and `model stop` took its policy server for unused.
 *
 * Only if no status was written since the registration read the row (`seen`): on a run started
 * before patch abort-waits-for-registration-v1 an abort cancels the registration without waiting for
 * it (TRY_CANCEL), and the workflow's setCampaignStatus("aborted") may land while the registration
 * still loads tools; "running" written after it would leave an aborted campaign running in
 * PostgreSQL for good. Every status write sets updated_at, so an unchanged status and updated_at
 * mean none came between. Returns whether the row was marked.
 */
/**
 * The row's updated_at is the one read (`seen`), compared within a millisecond: `seen` went through a
 * JS Date (milliseconds), PostgreSQL keeps microseconds. Every status write sets updated_at.
 */
function unchangedSince(seen: Date) {
  const at = seen.toISOString();
  return sql`${campaigns.updatedAt} > ${at}::timestamptz - interval '1 millisecond' and ${campaigns.updatedAt} < ${at}::timestamptz + interval '1 millisecond'`;
}

export async function markCampaignRunningAgain(db: Db, id: string, seen: { status: CampaignRowStatus; updatedAt: Date }): Promise<boolean> {
  const marked = await db
    .update(campaigns)
    .set({ status: "running", updatedAt: sql`now()` })
    .where(and(eq(campaigns.id, id), ne(campaigns.status, "running"), eq(campaigns.status, seen.status), unchangedSince(seen.updatedAt)))
    .returning({ id: campaigns.id });
  return marked.length > 0;
}

/** A schedule's campaigns whose row says running (but `excludeId`): the ones its overlap policy may have ended without their cleanup. */
export async function runningScheduledCampaigns(
  db: Db,
  scheduleId: string,
  excludeId?: string,
): Promise<{ id: string; workflowId: string | null; updatedAt: Date }[]> {
  return db
    .select({ id: campaigns.id, workflowId: campaigns.workflowId, updatedAt: campaigns.updatedAt })
    .from(campaigns)
    .where(and(eq(campaigns.scheduleId, scheduleId), eq(campaigns.status, "running"), excludeId !== undefined ? ne(campaigns.id, excludeId) : undefined))
    .orderBy(campaigns.scheduledAt);
}

/**
 * Records the workflow run a registration belongs to (`campaign start --id` again, or a start from
 * the Temporal UI under the same workflow id, is a new run of it). A `terminated` the row holds for
 * another run (the run before, marked while this one started) is this run's no more: it runs, so the
 * row says running again; any other status written since (an abort of this run) stays. Once per run:
 * a retried registration changes nothing. Returns whether the row was changed.
 */
export async function recordCampaignRun(db: Db, id: string, workflowRunId: string): Promise<boolean> {
  const otherRun = sql`${campaigns.workflowRunId} is distinct from ${workflowRunId}`;
  const changed = await db
    .update(campaigns)
    .set({
      workflowRunId,
      status: sql`case when ${campaigns.status} = 'terminated' and ${otherRun} then 'running' else ${campaigns.status} end`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(campaigns.id, id), otherRun))
    .returning({ id: campaigns.id });
  return changed.length > 0;
}

/**
 * Records the end of a campaign whose workflow run `endedRunId` ended without writing it (terminated
 * or timed out: `terminated`; cancelled: `aborted`; failed: `failed`), only while its row still says
 * running and belongs to that run: a campaign started again under the same workflow id between
 * Temporal's answer and this write is another run, which its registration records
 * (recordCampaignRun), so it is never marked. A row registered by a build before the run id was
 * recorded (workflow_run_id null) is marked only while it is unchanged since read (`seen.updatedAt`,
 * compared within a millisecond as in markCampaignRunningAgain). A second call changes nothing.
 * Returns whether the row was marked.
 */
export async function markCampaignEnded(
  db: Db,
  id: string,
  seen: { updatedAt: Date },
  status: Exclude<CampaignRowStatus, "running" | "completed">,
  endedRunId: string,
): Promise<boolean> {
  const sameRun = or(eq(campaigns.workflowRunId, endedRunId), and(isNull(campaigns.workflowRunId), unchangedSince(seen.updatedAt)));
  const marked = await db
    .update(campaigns)
    .set({ status, updatedAt: sql`now()` })
    .where(and(eq(campaigns.id, id), eq(campaigns.status, "running"), sameRun))
    .returning({ id: campaigns.id });
  return marked.length > 0;
}

export async function setCampaignStatus(db: Db, id: string, status: CampaignRowStatus): Promise<void> {
  await db
    .update(campaigns)
    .set({ status, updatedAt: sql`now()` })
    .where(eq(campaigns.id, id));
}

/**
 * Closes the campaign's iterations still recorded as running with the campaign's own end (failed or aborted):
 * a campaign that failed in a stage ends its workflow without finishing the iteration it was in. Returns the
 * iterations it closed; a resumed campaign's startIteration opens its iteration again.
 */
export async function closeRunningIterations(db: Db, campaignId: string, status: "failed" | "aborted"): Promise<number[]> {
  const rows = await db
    .update(iterations)
    .set({ status, finishedAt: sql`now()` })
    .where(and(eq(iterations.campaignId, campaignId), eq(iterations.status, "running")))
    .returning({ iteration: iterations.iteration });
  return rows.map((r) => r.iteration).sort((a, b) => a - b);
}

/**
 * Records an iteration's state. A completed iteration keeps its end time: a campaign started again
 * (`campaign start --id` after a later iteration failed, or of a completed campaign) runs its done
 * iterations again as no-ops, which marked them running and then finished "now", so the stored
 * history and the reports had iteration 1 ending after iteration 2 started.
 */
export async function upsertIteration(db: Db, it: { campaignId: string; iteration: number; status: IterationRowStatus; summary?: unknown }): Promise<void> {
  const wasCompleted = sql`${iterations.status} = 'completed'`;
  const finished =
    it.status === "running"
      ? sql`CASE WHEN ${wasCompleted} THEN ${iterations.finishedAt} ELSE NULL END`
      : sql`CASE WHEN ${wasCompleted} AND ${it.status} = 'completed' THEN coalesce(${iterations.finishedAt}, now()) ELSE now() END`;
  await db
    .insert(iterations)
    .values({
      campaignId: it.campaignId,
      iteration: it.iteration,
      status: it.status,
      summary: it.summary ?? null,
      ...(it.status === "running" ? {} : { finishedAt: sql`now()` }),
    })
    .onConflictDoUpdate({
      target: [iterations.campaignId, iterations.iteration],
      // A done iteration run again stays completed while it replays (it does no work).
      set: {
        status: it.status === "running" ? sql`CASE WHEN ${wasCompleted} THEN 'completed' ELSE 'running' END` : it.status,
        summary: it.summary ?? null,
        finishedAt: finished,
      },
    });
}

/**
 * The campaign's output folder as the worker resolved it, from the iteration reports it recorded
 * writing (`summary.report.path`, set by finishIteration): a relative `output.dir` alone cannot say
 * where that is, since it resolves against the worker's --base-dir, which PostgreSQL does not hold.
 * With `iteration`, that iteration's record, else another iteration's whose config has the same
 * output.dir; without, the newest record. Undefined when no iteration recorded its report.
 */
export async function recordedCampaignOutputDir(db: Db, campaignId: string, iteration?: number): Promise<{ dir: string; iteration: number } | undefined> {
  const rows = await db
    .select({ iteration: iterations.iteration, path: sql<string | null>`${iterations.summary}->'report'->>'path'` })
    .from(iterations)
    .where(and(eq(iterations.campaignId, campaignId), isNotNull(sql`${iterations.summary}->'report'->>'path'`)))
    .orderBy(desc(iterations.iteration));
  const recorded = rows.flatMap((r) => {
    const dir = r.path ? campaignDirOfIterationReport(r.path, r.iteration) : undefined;
    return dir ? [{ dir, iteration: r.iteration }] : [];
  });
  if (iteration === undefined) return recorded[0];
  const own = recorded.find((r) => r.iteration === iteration);
  if (own || recorded[0] === undefined) return own;
  const setting = async (n: number) => (await configForIteration(db, campaignId, n))?.frozen.config.output.dir;
  const wanted = await setting(iteration);
  for (const r of recorded) if (wanted !== undefined && (await setting(r.iteration)) === wanted) return r;
  return undefined;
}
