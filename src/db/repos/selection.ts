/**
 * What select.nextRound reads (the previous round's pool, scores, judgements and expansions, the
 * seed samples no pool has used) and what it writes (an iteration's pool and its exclusions,
 * replaced together in one transaction).
 */
import { and, eq, gt, inArray, lt, lte, notExists, sql } from "drizzle-orm";
import type { ChatMessage, McpTool } from "../../domain/types.js";
import type { Db } from "../client.js";
import { labelJudgements, poolMembers, sampleScores, samples, selectionExclusions, type LabelAction, type PoolReason } from "../schema.js";

const CHUNK = 1000;

/** Judgement actions after which a sample's label never trains again: dropped, replaced, or found wrong. */
export const RETIRING_ACTIONS = ["dropped", "kept_prediction", "repaired", "repair_rejected"] as const satisfies readonly LabelAction[];

/** Whether any pool of an iteration before `iteration` exists (no: this is the seed round). */
export async function hasEarlierPool(db: Db, campaignId: string, iteration: number): Promise<boolean> {
  const rows = await db
    .select({ one: sql<number>`1` })
    .from(poolMembers)
    .where(and(eq(poolMembers.campaignId, campaignId), lt(poolMembers.iteration, iteration)))
    .limit(1);
  return rows.length > 0;
}

/** Verified synthesized samples of iterations up to `iteration` that no pool before `iteration` holds. */
export async function unusedSeedIds(db: Db, campaignId: string, iteration: number): Promise<string[]> {
  const rows = await db
    .select({ id: samples.id })
    .from(samples)
    .where(
      and(
        eq(samples.campaignId, campaignId),
        lte(samples.iteration, iteration),
        eq(samples.origin, "synthesized"),
        eq(samples.status, "verified"),
        notExists(
          db
            .select({ one: sql`1` })
            .from(poolMembers)
            .where(and(eq(poolMembers.campaignId, campaignId), lt(poolMembers.iteration, iteration), eq(poolMembers.sampleId, samples.id))),
        ),
      ),
    );
  return rows.map((r) => r.id);
}

export interface ContentRow {
  id: string;
  /** The sample kind: a multi_turn sample's exact key has its own form (src/dedupe/exactKey.ts). */
  kind: string;
  messages: ChatMessage[];
  tools: McpTool[];
  parentId: string | null;
  /** The dialogue a multi_turn sample was cut from (metadata.dialogue.id); null for single-turn samples. */
  dialogueId: string | null;
}

/** The columns a ContentRow reads. */
const contentColumns = {
  id: samples.id,
  kind: samples.kind,
  messages: samples.messages,
  tools: samples.tools,
  parentId: samples.parentId,
  dialogueId: sql<string | null>`${samples.metadata}->'dialogue'->>'id'`,
};

/** The content of these samples, those in status verified only. */
export async function verifiedContent(db: Db, ids: readonly string[]): Promise<ContentRow[]> {
  const out: ContentRow[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    if (chunk.length === 0) continue;
    out.push(
      ...(await db
        .select(contentColumns)
        .from(samples)
        .where(and(inArray(samples.id, chunk), eq(samples.status, "verified")))),
    );
  }
  return out;
}

export interface PreviousPoolMember {
  sampleId: string;
  reason: PoolReason;
  labelPpl: number | null;
  consistencyClass: string | null;
}

/** An iteration's pool with the label PPL and consistency class that iteration scored for each member. */
export async function scoredPool(db: Db, campaignId: string, iteration: number): Promise<PreviousPoolMember[]> {
  const rows = await db.execute(sql`
    SELECT p.sample_id, p.reason, ppl.value AS label_ppl, cons.details->>'class' AS consistency_class
    FROM ${poolMembers} p
    LEFT JOIN ${sampleScores} ppl ON ppl.campaign_id = p.campaign_id AND ppl.iteration = p.iteration AND ppl.sample_id = p.sample_id AND ppl.metric = 'label_ppl'
    LEFT JOIN ${sampleScores} cons ON cons.campaign_id = p.campaign_id AND cons.iteration = p.iteration AND cons.sample_id = p.sample_id AND cons.metric = 'consistency'
    WHERE p.campaign_id = ${campaignId} AND p.iteration = ${iteration}
    ORDER BY p.sample_id`);
  // node-postgres returns {rows}, PGlite's drizzle the rows themselves.
  const list = ((rows as { rows?: unknown[] }).rows ?? (rows as unknown as unknown[])) as {
    sample_id: string;
    reason: PoolReason;
    label_ppl: number | string | null;
    consistency_class: string | null;
  }[];
  return list.map((r) => ({
    sampleId: r.sample_id,
    reason: r.reason,
    labelPpl: r.label_ppl === null ? null : Number(r.label_ppl),
    consistencyClass: r.consistency_class,
  }));
}

export type JudgementRow = typeof labelJudgements.$inferSelect;

/** An iteration's judgements with these actions. */
export async function judgementsWith(db: Db, campaignId: string, iteration: number, actions: readonly LabelAction[]): Promise<JudgementRow[]> {
  return db
    .select()
    .from(labelJudgements)
    .where(and(eq(labelJudgements.campaignId, campaignId), eq(labelJudgements.iteration, iteration), inArray(labelJudgements.action, [...actions])))
    .orderBy(labelJudgements.sampleId);
}

