/**
 * A DialogueStore in memory, for unit tests of the engine and anything else that runs a dialogue
 * without a database. Writes are idempotent as the interface requires (appending an existing seq is a
 * no-op; a gap in seqs is a bug and throws). `crashAfter` makes the store throw right AFTER the n-th
 * write of one kind succeeded, the way a worker dies between a write and the next step, so tests can
 * resume a dialogue from exactly that point.
 */
import type { DialoguePlan, ToolResult } from "./protocol.js";
import type { DialogueHeader, DialogueOutcome, DialogueStore, DialogueTurn, OpenedDialogue, ToolExecutionRecord } from "./types.js";

export type StoreWrite = "savePlan" | "appendTurn" | "callStarted" | "callDone" | "finish";

/** What a simulated crash throws (tests catch it and resume). */
export class SimulatedCrash extends Error {
  constructor(
    readonly write: StoreWrite,
    readonly count: number,
  ) {
    super(`simulated crash after ${write} #${count}`);
    this.name = "SimulatedCrash";
  }
}

interface StoredDialogue {
  header: DialogueHeader;
  plan: DialoguePlan | null;
  turns: DialogueTurn[];
  calls: Map<string, ToolExecutionRecord>;
  outcome: DialogueOutcome | null;
}

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryDialogueStore implements DialogueStore {
  private readonly dialogues = new Map<string, StoredDialogue>();
  private readonly writes = new Map<StoreWrite, number>();
  private crash: { write: StoreWrite; after: number } | undefined;

  /** The next time the `after`-th write of `write` (counted from now) has succeeded, throw SimulatedCrash once. */
  crashAfter(write: StoreWrite, after: number): void {
    if (!Number.isInteger(after) || after < 1) throw new Error(`crashAfter: expected a positive count, got ${after}`);
    this.crash = { write, after: (this.writes.get(write) ?? 0) + after };
  }

  /** Writes of each kind so far (every call, no-ops included). */
  writeCount(write: StoreWrite): number {
    return this.writes.get(write) ?? 0;
  }

  turns(dialogueId: string): DialogueTurn[] {
    return clone(this.get(dialogueId).turns);
  }

  calls(dialogueId: string): ToolExecutionRecord[] {
    return clone([...this.get(dialogueId).calls.values()]);
  }

  plan(dialogueId: string): DialoguePlan | null {
    return clone(this.get(dialogueId).plan);
  }

  outcome(dialogueId: string): DialogueOutcome | null {
    return clone(this.get(dialogueId).outcome);
  }

  async open(header: DialogueHeader): Promise<OpenedDialogue> {
    let d = this.dialogues.get(header.id);
    if (!d) {
      d = { header: clone(header), plan: null, turns: [], calls: new Map(), outcome: null };
      this.dialogues.set(header.id, d);
    }
    return { header: clone(d.header), plan: clone(d.plan), turns: clone(d.turns), outcome: clone(d.outcome) };
  }

  async savePlan(dialogueId: string, plan: DialoguePlan): Promise<void> {
    const d = this.get(dialogueId);
    d.plan ??= clone(plan);
    this.wrote("savePlan");
  }

  async appendTurn(dialogueId: string, turn: DialogueTurn): Promise<boolean> {
    const d = this.get(dialogueId);
    if (turn.seq > d.turns.length) throw new Error(`appendTurn ${dialogueId}: seq ${turn.seq} leaves a gap after ${d.turns.length} stored turns`);
    const stored = turn.seq === d.turns.length && d.outcome === null;
    if (stored) d.turns.push(clone(turn));
    this.wrote("appendTurn");
    return stored;
  }

  async callStarted(rec: Omit<ToolExecutionRecord, "status" | "result">): Promise<ToolExecutionRecord> {
    const d = this.get(rec.dialogueId);
    const earlier = d.calls.get(rec.callId);
    if (!earlier)
      d.calls.set(rec.callId, { dialogueId: rec.dialogueId, callId: rec.callId, name: rec.name, arguments: clone(rec.arguments), status: "started" });
    this.wrote("callStarted");
    return { ...clone(d.calls.get(rec.callId)!), existed: earlier !== undefined };
  }

  async callDone(dialogueId: string, callId: string, result: ToolResult): Promise<ToolResult> {
    const rec = this.get(dialogueId).calls.get(callId);
    if (!rec) throw new Error(`callDone ${dialogueId}: call ${callId} was never started`);
    if (rec.status !== "done") Object.assign(rec, { status: "done", result: clone(result) });
    this.wrote("callDone");
    return clone(rec.result!);
  }

  async finish(dialogueId: string, outcome: DialogueOutcome): Promise<void> {
    const d = this.get(dialogueId);
    d.outcome ??= clone(outcome);
    this.wrote("finish");
  }

  private get(dialogueId: string): StoredDialogue {
    const d = this.dialogues.get(dialogueId);
    if (!d) throw new Error(`dialogue ${dialogueId} was never opened`);
    return d;
  }

  /** Counts a write that has happened; throws SimulatedCrash when it is the chosen one. */
  private wrote(write: StoreWrite): void {
    const n = (this.writes.get(write) ?? 0) + 1;
    this.writes.set(write, n);
    if (this.crash?.write === write && this.crash.after === n) {
      this.crash = undefined;
      throw new SimulatedCrash(write, n);
    }
  }
}
