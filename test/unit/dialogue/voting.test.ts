/**
 * How voting groups candidates: the strict matcher decides whether two sets of calls agree (parallel
 * calls in any order, every argument equal), two text answers agree, text and calls never do; ids are
 * made stable per stored turn.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AssistantMessage } from "../../../src/dialogue/candidateCheck.js";
import { agreementGroups, candidatesAgree, candidateSeed, withStableCallIds } from "../../../src/dialogue/voting.js";
import type { McpTool } from "../../../src/domain/types.js";

const tools: McpTool[] = [
  {
    name: "get_weather",
    description: "Weather",
    inputSchema: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
  },
  { name: "get_time", description: "Time", inputSchema: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] } },
];
const calls = (...cs: [string, Record<string, unknown>][]): AssistantMessage => ({
  role: "assistant",
  content: null,
  tool_calls: cs.map(([name, args], i) => ({ id: `x${i}`, type: "function", function: { name, arguments: JSON.stringify(args) } })),
});
const text = (content: string): AssistantMessage => ({ role: "assistant", content });

test("agreement: same calls in any order agree; a different value, a missing call or text versus calls do not; two texts agree", () => {
  const a = calls(["get_weather", { city: "Paris" }], ["get_time", { zone: "CET" }]);
  assert.equal(candidatesAgree(a, calls(["get_time", { zone: "CET" }], ["get_weather", { city: "Paris" }]), tools), true);
  assert.equal(candidatesAgree(a, calls(["get_weather", { city: "Paris" }], ["get_time", { zone: "UTC" }]), tools), false);
  assert.equal(candidatesAgree(a, calls(["get_weather", { city: "Paris" }]), tools), false);
  assert.equal(candidatesAgree(calls(["get_weather", { city: "Paris" }]), calls(["get_weather", { city: "Paris", days: 2 }]), tools), false);
  assert.equal(candidatesAgree(text("Which city?"), text("Could you tell me the city?"), tools), true);
  assert.equal(candidatesAgree(text("Which city?"), calls(["get_weather", { city: "Paris" }]), tools), false);
});

test("groups: largest first, ties in order of appearance, only the given (valid) indices", () => {
  const msgs = [
    calls(["get_weather", { city: "Lyon" }]),
    calls(["get_weather", { city: "Paris" }]),
    calls(["get_weather", { city: "Paris" }]),
    text("Which city?"),
    calls(["get_weather", { city: "Lyon" }]),
  ];
  assert.deepEqual(agreementGroups(msgs, [0, 1, 2, 3], tools), [[1, 2], [0], [3]]);
  assert.deepEqual(agreementGroups(msgs, [0, 1, 2, 3, 4], tools), [[0, 4], [1, 2], [3]]);
  assert.deepEqual(agreementGroups(msgs, [3, 0], tools), [[3], [0]]);
  assert.deepEqual(agreementGroups(msgs, [], tools), []);
});

test("stable ids and seeds: call_<seq>_<i>; one seed per (turn, round, candidate)", () => {
  assert.deepEqual(
    withStableCallIds(calls(["get_weather", { city: "Paris" }], ["get_time", { zone: "CET" }]), 7).tool_calls!.map((c) => c.id),
    ["call_7_0", "call_7_1"],
  );
  assert.deepEqual(withStableCallIds(text("hi"), 7), text("hi"));
  const seeds = new Set<number>();
  for (let turn = 1; turn <= 5; turn++) for (let round = 0; round < 4; round++) for (let i = 0; i < 3; i++) seeds.add(candidateSeed(1, turn, round, i));
  assert.equal(seeds.size, 60);
  assert.equal(candidateSeed(1, 2, 0, 1), candidateSeed(1, 2, 0, 1));
  assert.notEqual(candidateSeed(1, 2, 0, 1), candidateSeed(2, 2, 0, 1));
});
