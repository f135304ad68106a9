/**
 * verify.judges' votes (sample_check_votes): every committee vote on a sample with its analysis, the
 * model and the judge (`<role>#<sample>`: the member's role and its sample index). Written
 * idempotently (first write wins), so a rerun after a crash asks only the votes that are missing and
 * never counts one twice.
 */
import { and, asc, eq, inArray } from "drizzle-orm";
import { judgeVotesCounted } from "../../metrics/toolloopMetrics.js";
import type { Db } from "../client.js";
import { sampleCheckVotes } from "../schema.js";

export type SampleCheckVoteRow = typeof sampleCheckVotes.$inferSelect;
export type NewSampleCheckVote = Omit<typeof sampleCheckVotes.$inferInsert, "createdAt">;

/** Stores votes; one already stored under the same (campaign, iteration, sample, judge) is kept. Returns how many were new. */
export async function insertSampleCheckVotes(db: Db, rows: NewSampleCheckVote[]): Promise<number> {
  if (rows.length === 0) return 0;
  const r = await db
    .insert(sampleCheckVotes)
    .values(rows)
    .onConflictDoNothing()
    .returning({ verdict: sampleCheckVotes.verdict, campaignId: sampleCheckVotes.campaignId });
  // Counted once: a retried batch's votes already stored are not returned.
  for (const v of r) judgeVotesCounted.inc({ campaign: v.campaignId, verdict: v.verdict ?? "unreadable" });
  return r.length;
}

/** The votes stored for these samples in the iteration, per sample id, in judge order. */
export async function sampleCheckVotesOf(
  db: Db,
  campaignId: string,
  iteration: number,
  sampleIds: readonly string[],
): Promise<Map<string, SampleCheckVoteRow[]>> {
  const out = new Map<string, SampleCheckVoteRow[]>();
  if (sampleIds.length === 0) return out;
  const rows = await db
    .select()
    .from(sampleCheckVotes)
    .where(and(eq(sampleCheckVotes.campaignId, campaignId), eq(sampleCheckVotes.iteration, iteration), inArray(sampleCheckVotes.sampleId, [...sampleIds])))
    .orderBy(asc(sampleCheckVotes.sampleId), asc(sampleCheckVotes.judge));
  for (const r of rows) {
    const list = out.get(r.sampleId) ?? [];
    list.push(r);
    out.set(r.sampleId, list);
  }
  return out;
}

/** Every vote of the iteration, grouped by sample (for the stage summary). */
export async function iterationSampleCheckVotes(
  db: Db,
  campaignId: string,
  iteration: number,
): Promise<Map<string, { judge: string; verdict: SampleCheckVoteRow["verdict"] }[]>> {
  const rows = await db
    .select({ sampleId: sampleCheckVotes.sampleId, judge: sampleCheckVotes.judge, verdict: sampleCheckVotes.verdict })
    .from(sampleCheckVotes)
    .where(and(eq(sampleCheckVotes.campaignId, campaignId), eq(sampleCheckVotes.iteration, iteration)))
    .orderBy(asc(sampleCheckVotes.sampleId), asc(sampleCheckVotes.judge));
  const out = new Map<string, { judge: string; verdict: SampleCheckVoteRow["verdict"] }[]>();
  for (const r of rows) {
    const list = out.get(r.sampleId) ?? [];
    list.push({ judge: r.judge, verdict: r.verdict });
    out.set(r.sampleId, list);
  }
  return out;
}
