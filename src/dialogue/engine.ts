/**
 * The dialogue engine (InfTool / LoopTool multi-turn role-play): plans a dialogue over the header's
 * tools, then alternates the user simulator and voted assistant turns, executing the assistant's tool
 * calls through the executor, and stores every message as it goes. Plain code over the store, role
 * clients and executor interfaces (types.ts): no Temporal, no database.
 *
 * Resume: every decision is a function of the stored header and turns (what comes next is read from
 * the last stored turn) and of seeds derived from the dialogue's seed, so a dialogue reopened after a crash
 * continues at its last stored turn, appends each seq once, and asks the same questions again.
 * Two attempts on one dialogue at once (Temporal retries a batch whose attempt timed out while that
 * attempt still runs) cannot mix their turns: a seq another attempt stored first (or a dialogue it
 * ended: an ended one takes no more turns) makes this one read the stored turns again and go on from
 * them, or stop with the stored outcome (a model need not answer the same request the same way
 * twice, so its own turn, and any call in it, is dropped), the stored plan and outcome are the ones it
 * uses and returns, a call of a stored turn runs with the stored arguments, and a call both ran is
 * answered, in either's tool message, with the result recorded first (callDone returns it).
 * Tool calls are exactly-once towards the executor: each call is recorded (callStarted) before it is
 * executed and its result (callDone) after; a recorded result is reused, and a call that was started
 * by an earlier attempt but never finished is re-executed only by an idempotent executor; any other
 * drops the dialogue (tool_call_outcome_unknown), because nobody knows whether its side effect happened.
 *
 * Length: header.targetTurns is what the planner plans for and the user simulator follows (the plan
 * carries it); the dialogue ends when the user says done, and is cut as unfinished at turns.max user
 * turns, or when the assistant still calls tools in round maxToolRounds of one user turn (rounds 0 to
 * maxToolRounds - 1 may call tools; the round after them must answer: a turn there that still calls
 * tools is stored as the vote decided, but its calls never run, so it is no sample's label: cut.ts), or
 * after a turn none of whose candidates was valid (the turn is stored as rejected; nothing follows it).
 * The outcome's counts are read from the stored turns, so a resumed dialogue reports the same numbers
 * as one that never stopped (acceptedTurns counts the vote's decisions, the limit turn's included).
 *
 * Failures: a role's answer that cannot be read after its one repair drops the dialogue
 * (unusable_answer; bad_plan for the planner); transport errors and aborts propagate (the stage retries
 * and the dialogue resumes). A request refused because the dialogue no longer fits a role model's
 * context (vLLM's 400 "maximum context length") ends the dialogue unfinished, as turns.max does: kept
 * with its accepted turns when keepUnfinished, else dropped "unfinished"; any other refusal propagates
 * (the stage records the dialogue failed).
 */
import type { z } from "zod";
import type { ChatMessage } from "../domain/types.js";
import { isContextLengthError, LlmError } from "../llm/errors.js";
import { seedFrom } from "../util/ids.js";
import { nulFreeReviverFor } from "../util/nulFree.js";
import { parseJsonExact } from "../util/exactJson.js";
import { SeededRandom } from "../util/random.js";
import { needShares } from "./draws.js";
import {
  ASSISTANT_SYSTEM,
  dialoguePlanSchema,
  INJECTED_ERROR_TYPES,
  PLAN_RESPONSE_FORMAT,
  planMessages,
  historyResult,
  toolMessageContent,
  USER_TURN_RESPONSE_FORMAT,
  userTurnMessages,
  userTurnSchema,
  type DialoguePlan,
  type ToolErrorType,
  type ToolHistoryEntry,
  type ToolResult,
  type ToolResultOrigin,
  type UserView,
} from "./protocol.js";
import type { DialogueOutcome, DialogueTurn, DropReason, RunDialogueInput, UnfinishedCause } from "./types.js";
import { voteOnTurn } from "./voting.js";

type AssistantTurn = Extract<DialogueTurn, { kind: "assistant" }>;

/** What comes next, read from the stored turns. */
type Step =
  | { kind: "system" }
  | { kind: "user" }
  | { kind: "assistant"; userTurn: number; round: number }
  | { kind: "tools"; turn: AssistantTurn }
  | { kind: "unfinished"; cause: UnfinishedCause; detail: string };

/**
 * append() found the seq stored by another attempt on the same dialogue (Temporal started a retry while
 * the attempt it gave up on still ran): this run's turns are not the stored ones, so it reads them again.
 */
