/**
 * The dialogue engine against SCRIPTED role players (test/helpers/scriptedRoles.ts: planted plans, user
 * turns, candidates, revisions and verdicts, not a model) and an in-memory store: each mechanism is
 * observed doing its job: votes that agree, negotiation that picks or rejects, reflection that fixes a
 * schema violation or fails to, injected tool errors, a user who stops early, drops with their reasons,
 * and crashes at every write that resume at the right seq without a duplicate turn or a second execution.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { dialogueTurnsOf, PostgresDialogueStore, toolExecutionsOf } from "../../../src/db/repos/dialogues.js";
import { cutSamples } from "../../../src/dialogue/cut.js";
import { runDialogue } from "../../../src/dialogue/engine.js";
import type { ToolCallRequest, ToolExecutor } from "../../../src/dialogue/executor.js";
import { LlmToolServer, UNREADABLE_ANSWER_MESSAGE } from "../../../src/dialogue/llmToolServer.js";
import { MemoryDialogueStore, SimulatedCrash, type StoreWrite } from "../../../src/dialogue/memoryStore.js";
import { INJECTED_ERROR_TYPES, toolMessageContent, toolServerMessages, type DialoguePlan, type ToolResult } from "../../../src/dialogue/protocol.js";
import type { DialogueHeader, DialogueOutcome, DialogueStore, DialogueTurn, RunDialogueInput } from "../../../src/dialogue/types.js";
import { candidateSeed } from "../../../src/dialogue/voting.js";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import { LlmError } from "../../../src/llm/errors.js";
import { multiTurnStageSchema, type MultiTurnStage } from "../../../src/stages/synthesize/multiTurn/spec.js";
import { startScriptedRoles, type RoleRequest, type RoleScripts, type ScriptedReply, type ScriptedRoles } from "../../helpers/scriptedRoles.js";

const TOOLS: McpTool[] = [
  {
    name: "get_weather",
    description: "Current weather for a city",
    inputSchema: { type: "object", properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } }, required: ["city"] },
  },
  {
    name: "send_email",
    description: "Send an email",
    inputSchema: { type: "object", properties: { to: { type: "string", format: "email" }, subject: { type: "string" } }, required: ["to", "subject"] },
  },
];

const PLAN: DialoguePlan = {
  scenario: "A traveller checks the weather and tells a friend.",
  steps: [
    { need: "single", intent: "the weather in Paris", calls: [{ name: "get_weather", arguments: { city: "Paris" } }] },
    { need: "single", intent: "email Bob the forecast", calls: [{ name: "send_email", arguments: { to: "bob@example.com", subject: "Forecast" } }] },
  ],
  targetTurns: 2,
};

const HEADER: DialogueHeader = {
  id: "c1/1/synthesize.multiTurn/0",
  campaignId: "c1",
  iteration: 1,
  slot: 0,
  persona: "a traveller abroad",
  style: "terse",
  tools: TOOLS,
  targetTurns: 2,
  seed: 4242,
};

const stageOf = (over: Record<string, unknown> = {}): MultiTurnStage =>
  multiTurnStageSchema.parse({ name: "synthesize.multiTurn", dialogues: 1, toolErrorRate: 0, ...over });

/** Which candidate (user turn, round, index) a request's seed belongs to. */
function candidateOf(seed: number | undefined, k = 3): { userTurn: number; round: number; i: number } {
  for (let userTurn = 1; userTurn <= 16; userTurn++)
    for (let round = 0; round <= 16; round++)
      for (let i = 0; i < k; i++) if (candidateSeed(HEADER.seed, userTurn, round, i) === seed) return { userTurn, round, i };
  throw new Error(`seed ${seed} is no candidate seed of the test dialogue`);
}

const lastMessage = (r: RoleRequest): ChatMessage => r.messages.at(-1)!;
/** The plan step a user message asked for ("step N: ..."). */
const stepOf = (text: string): number => Number(/^step (\d+)/.exec(text)?.[1] ?? NaN);

/** The plan's calls for the latest user request; after tool results, a text answer. */
function goodAssistant(r: RoleRequest): ScriptedReply {
  const last = lastMessage(r);
  if (last.role === "tool") return { content: `Done: ${last.content}` };
  if (last.role !== "user") throw new Error(`unexpected last message ${last.role}`);
  const step = PLAN.steps[stepOf(last.content)];
  if (!step) return { content: "Could you say that again?" };
  return { toolCalls: step.calls.map((c) => ({ name: c.name, arguments: c.arguments })) };
}

/** Asks for each plan step in turn, then says done. */
function planFollowingUser(r: RoleRequest): ScriptedReply {
  const turn = r.case!.turn as number;
  const plan = r.case!.plan as DialoguePlan;
  const step = plan.steps[turn];
  if (!step) return { json: { message: "Thanks, that is all.", action: "done", step: turn - 1 } };
  return { json: { message: `step ${turn}: ${step.intent}`, action: "request", step: turn } };
}

const goodScripts = (over: RoleScripts = {}): RoleScripts => ({
  planner: () => ({ json: PLAN }),
  user: planFollowingUser,
  assistant: goodAssistant,
  ...over,
});

/** An executor with a deterministic result per call that records every execution. */
class RecordingExecutor implements ToolExecutor {
  readonly describe: string;
  readonly simulated = false;
  readonly executed: ToolCallRequest[] = [];
  /** Throw after executing the n-th call (the worker died while the call ran). */
  dieAfterExecuting: number | undefined;

  constructor(readonly idempotent = true) {
    this.describe = idempotent ? "test executor (idempotent)" : "test executor (side effects)";
  }

  execute(call: ToolCallRequest): Promise<ToolResult> {
    this.executed.push(call);
    if (this.dieAfterExecuting === this.executed.length) {
      this.dieAfterExecuting = undefined;
      return Promise.reject(new Error("the worker died while the call ran"));
    }
    return Promise.resolve({ ok: true, result: { tool: call.name, arguments: call.arguments, earlierCalls: call.history.length } });
  }
}

let roles: ScriptedRoles;
before(async () => {
  roles = await startScriptedRoles();
});
after(async () => {
  await roles.close();
});
beforeEach(() => {
  roles.requests.length = 0;
});

interface RunOptions {
  stage?: Record<string, unknown>;
  store?: DialogueStore;
  executor?: ToolExecutor;
  negotiator?: boolean;
  signal?: AbortSignal;
  seqs?: number[];
}

function inputFor(o: RunOptions = {}): RunDialogueInput & { store: DialogueStore } {
  return {
    header: HEADER,
    stage: stageOf(o.stage),
    roles: {
      planner: roles.client("planner"),
      user: roles.client("user"),
      assistant: roles.client("assistant"),
      ...(o.negotiator ? { negotiator: roles.client("negotiator") } : {}),
    },
    executor: o.executor ?? new RecordingExecutor(),
    store: o.store ?? new MemoryDialogueStore(),
    signal: o.signal ?? new AbortController().signal,
    onTurn: (e) => o.seqs?.push(e.seq),
  };
}

async function run(o: RunOptions = {}): Promise<{ outcome: DialogueOutcome; turns: DialogueTurn[]; store: MemoryDialogueStore }> {
  const store = (o.store as MemoryDialogueStore | undefined) ?? new MemoryDialogueStore();
  const outcome = await runDialogue(inputFor({ ...o, store }));
  return { outcome, turns: store.turns(HEADER.id), store };
}

const assistantTurns = (turns: DialogueTurn[]) => turns.filter((t): t is Extract<DialogueTurn, { kind: "assistant" }> => t.kind === "assistant");