/** Samples whose labels judgements before `iteration` retired (RETIRING_ACTIONS), with the first such judgement. */
export async function retiredLabels(db: Db, campaignId: string, iteration: number): Promise<JudgementRow[]> {
  return db
    .select()
    .from(labelJudgements)
    .where(and(eq(labelJudgements.campaignId, campaignId), lt(labelJudgements.iteration, iteration), inArray(labelJudgements.action, [...RETIRING_ACTIONS])))
    .orderBy(labelJudgements.iteration, labelJudgements.sampleId);
}

/** Verified expansions (origin expanded) an iteration made of these seeds. */
export async function expansionsOf(db: Db, campaignId: string, iteration: number, seedIds: readonly string[]): Promise<ContentRow[]> {
  const out: ContentRow[] = [];
  for (let i = 0; i < seedIds.length; i += CHUNK) {
    const chunk = seedIds.slice(i, i + CHUNK);
    if (chunk.length === 0) continue;
    out.push(
      ...(await db
        .select(contentColumns)
        .from(samples)
        .where(
          and(
            eq(samples.campaignId, campaignId),
            eq(samples.iteration, iteration),
            eq(samples.origin, "expanded"),
            eq(samples.status, "verified"),
            inArray(samples.parentId, chunk),
          ),
        )),
    );
  }
  return out;
}

/** Pools of one campaign before (`before`) or up to (`upTo`) an iteration. */
export type PoolRounds = { campaignId: string; before: number } | { campaignId: string; upTo: number };

/** A sample some earlier pool held: its content and the first of those pools (by iteration). */
export interface EarlierPoolRow {
  id: string;
  kind: string;
  messages: ChatMessage[];
  tools: McpTool[];
  /** The dialogue a multi_turn sample was cut from; null for single-turn samples. */
  dialogueId: string | null;
  poolCampaignId: string;
  poolIteration: number;
}

/**
 * One page (by sample id, after `afterId`) of the distinct samples the pools of `rounds` held, each
 * with the earliest of those pools. The samples' content is read whatever their status now.
 */
export async function earlierPoolPage(db: Db, rounds: PoolRounds, page: { afterId?: string; limit: number }): Promise<EarlierPoolRow[]> {
  const conds = [
    eq(poolMembers.campaignId, rounds.campaignId),
    "before" in rounds ? lt(poolMembers.iteration, rounds.before) : lte(poolMembers.iteration, rounds.upTo),
  ];
  if (page.afterId !== undefined) conds.push(gt(poolMembers.sampleId, page.afterId));
  const rows = await db
    .select({
      id: samples.id,
      kind: samples.kind,
      messages: samples.messages,
      tools: samples.tools,
      dialogueId: contentColumns.dialogueId,
      poolIteration: sql<number>`min(${poolMembers.iteration})::int`,
    })
    .from(poolMembers)
    .innerJoin(samples, eq(samples.id, poolMembers.sampleId))
    .where(and(...conds))
    .groupBy(samples.id)
    .orderBy(samples.id)
    .limit(page.limit);
  return rows.map((r) => ({ ...r, poolCampaignId: rounds.campaignId, poolIteration: Number(r.poolIteration) }));
}

export interface NewExclusion {
  sampleId: string;
  reason: string;
  details: Record<string, unknown>;
}

/** Replaces an iteration's pool and exclusions in one transaction (a re-run writes exactly what it computed). */
export async function replaceSelection(
  db: Db,
  campaignId: string,
  iteration: number,
  members: { sampleId: string; reason: PoolReason; weight: number; details: Record<string, unknown> }[],
  exclusions: NewExclusion[],
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(poolMembers).where(and(eq(poolMembers.campaignId, campaignId), eq(poolMembers.iteration, iteration)));
    await tx.delete(selectionExclusions).where(and(eq(selectionExclusions.campaignId, campaignId), eq(selectionExclusions.iteration, iteration)));
    for (let i = 0; i < members.length; i += CHUNK)
      await tx.insert(poolMembers).values(members.slice(i, i + CHUNK).map((m) => ({ campaignId, iteration, ...m })));
    for (let i = 0; i < exclusions.length; i += CHUNK)
      await tx.insert(selectionExclusions).values(exclusions.slice(i, i + CHUNK).map((e) => ({ campaignId, iteration, ...e })));
  });
}

/** Exclusions of an iteration per reason. */
export async function exclusionCounts(db: Db, campaignId: string, iteration: number): Promise<Record<string, number>> {
  const rows = await db
    .select({ reason: selectionExclusions.reason, n: sql<number>`count(*)::int` })
    .from(selectionExclusions)
    .where(and(eq(selectionExclusions.campaignId, campaignId), eq(selectionExclusions.iteration, iteration)))
    .groupBy(selectionExclusions.reason);
  return Object.fromEntries(rows.map((r) => [r.reason, Number(r.n)]));
}

export type SelectionExclusionRow = typeof selectionExclusions.$inferSelect;

export async function listExclusions(db: Db, campaignId: string, iteration: number): Promise<SelectionExclusionRow[]> {
  return db
    .select()
    .from(selectionExclusions)
    .where(and(eq(selectionExclusions.campaignId, campaignId), eq(selectionExclusions.iteration, iteration)))
    .orderBy(selectionExclusions.sampleId);
}