class TurnTaken extends Error {
  constructor(
    readonly seq: number,
    message: string,
  ) {
    super(message);
  }
}

/** How a dialogue ends, before the counts are added. */
type Ending = { kind: "done" } | { kind: "unfinished"; cause: UnfinishedCause; detail: string } | { kind: "drop"; reason: DropReason; detail: string };

/** The plan's calls must name the dialogue's tools; saying so inside structured() gives the planner its one repair. */
function planSchemaFor(toolNames: ReadonlySet<string>): z.ZodType<DialoguePlan> {
  return dialoguePlanSchema.superRefine((plan, ctx) => {
    plan.steps.forEach((step, i) =>
      step.calls.forEach((call, j) => {
        if (!toolNames.has(call.name))
          ctx.addIssue({
            code: "custom",
            path: ["steps", i, "calls", j, "name"],
            message: `"${call.name}" is not one of the given tools (${[...toolNames].join(", ")})`,
          });
      }),
    );
  }) as z.ZodType<DialoguePlan>;
}

/** A user turn says something unless the user is done. */
const userAnswerSchema = userTurnSchema.refine((u) => u.action === "done" || u.message.trim() !== "", {
  message: "expected a non-empty message (only a 'done' turn may be empty)",
  path: ["message"],
});

/**
 * The call's arguments as stored with its execution record (jsonb: an escaped NUL in them becomes
 * U+FFFD) and sent to the tool server, with the integers the model wrote: one a double cannot hold
 * (an order id of 20 digits) is a bigint, so the simulated tool is asked about the label's order.
 */
function parseArguments(raw: string): unknown {
  try {
    return parseJsonExact(raw, nulFreeReviverFor(raw));
  } catch {
    return raw;
  }
}

function readableFailure(err: unknown): err is LlmError {
  return err instanceof LlmError && err.kind === "bad_response";
}

export function sortedTurns(dialogueId: string, turns: readonly DialogueTurn[]): DialogueTurn[] {
  const sorted = [...turns].sort((a, b) => a.seq - b.seq);
  sorted.forEach((t, i) => {
    if (t.seq !== i) throw new Error(`dialogue ${dialogueId}: stored turns are not contiguous (seq ${t.seq} at position ${i})`);
  });
  return sorted;
}

/** The outcome's counts, read from the stored turns (so a resumed dialogue counts the same). */
export function countTurns(turns: readonly DialogueTurn[]): Omit<DialogueOutcome, "status" | "dropReason" | "detail" | "finished"> {
  const c = { userTurns: 0, acceptedTurns: 0, rejectedTurns: 0, toolCalls: 0, toolErrors: 0, reflections: 0, negotiations: 0 };
  for (const t of turns) {
    if (t.kind === "user") c.userTurns++;
    else if (t.kind === "tool") {
      c.toolCalls++;
      if (!t.result.ok) c.toolErrors++;
    } else if (t.kind === "assistant") {
      if (t.accepted) c.acceptedTurns++;
      else c.rejectedTurns++;
      c.reflections += t.review.candidates.filter((x) => x.reflection).length;
      if (t.review.negotiation) c.negotiations++;
    }
  }
  return c;
}

export async function runDialogue(input: RunDialogueInput): Promise<DialogueOutcome> {
  input.signal.throwIfAborted();
  const opened = await input.store.open(input.header);
  if (opened.outcome) return opened.outcome;
  // A dialogue an earlier attempt started goes on with the header it was started with (its plan and
  // turns were made for those tools and that persona), not with one drawn again from a library or
  // config that may have changed since.
  const header = opened.header;
  return new DialogueRun({ ...input, header }, sortedTurns(header.id, opened.turns)).run(opened.plan);
}

class DialogueRun {
  private readonly id: string;
  /** Turns with a smaller seq were stored by an earlier (or another) attempt. */
  private resumedTurns: number;

  constructor(
    private readonly input: RunDialogueInput,
    private readonly turns: DialogueTurn[],
  ) {
    this.id = input.header.id;
    this.resumedTurns = turns.length;
  }

