/** Greedy probes (probe_results): the policy's greedy answer on each pool sample and whether it matches the label. */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { MatchReason } from "../../matching/matcher.js";
import type { AssistantAnswer } from "../../matching/labelAgreement.js";
import type { Db } from "../client.js";
import { probeResults } from "../schema.js";

export type ProbeResultRow = Omit<typeof probeResults.$inferSelect, "prediction" | "reasons"> & { prediction: AssistantAnswer; reasons: MatchReason[] };
export type NewProbeResult = Omit<typeof probeResults.$inferInsert, "createdAt" | "prediction" | "reasons"> & {
  prediction: AssistantAnswer;
  reasons: MatchReason[];
};

/**
 * Writes results. A sample already probed in the iteration keeps its first row (a retried batch
 * writes nothing twice), unless `replace`: probe.greedy asks again only about samples whose stored
 * answer is of another model or served checkpoint (a retrain), and that answer is replaced.
 */
export async function insertProbeResults(db: Db, rows: NewProbeResult[], opts: { replace?: boolean } = {}): Promise<number> {
  let written = 0;
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    if (chunk.length === 0) continue;
    const insert = db.insert(probeResults).values(chunk);
    const r = await (
      opts.replace
        ? insert.onConflictDoUpdate({
            target: [probeResults.campaignId, probeResults.iteration, probeResults.sampleId],
            set: {
              model: sql`excluded.model`,
              modelVersionId: sql`excluded.model_version_id`,
              servedCheckpoint: sql`excluded.served_checkpoint`,
              match: sql`excluded.match`,
              prediction: sql`excluded.prediction`,
              reasons: sql`excluded.reasons`,
              createdAt: sql`now()`,
            },
          })
        : insert.onConflictDoNothing()
    ).returning({ id: probeResults.sampleId });
    written += r.length;
  }
  return written;
}

/** The results stored for these samples in the iteration, by sample id. */
export async function probeResultsOf(db: Db, campaignId: string, iteration: number, sampleIds: readonly string[]): Promise<Map<string, ProbeResultRow>> {
  if (sampleIds.length === 0) return new Map();
  const rows = await db
    .select()
    .from(probeResults)
    .where(and(eq(probeResults.campaignId, campaignId), eq(probeResults.iteration, iteration), inArray(probeResults.sampleId, [...sampleIds])));
  return new Map(rows.map((r) => [r.sampleId, r as ProbeResultRow]));
}

/**
 * Removes the stored answers of these samples in an iteration, each only while it is not `current`'s
 * (its model and served checkpoint): an answer the policy in force wrote meanwhile (another attempt
 * of the batch) stays.
 */
export async function deleteSupersededProbeResults(
  db: Db,
  campaignId: string,
  iteration: number,
  sampleIds: readonly string[],
  current: { model: string; servedCheckpoint: unknown },
): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < sampleIds.length; i += 1000) {
    const chunk = sampleIds.slice(i, i + 1000);
    if (chunk.length === 0) continue;
    // served_checkpoint is SQL NULL for the configured policy.
    const served = current.servedCheckpoint === null || current.servedCheckpoint === undefined ? null : JSON.stringify(current.servedCheckpoint);
    const r = await db
      .delete(probeResults)
      .where(
        and(
          eq(probeResults.campaignId, campaignId),
          eq(probeResults.iteration, iteration),
          inArray(probeResults.sampleId, chunk),
          sql`NOT (${probeResults.model} = ${current.model} AND ${probeResults.servedCheckpoint} IS NOT DISTINCT FROM ${served}::jsonb)`,
        ),
      )
      .returning({ id: probeResults.sampleId });
    deleted += r.length;
  }
  return deleted;
}

/** Matched and mismatched counts of an iteration, and how often each mismatch reason code occurs. */
export async function probeSummary(
  db: Db,
  campaignId: string,
  iteration: number,
): Promise<{ matched: number; mismatched: number; reasonCodes: Record<string, number> }> {
  const where = and(eq(probeResults.campaignId, campaignId), eq(probeResults.iteration, iteration));
  const counts = await db
    .select({ match: probeResults.match, n: sql<number>`count(*)::int` })
    .from(probeResults)
    .where(where)
    .groupBy(probeResults.match);
  // Each mismatch counts a code once however many calls it concerns.
  const codes = await db.execute(sql`
    SELECT code, count(*)::int AS n FROM (
      SELECT DISTINCT p.sample_id, r->>'code' AS code
      FROM ${probeResults} p, jsonb_array_elements(p.reasons) r
      WHERE p.campaign_id = ${campaignId} AND p.iteration = ${iteration} AND p.match = false
    ) c GROUP BY code ORDER BY n DESC, code`);
  const reasonCodes: Record<string, number> = {};
  const rows = ((codes as { rows?: Record<string, unknown>[] }).rows ?? (codes as unknown as Record<string, unknown>[])) as Record<string, unknown>[];
  for (const r of rows) reasonCodes[String(r.code)] = Number(r.n);
  return {
    matched: Number(counts.find((c) => c.match)?.n ?? 0),
    mismatched: Number(counts.find((c) => !c.match)?.n ?? 0),
    reasonCodes,
  };
}
