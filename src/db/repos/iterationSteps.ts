/**
 * The automatic retries of an iteration's own steps (schema.iterationSteps): the activities its
 * workflow and its campaign's workflow run outside stage steps (registration, loading the plan,
 * starting and finishing the iteration with its reports, recording a stage's outcome, the campaign's
 * end). Stage steps keep theirs on their stage run (stages.ts STEP_RETRIES_KEY).
 */
import { and, asc, eq, lte, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { campaigns, iterations, iterationSteps } from "../schema.js";

export interface IterationStepKey {
  campaignId: string;
  iteration: number;
  /** The activity type (registerCampaign, finishIteration, ...). */
  step: string;
  /** Its workflow run and activity id: one call, whatever its attempts. */
  execution: string;
}

/**
 * Records a call of an iteration step at one of its attempts: `retries` is Temporal's attempt number
 * less one. Idempotent: the highest count of a call stands, so an attempt handed over again, or
 * recorded twice, counts once.
 */
export async function recordIterationStep(db: Db, k: IterationStepKey, retries: number): Promise<void> {
  if (!Number.isInteger(retries) || retries < 0) throw new Error(`recordIterationStep: retries must be a non-negative integer (got ${String(retries)})`);
  await db
    .insert(iterationSteps)
    .values({ ...k, retries })
    .onConflictDoUpdate({
      target: [iterationSteps.campaignId, iterationSteps.iteration, iterationSteps.step, iterationSteps.execution],
      set: { retries: sql`greatest(${iterationSteps.retries}, excluded.retries)`, lastSeenAt: sql`now()` },
    });
}

/** A campaign's latest iteration (the one a step without its own iteration, such as the campaign's end, belongs to); 1 before any has started. */
export async function latestIteration(db: Db, campaignId: string): Promise<number> {
  const rows = await db
    .select({ n: sql<number | null>`max(${iterations.iteration})` })
    .from(iterations)
    .where(eq(iterations.campaignId, campaignId));
  const n = rows[0]?.n;
  return n === null || n === undefined ? 1 : Number(n);
}

/**
 * The campaign and iteration a workflow's step belongs to, from the workflow's id: an iteration's
 * (`<W>-iter-<n>`: iteration n of the campaign whose workflow is W) or a campaign's own (its latest
 * iteration); undefined for a workflow no registered campaign recorded.
 */
export async function iterationOfWorkflow(db: Db, workflowId: string): Promise<{ campaignId: string; iteration: number } | undefined> {
  const m = /^(.+)-iter-(\d+)$/.exec(workflowId);
  const owner = m ? m[1]! : workflowId;
  const rows = await db.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.workflowId, owner)).limit(1);
  const campaignId = rows[0]?.id;
  if (campaignId === undefined) return undefined;
  return { campaignId, iteration: m ? Number(m[2]) : await latestIteration(db, campaignId) };
}

/**
 * Per iteration (up to `upTo` when given) and step: its calls and the automatic retries over them,
 * steps in the order they were first called. An iteration without rows ran before they were recorded.
 */
export async function iterationStepRows(db: Db, scope: { campaignId: string; upTo?: number }) {
  return db
    .select({
      iteration: iterationSteps.iteration,
      step: iterationSteps.step,
      calls: sql<number>`count(*)::int`.mapWith(Number),
      automaticRetries: sql<number>`coalesce(sum(${iterationSteps.retries}), 0)::int`.mapWith(Number),
    })
    .from(iterationSteps)
    .where(
      scope.upTo === undefined
        ? eq(iterationSteps.campaignId, scope.campaignId)
        : and(eq(iterationSteps.campaignId, scope.campaignId), lte(iterationSteps.iteration, scope.upTo)),
    )
    .groupBy(iterationSteps.iteration, iterationSteps.step)
    .orderBy(asc(iterationSteps.iteration), sql`min(${iterationSteps.firstSeenAt})`, asc(iterationSteps.step));
}
