/** Per-iteration figures of the self-evolving loop, for the demo, `campaign status` and reports. */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { labelJudgements, poolMembers, probeResults, samples, selectionExclusions } from "../schema.js";

export interface LoopIterationFigures {
  iteration: number;
  /** Pool members per reason. */
  pool: Record<string, number>;
  /** Exclusions per reason (duplicates, contamination, budget). */
  excluded: Record<string, number>;
  probe: { matched: number; mismatched: number };
  /** The committees' verdicts (null verdict: "no consensus"). */
  verdicts: Record<string, number>;
  /** What repair.labels did. */
  actions: Record<string, number>;
  /** Samples repair.labels and expand.errors made, by origin and status. */
  made: Record<string, number>;
}

async function countBy<T extends string>(rows: Promise<{ key: T | null; n: number }[]>, nullKey = "none"): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await rows) out[r.key ?? nullKey] = Number(r.n);
  return out;
}

export async function loopFigures(db: Db, campaignId: string, iteration: number): Promise<LoopIterationFigures> {
  const n = sql<number>`count(*)::int`;
  const [pool, excluded, probeRows, verdicts, actions, made] = await Promise.all([
    countBy(
      db
        .select({ key: poolMembers.reason, n })
        .from(poolMembers)
        .where(and(eq(poolMembers.campaignId, campaignId), eq(poolMembers.iteration, iteration)))
        .groupBy(poolMembers.reason),
    ),
    countBy(
      db
        .select({ key: selectionExclusions.reason, n })
        .from(selectionExclusions)
        .where(and(eq(selectionExclusions.campaignId, campaignId), eq(selectionExclusions.iteration, iteration)))
        .groupBy(selectionExclusions.reason),
    ),
    db
      .select({ match: probeResults.match, n })
      .from(probeResults)
      .where(and(eq(probeResults.campaignId, campaignId), eq(probeResults.iteration, iteration)))
      .groupBy(probeResults.match),
    countBy(
      db
        .select({ key: labelJudgements.verdict, n })
        .from(labelJudgements)
        .where(and(eq(labelJudgements.campaignId, campaignId), eq(labelJudgements.iteration, iteration)))
        .groupBy(labelJudgements.verdict),
      "no consensus",
    ),
    countBy(
      db
        .select({ key: labelJudgements.action, n })
        .from(labelJudgements)
        .where(and(eq(labelJudgements.campaignId, campaignId), eq(labelJudgements.iteration, iteration)))
        .groupBy(labelJudgements.action),
    ),
    countBy(
      db
        .select({ key: sql<string>`${samples.origin} || ' ' || ${samples.status}`, n })
        .from(samples)
        .where(and(eq(samples.campaignId, campaignId), eq(samples.iteration, iteration), sql`${samples.origin} <> 'synthesized'`))
        .groupBy(samples.origin, samples.status),
    ),
  ]);
  const probe = { matched: 0, mismatched: 0 };
  for (const r of probeRows) probe[r.match ? "matched" : "mismatched"] = Number(r.n);
  return { iteration, pool, excluded, probe, verdicts, actions, made };
}

/** The samples of an iteration's pool (ids, messages, tools), for measuring them (e.g. against the simulator's truth). */
export async function poolSamples(db: Db, campaignId: string, iteration: number) {
  return db
    .select({ id: samples.id, messages: samples.messages, tools: samples.tools, origin: samples.origin, reason: poolMembers.reason })
    .from(poolMembers)
    .innerJoin(samples, eq(samples.id, poolMembers.sampleId))
    .where(and(eq(poolMembers.campaignId, campaignId), eq(poolMembers.iteration, iteration)));
}
