/**
 * Multi-turn dialogues in PostgreSQL (dialogues, dialogue_turns, tool_executions): the DialogueStore
 * the synthesize.multiTurn stage gives the dialogue engine, and the reads its batches, summary and
 * `status` need. Every write is idempotent — a (dialogue, seq) or (dialogue, callId) already stored
 * stays as it is, an outcome once stored is kept — so a batch retried after a crash replays its
 * writes harmlessly and resumes each dialogue at its last stored turn.
 */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { DialoguePlan, ToolResult } from "../../dialogue/protocol.js";
import type {
  DialogueHeader,
  DialogueOutcome,
  DialogueStatus,
  DialogueStore,
  DialogueTurn,
  OpenedDialogue,
  ToolExecutionRecord,
} from "../../dialogue/types.js";
import type { Db } from "../client.js";
import { parseJsonExact, stringifyJsonExact } from "../../util/exactJson.js";
import { dialogues, dialogueTurns, toolExecutions } from "../schema.js";

export class PostgresDialogueStore implements DialogueStore {
  constructor(private readonly db: Db) {}

  /** The header returned is the stored row's: a dialogue an earlier attempt created keeps the one it was started with. */
  async open(header: DialogueHeader): Promise<OpenedDialogue> {
    await this.db
      .insert(dialogues)
      .values({
        id: header.id,
        campaignId: header.campaignId,
        iteration: header.iteration,
        slot: header.slot,
        persona: header.persona,
        style: header.style,
        tools: header.tools,
        targetTurns: header.targetTurns,
        seed: header.seed,
      })
      .onConflictDoNothing();
    const [row] = await this.db.select().from(dialogues).where(eq(dialogues.id, header.id));
    if (!row) throw new Error(`dialogue ${header.id} was not stored`);
    const turns = await this.db
      .select({ turn: dialogueTurns.turn })
      .from(dialogueTurns)
      .where(eq(dialogueTurns.dialogueId, header.id))
      .orderBy(asc(dialogueTurns.seq));
    return { header: headerOf(row), plan: row.plan ?? null, turns: turns.map((t) => t.turn), outcome: row.outcome ?? null };
  }

  /** The first plan stored stays (a resumed dialogue continues the plan its turns followed). */
  async savePlan(dialogueId: string, plan: DialoguePlan): Promise<void> {
    await this.db
      .update(dialogues)
      .set({ plan, updatedAt: new Date() })
      .where(and(eq(dialogues.id, dialogueId), sql`${dialogues.plan} IS NULL`));
  }

  /** One statement per turn (a dialogue stores tens of them; its row's updated_at moves with the plan and the outcome only). */
  async appendTurn(dialogueId: string, turn: DialogueTurn): Promise<boolean> {
    // Not into a dialogue that has ended (another attempt stored its outcome): it takes no more turns.
    const stored = await this.db.execute(sql`
      INSERT INTO ${dialogueTurns} (dialogue_id, seq, kind, turn)
      SELECT ${dialogueId}, ${turn.seq}, ${turn.kind}, ${JSON.stringify(turn)}::jsonb
      WHERE EXISTS (SELECT 1 FROM ${dialogues} WHERE ${dialogues.id} = ${dialogueId} AND ${dialogues.status} = 'running')
      ON CONFLICT DO NOTHING
      RETURNING seq`);
    const rows = (stored as { rows?: unknown[] }).rows ?? (stored as unknown as unknown[]);
    return rows.length > 0;
  }

  /** `existed` says whether an earlier attempt had recorded the call (the engine then never assumes a fresh one). */
  async callStarted(rec: Omit<ToolExecutionRecord, "status" | "result">): Promise<ToolExecutionRecord> {
    const created = await this.db
      .insert(toolExecutions)
      .values({ dialogueId: rec.dialogueId, callId: rec.callId, name: rec.name, arguments: exactJsonb(rec.arguments ?? {}), status: "started" })
      .onConflictDoNothing()
      .returning({ callId: toolExecutions.callId });
    const [row] = await this.db
      .select(executionColumns)
      .from(toolExecutions)
      .where(and(eq(toolExecutions.dialogueId, rec.dialogueId), eq(toolExecutions.callId, rec.callId)));
    if (!row) throw new Error(`tool call ${rec.dialogueId} ${rec.callId} was not stored`);
    return { ...toRecord(row), existed: created.length === 0 };
  }