  async run(storedPlan: DialoguePlan | null): Promise<DialogueOutcome> {
    const { store, signal } = this.input;
    let plan = storedPlan;
    if (!plan) {
      const made = await this.makePlan();
      if ("drop" in made) return this.end(made.drop);
      await store.savePlan(this.id, made.plan);
      // The first plan stored stays: another attempt's, when one saved its own first.
      plan = (await store.open(this.input.header)).plan ?? made.plan;
    }

    for (;;) {
      signal.throwIfAborted();
      const { rejectedTurns } = countTurns(this.turns);
      const maxRejected = this.input.stage.maxRejectedTurns;
      if (rejectedTurns > maxRejected)
        return this.end({
          kind: "drop",
          reason: "too_many_rejected_turns",
          detail: `${rejectedTurns} assistant turns rejected; at most ${maxRejected} allowed`,
        });
      const step = this.nextStep();
      let ending: Ending | undefined;
      try {
        switch (step.kind) {
          case "system":
            await this.append({ seq: 0, kind: "system", message: { role: "system", content: ASSISTANT_SYSTEM } });
            break;
          case "unfinished":
            ending = step;
            break;
          case "user":
            ending = await this.userTurn(plan);
            break;
          case "assistant":
            ending = await this.assistantTurn(step.userTurn, step.round);
            break;
          case "tools":
            ending = await this.executeCalls(step.turn);
            break;
        }
      } catch (err) {
        if (err instanceof TurnTaken) {
          // Another attempt stored this seq first: go on from what is stored (or stop, if it ended the dialogue).
          const stored = await this.reread();
          if (stored) return stored;
          // A store that refuses a turn must hold one at that seq (or an outcome): else this would ask again forever.
          if (this.turns.length <= err.seq) throw new Error(`dialogue ${this.id}: the store refused seq ${err.seq} but holds no turn there and no outcome`);
          continue;
        }
        // The dialogue outgrew a role model's context: it can go no further, like one at turns.max,
        // and the turns accepted so far (each of which fitted) are as good as they were.
        if (!isContextLengthError(err)) throw err;
        ending = {
          kind: "unfinished",
          cause: "context_length",
          detail: `the dialogue outgrew the context of a role's model after ${this.turns.length} messages: ${err.message}`,
        };
      }
      if (ending) return this.end(ending);
    }
  }

  private nextStep(): Step {
    const last = this.turns.at(-1);
    const { stage } = this.input;
    if (!last) return { kind: "system" };
    if (last.kind === "system") return { kind: "user" };
    if (last.kind === "user") return { kind: "assistant", userTurn: last.userTurn, round: 0 };
    const assistant = this.lastAssistant();
    if (!assistant) throw new Error(`dialogue ${this.id}: a tool turn at seq ${last.seq} follows no assistant turn`);
    // A turn none of whose candidates was valid carries an invalid call or answer: every later turn
    // would have it in its prompt (verify.rules rejects such samples), so the dialogue ends before it.
    // Read from the stored turn, so a resumed dialogue ends at the same place and never runs its calls.
    const chosen = assistant.review.candidates[assistant.review.chosen];
    if (!assistant.accepted && chosen && !chosen.valid)
      return {
        kind: "unfinished",
        cause: "no_valid_candidate",
        detail: `user turn ${assistant.userTurn}, round ${assistant.round}: ${assistant.review.rejectReason ?? "no candidate is valid"}; the dialogue ends before that turn, which no later turn may build on`,
      };
    const calls = assistant.message.tool_calls ?? [];
    if (calls.length === 0) {
      const { userTurns } = countTurns(this.turns);
      if (userTurns >= stage.turns.max)
        return { kind: "unfinished", cause: "turns_max", detail: `reached turns.max (${stage.turns.max} user turns) before the user said done` };
      return { kind: "user" };
    }
    if (assistant.round >= stage.maxToolRounds)
      return {
        kind: "unfinished",
        cause: "max_tool_rounds",
        detail: `user turn ${assistant.userTurn}: the assistant still called tools after maxToolRounds (${stage.maxToolRounds}) rounds`,
      };
    if (this.pendingCalls(assistant).length > 0) return { kind: "tools", turn: assistant };
    return { kind: "assistant", userTurn: assistant.userTurn, round: assistant.round + 1 };
  }

  private lastAssistant(): AssistantTurn | undefined {
    for (let i = this.turns.length - 1; i >= 0; i--) {
      const t = this.turns[i]!;
      if (t.kind === "assistant") return t;
      if (t.kind !== "tool") return undefined;
    }
    return undefined;
  }

  private pendingCalls(turn: AssistantTurn) {
    const answered = new Set(this.turns.filter((t) => t.seq > turn.seq && t.kind === "tool").map((t) => (t.message as { tool_call_id: string }).tool_call_id));
    return (turn.message.tool_calls ?? []).filter((c) => !answered.has(c.id));
  }