test("agreeing candidates: every turn accepted by vote, calls executed once with stable ids, the user's done ends it", async () => {
  roles.script(goodScripts());
  const executor = new RecordingExecutor();
  const seqs: number[] = [];
  const { outcome, turns, store } = await run({ executor, seqs });
  assert.deepEqual(outcome, {
    status: "kept",
    userTurns: 2,
    acceptedTurns: 4,
    rejectedTurns: 0,
    toolCalls: 2,
    toolErrors: 0,
    reflections: 0,
    negotiations: 0,
    finished: true,
  });
  assert.deepEqual(store.outcome(HEADER.id), outcome, "finish() stored the outcome");
  assert.deepEqual(store.plan(HEADER.id), PLAN);
  assert.deepEqual(
    turns.map((t) => t.kind),
    ["system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant"],
  );
  assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8], "onTurn after each stored turn");
  assert.deepEqual(
    turns.map((t) => t.seq),
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  const first = assistantTurns(turns)[0]!;
  assert.deepEqual(first.review.votes, { groups: [3], agreeRequired: 2 });
  assert.equal(first.review.decision, "vote");
  assert.equal(first.accepted, true);
  assert.deepEqual(first.message.tool_calls, [{ id: "call_2_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }]);
  for (const c of first.review.candidates) assert.equal(c.message.tool_calls![0]!.id, "call_2_0", "every candidate gets the stable id");
  const tool = turns[3]!;
  assert.ok(tool.kind === "tool");
  assert.equal(tool.message.tool_call_id, "call_2_0");
  assert.deepEqual(JSON.parse(tool.message.content), { tool: "get_weather", arguments: { city: "Paris" }, earlierCalls: 0 });
  // Executed exactly once each, the second with the first in its history, both recorded done.
  assert.deepEqual(
    executor.executed.map((c) => [c.callId, c.name, c.history.length, c.injectError]),
    [
      ["call_2_0", "get_weather", 0, undefined],
      ["call_6_0", "send_email", 1, undefined],
    ],
  );
  assert.deepEqual(
    store.calls(HEADER.id).map((c) => [c.callId, c.status]),
    [
      ["call_2_0", "done"],
      ["call_6_0", "done"],
    ],
  );
  // k = 3 candidates per assistant turn, each with its own seed, at voting.temperature.
  const asked = roles.of("assistant");
  assert.equal(asked.length, 12);
  assert.equal(new Set(asked.map((r) => r.seed)).size, 12);
  assert.ok(asked.every((r) => r.temperature === 0.7 && Array.isArray(r.body.tools) && r.body.tool_choice === "auto"));
  // The planner got the header's tools, target and need shares; the user a transcript of text only.
  const planReq = roles.of("planner")[0]!;
  assert.deepEqual(planReq.case!.needs, { single: 0.5, multi: 0.3, parallel: 0.2 });
  assert.equal(planReq.case!.targetTurns, 2);
  const lastUserReq = roles.of("user").at(-1)!;
  assert.deepEqual(
    (lastUserReq.case!.transcript as { role: string }[]).map((v) => v.role),
    ["user", "assistant", "user", "assistant"],
  );
  assert.equal(lastUserReq.case!.turn, 2);
  // Running a finished dialogue again asks nobody anything.
  const before = roles.requests.length;
  assert.deepEqual(await runDialogue(inputFor({ store })), outcome);
  assert.equal(roles.requests.length, before);
});

test("disagreeing candidates: the negotiator picks one with reasons", async () => {
  const cities = ["Lyon", "Paris", "Rome"];
  roles.script(
    goodScripts({
      assistant: (r) => {
        const c = candidateOf(r.seed);
        if (c.userTurn === 1 && c.round === 0) return { toolCalls: [{ name: "get_weather", arguments: { city: cities[c.i] } }] };
        return goodAssistant(r);
      },
      negotiation: (r) => {
        const offered = r.case!.candidates as { tool_calls: { arguments: { city: string } }[] }[];
        return { json: { choice: offered.findIndex((c) => c.tool_calls[0]?.arguments.city === "Paris"), reasons: "the user asked about Paris" } };
      },
    }),
  );
  const { outcome, turns } = await run({ negotiator: true });
  assert.equal(outcome.status, "kept");
  assert.equal(outcome.negotiations, 1);
  assert.equal(outcome.acceptedTurns, 4);
  const t = assistantTurns(turns)[0]!;
  assert.deepEqual(t.review.votes.groups, [1, 1, 1]);
  assert.equal(t.review.decision, "negotiation");
  assert.deepEqual(t.review.negotiation, { choice: 1, reasons: "the user asked about Paris", model: "negotiator-model" });
  assert.equal(t.review.chosen, 1);
  assert.equal(t.accepted, true);
  assert.equal(JSON.parse(t.message.tool_calls![0]!.function.arguments).city, "Paris");
  assert.equal(roles.of("negotiation").length, 1);
});

test("disagreeing candidates: the negotiator rejects all; the turn is rejected, carries on with the plurality candidate, and is never a label", async () => {
  roles.script(
    goodScripts({
      assistant: (r) => {
        const c = candidateOf(r.seed);
        // Two of three agree on Lyon (but m = 3), one says Paris.
        if (c.userTurn === 1 && c.round === 0) return { toolCalls: [{ name: "get_weather", arguments: { city: c.i === 1 ? "Paris" : "Lyon" } }] };
        return goodAssistant(r);
      },
      negotiation: () => ({ json: { choice: null, reasons: "none asks what the user asked" } }),
    }),
  );
  const { outcome, turns } = await run({ negotiator: true, stage: { voting: { k: 3, m: 3, negotiator: "negotiator" } } });
  assert.deepEqual([outcome.status, outcome.rejectedTurns, outcome.acceptedTurns, outcome.negotiations], ["kept", 1, 3, 1]);
  const t = assistantTurns(turns)[0]!;
  assert.deepEqual(t.review.votes, { groups: [2, 1], agreeRequired: 3 });
  assert.equal(t.review.decision, "rejected");
  assert.equal(t.accepted, false);
  assert.match(t.review.rejectReason!, /the negotiator rejected every candidate: none asks what the user asked/);
  assert.equal(t.review.chosen, 0, "the first of the largest group");
  assert.equal(JSON.parse(t.message.tool_calls![0]!.function.arguments).city, "Lyon");
  assert.equal(turns[3]!.kind, "tool", "the rejected turn's call still ran: it is the dialogue's history");
  const cuts = cutSamples(turns);
  assert.deepEqual(
    cuts.map((c) => c.labelSeq),
    [4, 6, 8],
  );
  assert.deepEqual(cuts[0]!.messages[2], t.message, "the rejected turn stays in later prompts");
});

test("two groups that both reach m (k = 4, m = 2: two say Paris, two say Lyon) are a tie: no label by candidate order", async () => {
  const tied = (over: RoleScripts = {}) =>
    goodScripts({
      assistant: (r) => {
        const c = candidateOf(r.seed, 4);
        if (c.userTurn === 1 && c.round === 0) return { toolCalls: [{ name: "get_weather", arguments: { city: c.i % 2 === 0 ? "Lyon" : "Paris" } }] };
        return goodAssistant(r);
      },
      ...over,
    });
  // Without a negotiator the tie is a rejected turn, never a label.
  roles.script(tied());
  const plain = await run({ stage: { voting: { k: 4, m: 2 } } });
  const t = assistantTurns(plain.turns)[0]!;
  assert.deepEqual(t.review.votes, { groups: [2, 2], agreeRequired: 2 });
  assert.equal(t.accepted, false, "a 2-2 split is no agreement");
  assert.equal(t.review.decision, "rejected");
  assert.match(t.review.rejectReason!, /tie/);
  assert.ok(!cutSamples(plain.turns).some((c) => c.labelSeq === t.seq));
  // With one, the negotiator decides between the tied candidates.
  roles.requests.length = 0;
  roles.script(
    tied({
      negotiation: (r) => {
        const offered = r.case!.candidates as { tool_calls: { arguments: { city: string } }[] }[];
        return { json: { choice: offered.findIndex((c) => c.tool_calls[0]?.arguments.city === "Paris"), reasons: "the user asked about Paris" } };
      },
    }),
  );
  const negotiated = await run({ negotiator: true, stage: { voting: { k: 4, m: 2, negotiator: "negotiator" } } });
  const n = assistantTurns(negotiated.turns)[0]!;
  assert.equal(n.review.decision, "negotiation");
  assert.equal(JSON.parse(n.message.tool_calls![0]!.function.arguments).city, "Paris");
  assert.equal(roles.of("negotiation").length, 1);
});

test("disagreement without a negotiator rejects the turn; more rejected turns than maxRejectedTurns drops the dialogue", async () => {
  roles.script(
    goodScripts({
      assistant: (r) => {
        const c = candidateOf(r.seed);
        if (lastMessage(r).role === "user") return { toolCalls: [{ name: "get_weather", arguments: { city: ["Lyon", "Paris", "Rome"][c.i] } }] };
        return goodAssistant(r);
      },
    }),
  );
  const { outcome, turns } = await run({ stage: { maxRejectedTurns: 1 } });
  assert.equal(outcome.status, "dropped");
  assert.equal(outcome.dropReason, "too_many_rejected_turns");
  assert.equal(outcome.detail, "2 assistant turns rejected; at most 1 allowed");
  assert.equal(outcome.rejectedTurns, 2);
  const rejected = assistantTurns(turns).filter((t) => !t.accepted);
  assert.equal(rejected.length, 2);
  assert.match(rejected[0]!.review.rejectReason!, /only 1 of 3 candidates agree; 2 required and no negotiator is configured/);
  assert.equal(turns.at(-1), rejected[1], "dropped right after the turn that exceeded the limit");
  assert.equal(roles.of("negotiation").length, 0);
});

test("a schema violation is fixed by one reflect-and-revise call; original, critique and revision are kept", async () => {
  roles.script(
    goodScripts({
      assistant: (r) => {
        const last = lastMessage(r);
        if (last.role === "user" && stepOf(last.content) === 1)
          return { toolCalls: [{ name: "send_email", arguments: { to: "bob at example dot com", subject: "Forecast" } }] };
        return goodAssistant(r);
      },
      reflect: (r) => {
        assert.deepEqual(r.case!.critique, ['call 0 (send_email): argument "to": must match format "email"']);
        return { toolCalls: [{ name: "send_email", arguments: { to: "bob@example.com", subject: "Forecast" } }] };
      },
    }),
  );
  const { outcome, turns } = await run();
  assert.deepEqual([outcome.status, outcome.reflections, outcome.acceptedTurns, outcome.rejectedTurns], ["kept", 3, 4, 0]);
  const t = assistantTurns(turns)[2]!;
  assert.equal(t.review.decision, "vote");
  for (const c of t.review.candidates) {
    assert.equal(c.valid, true);
    assert.equal(JSON.parse(c.reflection!.original.tool_calls![0]!.function.arguments).to, "bob at example dot com");
    assert.deepEqual(c.reflection!.critique, ['call 0 (send_email): argument "to": must match format "email"']);
    assert.equal(JSON.parse(c.reflection!.revision!.tool_calls![0]!.function.arguments).to, "bob@example.com");
    assert.deepEqual(c.reflection!.stillInvalid, []);
  }
  assert.equal(JSON.parse(t.message.tool_calls![0]!.function.arguments).to, "bob@example.com");
  const reflectReqs = roles.of("reflect");
  assert.equal(reflectReqs.length, 3, "one reflection per violating candidate");
  // The reflection request carries the dialogue (without the assistant's system prompt) and the tools.
  assert.equal(reflectReqs[0]!.messages.filter((m) => m.role === "system").length, 1);
  assert.ok(Array.isArray(reflectReqs[0]!.body.tools));
});

test("a revision that still violates leaves the candidate invalid; with none valid the turn is rejected and the dialogue ends there", async () => {
  roles.script(
    goodScripts({
      assistant: (r) => {
        const last = lastMessage(r);
        if (last.role === "user" && stepOf(last.content) === 0) return { toolCalls: [{ name: "get_weather", arguments: { town: "Paris" } }] };
        return goodAssistant(r);
      },
      reflect: () => ({ toolCalls: [{ name: "get_weather", arguments: { town: "Paris", unit: "kelvin" } }] }),
    }),
  );
  const executor = new RecordingExecutor();
  const { outcome, turns } = await run({ executor });
  const t = assistantTurns(turns)[0]!;
  assert.equal(t.accepted, false);
  assert.equal(t.review.rejectReason, "none of the 3 candidates is valid");
  // The invalid call is stored for the record, but never run, and nothing is built on it.
  assert.equal(turns.at(-1), t, "the rejected turn is the dialogue's last");
  assert.deepEqual(executor.executed, [], "the invalid call was not executed");
  assert.equal(outcome.status, "dropped", "no turn before it was accepted");
  assert.equal(outcome.dropReason, "no_accepted_turns");
  assert.match(outcome.detail ?? "", /user turn 1, round 0: none of the 3 candidates is valid; the dialogue ends before that turn/);
  assert.deepEqual(t.review.votes.groups, []);
  for (const c of t.review.candidates) {
    assert.equal(c.valid, false);
    assert.deepEqual(c.reflection!.critique, ['call 0 (get_weather): missing required argument "city"', 'call 0 (get_weather): unknown argument "town"']);
    assert.deepEqual(c.reflection!.stillInvalid, [
      'call 0 (get_weather): missing required argument "city"',
      'call 0 (get_weather): unknown argument "town"',
      'call 0 (get_weather): argument "unit": must be one of "celsius", "fahrenheit"',
    ]);
  }
  assert.equal(outcome.rejectedTurns, 1);
  assert.equal(outcome.reflections, 3);
});

test("a turn with no valid candidate after accepted ones: the dialogue is kept unfinished with them, and a resume ends at the same turn without running its call", async () => {
  // User turn 1 goes well; every candidate of user turn 2's first round calls with a wrong argument.
  roles.script(
    goodScripts({
      assistant: (r) => {
        const last = lastMessage(r);
        if (last.role === "user" && stepOf(last.content) === 1) return { toolCalls: [{ name: "get_weather", arguments: { town: "Rome" } }] };
        return goodAssistant(r);
      },
      reflect: () => ({ toolCalls: [{ name: "get_weather", arguments: { town: "Rome" } }] }),
    }),
  );
  const executor = new RecordingExecutor();
  const { outcome, turns } = await run({ executor });
  assert.deepEqual([outcome.status, outcome.finished, outcome.acceptedTurns, outcome.rejectedTurns], ["kept", false, 2, 1]);
  assert.equal(outcome.unfinished, "no_valid_candidate", "the outcome says why it ended early");
  assert.match(outcome.detail ?? "", /^user turn 2, round 0: none of the 3 candidates is valid; the dialogue ends before that turn/);
  const last = turns.at(-1)!;
  assert.ok(last.kind === "assistant" && !last.accepted, "the rejected turn is stored last");
  assert.deepEqual(
    executor.executed.map((c) => c.arguments),
    [{ city: "Paris" }],
    "only user turn 1's call ran",
  );
  assert.ok(
    cutSamples(turns).every((c) => c.messages.every((m) => JSON.stringify(m).indexOf("Rome") === -1)),
    "no sample carries the invalid turn",
  );

  // The worker dies right after the rejected turn is stored: the resumed dialogue ends at the same turn.
  const store = new MemoryDialogueStore();
  const again = new RecordingExecutor();
  store.crashAfter("appendTurn", turns.length);
  await assert.rejects(run({ store, executor: again }), (err) => err instanceof SimulatedCrash);
  const resumed = await run({ store, executor: again });
  assert.deepEqual(resumed.outcome, outcome);
  // The same turns (the scripted server's own call ids in the stored candidates differ from run to run).
  const shape = (ts: DialogueTurn[]) => ts.map((t) => [t.seq, t.kind, t.kind === "assistant" ? t.accepted : null, JSON.stringify(t.message)]);
  assert.deepEqual(shape(resumed.turns), shape(turns));
  assert.equal(again.executed.length, 1, "the invalid call is not run on resume either");
});

test("an answer cut off at max_tokens (finish_reason length) is never accepted as it is: reflection asks for a complete one", async () => {
  const cut = "Here is what I found. The get weather call returned city Paris and temp";
  const truncatedAnswers = (r: RoleRequest): ScriptedReply => (lastMessage(r).role === "tool" ? { content: cut, finishReason: "length" } : goodAssistant(r));
  roles.script(goodScripts({ assistant: truncatedAnswers, reflect: () => ({ content: "It is sunny in Paris." }) }));
  const { outcome, turns } = await run();
  assert.deepEqual([outcome.status, outcome.acceptedTurns, outcome.rejectedTurns], ["kept", 4, 0]);
  const answer = assistantTurns(turns)[1]!;
  assert.equal(answer.message.content, "It is sunny in Paris.");
  for (const c of answer.review.candidates) {
    assert.equal(c.reflection!.original.content, cut);
    assert.match(c.reflection!.critique.join("\n"), /cut off at the token limit \(finish_reason "length"\)/);
  }
  for (const t of assistantTurns(turns)) assert.notEqual(t.message.content, cut);

  // A revision cut off again, or reflection off: the turn is rejected, so the cut answer is no label.
  roles.requests.length = 0;
  roles.script(goodScripts({ assistant: truncatedAnswers, reflect: () => ({ content: cut, finishReason: "length" }) }));
  const again = await run();
  const rejected = assistantTurns(again.turns)[1]!;
  assert.equal(rejected.accepted, false);
  assert.equal(rejected.review.rejectReason, "none of the 3 candidates is valid");
  assert.match(rejected.review.candidates[0]!.reflection!.stillInvalid.join("\n"), /finish_reason "length"/);
  const off = await run({ stage: { reflection: { enabled: false } } });
  assert.equal(assistantTurns(off.turns)[1]!.accepted, false);
  assert.ok(
    cutSamples(off.turns).every((c) => c.messages.at(-1)!.content !== cut),
    "no sample has the cut answer as its label",
  );
});

test("with reflection off a violating candidate is invalid and no revision is asked for", async () => {
  roles.script(
    goodScripts({
      assistant: (r) => {
        const c = candidateOf(r.seed);
        if (c.userTurn === 1 && c.round === 0 && c.i === 0) return { toolCalls: [{ name: "get_weather", arguments: { city: 7 } }] };
        return goodAssistant(r);
      },
    }),
  );
  const { outcome, turns } = await run({ stage: { reflection: { enabled: false } } });
  const t = assistantTurns(turns)[0]!;
  assert.deepEqual(
    t.review.candidates.map((c) => [c.valid, c.reflection]),
    [
      [false, undefined],
      [true, undefined],
      [true, undefined],
    ],
  );
  assert.deepEqual([t.review.decision, t.review.chosen, t.review.votes.groups], ["vote", 1, [2]]);
  assert.equal(outcome.reflections, 0);
  assert.equal(roles.of("reflect").length, 0);
});

test("injected tool errors reach the tool server and come back as the tool turn's error result", async () => {
  roles.script(
    goodScripts({
      toolServer: (r) => {
        const fail = r.case!.fail as string | undefined;
        if (fail) return { json: { ok: false, error: { type: fail, message: `simulated ${fail}` } } };
        return { json: { ok: true, result: { fine: true } } };
      },
    }),
  );
  const executor = new LlmToolServer(roles.client("toolServer"));
  const { outcome, turns } = await run({ executor, stage: { toolErrorRate: 1 } });
  assert.equal(outcome.status, "kept");
  assert.deepEqual([outcome.toolCalls, outcome.toolErrors], [2, 2]);
  const tools = turns.filter((t): t is Extract<DialogueTurn, { kind: "tool" }> => t.kind === "tool");
  for (const t of tools) {
    assert.equal(t.result.ok, false);
    const type = !t.result.ok ? t.result.error.type : undefined;
    assert.ok((INJECTED_ERROR_TYPES as readonly string[]).includes(type!), String(type));
    assert.deepEqual(JSON.parse(t.message.content), { error: { type, message: `simulated ${type}` } });
    assert.equal(t.result.origin, "injected", "an error the engine asked for is recorded as injected");
  }
  const serverReqs = roles.of("toolServer");
  assert.equal(serverReqs.length, 2);
  assert.ok(serverReqs.every((r) => typeof r.case!.fail === "string"));
  assert.equal((serverReqs[1]!.case!.history as unknown[]).length, 1, "the server sees the session's earlier call and result");
  // The assistant saw the error and answered it (its text carries the tool message).
  assert.match(assistantTurns(turns)[1]!.message.content!, /simulated/);

  // At rate 0 nothing is injected.
  roles.requests.length = 0;
  const clean = await run({ executor, stage: { toolErrorRate: 0 } });
  assert.deepEqual([clean.outcome.toolCalls, clean.outcome.toolErrors], [2, 0]);
  assert.ok(roles.of("toolServer").every((r) => r.case!.fail === undefined));
  const cleanResults = clean.turns.flatMap((t) => (t.kind === "tool" ? [t.result] : []));
  assert.deepEqual(
    cleanResults.map((r) => [r.origin, r.simulated]),
    [
      ["tool_server", undefined],
      ["tool_server", undefined],
    ],
    "the server's own results; a scripted server that is not the toolloop simulator is not marked simulated",
  );
});

test("a tool server answer that cannot be read becomes an outage worded as a service words it; why stays out of the messages", async () => {
  roles.script(goodScripts({ toolServer: () => ({ content: "Sure! It is sunny in Paris." }) }));
  const { outcome, turns } = await run({ executor: new LlmToolServer(roles.client("toolServer")) });
  assert.deepEqual([outcome.status, outcome.toolCalls, outcome.toolErrors], ["kept", 2, 2]);
  assert.equal(roles.of("toolServer").length, 4, "each call: one answer and its one repair");
  for (const t of turns.filter((x): x is Extract<DialogueTurn, { kind: "tool" }> => x.kind === "tool")) {
    assert.deepEqual(JSON.parse(t.message.content), { error: { type: "unavailable", message: UNREADABLE_ANSWER_MESSAGE } });
    assert.ok(!t.result.ok);
    assert.match(t.result.detail!, /^the tool server's answer could not be read: .*not valid JSON/);
  }
  // Neither the endpoint, the model nor the parse error reaches a message a sample is cut from.
  for (const cut of cutSamples(turns)) assert.doesNotMatch(JSON.stringify(cut.messages), /127\.0\.0\.1|toolServer-model|could not be read|not valid JSON/);
  // Nor the session history the tool server is given for a later call: it sees the outage the assistant saw.
  const laterCall = roles.of("toolServer").filter((r) => (r.case!.history as unknown[]).length > 0);
  assert.ok(laterCall.length > 0);
  for (const r of laterCall) {
    assert.doesNotMatch(JSON.stringify(r.case!.history), /could not be read|not valid JSON|detail/);
    assert.deepEqual((r.case!.history as { result: unknown }[])[0]!.result, { ok: false, error: { type: "unavailable", message: UNREADABLE_ANSWER_MESSAGE } });
  }
});

test("the user stops early: finished after one step of a two-step plan; done is not a stored message", async () => {
  roles.script(
    goodScripts({
      user: (r) => ((r.case!.turn as number) === 0 ? planFollowingUser(r) : { json: { message: "", action: "done", step: 0 } }),
    }),
  );
  const { outcome, turns } = await run();
  assert.deepEqual([outcome.status, outcome.finished, outcome.userTurns, outcome.acceptedTurns], ["kept", true, 1, 2]);
  assert.deepEqual(
    turns.map((t) => t.kind),
    ["system", "user", "assistant", "tool", "assistant"],
  );
});

test("a user who says done before any accepted turn drops the dialogue (no_accepted_turns)", async () => {
  roles.script(goodScripts({ user: () => ({ json: { message: "never mind", action: "done", step: 0 } }) }));
  const { outcome, turns } = await run();
  assert.deepEqual([outcome.status, outcome.dropReason, outcome.finished], ["dropped", "no_accepted_turns", true]);
  assert.deepEqual(
    turns.map((t) => t.kind),
    ["system"],
  );
});

test("turns.max ends a dialogue whose user never says done: kept when keepUnfinished, else dropped unfinished", async () => {
  const endless: RoleScripts = goodScripts({
    user: (r) => ({ json: { message: `step ${(r.case!.turn as number) % 2}: again`, action: "request", step: 0 } }),
  });
  roles.script(endless);
  const kept = await run({ stage: { turns: { mean: 2, max: 3 } } });
  assert.deepEqual([kept.outcome.status, kept.outcome.finished, kept.outcome.userTurns, kept.outcome.unfinished], ["kept", false, 3, "turns_max"]);
  assert.match(kept.outcome.detail!, /reached turns\.max \(3 user turns\)/);
  const dropped = await run({ stage: { turns: { mean: 2, max: 3 }, keepUnfinished: false } });
  assert.deepEqual([dropped.outcome.status, dropped.outcome.dropReason, dropped.outcome.unfinished], ["dropped", "unfinished", "turns_max"]);
});

test("an assistant still calling tools after maxToolRounds ends the dialogue unfinished", async () => {
  roles.script(goodScripts({ assistant: () => ({ toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] }) }));
  const executor = new RecordingExecutor();
  const { outcome, turns } = await run({ executor, stage: { maxToolRounds: 2, keepUnfinished: false } });
  assert.deepEqual([outcome.status, outcome.dropReason, outcome.unfinished], ["dropped", "unfinished", "max_tool_rounds"]);
  assert.match(outcome.detail!, /user turn 1: the assistant still called tools after maxToolRounds \(2\) rounds/);
  assert.deepEqual(
    assistantTurns(turns).map((t) => t.round),
    [0, 1, 2],
  );
  assert.equal(executor.executed.length, 2, "the calls of the round past the limit are not executed");
});

/** The cuts whose label calls a tool that has no result among the dialogue's stored turns. */
function labelsWithUnansweredCalls(turns: DialogueTurn[]): { labelSeq: number; unanswered: string[] }[] {
  const answered = new Set(turns.flatMap((t) => (t.kind === "tool" ? [t.message.tool_call_id] : [])));
  return cutSamples(turns).flatMap((cut) => {
    const label = cut.messages.at(-1) as Extract<ChatMessage, { role: "assistant" }>;
    const unanswered = (label.tool_calls ?? []).map((c) => c.id).filter((id) => !answered.has(id));
    return unanswered.length > 0 ? [{ labelSeq: cut.labelSeq, unanswered }] : [];
  });
}

test("a kept dialogue whose assistant still calls tools at maxToolRounds: that turn, whose calls never run, is no sample's label", async () => {
  roles.script(goodScripts({ assistant: () => ({ toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] }) }));
  const executor = new RecordingExecutor();
  const { outcome, turns } = await run({ executor, stage: { maxToolRounds: 2 } });
  assert.deepEqual(
    [outcome.status, outcome.finished, outcome.unfinished],
    ["kept", false, "max_tool_rounds"],
    "kept unfinished (keepUnfinished is on by default)",
  );
  const limitTurn = assistantTurns(turns).at(-1)!;
  assert.deepEqual([limitTurn.round, limitTurn.accepted, limitTurn.message.tool_calls?.length], [2, true, 1], "the vote accepted the turn at the limit");
  assert.equal(executor.executed.length, 2, "its call is never executed");
  assert.deepEqual(labelsWithUnansweredCalls(turns), [], "no sample's label calls a tool that has no result");
  assert.deepEqual(
    cutSamples(turns).map((c) => c.labelSeq),
    assistantTurns(turns)
      .filter((t) => t.round < 2)
      .map((t) => t.seq),
    "the turns whose calls ran are samples",
  );
});

test("a dialogue that outgrows the tool server model's context while a call runs: the turn of that call is no sample's label", async () => {
  roles.script(goodScripts());
  const tooLong =
    "This model's maximum context length is 8192 tokens. However, you requested 8250 tokens. Please reduce the length of the messages or completion.";
  class OutgrownToolServer extends RecordingExecutor {
    override async execute(call: ToolCallRequest): Promise<ToolResult> {
      if (call.history.length > 0) throw new LlmError("client", `LLM toolServer: HTTP 400: ${tooLong}`, { status: 400 });
      return super.execute(call);
    }
  }
  const { outcome, turns } = await run({ executor: new OutgrownToolServer() });
  assert.deepEqual([outcome.status, outcome.finished, outcome.acceptedTurns, outcome.unfinished], ["kept", false, 3, "context_length"]);
  assert.match(outcome.detail!, /outgrew the context of a role's model/);
  assert.equal(turns.at(-1)!.kind, "assistant", "the dialogue ends on the turn whose call did not run");
  assert.deepEqual(labelsWithUnansweredCalls(turns), []);
  assert.deepEqual(
    cutSamples(turns).map((c) => c.labelSeq),
    [2, 4],
  );
});

test("a dialogue that outgrows the assistant model's context (vLLM's 400) ends unfinished: kept with its accepted turns, or dropped unfinished", async () => {
  const tooLong =
    "This model's maximum context length is 8192 tokens. However, you requested 8250 tokens (7226 in the messages, 1024 in the completion). Please reduce the length of the messages or completion.";
  // The second user turn no longer fits.
  const outgrows = (r: RoleRequest): ScriptedReply =>
    r.messages.filter((m) => m.role === "user").length >= 2 ? { httpStatus: 400, message: tooLong } : goodAssistant(r);
  roles.script(goodScripts({ assistant: outgrows }));
  const { outcome, turns } = await run();
  assert.deepEqual([outcome.status, outcome.finished, outcome.acceptedTurns, outcome.userTurns], ["kept", false, 2, 2]);
  assert.match(outcome.detail!, /outgrew the context of a role's model after 6 messages: .*maximum context length is 8192 tokens/);
  assert.deepEqual(
    cutSamples(turns).map((c) => c.labelSeq),
    [2, 4],
    "the turns accepted before it are samples",
  );

  const dropped = await run({ stage: { keepUnfinished: false } });
  assert.deepEqual([dropped.outcome.status, dropped.outcome.dropReason], ["dropped", "unfinished"]);

  // Any other refusal is no reason to end the dialogue quietly: it propagates (the stage records it failed).
  roles.script(
    goodScripts({ assistant: () => ({ httpStatus: 400, message: '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set' }) }),
  );
  await assert.rejects(run(), (err: unknown) => err instanceof LlmError && err.kind === "client" && /auto" tool choice/.test(err.message));
});

test("an escaped NUL in a call's arguments reaches the executor and the call record as U+FFFD (PostgreSQL stores no NUL)", async () => {
  roles.script(
    goodScripts({
      assistant: (r) =>
        lastMessage(r).role === "user" && stepOf((lastMessage(r) as { content: string }).content) === 0
          ? { toolCalls: [{ name: "get_weather", arguments: '{"city": "Par\\u0000is"}' }] }
          : goodAssistant(r),
    }),
  );
  const executor = new RecordingExecutor();
  const store = new MemoryDialogueStore();
  await run({ executor, store });
  assert.deepEqual(executor.executed[0]!.arguments, { city: "Par\uFFFDis" });
  assert.ok(!JSON.stringify(executor.executed.map((c) => c.arguments)).includes("\\u0000"));
});

test("an escaped lone surrogate in a call's arguments or a user's answer is stored as U+FFFD (PostgreSQL jsonb refuses it)", async () => {
  // A model writing JSON escapes (an emoji as "\\ud83d\\ude00") can leave half a pair; PostgreSQL's jsonb
  // then refuses the whole row ("invalid input syntax for type json"), on every retry of the seeded request.
  roles.script(
    goodScripts({
      user: (r) => {
        const reply = planFollowingUser(r);
        if (r.case!.turn !== 0 || !("json" in reply)) return reply;
        return { json: { ...(reply.json as object), message: `${(reply.json as { message: string }).message} \ud83d` } };
      },
      assistant: (r) =>
        lastMessage(r).role === "user" && stepOf((lastMessage(r) as { content: string }).content) === 0
          ? { toolCalls: [{ name: "get_weather", arguments: '{"city": "Paris \\ud83d"}' }] }
          : goodAssistant(r),
    }),
  );
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const executor = new RecordingExecutor();
    const outcome = await runDialogue({ ...inputFor({ executor, store: new PostgresDialogueStore(h.db) }) });
    assert.equal(outcome.status, "kept");
    assert.deepEqual(executor.executed[0]!.arguments, { city: "Paris \uFFFD" });
    const [rec] = await toolExecutionsOf(h.db, [HEADER.id]);
    assert.deepEqual(rec!.arguments, { city: "Paris \uFFFD" });
    const turns = await dialogueTurnsOf(h.db, HEADER.id);
    const user = turns.find((t) => t.kind === "user")!;
    assert.match(user.message.content as string, / \uFFFD$/);
  } finally {
    await h.close();
  }
});

test("a plan naming an unknown tool gets one repair, then drops the dialogue as bad_plan", async () => {
  const bad = { ...PLAN, steps: [{ need: "single", intent: "wipe", calls: [{ name: "delete_everything", arguments: {} }] }] };
  roles.script(goodScripts({ planner: () => ({ json: bad }) }));
  const { outcome, turns, store } = await run();
  assert.deepEqual([outcome.status, outcome.dropReason], ["dropped", "bad_plan"]);
  assert.match(outcome.detail!, /steps\[0\]\.calls\[0\]\.name.*"delete_everything" is not one of the given tools \(get_weather, send_email\)/);
  const asked = roles.of("planner");
  assert.deepEqual(
    asked.map((r) => r.repairs),
    [0, 1],
  );
  assert.deepEqual(turns, []);
  assert.equal(store.plan(HEADER.id), null);
  assert.equal(roles.of("user").length, 0);
});

test("a user answer that cannot be read after its repair drops the dialogue as unusable_answer", async () => {
  roles.script(goodScripts({ user: () => ({ content: "I would like the weather please" }) }));
  const { outcome } = await run();
  assert.deepEqual([outcome.status, outcome.dropReason], ["dropped", "unusable_answer"]);
  assert.match(outcome.detail!, /the user simulator, turn 1: .*no valid "user_turn" reply after 2 attempts/);
  assert.equal(roles.of("user").length, 2);
});

test("transport errors propagate (the stage retries); an aborted signal stops the dialogue", async () => {
  roles.script(goodScripts({ assistant: () => ({ httpStatus: 400, message: "context too long" }) }));
  const store = new MemoryDialogueStore();
  await assert.rejects(run({ store }), (err: Error) => err.name === "LlmError" && /context too long/.test(err.message));
  assert.equal(store.outcome(HEADER.id), null, "not finished: a retry resumes it");
  const controller = new AbortController();
  controller.abort(new Error("stage cancelled"));
  roles.script(goodScripts());
  await assert.rejects(run({ signal: controller.signal }), /stage cancelled/);
});

/** A reference run, then a crash after each write of each kind in turn: the resumed run must end the same. */
test("a crash after any write resumes at the right seq: same turns, no duplicate, no call executed twice", async () => {
  roles.script(goodScripts());
  const reference = await run();
  const writes: StoreWrite[] = ["savePlan", "appendTurn", "callStarted", "callDone", "finish"];
  const totals = { savePlan: 1, appendTurn: reference.turns.length, callStarted: 2, callDone: 2, finish: 1 };
  let crashes = 0;
  for (const write of writes) {
    for (let n = 1; n <= totals[write]; n++) {
      const store = new MemoryDialogueStore();
      // Right after callStarted nobody can know whether the call ran: only an idempotent executor may go on
      // (the next test shows the other kind dropped); every other crash point must work for side effects too.
      const executor = new RecordingExecutor(write === "callStarted");
      store.crashAfter(write, n);
      const requestsBefore = roles.requests.length;
      const seqs: number[] = [];
      await assert.rejects(run({ store, executor, seqs }), (err) => err instanceof SimulatedCrash && err.write === write && err.count === n);
      crashes++;
      const storedBefore = store.turns(HEADER.id).length;
      const resumedSeqs: number[] = [];
      const resumed = await run({ store, executor, seqs: resumedSeqs });
      const where = `crash after ${write} #${n}`;
      assert.deepEqual(resumed.outcome, reference.outcome, where);
      assert.deepEqual(resumed.turns, reference.turns, where);
      assert.ok(seqs.every((s, i) => s === i) && seqs.length <= storedBefore, `${where}: the first attempt appended in order`);
      assert.deepEqual(
        resumedSeqs,
        reference.turns.slice(storedBefore).map((t) => t.seq),
        `${where}: resumed at seq ${storedBefore}, each later seq appended once`,
      );
      assert.equal(store.writeCount("appendTurn"), reference.turns.length, `${where}: no seq was appended twice, not even as a no-op`);
      assert.equal(roles.requests.slice(requestsBefore).filter((r) => r.role === "planner").length, 1, `${where}: the stored plan was reused`);
      // Every call ran exactly once, the executor with side effects included.
      assert.deepEqual(
        executor.executed.map((c) => c.callId),
        ["call_2_0", "call_6_0"],
        where,
      );
    }
  }
  assert.equal(crashes, 1 + reference.turns.length + 2 + 2 + 1);
});

test("a resume whose caller drew another header (the library or config changed) goes on with the stored one", async () => {
  roles.script(goodScripts());
  const reference = await run();
  const store = new MemoryDialogueStore();
  store.crashAfter("appendTurn", 3);
  await assert.rejects(run({ store }), SimulatedCrash);
  const requestsBefore = roles.requests.length;
  const redrawn: DialogueHeader = {
    ...HEADER,
    persona: "someone else",
    style: "chatty",
    tools: [{ ...TOOLS[0]!, name: "added_later" }, ...TOOLS.slice(1)],
    targetTurns: 5,
  };
  const outcome = await runDialogue({ ...inputFor({ store }), header: redrawn });
  assert.deepEqual(outcome, reference.outcome);
  assert.deepEqual(store.turns(HEADER.id), reference.turns, "the same dialogue as one that never stopped");
  const after = roles.requests.slice(requestsBefore);
  const offered = after.filter((r) => r.role === "assistant").map((r) => (r.body.tools as { function: { name: string } }[]).map((t) => t.function.name));
  assert.ok(offered.length > 0);
  for (const names of offered)
    assert.deepEqual(
      names,
      TOOLS.map((t) => t.name),
      "the assistant is offered the stored tools",
    );
  for (const r of after.filter((x) => x.role === "user")) assert.equal(r.case?.persona, HEADER.persona, "the user keeps the stored persona");
});

test("two attempts on one dialogue at once (a retry while the timed-out attempt still runs): the stored dialogue holds together", async () => {
  // A model that does not answer the same request the same way twice (sampling, batch effects): each
  // attempt's turn asks for another city, so the attempts' turns differ from the first request on.
  let asked = 0;
  const cities = ["Paris", "Lyon"];
  roles.script(
    goodScripts({
      assistant: (r) => {
        const last = lastMessage(r);
        if (last.role !== "user") return goodAssistant(r);
        const step = PLAN.steps[stepOf(last.content)];
        if (!step) return { content: "Could you say that again?" };
        const city = cities[asked++ % 2]!;
        return { toolCalls: step.calls.map((c) => ({ name: c.name, arguments: c.name === "get_weather" ? { city } : c.arguments })) };
      },
    }),
  );
  const store = new MemoryDialogueStore();
  /** The first execution of a call is slow (a real service), so the other attempt's run of it finishes first. */
  class SlowFirstExecutor extends RecordingExecutor {
    override async execute(call: ToolCallRequest): Promise<ToolResult> {
      const first = !this.executed.some((c) => c.callId === call.callId);
      const result = super.execute(call);
      if (first) await new Promise((r) => setTimeout(r, 40));
      return result;
    }
  }
  const executor = new SlowFirstExecutor();
  const stage = { voting: { k: 1, m: 1 } };
  const [a, b] = await Promise.all([runDialogue(inputFor({ store, executor, stage })), runDialogue(inputFor({ store, executor, stage }))]);
  const turns = store.turns(HEADER.id);
  assert.deepEqual(
    turns.map((t) => t.seq),
    turns.map((_, i) => i),
  );
  // Every stored tool message answers the stored call with its id: the result was made for those arguments.
  const calls = new Map<string, { name: string; arguments: unknown }>();
  for (const t of turns) {
    if (t.kind === "assistant")
      for (const c of t.message.tool_calls ?? []) calls.set(c.id, { name: c.function.name, arguments: JSON.parse(c.function.arguments) });
    if (t.kind === "tool") {
      const call = calls.get(t.message.tool_call_id);
      assert.ok(call, `seq ${t.seq}: answers a stored call`);
      assert.deepEqual(
        t.result,
        {
          ok: true,
          result: { tool: call.name, arguments: call.arguments, earlierCalls: (t.result as { result: { earlierCalls: number } }).result.earlierCalls },
          origin: "tool_server",
        },
        `seq ${t.seq}: the result of the stored call ${t.message.tool_call_id}`,
      );
    }
  }
  for (const rec of store.calls(HEADER.id))
    assert.deepEqual(rec.arguments, calls.get(rec.callId)?.arguments, `call record ${rec.callId}: the stored call's arguments`);
  // Every later request saw the stored dialogue: an assistant turn after a tool result answers that result.
  for (const t of turns)
    if (t.kind === "assistant" && t.round > 0) {
      const before = turns[t.seq - 1]!;
      assert.equal(t.message.content, `Done: ${before.message.content as string}`, `seq ${t.seq}: answers the stored tool result`);
    }
  assert.deepEqual(a, store.outcome(HEADER.id));
  assert.deepEqual(b, store.outcome(HEADER.id));
});

/**
 * Forwards to a store and makes two attempts race on the dialogue's first call: the first attempt to
 * record a result stalls between recording it (callDone) and storing its tool message, until the
 * other attempt, whose own run of the call finished later, has stored its tool message.
 */
class CallRaceStore implements DialogueStore {
  private results = 0;
  private firstRecorded!: () => void;
  /** Resolves once the first result is recorded. */
  readonly firstResultRecorded = new Promise<void>((r) => (this.firstRecorded = r));
  private toolStored!: () => void;
  private readonly toolMessageStored = new Promise<void>((r) => (this.toolStored = r));

  constructor(private readonly inner: DialogueStore) {}
  open(header: DialogueHeader) {
    return this.inner.open(header);
  }
  savePlan(id: string, plan: DialoguePlan) {
    return this.inner.savePlan(id, plan);
  }
  async appendTurn(id: string, turn: DialogueTurn) {
    const stored = await this.inner.appendTurn(id, turn);
    if (turn.kind === "tool" && stored) this.toolStored();
    return stored;
  }
  callStarted(rec: Parameters<DialogueStore["callStarted"]>[0]) {
    return this.inner.callStarted(rec);
  }
  async callDone(id: string, callId: string, result: ToolResult) {
    const stored = await this.inner.callDone(id, callId, result);
    if (++this.results === 1) {
      this.firstRecorded();
      await this.toolMessageStored;
    }
    return stored;
  }
  finish(id: string, outcome: DialogueOutcome) {
    return this.inner.finish(id, outcome);
  }
}

/**
 * A live service (idempotent: a read) that answers each run of a call differently, as a reading that
 * changes does. Its first run waits until a second run (the other attempt's) has started, and the
 * second returns only once the first's result is recorded.
 */
class LiveReadingExecutor implements ToolExecutor {
  readonly describe = "live reading service (idempotent)";
  readonly simulated = false;
  readonly idempotent = true;
  runs = 0;
  private secondStarted!: () => void;
  private readonly secondRun = new Promise<void>((r) => (this.secondStarted = r));
  constructor(private readonly firstResultRecorded: Promise<void>) {}
  async execute(call: ToolCallRequest): Promise<ToolResult> {
    const run = ++this.runs;
    if (run === 1) await this.secondRun;
    if (run === 2) {
      this.secondStarted();
      await this.firstResultRecorded;
    }
    return { ok: true, result: { tool: call.name, reading: run } };
  }
}

for (const kind of ["memory", "postgres"] as const)
  test(`two attempts run one call at once (${kind} store): the tool message carries the result recorded in the call's execution record`, async () => {
    roles.script(goodScripts());
    const h = kind === "postgres" ? await openDatabase("pglite:memory") : undefined;
    try {
      if (h) await migrateDatabase(h);
      const inner: DialogueStore = h ? new PostgresDialogueStore(h.db) : new MemoryDialogueStore();
      const store = new CallRaceStore(inner);
      const executor = new LiveReadingExecutor(store.firstResultRecorded);
      const stage = { voting: { k: 1, m: 1 } };
      const [a, b] = await Promise.all([runDialogue(inputFor({ store, executor, stage })), runDialogue(inputFor({ store, executor, stage }))]);
      assert.equal(a.status, "kept");
      assert.deepEqual(a, b);
      const turns = h ? await dialogueTurnsOf(h.db, HEADER.id) : (inner as MemoryDialogueStore).turns(HEADER.id);
      const records = h ? await toolExecutionsOf(h.db, [HEADER.id]) : (inner as MemoryDialogueStore).calls(HEADER.id);
      const recorded = new Map(records.map((r) => [r.callId, r.result]));
      const toolTurns = turns.filter((t): t is Extract<DialogueTurn, { kind: "tool" }> => t.kind === "tool");
      assert.equal(toolTurns.length, 2);
      assert.ok(executor.runs >= 3, "both attempts ran the first call");
      for (const t of toolTurns) {
        assert.deepEqual(t.result, recorded.get(t.message.tool_call_id), `seq ${t.seq}: the recorded result of ${t.message.tool_call_id}`);
        assert.equal(t.message.content, toolMessageContent(t.result), `seq ${t.seq}: the message says the recorded result`);
      }
    } finally {
      await h?.close();
    }
  });

test("a dialogue another attempt ended meanwhile takes no more turns: the run returns the stored outcome", async () => {
  roles.script(goodScripts());
  const reference = await run();
  const store = new MemoryDialogueStore();
  const otherOutcome: DialogueOutcome = { ...reference.outcome, status: "dropped", dropReason: "unusable_answer", detail: "the other attempt's ending" };
  let ended = false;
  const input = inputFor({ store });
  const outcome = await runDialogue({
    ...input,
    onTurn: (e) => {
      // The other attempt ends the dialogue right after this one stored seq 3.
      if (e.seq === 3 && !ended) {
        ended = true;
        store.finish(HEADER.id, otherOutcome).catch(assert.ifError);
      }
    },
  });
  assert.deepEqual(outcome, otherOutcome, "the stored outcome, not this run's");
  assert.equal(store.turns(HEADER.id).length, 4, "no turn stored after the dialogue ended");
});

test("a store that refuses a turn without holding one there (nor an outcome) fails the dialogue instead of asking again forever", async () => {
  roles.script(goodScripts());
  class RefusingStore extends MemoryDialogueStore {
    override async appendTurn(dialogueId: string, turn: DialogueTurn): Promise<boolean> {
      return turn.seq < 2 ? super.appendTurn(dialogueId, turn) : false;
    }
  }
  await assert.rejects(run({ store: new RefusingStore() }), /the store refused seq 2 but holds no turn there and no outcome/);
});

test("a call started but never finished: an idempotent executor re-executes it, any other drops the dialogue", async () => {
  roles.script(goodScripts());
  // Idempotent: the interrupted call runs again (harmless by declaration), and the dialogue ends as usual.
  const idem = new RecordingExecutor(true);
  idem.dieAfterExecuting = 2;
  const store = new MemoryDialogueStore();
  await assert.rejects(run({ store, executor: idem }), /the worker died/);
  const resumed = await run({ store, executor: idem });
  assert.equal(resumed.outcome.status, "kept");
  assert.deepEqual(
    idem.executed.map((c) => c.callId),
    ["call_2_0", "call_6_0", "call_6_0"],
  );

  // Not idempotent: whether the side effect happened is unknown, so the dialogue ends there.
  const effects = new RecordingExecutor(false);
  effects.dieAfterExecuting = 2;
  const store2 = new MemoryDialogueStore();
  await assert.rejects(run({ store: store2, executor: effects }), /the worker died/);
  const dropped = await run({ store: store2, executor: effects });
  assert.deepEqual([dropped.outcome.status, dropped.outcome.dropReason], ["dropped", "tool_call_outcome_unknown"]);
  assert.match(
    dropped.outcome.detail!,
    /call call_6_0 \(send_email\) was started by an earlier attempt that left no result, and test executor \(side effects\) is not idempotent/,
  );
  assert.equal(effects.executed.length, 2, "never executed a second time");
  assert.deepEqual(
    store2.calls(HEADER.id).map((c) => [c.callId, c.status]),
    [
      ["call_2_0", "done"],
      ["call_6_0", "started"],
    ],
  );
});

test("a store that does not say whether a call record existed: calls of a resumed turn count as possibly started", async () => {
  roles.script(goodScripts());
  /** Forwards to a memory store but leaves `existed` out, like a store that cannot tell. */
  class SilentStore extends MemoryDialogueStore {
    override async callStarted(rec: Parameters<MemoryDialogueStore["callStarted"]>[0]) {
      const { existed: _ignored, ...r } = await super.callStarted(rec);
      return r;
    }
  }
  // No crash: fresh calls of turns this run stored are executed normally.
  const fresh = await run({ store: new SilentStore(), executor: new RecordingExecutor(false) });
  assert.equal(fresh.outcome.status, "kept");
  // Crash right after the assistant turn with the second call was stored: the safe reading drops it.
  const store = new SilentStore();
  const executor = new RecordingExecutor(false);
  store.crashAfter("appendTurn", 7);
  await assert.rejects(run({ store, executor }), SimulatedCrash);
  assert.equal(store.turns(HEADER.id).at(-1)!.kind, "assistant");
  const resumed = await run({ store, executor });
  assert.equal(resumed.outcome.dropReason, "tool_call_outcome_unknown");
  assert.equal(executor.executed.length, 1);
});

test("a call's integer past a double's precision reaches the tool, its history and the stored execution record exactly", async () => {
  // An order id of 20 digits: JSON.parse read 12345678901234567891 as 12345678901234567000, so the
  // simulated tool was asked about another order (and its answer, a tool message a model learns from, said so).
  const ORDER_TOOL: McpTool = {
    name: "cancel_order",
    description: "Cancel an order",
    inputSchema: { type: "object", properties: { order_id: { type: "integer" } }, required: ["order_id"] },
  };
  const ID = 12345678901234567891n;
  roles.script(
    goodScripts({
      assistant: (r) =>
        lastMessage(r).role === "user" && stepOf((lastMessage(r) as { content: string }).content) === 0
          ? { toolCalls: [{ name: "cancel_order", arguments: `{"order_id": ${ID}}` }] }
          : goodAssistant(r),
    }),
  );
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const executor = new ToolServerPrompts();
    const input = inputFor({ executor, store: new PostgresDialogueStore(h.db) });
    const outcome = await runDialogue({ ...input, header: { ...HEADER, tools: [...TOOLS, ORDER_TOOL] } });
    assert.equal(outcome.status, "kept");
    assert.deepEqual(executor.executed[0]!.arguments, { order_id: ID });
    assert.deepEqual(executor.executed[1]!.history[0]!.arguments, { order_id: ID }, "the next call's history");
    assert.match(executor.prompts[0]!, /"order_id": 12345678901234567891\n/, "the tool server's prompt");
    const [rec] = await toolExecutionsOf(h.db, [HEADER.id]);
    assert.deepEqual(rec!.arguments, { order_id: ID });
  } finally {
    await h.close();
  }
});

/** Records each call and the tool server's prompt for it (LlmToolServer's), answering every call with a fixed result. */
class ToolServerPrompts extends RecordingExecutor {
  readonly prompts: string[] = [];
  override execute(call: ToolCallRequest): Promise<ToolResult> {
    this.executed.push(call);
    const messages = toolServerMessages({ tool: call.tool, call: { name: call.name, arguments: call.arguments }, history: call.history });
    this.prompts.push(messages.at(-1)!.content as string);
    return Promise.resolve({ ok: true, result: { done: true } });
  }
}

test("a tool result's integer past a double's precision reaches the tool message, the stored turn and the next call's history exactly", async () => {
  // The tool server's answer was read with JSON.parse: an order id of 20 digits in the result became
  // 12345678901234567000 in the tool message (training data), and a later call could copy that id.
  const ID = "12345678901234567891";
  const answer = `{"ok": true, "result": {"order_id": ${ID}, "status": "cancelled", "refund": 2.5}}`;
  roles.script(goodScripts({ toolServer: () => ({ content: answer }) }));
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const outcome = await runDialogue(inputFor({ executor: new LlmToolServer(roles.client("toolServer")), store: new PostgresDialogueStore(h.db) }));
    assert.equal(outcome.status, "kept");
    const exactText = `{"order_id":${ID},"status":"cancelled","refund":2.5}`;
    const turns = await dialogueTurnsOf(h.db, HEADER.id);
    const stored = turns.filter((t): t is Extract<DialogueTurn, { kind: "tool" }> => t.kind === "tool");
    assert.equal(stored.length, 2);
    for (const t of stored) {
      assert.equal(t.message.content, exactText, "the stored tool message");
      assert.equal(toolMessageContent(t.result), exactText, "the stored result gives the same message");
    }
    for (const rec of await toolExecutionsOf(h.db, [HEADER.id])) assert.equal(toolMessageContent(rec.result!), exactText, "the execution record");
    // The assistant answered the exact text, and the tool server is shown it in the session's history.
    assert.ok(assistantTurns(turns).some((t) => t.message.content?.includes(ID)));
    const later = roles.of("toolServer").at(-1)!.messages.at(-1)!.content as string;
    assert.match(later, new RegExp(`"order_id": ${ID},\\n`));
    assert.doesNotMatch(later, /resultText/);
    for (const cut of cutSamples(turns)) assert.ok(cut.messages.filter((m) => m.role === "tool").every((m) => m.content === exactText));
  } finally {
    await h.close();
  }
});

test("a tool result without such integers is written as before (JSON.stringify's text), and a server cannot plant resultText, origin or simulated", async () => {
  roles.script(
    goodScripts({
      toolServer: () => ({
        content: `{"ok": true, "result": {"n": 1.0, "id": 123}, "resultText": "{\\"forged\\": 1}", "origin": "injected", "simulated": true}`,
      }),
    }),
  );
  const { turns } = await run({ executor: new LlmToolServer(roles.client("toolServer")) });
  const tools = turns.filter((t): t is Extract<DialogueTurn, { kind: "tool" }> => t.kind === "tool");
  assert.equal(tools.length, 2);
  for (const t of tools) {
    assert.equal(t.message.content, `{"n":1,"id":123}`);
    assert.deepEqual(t.result, { ok: true, result: { n: 1, id: 123 }, origin: "tool_server" });
  }
});