  /** The first result stored stays (a call is done once) and is the one returned. */
  async callDone(dialogueId: string, callId: string, result: ToolResult): Promise<ToolResult> {
    const where = and(eq(toolExecutions.dialogueId, dialogueId), eq(toolExecutions.callId, callId));
    const recorded = await this.db
      .update(toolExecutions)
      .set({ status: "done", result, finishedAt: new Date() })
      .where(and(where, eq(toolExecutions.status, "started")))
      .returning({ callId: toolExecutions.callId });
    // This one was recorded: returned as given, its keys in the executor's order (jsonb sorts them).
    if (recorded.length > 0) return result;
    // Another attempt recorded its result first.
    const [row] = await this.db.select({ status: toolExecutions.status, result: toolExecutions.result }).from(toolExecutions).where(where);
    if (!row) throw new Error(`callDone ${dialogueId}: call ${callId} was never started`);
    if (row.status !== "done" || !row.result)
      throw new Error(`callDone ${dialogueId}: call ${callId} is ${row.status} with no result after its result was written`);
    return row.result;
  }

  /** The first outcome stored stays (a replayed finish changes nothing). */
  async finish(dialogueId: string, outcome: DialogueOutcome): Promise<void> {
    await this.db
      .update(dialogues)
      .set({ status: outcome.status, outcome, updatedAt: new Date() })
      .where(and(eq(dialogues.id, dialogueId), eq(dialogues.status, "running")));
  }
}

function headerOf(row: typeof dialogues.$inferSelect): DialogueHeader {
  return {
    id: row.id,
    campaignId: row.campaignId,
    iteration: row.iteration,
    slot: row.slot,
    persona: row.persona,
    style: row.style,
    tools: row.tools,
    targetTurns: row.targetTurns,
    seed: row.seed,
  };
}

/** The tools a dialogue offered: its stored header's (what its samples carry), by dialogue id. */
export async function dialogueToolsOf(db: Db, ids: readonly string[]): Promise<Map<string, DialogueHeader["tools"]>> {
  const out = new Map<string, DialogueHeader["tools"]>();
  if (ids.length === 0) return out;
  const rows = await db
    .select({ id: dialogues.id, tools: dialogues.tools })
    .from(dialogues)
    .where(inArray(dialogues.id, [...ids]));
  for (const r of rows) out.set(r.id, r.tools);
  return out;
}

/**
 * A call's arguments in and out of jsonb with every digit: they may hold a bigint (an order id of 20
 * digits, src/util/exactJson.ts). jsonb keeps a number's digits, but drizzle writes a value with
 * JSON.stringify (which throws on a bigint) and the driver reads jsonb with JSON.parse (which rounds
 * it to a double), so the text is written and read here.
 */
const exactJsonb = (value: unknown) => sql`${stringifyJsonExact(value)}::jsonb`;
const executionColumns = {
  dialogueId: toolExecutions.dialogueId,
  callId: toolExecutions.callId,
  name: toolExecutions.name,
  argumentsText: sql<string>`${toolExecutions.arguments}::text`,
  status: toolExecutions.status,
  result: toolExecutions.result,
};

function toRecord(row: {
  dialogueId: string;
  callId: string;
  name: string;
  argumentsText: string;
  status: ToolExecutionRecord["status"];
  result: ToolResult | null;
}): ToolExecutionRecord {
  return {
    dialogueId: row.dialogueId,
    callId: row.callId,
    name: row.name,
    arguments: parseJsonExact(row.argumentsText),
    status: row.status,
    ...(row.result ? { result: row.result } : {}),
  };
}

/** Stored outcomes of these dialogues (absent: not started, or still running). */
export async function dialogueOutcomes(db: Db, ids: readonly string[]): Promise<Map<string, DialogueOutcome>> {
  const out = new Map<string, DialogueOutcome>();
  if (ids.length === 0) return out;
  const rows = await db
    .select({ id: dialogues.id, outcome: dialogues.outcome })
    .from(dialogues)
    .where(inArray(dialogues.id, [...ids]));
  for (const r of rows) if (r.outcome) out.set(r.id, r.outcome);
  return out;
}

/** The stored turns of one dialogue, in order. */
export async function dialogueTurnsOf(db: Db, dialogueId: string): Promise<DialogueTurn[]> {
  const rows = await db
    .select({ turn: dialogueTurns.turn })
    .from(dialogueTurns)
    .where(eq(dialogueTurns.dialogueId, dialogueId))
    .orderBy(asc(dialogueTurns.seq));
  return rows.map((r) => r.turn);
}

