/** Read-only summaries of a campaign for people: what the demo (and later a report command) prints. */
import { and, asc, eq, sql } from "drizzle-orm";
import type { SampleStatus } from "../../domain/types.js";
import type { Db } from "../client.js";
import { bfclScores, datasetExports, llmRequests, llmUsage, samples } from "../schema.js";

export interface SampleCountRow {
  iteration: number;
  kind: string;
  status: SampleStatus;
  n: number;
}

/** Samples per (iteration, kind, status), in that order. */
export async function sampleCountsByKindAndStatus(db: Db, campaignId: string): Promise<SampleCountRow[]> {
  return db
    .select({ iteration: samples.iteration, kind: samples.kind, status: samples.status, n: sql<number>`count(*)::int`.mapWith(Number) })
    .from(samples)
    .where(eq(samples.campaignId, campaignId))
    .groupBy(samples.iteration, samples.kind, samples.status)
    .orderBy(asc(samples.iteration), asc(samples.kind), asc(samples.status));
}

export interface RejectionReasonRow {
  /** The verifier's reason without its `call[i] ` prefix, so the same problem in different calls counts once. */
  reason: string;
  n: number;
}

/** The most frequent reasons across the campaign's rejected samples, most frequent first. */
export async function topRejectionReasons(db: Db, campaignId: string, limit = 5): Promise<RejectionReasonRow[]> {
  // Unnesting verdicts[].reasons[] needs set-returning functions in FROM, which the query builder cannot express.
  const result = await db.execute(sql`
    SELECT regexp_replace(reason, '^call\\[\\d+\\] ', '') AS reason, count(*)::int AS n
    FROM ${samples}, jsonb_array_elements(${samples.verdicts}) v, jsonb_array_elements_text(v->'reasons') reason
    WHERE ${samples.campaignId} = ${campaignId} AND ${samples.status} = ${"rejected" satisfies SampleStatus}
    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${limit}`);
  return rowsOf(result).map((r) => ({ reason: String(r.reason), n: Number(r.n) }));
}

export interface UsageByRoleRow {
  role: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/** LLM requests and tokens per (role, model) over the whole campaign, from the `llm_usage` view. */
export async function usageByRoleAndModel(db: Db, campaignId: string): Promise<UsageByRoleRow[]> {
  return db
    .select({
      role: llmUsage.role,
      model: llmUsage.model,
      requests: sql<number>`sum(${llmUsage.requests})::int`.mapWith(Number),
      promptTokens: sql<number>`sum(${llmUsage.promptTokens})::int`.mapWith(Number),
      completionTokens: sql<number>`sum(${llmUsage.completionTokens})::int`.mapWith(Number),
    })
    .from(llmUsage)
    .where(eq(llmUsage.campaignId, campaignId))
    .groupBy(llmUsage.role, llmUsage.model)
    .orderBy(asc(llmUsage.role), asc(llmUsage.model));
}

export interface DatasetExportRow {
  iteration: number;
  path: string;
  /** From the manifest as written; null when a manifest lacks the field. */
  rows: string | null;
  sha256: string | null;
}

export async function datasetExportsOf(db: Db, campaignId: string): Promise<DatasetExportRow[]> {
  return db
    .select({
      iteration: datasetExports.iteration,
      path: datasetExports.path,
      rows: sql<string | null>`${datasetExports.manifest}->>'rows'`,
      sha256: sql<string | null>`${datasetExports.manifest}->>'sha256'`,
    })
    .from(datasetExports)
    .where(eq(datasetExports.campaignId, campaignId))
    .orderBy(asc(datasetExports.iteration));
}

/** `execute` returns `{ rows }` on node-postgres and PGlite alike; an array is accepted for other drivers. */
function rowsOf(result: unknown): Record<string, unknown>[] {
  return ((result as { rows?: Record<string, unknown>[] }).rows ?? (result as Record<string, unknown>[])) as Record<string, unknown>[];
}

export interface PolicyScoreRow {
  iteration: number;
  accuracy: number;
  total: number;
  /** The policy models the fast BFCL check asked in that iteration (from the request ledger). */
  models: string[];
  /** The LLM simulator answered the check (the score measures no model). */
  simulated: boolean;
}

/** The fast BFCL check's overall score per iteration, with the policy it evaluated. */
export async function policyScoresByIteration(db: Db, campaignId: string): Promise<PolicyScoreRow[]> {
  const scores = await db
    .select()
    .from(bfclScores)
    .where(and(eq(bfclScores.campaignId, campaignId), eq(bfclScores.category, "overall_probe")))
    .orderBy(bfclScores.iteration);
  const out: PolicyScoreRow[] = [];
  for (const s of scores) {
    const models = await db
      .selectDistinct({ model: llmRequests.model })
      .from(llmRequests)
      .where(
        and(
          eq(llmRequests.campaignId, campaignId),
          eq(llmRequests.iteration, s.iteration),
          eq(llmRequests.stage, "evaluate.bfclFast"),
          eq(llmRequests.role, "policy"),
        ),
      );
    out.push({ iteration: s.iteration, accuracy: s.accuracy, total: s.total, models: models.map((m) => m.model), simulated: s.simulated });
  }
  return out;
}
