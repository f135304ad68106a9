/** The LLM request ledger (one row per HTTP request attempt) and the usage totals summed from it. */
import { and, eq, inArray, lte, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { llmRequests, llmUsage, type LlmRequestStatus } from "../schema.js";

export interface LlmRequestRow {
  id: string;
  campaignId: string;
  iteration: number;
  stage: string;
  batchIndex: number | null;
  role: string;
  model: string;
  status: LlmRequestStatus;
  promptTokens: number;
  completionTokens: number;
  /** The response came from the LLM simulator (false while sent, or when no response came). */
  simulated?: boolean;
  /** Set on completed requests; undefined keeps the database's clock for sent ones. */
  finished: boolean;
}

/**
 * Writes ledger rows idempotently: a "sent" row never overwrites a completed one, and writing the
 * same outcome twice changes nothing, so a flush retried after a connection drop counts nothing twice.
 * At most one row per id per call (Postgres refuses to upsert a row twice in one statement).
 */
export async function upsertLlmRequests(db: Db, rows: LlmRequestRow[]): Promise<void> {
  if (rows.length === 0) return;
  // One statement, one parameter: the rows as a JSON array unpacked by jsonb_to_recordset (the ledger
  // writes a row per request attempt; a query builder binding ten parameters per row costs more).
  const payload = JSON.stringify(
    rows.map((r) => ({
      id: r.id,
      campaign_id: r.campaignId,
      iteration: r.iteration,
      stage: r.stage,
      batch_index: r.batchIndex,
      role: r.role,
      model: r.model,
      status: r.status,
      prompt_tokens: r.promptTokens,
      completion_tokens: r.completionTokens,
      simulated: r.simulated ?? false,
      finished: r.finished,
    })),
  );
  await db.execute(sql`
    INSERT INTO ${llmRequests} AS q (id, campaign_id, iteration, stage, batch_index, role, model, status, prompt_tokens, completion_tokens, simulated, finished_at)
    SELECT r.id, r.campaign_id, r.iteration, r.stage, r.batch_index, r.role, r.model, r.status, r.prompt_tokens, r.completion_tokens, r.simulated,
      CASE WHEN r.finished THEN now() END
    FROM jsonb_to_recordset(${payload}::jsonb) AS r(
      id text, campaign_id text, iteration integer, stage text, batch_index integer, role text, model text, status text,
      prompt_tokens integer, completion_tokens integer, simulated boolean, finished boolean)
    ON CONFLICT (id) DO UPDATE SET
      status = excluded.status,
      prompt_tokens = excluded.prompt_tokens,
      completion_tokens = excluded.completion_tokens,
      simulated = excluded.simulated,
      finished_at = coalesce(q.finished_at, excluded.finished_at)
    WHERE excluded.status <> 'sent'`);
}

/** Removes announced requests that were never sent (only while they are still just "sent"). */
export async function deleteUnsentLlmRequests(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.delete(llmRequests).where(and(inArray(llmRequests.id, ids), eq(llmRequests.status, "sent")));
}

export async function usageTotals(db: Db, key: { campaignId: string; iteration?: number; stage?: string }) {
  const conds = [eq(llmUsage.campaignId, key.campaignId)];
  if (key.iteration !== undefined) conds.push(eq(llmUsage.iteration, key.iteration));
  if (key.stage !== undefined) conds.push(eq(llmUsage.stage, key.stage));
  return db
    .select()
    .from(llmUsage)
    .where(and(...conds));
}

/**
 * Per role: whether any of its requests was answered by the LLM simulator, in a campaign up to an
 * iteration (`upto`), or in one iteration's stage (`iteration` and `stage`).
 */
export async function simulatedByRole(
  db: Db,
  campaignId: string,
  where: { upto?: number; iteration?: number; stage?: string } = {},
): Promise<Record<string, boolean>> {
  const conds = [eq(llmRequests.campaignId, campaignId)];
  if (where.upto !== undefined) conds.push(lte(llmRequests.iteration, where.upto));
  if (where.iteration !== undefined) conds.push(eq(llmRequests.iteration, where.iteration));
  if (where.stage !== undefined) conds.push(eq(llmRequests.stage, where.stage));
  const rows = await db
    .select({ role: llmRequests.role, simulated: sql<boolean>`bool_or(${llmRequests.simulated})` })
    .from(llmRequests)
    .where(and(...conds))
    .groupBy(llmRequests.role)
    .orderBy(llmRequests.role);
  return Object.fromEntries(rows.map((r) => [r.role, r.simulated === true]));
}
