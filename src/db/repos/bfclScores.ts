import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.js";
import { bfclScores } from "../schema.js";

export type BfclEvaluator = "bfcl-eval" | "toolloop-matcher";

export interface BfclScoreRow {
  campaignId: string;
  iteration: number;
  evaluator: BfclEvaluator;
  /** A category name, or a group: "overall", "non_live", "live", "multi_turn". */
  category: string;
  /** Entries correct and scored; in evaluate.bfcl's group rows, summed over the categories scored (see the schema: their accuracy is not correct / total). */
  correct: number;
  total: number;
  accuracy: number;
  details?: Record<string, unknown> | null;
  /** The policy answering was the toolloop LLM simulator (default false). */
  simulated?: boolean;
}

/** Idempotent: a retried batch or finalize overwrites its own rows. */
export async function upsertBfclScores(db: Db, rows: BfclScoreRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insert(bfclScores)
    .values(rows.map((r) => ({ ...r, details: r.details ?? null, simulated: r.simulated ?? false })))
    .onConflictDoUpdate({
      target: [bfclScores.campaignId, bfclScores.iteration, bfclScores.evaluator, bfclScores.category],
      set: {
        correct: sql`excluded.correct`,
        total: sql`excluded.total`,
        accuracy: sql`excluded.accuracy`,
        details: sql`excluded.details`,
        simulated: sql`excluded.simulated`,
        updatedAt: sql`now()`,
      },
    });
}

export async function listBfclScores(db: Db, campaignId: string, iteration: number, evaluator?: BfclEvaluator): Promise<BfclScoreRow[]> {
  const where = and(eq(bfclScores.campaignId, campaignId), eq(bfclScores.iteration, iteration), evaluator ? eq(bfclScores.evaluator, evaluator) : undefined);
  const rows = await db.select().from(bfclScores).where(where).orderBy(asc(bfclScores.evaluator), asc(bfclScores.category));
  return rows.map((r) => ({
    campaignId: r.campaignId,
    iteration: r.iteration,
    evaluator: r.evaluator as BfclEvaluator,
    category: r.category,
    correct: r.correct,
    total: r.total,
    accuracy: r.accuracy,
    details: (r.details as Record<string, unknown> | null) ?? null,
    simulated: r.simulated,
  }));
}
