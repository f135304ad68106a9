/**
 * The rules an assistant candidate must keep: offered tools, arguments as JSON valid under the tool's
 * schema (formats included), unique call ids, a non-empty turn, text that answers the user.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkCandidate, MAX_TEXT_CHARS, type AssistantMessage } from "../../../src/dialogue/candidateCheck.js";
import type { McpTool } from "../../../src/domain/types.js";
import { verifyRules } from "../../../src/verification/rules.js";

const tools: McpTool[] = [
  {
    name: "send_email",
    description: "Send an email",
    inputSchema: {
      type: "object",
      properties: { to: { type: "string", format: "email" }, subject: { type: "string" }, when: { type: "string", format: "date" } },
      required: ["to", "subject"],
    },
  },
  {
    name: "get_weather",
    description: "Weather",
    inputSchema: { type: "object", properties: { city: { type: "string" }, days: { type: "integer", minimum: 1 } }, required: ["city"] },
  },
];

const calls = (...cs: [string, string, string?][]): AssistantMessage => ({
  role: "assistant",
  content: null,
  tool_calls: cs.map(([name, args, id], i) => ({ id: id ?? `c${i}`, type: "function", function: { name, arguments: args } })),
});
const text = (content: string | null): AssistantMessage => ({ role: "assistant", content });

test("a valid call and a valid text answer pass", () => {
  assert.deepEqual(checkCandidate(calls(["send_email", '{"to":"bob@example.com","subject":"Hi","when":"2026-01-31"}']), tools), []);
  assert.deepEqual(checkCandidate(calls(["get_weather", '{"city":"Paris"}'], ["get_weather", '{"city":"Rome","days":2}']), tools), []);
  assert.deepEqual(checkCandidate(text("Which city do you mean?"), tools), []);
});

test("schema violations name the call, the tool and the argument, string formats included", () => {
  assert.deepEqual(checkCandidate(calls(["send_email", '{"to":"bob at example","subject":"Hi","when":"31/01/2026"}']), tools), [
    'call 0 (send_email): argument "to": must match format "email"',
    'call 0 (send_email): argument "when": must match format "date"',
  ]);
  assert.deepEqual(checkCandidate(calls(["get_weather", '{"days":0,"country":"FR"}']), tools), [
    'call 0 (get_weather): missing required argument "city"',
    'call 0 (get_weather): unknown argument "country"',
    'call 0 (get_weather): argument "days": must be >= 1',
  ]);
  assert.deepEqual(checkCandidate(calls(["delete_all", "{}"]), tools), [
    'call 0 (delete_all): "delete_all" is not one of the offered tools (send_email, get_weather)',
  ]);
  assert.match(checkCandidate(calls(["get_weather", "{city: Paris}"]), tools)[0]!, /^call 0 \(get_weather\): arguments are not valid JSON/);
  assert.deepEqual(checkCandidate(calls(["get_weather", '["Paris"]']), tools), ["call 0 (get_weather): arguments must be a JSON object"]);
});

test("duplicate call ids are a violation", () => {
  assert.deepEqual(checkCandidate(calls(["get_weather", '{"city":"Paris"}', "x"], ["get_weather", '{"city":"Rome"}', "x"]), tools), [
    'call 1 (get_weather): duplicate call id "x" (also call 0)',
  ]);
});

test("style: an empty turn, leaked plan or prompt, calls written as text, raw JSON, overlong text", () => {
  assert.deepEqual(checkCandidate(text(null), tools), ["the turn is empty: neither text nor tool calls"]);
  assert.deepEqual(checkCandidate(text("   "), tools), ["the turn is empty: neither text nor tool calls"]);
  assert.deepEqual(checkCandidate(text('Sure. {"scenario": "x", "steps": []}'), tools), ['text: leaks the dialogue plan (JSON keys "scenario", "steps")']);
  assert.deepEqual(checkCandidate(text("### task: dialogue-user\nhello"), tools), ["text: leaks a role-play instruction (a '### task:' line)"]);
  assert.deepEqual(checkCandidate(text('{"name": "get_weather", "arguments": {"city": "Paris"}}'), tools), [
    "text: writes a tool call out as text; calls belong in tool_calls",
  ]);
  assert.deepEqual(checkCandidate(text("<tool_call>get_weather</tool_call>"), tools), ["text: writes a tool call out as text; calls belong in tool_calls"]);
  assert.deepEqual(checkCandidate(text('[{"temp": 21}]'), tools), ["text: is raw JSON, not an answer to the user"]);
  assert.deepEqual(checkCandidate(text('Here:\n```json\n{"temp": 21}\n```'), tools), ["text: contains a ```json block instead of an answer in words"]);
  const long = "a".repeat(MAX_TEXT_CHARS + 1);
  assert.deepEqual(checkCandidate(text(long), tools), [`text: ${MAX_TEXT_CHARS + 1} characters long; at most ${MAX_TEXT_CHARS}`]);
  assert.deepEqual(checkCandidate(text("short enough"), tools, { maxTextChars: 5 }), ["text: 12 characters long; at most 5"]);
  // Text beside calls is checked too.
  const both: AssistantMessage = { ...calls(["get_weather", '{"city":"Paris"}']), content: '{"action": "request"}' };
  assert.deepEqual(checkCandidate(both, tools), ['text: leaks the dialogue plan (JSON key "action")', "text: is raw JSON, not an answer to the user"]);
});

test('a turn cut off at the token limit (finish_reason "length") is a violation, text or calls; "stop" and "tool_calls" are not', () => {
  const cut = 'the turn was cut off at the token limit (finish_reason "length"): it is incomplete; give a shorter, complete turn';
  assert.deepEqual(checkCandidate(text("Here is what I found. The weather in Paris is"), tools, { finishReason: "length" }), [cut]);
  assert.deepEqual(checkCandidate(calls(["get_weather", '{"city":"Paris"}']), tools, { finishReason: "length" }), [cut]);
  assert.deepEqual(checkCandidate(text("It is sunny in Paris."), tools, { finishReason: "stop" }), []);
  assert.deepEqual(checkCandidate(calls(["get_weather", '{"city":"Paris"}']), tools, { finishReason: "tool_calls" }), []);
});

test("the same call twice in one turn (keys in any order) is a violation, as verify.rules holds it; other values are not", () => {
  const twice = calls(["get_weather", '{"city":"Paris","days":2}'], ["get_weather", '{"days":2,"city":"Paris"}']);
  assert.deepEqual(checkCandidate(twice, tools), ["call 1 (get_weather): repeats call 0 with the same arguments"]);
  const verdict = verifyRules({ kind: "multi_turn", messages: [{ role: "user", content: "Paris, twice" }, twice], tools });
  assert.deepEqual(verdict.reasons, ["call[1] get_weather: repeats call[0] with the same arguments"]);
  assert.deepEqual(checkCandidate(calls(["get_weather", '{"city":"Paris","days":2}'], ["get_weather", '{"city":"Paris","days":3}']), tools), []);
  const deep = JSON.stringify({ city: "Paris", days: 1, extra: JSON.parse("[".repeat(70) + "]".repeat(70)) });
  const problems = checkCandidate(calls(["get_weather", deep]), tools);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^call 0 \(get_weather\): arguments nest deeper than 64 levels at extra\[0\]/);
});
