/**
 * Judged label repair: every judge's vote on a probed mismatch (judge_votes) and the committee's
 * decision with what was done about it (label_judgements). Both are written idempotently (first
 * write wins), so a retried batch never duplicates a vote or a decision.
 */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { judgeVotesCounted, labelDecisions } from "../../metrics/toolloopMetrics.js";
import type { Db } from "../client.js";
import { judgeVotes, labelJudgements, sampleScores, type JudgeVerdict, type LabelAction } from "../schema.js";

export type JudgeVoteRow = typeof judgeVotes.$inferSelect;
export type NewJudgeVote = Omit<typeof judgeVotes.$inferInsert, "createdAt">;
export type LabelJudgementRow = typeof labelJudgements.$inferSelect;
export type NewLabelJudgement = Omit<typeof labelJudgements.$inferInsert, "createdAt">;

export async function insertJudgeVotes(db: Db, rows: NewJudgeVote[]): Promise<number> {
  if (rows.length === 0) return 0;
  const r = await db.insert(judgeVotes).values(rows).onConflictDoNothing().returning({ verdict: judgeVotes.verdict, campaignId: judgeVotes.campaignId });
  // Counted once: a retried batch's votes already stored are not returned.
  for (const v of r) judgeVotesCounted.inc({ campaign: v.campaignId, verdict: v.verdict ?? "unreadable" });
  return r.length;
}

/** The votes stored for these samples in the iteration, per sample id, in judge order. */
export async function votesOf(db: Db, campaignId: string, iteration: number, sampleIds: readonly string[]): Promise<Map<string, JudgeVoteRow[]>> {
  const out = new Map<string, JudgeVoteRow[]>();
  if (sampleIds.length === 0) return out;
  const rows = await db
    .select()
    .from(judgeVotes)
    .where(and(eq(judgeVotes.campaignId, campaignId), eq(judgeVotes.iteration, iteration), inArray(judgeVotes.sampleId, [...sampleIds])))
    .orderBy(asc(judgeVotes.sampleId), asc(judgeVotes.judge));
  for (const r of rows) {
    const list = out.get(r.sampleId) ?? [];
    list.push(r);
    out.set(r.sampleId, list);
  }
  return out;
}

/** Writes a decision; one already stored for the sample in the iteration is kept. */
export async function insertLabelJudgement(db: Db, row: NewLabelJudgement): Promise<boolean> {
  const r = await db.insert(labelJudgements).values(row).onConflictDoNothing().returning({ id: labelJudgements.sampleId });
  if (r.length > 0) labelDecisions.inc({ campaign: row.campaignId, action: row.action });
  return r.length > 0;
}

export async function judgementsOf(db: Db, campaignId: string, iteration: number, sampleIds: readonly string[]): Promise<Map<string, LabelJudgementRow>> {
  if (sampleIds.length === 0) return new Map();
  const rows = await db
    .select()
    .from(labelJudgements)
    .where(and(eq(labelJudgements.campaignId, campaignId), eq(labelJudgements.iteration, iteration), inArray(labelJudgements.sampleId, [...sampleIds])));
  return new Map(rows.map((r) => [r.sampleId, r]));
}

/** An iteration's decisions counted by verdict (null: no consensus) and by action, and the votes cast on them. */
export async function judgementSummary(
  db: Db,
  campaignId: string,
  iteration: number,
): Promise<{ judged: number; votes: number; verdicts: Record<string, number>; actions: Partial<Record<LabelAction, number>>; tooLongForJudges: number }> {
  const rows = await db
    .select({
      verdict: labelJudgements.verdict,
      action: labelJudgements.action,
      n: sql<number>`count(*)::int`,
      votes: sql<number>`sum(${labelJudgements.votes})::int`,
      // Cases no judge could read (repair.labels writes why in details.notJudged).
      notJudged: sql<number>`count(*) filter (where ${labelJudgements.details} ? 'notJudged')::int`,
    })
    .from(labelJudgements)
    .where(and(eq(labelJudgements.campaignId, campaignId), eq(labelJudgements.iteration, iteration)))
    .groupBy(labelJudgements.verdict, labelJudgements.action);
  const verdicts: Record<string, number> = {};
  const actions: Partial<Record<LabelAction, number>> = {};
  let judged = 0;
  let votes = 0;
  let tooLongForJudges = 0;
  for (const r of rows) {
    const n = Number(r.n);
    judged += n;
    tooLongForJudges += Number(r.notJudged);
    votes += Number(r.votes);
    const v = r.verdict ?? "none";
    verdicts[v] = (verdicts[v] ?? 0) + n;
    actions[r.action] = (actions[r.action] ?? 0) + n;
  }
  return { judged, votes, verdicts, actions, tooLongForJudges };
}

/** Every decided-or-not case of the iteration with its votes (for judge reliability). */
export async function judgedCases(
  db: Db,
  campaignId: string,
  iteration: number,
): Promise<{ sampleId: string; verdict: JudgeVerdict | null; votes: { judge: string; verdict: JudgeVerdict | null }[] }[]> {
  const decisions = await db
    .select({ sampleId: labelJudgements.sampleId, verdict: labelJudgements.verdict })
    .from(labelJudgements)
    .where(and(eq(labelJudgements.campaignId, campaignId), eq(labelJudgements.iteration, iteration)));
  const votes = await db
    .select({ sampleId: judgeVotes.sampleId, judge: judgeVotes.judge, verdict: judgeVotes.verdict })
    .from(judgeVotes)
    .where(and(eq(judgeVotes.campaignId, campaignId), eq(judgeVotes.iteration, iteration)));
  const bySample = new Map<string, { judge: string; verdict: JudgeVerdict | null }[]>();
  for (const v of votes) {
    const list = bySample.get(v.sampleId) ?? [];
    list.push({ judge: v.judge, verdict: v.verdict });
    bySample.set(v.sampleId, list);
  }
  return decisions.map((d) => ({ sampleId: d.sampleId, verdict: d.verdict, votes: bySample.get(d.sampleId) ?? [] }));
}

/**
 * Label perplexities score.perplexity stored in this iteration (sample_scores, metric label_ppl), by
 * sample id, with the model they were computed under.
 */
export async function storedLabelPerplexities(
  db: Db,
  campaignId: string,
  iteration: number,
  sampleIds: readonly string[],
): Promise<Map<string, { value: number; model: string; modelVersionId: string | null; details: unknown }>> {
  if (sampleIds.length === 0) return new Map();
  const rows = await db
    .select({
      sampleId: sampleScores.sampleId,
      value: sampleScores.value,
      model: sampleScores.model,
      modelVersionId: sampleScores.modelVersionId,
      details: sampleScores.details,
    })
    .from(sampleScores)
    .where(
      and(
        eq(sampleScores.campaignId, campaignId),
        eq(sampleScores.iteration, iteration),
        eq(sampleScores.metric, "label_ppl"),
        inArray(sampleScores.sampleId, [...sampleIds]),
      ),
    );
  return new Map(rows.map((r) => [r.sampleId, { value: r.value, model: r.model, modelVersionId: r.modelVersionId, details: r.details }]));
}
