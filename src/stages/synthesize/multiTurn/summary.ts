/**
 * The summary synthesize.multiTurn persists as its result (what `status`, the report and the UI show):
 * dialogues attempted / kept / dropped / failed, the user-turn histogram of kept dialogues, drop and
 * turn rejection reasons, reflections, negotiations, tool calls and errors, samples written,
 * tokens per role, and a warning when no dialogue was kept (src/dialogue/noneKept.ts). Counted from the stored rows — every dialogue, turn, sample and request once,
 * whichever attempt wrote it — so the numbers agree with the tables.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../../../db/client.js";
import { iterationDialogues, rejectedTurnReasons } from "../../../db/repos/dialogues.js";
import { usageTotals } from "../../../db/repos/usage.js";
import { samples } from "../../../db/schema.js";
import { noDialogueKeptWarning } from "../../../dialogue/noneKept.js";
import type { DialogueOutcome } from "../../../dialogue/types.js";
import type { BatchResult } from "../../../framework/stage.js";

const STAGE = "synthesize.multiTurn";

export type MultiTurnSummary = {
  dialogues: { attempted: number; kept: number; dropped: number; failed: number; unfinishedKept: number };
  /** User turns per kept dialogue: { "<turns>": dialogues }, and their mean and maximum. */
  turnLengths: { histogram: Record<string, number>; mean: number | null; max: number | null };
  dropReasons: Record<string, number>;
  /** Assistant turns: accepted and rejected, and the rejections by reason (numbers in the reason folded to N). */
  assistantTurns: { accepted: number; rejected: number; rejectionReasons: Record<string, number> };
  reflections: number;
  negotiations: number;
  toolCalls: { total: number; errors: number };
  samples: { written: number; duplicates: number };
  /** From the request ledger: requests and tokens per role (planner, user, assistant, toolServer, negotiator). */
  tokensByRole: Record<string, { requests: number; promptTokens: number; completionTokens: number; failures: number }>;
  /** Present when dialogues ended and none was kept (so no sample was written): why, by drop reason. */
  warning?: string;
};

/** "only 1 of 3 candidates agree; 2 required ..." -> "only N of N candidates agree; N required ...", cut before a quoted explanation. */
export function rejectionKey(reason: string): string {
  const head = reason.split(":")[0] ?? reason;
  return head.replace(/\d+/g, "N").trim().slice(0, 200) || "(no reason recorded)";
}

export function summarizeDialogues(outcomes: readonly DialogueOutcome[], rejected: readonly string[]): Omit<MultiTurnSummary, "samples" | "tokensByRole"> {
  const s: Omit<MultiTurnSummary, "samples" | "tokensByRole"> = {
    dialogues: { attempted: outcomes.length, kept: 0, dropped: 0, failed: 0, unfinishedKept: 0 },
    turnLengths: { histogram: {}, mean: null, max: null },
    dropReasons: {},
    assistantTurns: { accepted: 0, rejected: 0, rejectionReasons: {} },
    reflections: 0,
    negotiations: 0,
    toolCalls: { total: 0, errors: 0 },
  };
  let keptTurns = 0;
  for (const o of outcomes) {
    s.dialogues[o.status]++;
    s.assistantTurns.accepted += o.acceptedTurns;
    s.assistantTurns.rejected += o.rejectedTurns;
    s.reflections += o.reflections;
    s.negotiations += o.negotiations;
    s.toolCalls.total += o.toolCalls;
    s.toolCalls.errors += o.toolErrors;
    if (o.status === "kept") {
      if (!o.finished) s.dialogues.unfinishedKept++;
      s.turnLengths.histogram[String(o.userTurns)] = (s.turnLengths.histogram[String(o.userTurns)] ?? 0) + 1;
      keptTurns += o.userTurns;
      s.turnLengths.max = Math.max(s.turnLengths.max ?? 0, o.userTurns);
    } else if (o.status === "dropped") {
      const reason = o.dropReason ?? "(no reason recorded)";
      s.dropReasons[reason] = (s.dropReasons[reason] ?? 0) + 1;
    }
  }
  if (s.dialogues.kept > 0) s.turnLengths.mean = Math.round((keptTurns / s.dialogues.kept) * 100) / 100;
  for (const r of rejected) {
    const key = rejectionKey(r);
    s.assistantTurns.rejectionReasons[key] = (s.assistantTurns.rejectionReasons[key] ?? 0) + 1;
  }
  return s;
}

export async function multiTurnSummary(db: Db, p: { campaignId: string; iteration: number; batches: readonly BatchResult[] }): Promise<MultiTurnSummary> {
  const rows = await iterationDialogues(db, p.campaignId, p.iteration);
  const outcomes = rows.flatMap((r) => (r.outcome ? [r.outcome] : []));
  const base = summarizeDialogues(outcomes, await rejectedTurnReasons(db, p.campaignId, p.iteration));
  const [written] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(samples)
    .where(and(eq(samples.campaignId, p.campaignId), eq(samples.iteration, p.iteration), eq(samples.stage, STAGE)));
  const tokensByRole: MultiTurnSummary["tokensByRole"] = {};
  for (const u of await usageTotals(db, { campaignId: p.campaignId, iteration: p.iteration, stage: STAGE })) {
    const t = (tokensByRole[u.role] ??= { requests: 0, promptTokens: 0, completionTokens: 0, failures: 0 });
    t.requests += Number(u.requests);
    t.promptTokens += Number(u.promptTokens);
    t.completionTokens += Number(u.completionTokens);
    t.failures += Number(u.failures);
  }
  const warning = noDialogueKeptWarning({ ...base.dialogues, dropReasons: base.dropReasons });
  return {
    ...base,
    samples: { written: Number(written?.n ?? 0), duplicates: p.batches.reduce((a, b) => a + (b.duplicates ?? 0), 0) },
    tokensByRole,
    ...(warning ? { warning } : {}),
  };
}
