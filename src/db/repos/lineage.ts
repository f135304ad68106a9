/**
 * A sample's lineage: the chain from it back to the seed it came from (parent_id links), and for
 * every sample on the way what happened to it: its rule verdicts, the pools it was in and why, its
 * scores, the probe's answer, every judge's vote, the committee's decision and what that made.
 */
import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../client.js";
import { judgeVotes, labelJudgements, poolMembers, probeResults, sampleScores, samples, selectionExclusions } from "../schema.js";

export interface LineageStep {
  sample: typeof samples.$inferSelect;
  pools: (typeof poolMembers.$inferSelect)[];
  exclusions: (typeof selectionExclusions.$inferSelect)[];
  scores: (typeof sampleScores.$inferSelect)[];
  probes: (typeof probeResults.$inferSelect)[];
  votes: (typeof judgeVotes.$inferSelect)[];
  judgements: (typeof labelJudgements.$inferSelect)[];
}

/** Longest chain followed: lineages are a few steps; a cycle (which no stage writes) stops here. */
const MAX_DEPTH = 64;

/** The chain from `sampleId` (first) back to its seed (last); empty when the sample does not exist. */
export async function sampleLineage(db: Db, sampleId: string): Promise<LineageStep[]> {
  const chain: (typeof samples.$inferSelect)[] = [];
  const seen = new Set<string>();
  for (let id: string | null = sampleId; id !== null && !seen.has(id) && chain.length < MAX_DEPTH;) {
    seen.add(id);
    const rows: (typeof samples.$inferSelect)[] = await db.select().from(samples).where(eq(samples.id, id)).limit(1);
    const row = rows[0];
    if (!row) break;
    chain.push(row);
    id = row.parentId;
  }
  if (chain.length === 0) return [];
  const ids = chain.map((s) => s.id);
  const [pools, exclusions, scores, probes, votes, judgements] = await Promise.all([
    db.select().from(poolMembers).where(inArray(poolMembers.sampleId, ids)).orderBy(asc(poolMembers.iteration)),
    db.select().from(selectionExclusions).where(inArray(selectionExclusions.sampleId, ids)).orderBy(asc(selectionExclusions.iteration)),
    db.select().from(sampleScores).where(inArray(sampleScores.sampleId, ids)).orderBy(asc(sampleScores.iteration), asc(sampleScores.metric)),
    db.select().from(probeResults).where(inArray(probeResults.sampleId, ids)).orderBy(asc(probeResults.iteration)),
    db.select().from(judgeVotes).where(inArray(judgeVotes.sampleId, ids)).orderBy(asc(judgeVotes.iteration), asc(judgeVotes.judge)),
    db.select().from(labelJudgements).where(inArray(labelJudgements.sampleId, ids)).orderBy(asc(labelJudgements.iteration)),
  ]);
  const of = <T extends { sampleId: string }>(rows: T[], id: string) => rows.filter((r) => r.sampleId === id);
  return chain.map((sample) => ({
    sample,
    pools: of(pools, sample.id),
    exclusions: of(exclusions, sample.id),
    scores: of(scores, sample.id),
    probes: of(probes, sample.id),
    votes: of(votes, sample.id),
    judgements: of(judgements, sample.id),
  }));
}

/** Samples made from this one (repairs, kept predictions, expansions). */
export async function childrenOf(
  db: Db,
  sampleId: string,
): Promise<{ id: string; campaignId: string; origin: string; stage: string | null; iteration: number; status: string }[]> {
  return db
    .select({
      id: samples.id,
      campaignId: samples.campaignId,
      origin: samples.origin,
      stage: samples.stage,
      iteration: samples.iteration,
      status: samples.status,
    })
    .from(samples)
    .where(and(eq(samples.parentId, sampleId)))
    .orderBy(asc(samples.iteration), asc(samples.id));
}