  private async makePlan(): Promise<{ plan: DialoguePlan } | { drop: Ending }> {
    const { header, stage, roles, signal } = this.input;
    try {
      const plan = await roles.planner.structured(
        {
          messages: planMessages({ tools: header.tools, targetTurns: header.targetTurns, needs: needShares(stage.needs) }),
          responseFormat: PLAN_RESPONSE_FORMAT,
          seed: seedFrom("dialogue-plan", header.seed),
        },
        planSchemaFor(new Set(header.tools.map((t) => t.name))),
        { signal, maxRepairs: 1 },
      );
      return { plan };
    } catch (err) {
      if (readableFailure(err)) return { drop: { kind: "drop", reason: "bad_plan", detail: err.message } };
      throw err;
    }
  }

  private async userTurn(plan: DialoguePlan): Promise<Ending | undefined> {
    const { header, stage, roles, signal } = this.input;
    const turn = countTurns(this.turns).userTurns;
    let answer;
    try {
      answer = await roles.user.structured(
        {
          messages: userTurnMessages({
            plan,
            persona: header.persona,
            style: header.style,
            transcript: this.transcript(),
            turn,
            maxTurns: stage.turns.max,
            // With the tools the user knows which values are required, and may leave one out for the assistant to ask.
            tools: header.tools,
          }),
          responseFormat: USER_TURN_RESPONSE_FORMAT,
          seed: seedFrom("dialogue-user", header.seed, turn + 1),
        },
        userAnswerSchema,
        { signal, maxRepairs: 1 },
      );
    } catch (err) {
      if (readableFailure(err)) return { kind: "drop", reason: "unusable_answer", detail: `the user simulator, turn ${turn + 1}: ${err.message}` };
      throw err;
    }
    // "done" ends the dialogue; it is not a message of it.
    if (answer.action === "done") return { kind: "done" };
    await this.append({ seq: this.turns.length, kind: "user", message: { role: "user", content: answer.message }, user: answer, userTurn: turn + 1 });
    return undefined;
  }

  /** What the user simulator sees: user and assistant text only, no tool traffic. */
  private transcript(): UserView[] {
    const view: UserView[] = [];
    for (const t of this.turns) {
      if (t.kind === "user") view.push({ role: "user", content: t.message.content, step: t.user.step });
      else if (t.kind === "assistant" && (t.message.content ?? "").trim() !== "") view.push({ role: "assistant", content: t.message.content! });
    }
    return view;
  }

  private async assistantTurn(userTurn: number, round: number): Promise<Ending | undefined> {
    const { header, stage, roles, signal } = this.input;
    const seq = this.turns.length;
    let vote;
    try {
      vote = await voteOnTurn({
        assistant: roles.assistant,
        ...(roles.negotiator ? { negotiator: roles.negotiator } : {}),
        dialogue: this.messages(),
        tools: header.tools,
        voting: stage.voting,
        reflection: stage.reflection.enabled,
        dialogueSeed: header.seed,
        userTurn,
        round,
        seq,
        signal,
      });
    } catch (err) {
      if (readableFailure(err)) return { kind: "drop", reason: "unusable_answer", detail: `user turn ${userTurn}, round ${round}: ${err.message}` };
      throw err;
    }
    await this.append({ seq, kind: "assistant", message: vote.message, review: vote.review, userTurn, round, accepted: vote.accepted });
    return undefined;
  }

  private async executeCalls(turn: AssistantTurn): Promise<Ending | undefined> {
    const { header, stage, executor, store, signal } = this.input;
    for (const call of this.pendingCalls(turn)) {
      signal.throwIfAborted();
      const name = call.function.name;
      const args = parseArguments(call.function.arguments);
      const rec = await store.callStarted({ dialogueId: this.id, callId: call.id, name, arguments: args });
      let result: ToolResult;
      if (rec.status === "done" && rec.result) result = rec.result;
      else {
        // A store that cannot tell says nothing; then a call of a turn stored by an earlier attempt may have started.
        const earlierAttempt = rec.existed ?? turn.seq < this.resumedTurns;
        if (earlierAttempt && !executor.idempotent)
          return {
            kind: "drop",
            reason: "tool_call_outcome_unknown",
            detail: `call ${call.id} (${name}) was started by an earlier attempt that left no result, and ${executor.describe} is not idempotent`,
          };
        const injectError = this.injectedError(call.id, stage.toolErrorRate);
        const ran = await executor.execute(
          {
            dialogueId: this.id,
            callId: call.id,
            name,
            arguments: args,
            tool: header.tools.find((t) => t.name === name),
            history: this.toolHistory(),
            ...(injectError ? { injectError } : {}),
          },
          signal,
        );
        // Where an error came from, recorded with it: the injection asked for it, or the server chose it (reports tell them apart).
        const origin: ToolResultOrigin = injectError && !ran.ok ? "injected" : "tool_server";
        // The simulator's reason for an error of its own stays only with one: an injected error is the engine's.
        const { simulatedCause, ...answered } = ran;
        const cause = origin === "tool_server" && !ran.ok && simulatedCause ? { simulatedCause } : {};
        // The recorded result, which is another attempt's when it ran the call too and recorded first.
        result = await store.callDone(this.id, call.id, { ...answered, ...cause, origin });
      }
      await this.append({
        seq: this.turns.length,
        kind: "tool",
        message: { role: "tool", tool_call_id: call.id, content: toolMessageContent(result) },
        result,
        callName: name,
      });
    }
    return undefined;
  }

