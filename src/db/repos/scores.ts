/** Per-sample scores (sample_scores): label and own-output perplexity, execution consistency. */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { sampleScores, type ScoreMetric } from "../schema.js";

export type SampleScoreRow = typeof sampleScores.$inferSelect;
export type NewSampleScore = Omit<typeof sampleScores.$inferInsert, "createdAt">;

/**
 * Writes scores; a score already stored for (campaign, iteration, sample, metric) is replaced by the
 * new one (the same policy computed it, so a retried write stores what the first one did).
 */
export async function upsertSampleScores(db: Db, rows: NewSampleScore[]): Promise<number> {
  let written = 0;
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    if (chunk.length === 0) continue;
    const r = await db
      .insert(sampleScores)
      .values(chunk)
      .onConflictDoUpdate({
        target: [sampleScores.campaignId, sampleScores.iteration, sampleScores.sampleId, sampleScores.metric],
        set: {
          model: sql`excluded.model`,
          modelVersionId: sql`excluded.model_version_id`,
          value: sql`excluded.value`,
          details: sql`excluded.details`,
        },
      })
      .returning({ id: sampleScores.sampleId });
    written += r.length;
  }
  return written;
}

/**
 * The metrics already stored per sample of `sampleIds` in an iteration (for resuming a batch); with
 * `measuredOn`, only scores it accepts (those of the policy in force: another model's, or other
 * weights served under the same name, are scored again). `superseded` lists the stored scores it
 * refused, for the caller to remove (deleteSupersededScores).
 */
export async function scoredMetrics(
  db: Db,
  k: { campaignId: string; iteration: number },
  sampleIds: readonly string[],
  metrics: readonly ScoreMetric[],
  measuredOn: (row: { metric: ScoreMetric; model: string; details: unknown }) => boolean = () => true,
): Promise<{ accepted: Map<string, Set<ScoreMetric>>; superseded: { sampleId: string; metric: ScoreMetric }[] }> {
  const accepted = new Map<string, Set<ScoreMetric>>();
  const superseded: { sampleId: string; metric: ScoreMetric }[] = [];
  if (sampleIds.length === 0 || metrics.length === 0) return { accepted, superseded };
  for (let i = 0; i < sampleIds.length; i += 1000) {
    const rows = await db
      .select({ sampleId: sampleScores.sampleId, metric: sampleScores.metric, model: sampleScores.model, details: sampleScores.details })
      .from(sampleScores)
      .where(
        and(
          eq(sampleScores.campaignId, k.campaignId),
          eq(sampleScores.iteration, k.iteration),
          inArray(sampleScores.sampleId, sampleIds.slice(i, i + 1000)),
          inArray(sampleScores.metric, [...metrics]),
        ),
      );
    for (const r of rows) {
      if (!measuredOn(r)) {
        superseded.push({ sampleId: r.sampleId, metric: r.metric });
        continue;
      }
      let set = accepted.get(r.sampleId);
      if (!set) accepted.set(r.sampleId, (set = new Set()));
      set.add(r.metric);
    }
  }
  return { accepted, superseded };
}

/**
 * Removes these scores of an iteration, each only while it is not of `current` (its model and the
 * served checkpoint its details name): a score the policy in force wrote meanwhile (another attempt
 * of the batch) stays.
 */
export async function deleteSupersededScores(
  db: Db,
  k: { campaignId: string; iteration: number },
  scores: readonly { sampleId: string; metric: ScoreMetric }[],
  current: { model: string; servedCheckpoint: unknown },
): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < scores.length; i += 500) {
    const chunk = scores.slice(i, i + 500);
    const pairs = sql.join(
      chunk.map((s) => sql`(${s.sampleId}, ${s.metric})`),
      sql`, `,
    );
    const r = await db
      .delete(sampleScores)
      .where(
        and(
          eq(sampleScores.campaignId, k.campaignId),
          eq(sampleScores.iteration, k.iteration),
          sql`(${sampleScores.sampleId}, ${sampleScores.metric}) IN (${pairs})`,
          // Scores are written with details.servedCheckpoint (null for the configured policy).
          sql`NOT (${sampleScores.model} = ${current.model} AND coalesce(${sampleScores.details} -> 'servedCheckpoint', 'null'::jsonb) = ${JSON.stringify(current.servedCheckpoint ?? null)}::jsonb)`,
        ),
      )
      .returning({ id: sampleScores.sampleId });
    deleted += r.length;
  }
  return deleted;
}

/** An iteration's scores of one metric, in sample id order. */
export async function listSampleScores(db: Db, k: { campaignId: string; iteration: number }, metric: ScoreMetric): Promise<SampleScoreRow[]> {
  return db
    .select()
    .from(sampleScores)
    .where(and(eq(sampleScores.campaignId, k.campaignId), eq(sampleScores.iteration, k.iteration), eq(sampleScores.metric, metric)))
    .orderBy(asc(sampleScores.sampleId));
}

/** An iteration's values of one metric by sample id (no details: what summaries need). */
export async function scoreValues(db: Db, k: { campaignId: string; iteration: number }, metric: ScoreMetric): Promise<Map<string, number>> {
  const rows = await db
    .select({ sampleId: sampleScores.sampleId, value: sampleScores.value })
    .from(sampleScores)
    .where(and(eq(sampleScores.campaignId, k.campaignId), eq(sampleScores.iteration, k.iteration), eq(sampleScores.metric, metric)));
  return new Map(rows.map((r) => [r.sampleId, r.value]));
}

/** Consistency classes of an iteration (details.class), counted. */
export async function consistencyClassCounts(db: Db, k: { campaignId: string; iteration: number }): Promise<Record<string, number>> {
  const rows = await db
    .select({ cls: sql<string>`${sampleScores.details}->>'class'`, n: sql<number>`count(*)::int` })
    .from(sampleScores)
    .where(and(eq(sampleScores.campaignId, k.campaignId), eq(sampleScores.iteration, k.iteration), eq(sampleScores.metric, "consistency")))
    .groupBy(sql`${sampleScores.details}->>'class'`);
  return Object.fromEntries(rows.map((r) => [r.cls ?? "unknown", Number(r.n)]));
}

/** Every score of a sample (for lineage). */
export async function scoresOfSample(db: Db, sampleId: string): Promise<SampleScoreRow[]> {
  return db.select().from(sampleScores).where(eq(sampleScores.sampleId, sampleId)).orderBy(asc(sampleScores.iteration), asc(sampleScores.metric));
}

/**
 * label_ppl rows of an iteration whose span found no end-of-turn token (details.endOfTurn null; rows
 * of builds before the field have none and are not counted), with one of them for the message.
 */
export async function labelPplWithoutEndOfTurn(
  db: Db,
  k: { campaignId: string; iteration: number },
): Promise<{ count: number; example?: { sampleId: string; turnEnd: unknown } }> {
  const where = and(
    eq(sampleScores.campaignId, k.campaignId),
    eq(sampleScores.iteration, k.iteration),
    eq(sampleScores.metric, "label_ppl"),
    sql`${sampleScores.details} -> 'endOfTurn' = 'null'::jsonb`,
  );
  const [counted] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(sampleScores)
    .where(where);
  const count = Number(counted?.n ?? 0);
  if (count === 0) return { count };
  const [first] = await db
    .select({ sampleId: sampleScores.sampleId, turnEnd: sql<unknown>`${sampleScores.details} -> 'turnEnd'` })
    .from(sampleScores)
    .where(where)
    .orderBy(asc(sampleScores.sampleId))
    .limit(1);
  return { count, ...(first ? { example: first } : {}) };
}
