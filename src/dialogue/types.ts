/**
 * The dialogue engine's records and the store it writes them to, turn by turn. The engine
 * (src/dialogue/engine.ts) is plain code over these interfaces: the stage handler gives it a
 * PostgreSQL store (src/db/repos/dialogues.ts), unit tests an in-memory one.
 */
import type { ChatMessage, McpTool } from "../domain/types.js";
import type { LlmClient } from "../llm/client.js";
import type { MultiTurnStage } from "../stages/synthesize/multiTurn/spec.js";
import type { ToolExecutor } from "./executor.js";
import type { DialoguePlan, ToolResult, UserTurn } from "./protocol.js";

export const DIALOGUE_STATUSES = ["running", "kept", "dropped", "failed"] as const;
export type DialogueStatus = (typeof DIALOGUE_STATUSES)[number];

/** Why a dialogue was dropped (the summary counts them by this key; `detail` says more). */
export const DROP_REASONS = [
  /** More assistant turns rejected (no vote reached m, negotiation rejected all, revision still broken) than allowed. */
  "too_many_rejected_turns",
  /** The user simulator ended before any assistant turn could be accepted. */
  "no_accepted_turns",
  /** The planner's answer could not be used (unknown tools, no steps) after its bounded repair. */
  "bad_plan",
  /** The dialogue hit maxTurns (or maxToolRounds in one turn, or a role model's context) without the user saying done, and keepUnfinished is off. */
  "unfinished",
  /** A non-idempotent executor's call was interrupted by a crash: whether it ran is unknown. */
  "tool_call_outcome_unknown",
  /** A role's answer could not be read after its bounded repair (not a transport failure). */
  "unusable_answer",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface DialogueHeader {
  /** The slot key: `<campaign>/<iteration>/synthesize.multiTurn/<slot>`. */
  id: string;
  campaignId: string;
  iteration: number;
  slot: number;
  persona: string;
  style: string;
  /** The tools offered to the assistant (the planner sampled its plan from these). */
  tools: McpTool[];
  /** Drawn per dialogue from the configured distribution before the planner is asked. */
  targetTurns: number;
  seed: number;
}

/** What the assistant turn went through before it was accepted or rejected (kept for analysis). */
export interface AssistantTurnReview {
  /** The k candidates as they came back (after reflection, when it ran), in seed order. */
  candidates: { message: Extract<ChatMessage, { role: "assistant" }>; reflection?: Reflection; valid: boolean }[];
  /** Sizes of the agreeing groups, largest first, and the threshold m. */
  votes: { groups: number[]; agreeRequired: number };
  /** How the turn was decided. */
  decision: "vote" | "negotiation" | "rejected";
  negotiation?: { choice: number | null; reasons: string; model: string };
  /** Why it was rejected (decision "rejected"). */
  rejectReason?: string;
  /** Index of the candidate the dialogue continues with (for a rejected turn: the plurality one). */
  chosen: number;
}

export interface Reflection {
  original: Extract<ChatMessage, { role: "assistant" }>;
  critique: string[];
  revision: Extract<ChatMessage, { role: "assistant" }> | null;
  /** The revision still broke a rule (the candidate is then invalid). */
  stillInvalid: string[];
}

/** One stored turn: a message of the dialogue with what produced it. `seq` is its index in the dialogue's messages. */
export type DialogueTurn =
  | { seq: number; kind: "system"; message: Extract<ChatMessage, { role: "system" }> }
  | { seq: number; kind: "user"; message: Extract<ChatMessage, { role: "user" }>; user: UserTurn; userTurn: number }
  | {
      seq: number;
      kind: "assistant";
      message: Extract<ChatMessage, { role: "assistant" }>;
      review: AssistantTurnReview;
      /** The user turn this assistant message answers (1-based), and its round within it (0 = first answer). */
      userTurn: number;
      round: number;
      /** Accepted turns become training samples; rejected ones only carry the dialogue on. */
      accepted: boolean;
    }
  | { seq: number; kind: "tool"; message: Extract<ChatMessage, { role: "tool" }>; result: ToolResult; callName: string };

export interface ToolExecutionRecord {
  dialogueId: string;
  callId: string;
  name: string;
  arguments: unknown;
  status: "started" | "done";
  result?: ToolResult;
  /**
   * Set by callStarted: true when the record was already there (an earlier attempt's), false when this
   * call created it. A store that leaves it out makes the engine assume an earlier attempt for the
   * calls of a turn it resumed (safe: never a second execution by a non-idempotent executor).
   */
  existed?: boolean;
}

/**
 * Why a dialogue ended before the user said done (kept with keepUnfinished, else dropped "unfinished"):
 * turns.max user turns, the assistant still calling tools after maxToolRounds, a turn none of whose
 * candidates was valid, or a role model's context outgrown.
 */
export const UNFINISHED_CAUSES = ["turns_max", "max_tool_rounds", "no_valid_candidate", "context_length"] as const;
export type UnfinishedCause = (typeof UNFINISHED_CAUSES)[number];

export interface DialogueOutcome {
  status: Exclude<DialogueStatus, "running">;
  dropReason?: DropReason;
  detail?: string;
  /** Set when the dialogue ended unfinished (not when the user said done or it was dropped for another reason). */
  unfinished?: UnfinishedCause;
  /** User turns taken; assistant turns accepted and rejected. */
  userTurns: number;
  acceptedTurns: number;
  rejectedTurns: number;
  toolCalls: number;
  toolErrors: number;
  reflections: number;
  negotiations: number;
  /** The user said done (a dialogue cut at maxTurns says false). */
  finished: boolean;
}

/** What DialogueStore.open returns. */
export interface OpenedDialogue {
  header: DialogueHeader;
  plan: DialoguePlan | null;
  turns: DialogueTurn[];
  outcome: DialogueOutcome | null;
}

/**
 * Turn-by-turn storage. Every write is idempotent: appending a (dialogue, seq) that exists is a no-op;
 * the first plan, call record, call result and outcome stored stay.
 */
export interface DialogueStore {
  /**
   * Creates the dialogue (no-op when it exists) and returns its header, plan and stored turns. The
   * header is the STORED one: a dialogue created by an earlier attempt keeps the persona, style, tools,
   * target and seed it was started with, whatever the caller drew this time (the library or the config
   * may have changed since: a tool file edited or added, a new config version, before a restart).
   */
  open(header: DialogueHeader): Promise<OpenedDialogue>;
  savePlan(dialogueId: string, plan: DialoguePlan): Promise<void>;
  /**
   * Stores the turn unless one with its seq is stored already or the dialogue has an outcome; says
   * whether this call stored it. False means another attempt on the same dialogue (a retry started
   * while a timed-out attempt still runs) got there first, or ended the dialogue: the caller's turns
   * are not the stored ones any more.
   */
  appendTurn(dialogueId: string, turn: DialogueTurn): Promise<boolean>;
  /** Records a call before it is executed; returns the stored record (an earlier attempt's, if any). */
  callStarted(rec: Omit<ToolExecutionRecord, "status" | "result">): Promise<ToolExecutionRecord>;
  /**
   * Records a call's result unless one is recorded already, and returns the recorded one: two attempts
   * that ran one call at once (a retry beside the attempt it gave up on) may get different results,
   * and the tool message each stores must carry the result its execution record keeps.
   */
  callDone(dialogueId: string, callId: string, result: ToolResult): Promise<ToolResult>;
  finish(dialogueId: string, outcome: DialogueOutcome): Promise<void>;
}

/** The role clients a dialogue uses (built by the stage from the campaign's roles). */
export interface DialogueRoles {
  planner: LlmClient;
  user: LlmClient;
  assistant: LlmClient;
  /** The negotiation judge (voting.negotiator); absent: a turn without m agreeing candidates is rejected. */
  negotiator?: LlmClient;
}

/** What src/dialogue/engine.ts's `runDialogue(input)` takes; it returns the DialogueOutcome (also stored via `store.finish`). */
export interface RunDialogueInput {
  header: DialogueHeader;
  /** The stage's config entry (turns, voting, reflection, toolErrorRate, maxToolRounds, ...). */
  stage: MultiTurnStage;
  roles: DialogueRoles;
  executor: ToolExecutor;
  store: DialogueStore;
  signal: AbortSignal;
  /** Called after each stored turn (progress heartbeats). */
  onTurn?(e: { dialogueId: string; seq: number; kind: DialogueTurn["kind"] }): void;
}

/** A training sample cut from a kept dialogue: the messages up to and including one accepted assistant turn. */
export interface DialogueSampleCut {
  /** seq of the assistant turn that is the sample's label. */
  labelSeq: number;
  messages: ChatMessage[];
}
