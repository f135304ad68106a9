/**
 * cutSamples: one sample per accepted assistant turn, the real message list up to and including it;
 * rejected turns and tool errors stay in later prompts as the dialogue's history, never as labels.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cutSamples } from "../../../src/dialogue/cut.js";
import type { AssistantTurnReview, DialogueTurn } from "../../../src/dialogue/types.js";
import type { ChatMessage } from "../../../src/domain/types.js";

const review: AssistantTurnReview = { candidates: [], votes: { groups: [3], agreeRequired: 2 }, decision: "vote", chosen: 0 };
const assistant = (seq: number, message: Extract<ChatMessage, { role: "assistant" }>, accepted: boolean, userTurn = 1, round = 0): DialogueTurn => ({
  seq,
  kind: "assistant",
  message,
  review: accepted ? review : { ...review, decision: "rejected", rejectReason: "no agreement" },
  userTurn,
  round,
  accepted,
});
const call = (id: string, name: string, args: unknown) => ({ id, type: "function" as const, function: { name, arguments: JSON.stringify(args) } });

const turns: DialogueTurn[] = [
  { seq: 0, kind: "system", message: { role: "system", content: "sys" } },
  {
    seq: 1,
    kind: "user",
    message: { role: "user", content: "weather in Paris?" },
    user: { message: "weather in Paris?", action: "request", step: 0 },
    userTurn: 1,
  },
  assistant(2, { role: "assistant", content: null, tool_calls: [call("call_2_0", "get_weather", { city: "Paris" })] }, true),
  {
    seq: 3,
    kind: "tool",
    message: { role: "tool", tool_call_id: "call_2_0", content: '{"error":{"type":"timeout","message":"upstream timed out"}}' },
    result: { ok: false, error: { type: "timeout", message: "upstream timed out" } },
    callName: "get_weather",
  },
  assistant(4, { role: "assistant", content: null, tool_calls: [call("call_4_0", "get_weather", { city: "Paris" })] }, false, 1, 1),
  {
    seq: 5,
    kind: "tool",
    message: { role: "tool", tool_call_id: "call_4_0", content: '{"temp":21}' },
    result: { ok: true, result: { temp: 21 } },
    callName: "get_weather",
  },
  assistant(6, { role: "assistant", content: "It is 21 degrees in Paris." }, true, 1, 2),
];

test("one cut per accepted assistant turn, each the stored messages up to and including it", () => {
  const cuts = cutSamples([...turns].reverse());
  assert.deepEqual(
    cuts.map((c) => c.labelSeq),
    [2, 6],
    "the rejected turn 4 is no label",
  );
  assert.deepEqual(
    cuts[0]!.messages,
    turns.slice(0, 3).map((t) => t.message),
  );
  const last = cuts[1]!;
  assert.deepEqual(
    last.messages.map((m) => m.role),
    ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"],
  );
  assert.deepEqual(last.messages.at(-1), { role: "assistant", content: "It is 21 degrees in Paris." }, "the label is the last message");
  // The tool error and the rejected retry stay in the prompt: they are what happened.
  assert.equal(last.messages[3]!.role === "tool" && last.messages[3]!.content.includes("timeout"), true);
  assert.deepEqual(last.messages[4], turns[4]!.message);
  assert.deepEqual(cutSamples([]), []);
  assert.deepEqual(cutSamples(turns.slice(0, 2)), []);
});

test("an accepted turn whose calls did not all get a result (the dialogue ended before they ran) is no label", () => {
  const ask: DialogueTurn = {
    seq: 7,
    kind: "user",
    message: { role: "user", content: "and Lyon and Nice?" },
    user: { message: "and Lyon and Nice?", action: "request", step: 1 },
    userTurn: 2,
  };
  const parallel = assistant(
    8,
    { role: "assistant", content: null, tool_calls: [call("call_8_0", "get_weather", { city: "Lyon" }), call("call_8_1", "get_weather", { city: "Nice" })] },
    true,
    2,
    0,
  );
  const answer = (seq: number, callId: string): DialogueTurn => ({
    seq,
    kind: "tool",
    message: { role: "tool", tool_call_id: callId, content: '{"temp":18}' },
    result: { ok: true, result: { temp: 18 } },
    callName: "get_weather",
  });
  const labels = (ts: DialogueTurn[]) => cutSamples(ts).map((c) => c.labelSeq);
  assert.deepEqual(labels([...turns, ask, parallel]), [2, 6], "no call answered");
  assert.deepEqual(labels([...turns, ask, parallel, answer(9, "call_8_0")]), [2, 6], "one of two parallel calls answered");
  assert.deepEqual(labels([...turns, ask, parallel, answer(9, "call_8_0"), answer(10, "call_8_1")]), [2, 6, 8], "both answered");
});
