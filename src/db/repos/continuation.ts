/**
 * Campaigns that continue another: a scheduled run starts from its schedule's previous campaign
 * (recorded in campaigns.continues_from at registration). Its first iteration takes that campaign's
 * policy (model_versions) and pool (pool_members) of its latest completed iteration as "the
 * previous round".
 */
import { and, desc, eq, lt, max, ne, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { campaigns, iterations, modelVersions, poolMembers, type ModelVersionKind } from "../schema.js";
import { latestModelVersion, type ModelVersionRow } from "./modelVersions.js";
import type { PoolRounds } from "./selection.js";

/** Above every iteration (the column is a 32-bit integer). */
const ANY_ITERATION = 2_147_483_647;

/** The policy a campaign registers when it trains: train.merge's output, the model later rounds start from. */
export const REGISTERED_POLICY_KIND: ModelVersionKind = "merged";

/**
 * The schedule's latest campaign scheduled before `before` that registered a policy and no longer
 * runs (completed, failed, aborted or terminated): what a new run continues from. Campaigns that
 * trained nothing (failed early, or no training stage) are passed over, and so are those still running
 * (overlap allowAll): their pool and policy were still changing, so a
 * run continuing from one selected from its next, unscored round and trained from whichever policy
 * it had merged by then.
 */
export async function previousScheduledCampaign(db: Db, p: { scheduleId: string; before: Date; excludeId: string }): Promise<string | undefined> {
  const rows = await db
    .select({ id: campaigns.id })
    .from(campaigns)
    .where(
      and(
        eq(campaigns.scheduleId, p.scheduleId),
        lt(campaigns.scheduledAt, p.before),
        ne(campaigns.id, p.excludeId),
        ne(campaigns.status, "running"),
        sql`EXISTS (SELECT 1 FROM ${modelVersions} m WHERE m.campaign_id = ${campaigns.id} AND m.kind = ${REGISTERED_POLICY_KIND})`,
      ),
    )
    .orderBy(desc(campaigns.scheduledAt))
    .limit(1);
  return rows[0]?.id;
}

/** The campaign this one continues from (null: it starts from scratch). */
export async function predecessorOf(db: Db, campaignId: string): Promise<string | undefined> {
  const rows = await db.select({ continuesFrom: campaigns.continuesFrom }).from(campaigns).where(eq(campaigns.id, campaignId)).limit(1);
  return rows[0]?.continuesFrom ?? undefined;
}

/**
 * The iterations of a predecessor that a continuing run reads: those up to its latest completed one
 * (the bound is the one after it), else (it completed none) all of them. A predecessor that failed or
 * was aborted part-way through an iteration has merged or selected for a round that never scored:
 * continuing from it paired that round's unscored pool (no high-PPL, repaired or expanded members)
 * with whichever policy it got to.
 */
async function predecessorBound(db: Db, campaignId: string): Promise<number> {
  const rows = await db
    .select({ n: max(iterations.iteration) })
    .from(iterations)
    .where(and(eq(iterations.campaignId, campaignId), eq(iterations.status, "completed")));
  const n = rows[0]?.n;
  return n === null || n === undefined ? ANY_ITERATION : Number(n) + 1;
}

/**
 * The newest model version of `kind` made before `beforeIteration` in this campaign, else (nothing of
 * its own yet) the newest one the campaign it continues from made up to its latest completed iteration.
 */
export async function latestModelVersionOrPredecessor(
  db: Db,
  campaignId: string,
  kind: ModelVersionKind,
  beforeIteration: number,
): Promise<ModelVersionRow | undefined> {
  const own = await latestModelVersion(db, campaignId, kind, beforeIteration);
  if (own) return own;
  const previous = await predecessorOf(db, campaignId);
  if (!previous) return undefined;
  // A predecessor that completed no iteration with a version of this kind: the newest it made at all.
  return (await latestModelVersion(db, previous, kind, await predecessorBound(db, previous))) ?? latestModelVersion(db, previous, kind, ANY_ITERATION);
}

/** The policy a training stage starts from, and a predecessor's policy it passed over (trained from another base model). */
export interface StartingPolicy {
  version?: ModelVersionRow;
  passedOver?: ModelVersionRow;
}

/**
 * The merged policy training starts from before `beforeIteration`: this campaign's latest, else its
 * predecessor's (latestModelVersionOrPredecessor), but a predecessor's only when it descends from
 * `baseModel`, the training stage's configured base. A schedule whose config moved to a new base
 * model kept training every run from the old lineage's checkpoint, the new base named in the config
 * and never used; such a run starts from its base model instead (`passedOver` says which policy it
 * did not continue).
 */
export async function startingPolicy(db: Db, campaignId: string, beforeIteration: number, baseModel: string): Promise<StartingPolicy> {
  return continuedVersion(db, campaignId, REGISTERED_POLICY_KIND, beforeIteration, baseModel);
}

/**
 * The served policy the stages of `beforeIteration` call by the same rule as training (startingPolicy):
 * this campaign's latest, else its predecessor's only when it descends from `baseModel`, the base model
 * the run's training starts from (none: the config trains nothing, and nothing says another lineage).
 * Scoring, probing and repair before this run's own serve.policy called the old lineage's server after
 * a base-model change, while training had moved to the new base.
 */
export async function servedPolicyToCall(db: Db, campaignId: string, beforeIteration: number, baseModel: string | undefined): Promise<StartingPolicy> {
  return continuedVersion(db, campaignId, "served", beforeIteration, baseModel);
}

async function continuedVersion(
  db: Db,
  campaignId: string,
  kind: ModelVersionKind,
  beforeIteration: number,
  baseModel: string | undefined,
): Promise<StartingPolicy> {
  const own = await latestModelVersion(db, campaignId, kind, beforeIteration);
  if (own) return { version: own };
  const theirs = await latestModelVersionOrPredecessor(db, campaignId, kind, beforeIteration);
  if (!theirs) return {};
  return baseModel === undefined || theirs.baseModel === baseModel ? { version: theirs } : { passedOver: theirs };
}

/** The log line of a training stage that did not continue a predecessor's policy of another base model. */
export function passedOverMessage(stage: string, campaignId: string, passedOver: ModelVersionRow, baseModel: string): string {
  return `[${stage}] ${campaignId}: not continuing ${passedOver.campaignId}'s policy ${passedOver.id} (trained from base model ${passedOver.baseModel}); starting from the configured baseModel ${baseModel}`;
}

/** A round whose pool the next selection builds on. */
export interface PoolRound {
  campaignId: string;
  iteration: number;
}

/**
 * The round before `iteration`: this campaign's latest iteration below it that has a pool, else the
 * latest pool of the campaign it continues from up to its latest completed iteration (any of its pools
 * when it completed none with a pool), else none (a first round: seeds only). An iteration
 * without a pool (its select.nextRound skipped, by an operator or `onStageFailure: skip`) is passed
 * over: its pool-scoped scoring, probing, repairs and expansions had nothing to read, while the round
 * before it keyed all of those by its own iteration, so the selection reads one coherent round.
 */
export async function previousPoolRound(db: Db, campaignId: string, iteration: number): Promise<PoolRound | undefined> {
  const own = await latestPoolIteration(db, campaignId, iteration);
  if (own !== undefined) return { campaignId, iteration: own };
  const previous = await predecessorOf(db, campaignId);
  return previous === undefined ? undefined : continuedPoolRound(db, previous);
}

/** The pool round a run continuing `predecessor` builds on: its latest pool up to its latest completed iteration, else its latest pool. */
async function continuedPoolRound(db: Db, predecessor: string): Promise<PoolRound | undefined> {
  const theirs =
    (await latestPoolIteration(db, predecessor, await predecessorBound(db, predecessor))) ?? (await latestPoolIteration(db, predecessor, ANY_ITERATION));
  return theirs === undefined ? undefined : { campaignId: predecessor, iteration: theirs };
}

/** Most runs of a lineage whose pools a selection reads (a schedule running daily for years is well under it). */
export const MAX_LINEAGE_RUNS = 2000;

export interface PoolLineage {
  /** Oldest run first; the campaign itself last (its pools before `beforeIteration`). */
  pools: PoolRounds[];
  /** The run the walk stopped at: the bound was reached, or (`cycle`) a run met twice (continues_from edited by hand). */
  stoppedAt?: { campaignId: string; why: "bound" | "cycle" };
}

/**
 * Every pool a campaign's selection before `beforeIteration` comes after: its own earlier pools and,
 * for a continuing run, each predecessor's pools up to the round its successor continued from, back
 * through the whole lineage (A -> B -> C: C's selection reads A's pools as well as B's, since B
 * carried only some of A's members). A predecessor without pools is passed through to its own.
 * Bounded by `maxRuns` runs, with a guard against a cycle.
 */
export async function poolLineage(db: Db, campaignId: string, beforeIteration: number, maxRuns = MAX_LINEAGE_RUNS): Promise<PoolLineage> {
  const pools: PoolRounds[] = [{ campaignId, before: beforeIteration }];
  const seen = new Set([campaignId]);
  let stoppedAt: PoolLineage["stoppedAt"];
  for (let run = await predecessorOf(db, campaignId); run !== undefined; run = await predecessorOf(db, run)) {
    if (seen.has(run)) {
      stoppedAt = { campaignId: run, why: "cycle" };
      break;
    }
    if (seen.size >= maxRuns) {
      stoppedAt = { campaignId: run, why: "bound" };
      break;
    }
    seen.add(run);
    const round = await continuedPoolRound(db, run);
    if (round) pools.push({ campaignId: run, upTo: round.iteration });
  }
  return { pools: pools.reverse(), ...(stoppedAt ? { stoppedAt } : {}) };
}

async function latestPoolIteration(db: Db, campaignId: string, beforeIteration: number): Promise<number | undefined> {
  const rows = await db
    .select({ n: max(poolMembers.iteration) })
    .from(poolMembers)
    .where(and(eq(poolMembers.campaignId, campaignId), lt(poolMembers.iteration, beforeIteration)));
  const n = rows[0]?.n;
  return n === null || n === undefined ? undefined : Number(n);
}
