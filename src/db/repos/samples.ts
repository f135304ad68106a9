import { and, asc, eq, gt, inArray, isNotNull, sql } from "drizzle-orm";
import type { ChatMessage, McpTool, SampleStatus, Verdict } from "../../domain/types.js";
import type { Db } from "../client.js";
import { samples } from "../schema.js";
import { samplesWritten } from "../../metrics/toolloopMetrics.js";

export type SampleRow = typeof samples.$inferSelect;
export type NewSample = typeof samples.$inferInsert;

/** Idempotent insert: a sample whose id or slot already exists is left as it is. Returns the ids written. */
export async function insertSamples(db: Db, rows: NewSample[]): Promise<Set<string>> {
  return (await insertSamplesWritten(db, rows)).ids;
}

/**
 * insertSamples, also saying which slots got their row. Two rows of one call can carry the same
 * content (the same id) under different slot keys: only the first is written, and the id alone
 * would tell the caller that both were. The slot keys written tell which slot holds the row.
 * One statement: the rows travel as a JSON array that Postgres unpacks with jsonb_to_recordset, so a
 * batch of samples costs one JSON.stringify, not a query builder walking fourteen columns of every
 * row into hundreds of bound parameters. Samples of a batch offer the same few library tools, which
 * are most of a row's text: each distinct tool object travels once, in a second parameter, and rows
 * refer to it by index (a row whose tools are not all objects carries them itself).
 */
export async function insertSamplesWritten(db: Db, rows: NewSample[]): Promise<{ ids: Set<string>; slotKeys: Set<string> }> {
  if (rows.length === 0) return { ids: new Set(), slotKeys: new Set() };
  const toolTable: unknown[] = [];
  const toolIndex = new Map<object, number>();
  const toolRefs = (tools: unknown): number[] | null => {
    if (!Array.isArray(tools) || !tools.every((t) => t !== null && typeof t === "object")) return null;
    return tools.map((t: object) => {
      let i = toolIndex.get(t);
      if (i === undefined) {
        i = toolTable.push(t) - 1;
        toolIndex.set(t, i);
      }
      return i;
    });
  };
  const payload = JSON.stringify(
    rows.map((r) => {
      const refs = toolRefs(r.tools);
      return {
        id: r.id,
        campaign_id: r.campaignId,
        iteration: r.iteration,
        kind: r.kind,
        origin: r.origin,
        parent_id: r.parentId ?? null,
        stage: r.stage ?? null,
        slot_key: r.slotKey ?? null,
        messages: r.messages,
        tools: refs === null ? r.tools : null,
        tool_refs: refs,
        status: r.status ?? null,
        verdicts: r.verdicts ?? null,
        metadata: r.metadata ?? null,
        exact_key: r.exactKey ?? null,
        created_at: r.createdAt ?? null,
        updated_at: r.updatedAt ?? null,
      };
    }),
  );
  const result = await db.execute(sql`
    INSERT INTO ${samples} (id, campaign_id, iteration, kind, origin, parent_id, stage, slot_key, messages, tools, status, verdicts, metadata, exact_key, created_at, updated_at)
    SELECT r.id, r.campaign_id, r.iteration, r.kind, r.origin, r.parent_id, r.stage, r.slot_key, r.messages,
      CASE WHEN r.tool_refs IS NULL THEN r.tools
        ELSE (SELECT coalesce(jsonb_agg(tt.tools -> t.ref ORDER BY t.ord), '[]'::jsonb) FROM unnest(r.tool_refs) WITH ORDINALITY AS t(ref, ord)) END,
      coalesce(r.status, 'pending'), coalesce(r.verdicts, '[]'::jsonb), coalesce(r.metadata, '{}'::jsonb), r.exact_key,
      coalesce(r.created_at, now()), coalesce(r.updated_at, now())
    FROM jsonb_to_recordset(${payload}::jsonb) AS r(
      id text, campaign_id text, iteration integer, kind text, origin text, parent_id text, stage text, slot_key text,
      messages jsonb, tools jsonb, tool_refs integer[], status text, verdicts jsonb, metadata jsonb, exact_key text, created_at timestamptz, updated_at timestamptz),
      (SELECT ${JSON.stringify(toolTable)}::jsonb AS tools) AS tt
    ON CONFLICT DO NOTHING
    RETURNING id, slot_key, kind, origin, campaign_id`);
  type Written = { id: string; slot_key: string | null; kind: string; origin: string; campaign_id: string };
  const written = (result as { rows?: Written[] }).rows ?? (result as unknown as Written[]);
  const slotKeys = new Set<string>();
  for (const r of written) {
    samplesWritten.inc({ campaign: r.campaign_id, kind: r.kind, origin: r.origin });
    if (r.slot_key !== null) slotKeys.add(r.slot_key);
  }
  return { ids: new Set(written.map((r) => r.id)), slotKeys };
}

export async function existingSlotKeys(db: Db, slotKeys: string[]): Promise<Set<string>> {
  if (slotKeys.length === 0) return new Set();
  const rows = await db.select({ slotKey: samples.slotKey }).from(samples).where(inArray(samples.slotKey, slotKeys));
  return new Set(rows.map((r) => r.slotKey).filter((k): k is string => k !== null));
}

