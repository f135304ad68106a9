/** Durable outcomes of work slots that produced no sample of their own (see schema.stageSlotOutcomes). */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { samples, stageSlotOutcomes, type SlotOutcome } from "../schema.js";

export interface SlotOutcomeRow {
  slotKey: string;
  campaignId: string;
  iteration: number;
  stage: string;
  slot: number;
  outcome: SlotOutcome;
  detail: string | null;
}

/** First outcome wins: a slot settled once stays settled. */
export async function insertSlotOutcomes(db: Db, rows: SlotOutcomeRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insert(stageSlotOutcomes).values(rows).onConflictDoNothing();
}

export interface SettledSlots {
  /** slot key -> what settled it */
  settled: Map<string, "written" | SlotOutcome>;
}

/**
 * Which of these slot keys are settled: a sample stored under the key, or an outcome row. One
 * statement with the keys as one array parameter: a batch asks this about hundreds of keys after
 * every write, and an IN list binds (and the query builder walks) one parameter per key, per table.
 */
export async function settledSlots(db: Db, slotKeys: string[]): Promise<Map<string, "written" | SlotOutcome>> {
  const out = new Map<string, "written" | SlotOutcome>();
  if (slotKeys.length === 0) return out;
  const keys = sql.param(slotKeys);
  const result = await db.execute(sql`
    SELECT ${samples.slotKey} AS slot_key, 'written' AS outcome FROM ${samples} WHERE ${samples.slotKey} = ANY(${keys}::text[])
    UNION ALL
    SELECT ${stageSlotOutcomes.slotKey}, ${stageSlotOutcomes.outcome} FROM ${stageSlotOutcomes} WHERE ${stageSlotOutcomes.slotKey} = ANY(${keys}::text[])`);
  const rows =
    (result as { rows?: { slot_key: string; outcome: "written" | SlotOutcome }[] }).rows ??
    (result as unknown as { slot_key: string; outcome: "written" | SlotOutcome }[]);
  // A stored sample wins over an outcome row of the same slot, whichever the database returns first.
  for (const r of rows) if (r.outcome === "written" || !out.has(r.slot_key)) out.set(r.slot_key, r.outcome);
  return out;
}

/** Outcome counts of a stage's slots (for reports). */
export async function countSlotOutcomes(db: Db, key: { campaignId: string; iteration: number; stage: string }): Promise<Record<string, number>> {
  const rows = await db
    .select({ outcome: stageSlotOutcomes.outcome, n: sql<number>`count(*)::int` })
    .from(stageSlotOutcomes)
    .where(and(eq(stageSlotOutcomes.campaignId, key.campaignId), eq(stageSlotOutcomes.iteration, key.iteration), eq(stageSlotOutcomes.stage, key.stage)))
    .groupBy(stageSlotOutcomes.outcome);
  return Object.fromEntries(rows.map((r) => [r.outcome, Number(r.n)]));
}