export interface DialogueRow {
  id: string;
  slot: number;
  status: DialogueStatus;
  outcome: DialogueOutcome | null;
}

/** Every dialogue of an iteration with its status and outcome, by slot. */
export async function iterationDialogues(db: Db, campaignId: string, iteration: number): Promise<DialogueRow[]> {
  return db
    .select({ id: dialogues.id, slot: dialogues.slot, status: dialogues.status, outcome: dialogues.outcome })
    .from(dialogues)
    .where(and(eq(dialogues.campaignId, campaignId), eq(dialogues.iteration, iteration)))
    .orderBy(asc(dialogues.slot));
}

export interface DialogueProgressCounts {
  /** Dialogues started (a row exists), by status. */
  running: number;
  kept: number;
  /** Of the kept, those that ended before the user said done (keepUnfinished), as the report counts them. */
  keptUnfinished: number;
  dropped: number;
  failed: number;
  /** Dialogues that ended after `since` (for a rate); 0 without `since`. */
  settledSince: number;
  /** Messages stored across the iteration's dialogues (dialogue_turns rows: system, user, assistant, rejected assistant and tool messages). */
  messages: number;
}

/** Counts for `status` while the stage runs: dialogues by status and stored messages (two aggregate queries). */
export async function dialogueProgress(db: Db, campaignId: string, iteration: number, since?: Date): Promise<DialogueProgressCounts> {
  const recent = since ? sql`count(*) filter (where ${dialogues.updatedAt} > ${since.toISOString()}::timestamptz)::int` : sql`0`;
  const byStatus = await db
    .select({
      status: dialogues.status,
      n: sql<number>`count(*)::int`,
      recent: sql<number>`${recent}`,
      // A dialogue cut short (turns.max, context length, ...) is finished: false in its outcome (src/db/repos/reportData.ts multiTurnCounts).
      unfinished: sql<number>`count(*) filter (where ${dialogues.outcome}->>'finished' = 'false')::int`,
    })
    .from(dialogues)
    .where(and(eq(dialogues.campaignId, campaignId), eq(dialogues.iteration, iteration)))
    .groupBy(dialogues.status);
  const out: DialogueProgressCounts = { running: 0, kept: 0, keptUnfinished: 0, dropped: 0, failed: 0, settledSince: 0, messages: 0 };
  for (const r of byStatus) {
    out[r.status] = Number(r.n);
    if (r.status === "kept") out.keptUnfinished = Number(r.unfinished);
    if (r.status !== "running") out.settledSince += Number(r.recent);
  }
  const [stored] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(dialogueTurns)
    .innerJoin(dialogues, eq(dialogues.id, dialogueTurns.dialogueId))
    .where(and(eq(dialogues.campaignId, campaignId), eq(dialogues.iteration, iteration)));
  out.messages = Number(stored?.n ?? 0);
  return out;
}

/** Tool executions of these dialogues (the chaos test counts them per call). */
export async function toolExecutionsOf(db: Db, dialogueIds: readonly string[]): Promise<ToolExecutionRecord[]> {
  if (dialogueIds.length === 0) return [];
  const rows = await db
    .select(executionColumns)
    .from(toolExecutions)
    .where(inArray(toolExecutions.dialogueId, [...dialogueIds]))
    .orderBy(asc(toolExecutions.dialogueId), asc(toolExecutions.callId));
  return rows.map(toRecord);
}

/** Why each rejected assistant turn of an iteration's dialogues was rejected (one entry per rejected turn). */
export async function rejectedTurnReasons(db: Db, campaignId: string, iteration: number): Promise<string[]> {
  const rows = await db
    .select({ reason: sql<string | null>`${dialogueTurns.turn}->'review'->>'rejectReason'` })
    .from(dialogueTurns)
    .innerJoin(dialogues, eq(dialogues.id, dialogueTurns.dialogueId))
    .where(
      and(
        eq(dialogues.campaignId, campaignId),
        eq(dialogues.iteration, iteration),
        eq(dialogueTurns.kind, "assistant"),
        sql`(${dialogueTurns.turn}->>'accepted')::boolean = false`,
      ),
    );
  return rows.map((r) => r.reason ?? "(no reason recorded)");
}