export async function countSamples(db: Db, campaignId: string, iteration?: number): Promise<Record<string, number>> {
  const where = iteration === undefined ? eq(samples.campaignId, campaignId) : and(eq(samples.campaignId, campaignId), eq(samples.iteration, iteration));
  const rows = await db
    .select({ status: samples.status, n: sql<number>`count(*)::int` })
    .from(samples)
    .where(where)
    .groupBy(samples.status);
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Keyset page over one iteration's samples, ordered by id (stable across re-runs). */
export async function pageSamples(
  db: Db,
  p: { campaignId: string; iteration: number; afterId?: string; limit: number; statuses?: readonly SampleStatus[] },
): Promise<SampleRow[]> {
  const conds = [eq(samples.campaignId, p.campaignId), eq(samples.iteration, p.iteration)];
  if (p.afterId !== undefined) conds.push(gt(samples.id, p.afterId));
  if (p.statuses) conds.push(inArray(samples.status, p.statuses));
  return db
    .select()
    .from(samples)
    .where(and(...conds))
    .orderBy(asc(samples.id))
    .limit(p.limit);
}

/** Batch k of an iteration's samples in id order (the set is fixed while a later stage reads it). */
export async function samplesByOffset(db: Db, p: { campaignId: string; iteration: number; offset: number; limit: number }): Promise<SampleRow[]> {
  return db
    .select()
    .from(samples)
    .where(and(eq(samples.campaignId, p.campaignId), eq(samples.iteration, p.iteration)))
    .orderBy(asc(samples.id))
    .offset(p.offset)
    .limit(p.limit);
}

export async function countIterationSamples(db: Db, campaignId: string, iteration: number): Promise<number> {
  const rows = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.iteration, iteration)));
  return Number(rows[0]?.n ?? 0);
}

export async function setVerdicts(db: Db, updates: { id: string; status: SampleStatus; verdicts: Verdict[] }[]): Promise<void> {
  if (updates.length === 0) return;
  // One statement per chunk: UPDATE ... FROM (VALUES ...) keeps verification to a few round trips.
  const values = sql.join(
    updates.map((u) => sql`(${u.id}, ${u.status}, ${JSON.stringify(u.verdicts)}::jsonb)`),
    sql`, `,
  );
  await db.execute(sql`
    UPDATE ${samples} AS s SET status = v.status, verdicts = v.verdicts, updated_at = now()
    FROM (VALUES ${values}) AS v(id, status, verdicts) WHERE s.id = v.id`);
}

/** Stores exact-duplicate keys (dedupe.exact); writing the same key again changes nothing. */
export async function setExactKeys(db: Db, keys: { id: string; exactKey: string }[]): Promise<void> {
  if (keys.length === 0) return;
  const values = sql.join(
    keys.map((k) => sql`(${k.id}, ${k.exactKey})`),
    sql`, `,
  );
  await db.execute(sql`UPDATE ${samples} AS s SET exact_key = v.exact_key FROM (VALUES ${values}) AS v(id, exact_key) WHERE s.id = v.id`);
}

/** What markExactDuplicates leaves among the iteration's keyed samples. */
export interface ExactDedupeCounts {
  /** Samples with status `duplicate`. */
  duplicates: number;
  /** Samples still `pending` or `verified`: at most one per exact key, the keeper. */
  kept: number;
  /** Samples the verifiers rejected: never marked `duplicate`, never the reason another sample is. */
  rejected: number;
}

/**
 * Marks exact duplicates in one iteration (dedupe.exact's finalize step), one exact key at a time.
 * The keeper of a key is its first `verified` sample by id, else (nothing verified yet: dedupe runs
 * before verification) its first `pending` one; every other `pending` or `verified` sample of the key
 * becomes `duplicate`. `rejected` samples keep their status and verdicts, and are never a keeper:
 * a rejected first copy does not push out a later copy that passed. Samples already `duplicate` stay
 * so (never restored: they were left out of the verification that ran meanwhile) and are never a
 * keeper either. One statement, and idempotent: the keeper is never written, so a rerun (or a retry
 * through a database restart) picks the same keeper and changes nothing; the result does not depend
 * on how the keys were written in batches.
 */
export async function markExactDuplicates(db: Db, campaignId: string, iteration: number): Promise<ExactDedupeCounts> {
  await db.execute(sql`
    UPDATE ${samples} AS s SET status = 'duplicate', updated_at = now()
    FROM (
      SELECT id, first_value(id) OVER (
        PARTITION BY exact_key
        ORDER BY CASE status WHEN 'verified' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, id
      ) AS keeper
      FROM ${samples} WHERE campaign_id = ${campaignId} AND iteration = ${iteration} AND exact_key IS NOT NULL
    ) AS d
    WHERE s.id = d.id AND d.id <> d.keeper AND s.status IN ('pending', 'verified')`);
  const rows = await db
    .select({ status: samples.status, n: sql<number>`count(*)::int` })
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.iteration, iteration), isNotNull(samples.exactKey)))
    .groupBy(samples.status);
  const n = (...statuses: string[]) => rows.filter((r) => statuses.includes(r.status)).reduce((a, r) => a + Number(r.n), 0);
  return { duplicates: n("duplicate"), kept: n("pending", "verified"), rejected: n("rejected") };
}

export type { ChatMessage, McpTool };
