/** Durable outcomes of work slots that produced no sample of their own (see schema.stageSlotOutcomes). */
import { and, eq, inArray, sql } from "drizzle-orm";
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

/** Which of these slot keys are settled: a sample stored under the key, or an outcome row. */
export async function settledSlots(db: Db, slotKeys: string[]): Promise<Map<string, "written" | SlotOutcome>> {
  const out = new Map<string, "written" | SlotOutcome>();
  if (slotKeys.length === 0) return out;
  const written = await db.select({ slotKey: samples.slotKey }).from(samples).where(inArray(samples.slotKey, slotKeys));
  for (const r of written) if (r.slotKey !== null) out.set(r.slotKey, "written");
  const other = await db
    .select({ slotKey: stageSlotOutcomes.slotKey, outcome: stageSlotOutcomes.outcome })
    .from(stageSlotOutcomes)
    .where(inArray(stageSlotOutcomes.slotKey, slotKeys));
  for (const r of other) if (!out.has(r.slotKey)) out.set(r.slotKey, r.outcome);
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