  /** Seeded per call: the same call meets the same trouble on every attempt. */
  private injectedError(callId: string, rate: number): ToolErrorType | undefined {
    if (rate <= 0) return undefined;
    const rng = new SeededRandom(seedFrom("dialogue-tool-error", this.input.header.seed, callId));
    return rng.chance(rate) ? rng.pick(INJECTED_ERROR_TYPES) : undefined;
  }

  /**
   * The dialogue's earlier calls with their results, in order (the tool server keeps them consistent),
   * as the assistant saw them: a result's `detail` is ours (why the engine made it: an unreadable
   * answer's endpoint, model and parse error) and must not reach the tool server, whose later answers
   * become tool messages a model is trained on.
   */
  private toolHistory(): ToolHistoryEntry[] {
    const calls = new Map<string, { name: string; arguments: unknown }>();
    const history: ToolHistoryEntry[] = [];
    for (const t of this.turns) {
      if (t.kind === "assistant")
        for (const c of t.message.tool_calls ?? []) calls.set(c.id, { name: c.function.name, arguments: parseArguments(c.function.arguments) });
      else if (t.kind === "tool") {
        const c = calls.get(t.message.tool_call_id);
        history.push({ name: c?.name ?? t.callName, arguments: c?.arguments ?? null, result: historyResult(t.result) });
      }
    }
    return history;
  }

  private messages(): ChatMessage[] {
    return this.turns.map((t) => t.message);
  }

  private async append(turn: DialogueTurn): Promise<void> {
    if (!(await this.input.store.appendTurn(this.id, turn)))
      throw new TurnTaken(turn.seq, `dialogue ${this.id}: seq ${turn.seq} was stored by another attempt`);
    this.turns.push(turn);
    this.input.onTurn?.({ dialogueId: this.id, seq: turn.seq, kind: turn.kind });
  }

  /** The stored turns replace this run's; returns the stored outcome when another attempt ended the dialogue. */
  private async reread(): Promise<DialogueOutcome | null> {
    const opened = await this.input.store.open(this.input.header);
    this.turns.splice(0, this.turns.length, ...sortedTurns(this.id, opened.turns));
    this.resumedTurns = this.turns.length;
    return opened.outcome;
  }

  private async end(ending: Ending): Promise<DialogueOutcome> {
    const counts = countTurns(this.turns);
    const { keepUnfinished } = this.input.stage;
    let outcome: DialogueOutcome;
    const finished = ending.kind === "done";
    const noAccepted = counts.acceptedTurns === 0;
    // Why it ended early, for the report and summary (a kept dialogue cut short looks like any other kept one).
    const unfinished = ending.kind === "unfinished" ? { unfinished: ending.cause } : {};
    if (ending.kind === "drop") outcome = { status: "dropped", dropReason: ending.reason, detail: ending.detail, ...counts, finished };
    else if (ending.kind === "unfinished" && !keepUnfinished)
      outcome = { status: "dropped", dropReason: "unfinished", detail: ending.detail, ...unfinished, ...counts, finished };
    else if (noAccepted) {
      const detail = finished
        ? "the user said done before any assistant turn was accepted"
        : `no assistant turn was accepted; ${ending.kind === "unfinished" ? ending.detail : ""}`;
      outcome = { status: "dropped", dropReason: "no_accepted_turns", detail, ...unfinished, ...counts, finished };
    } else outcome = { status: "kept", ...(ending.kind === "unfinished" ? { detail: ending.detail } : {}), ...unfinished, ...counts, finished };
    await this.input.store.finish(this.id, outcome);
    // The first outcome stored stays: another attempt's, when one ended the dialogue first (the stage
    // writes samples by the outcome it is given, so it must be the stored one).
    return (await this.input.store.open(this.input.header)).outcome ?? outcome;
  }
}
