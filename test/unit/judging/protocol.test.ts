/** The judge protocol (contracts A): marker lines, the ```json case block and the answer schemas. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { McpTool } from "../../../src/domain/types.js";
import {
  caseMessage,
  checkAnswerSchema,
  judgedAnswer,
  judgementAnswerSchema,
  JUDGEMENT_RESPONSE_FORMAT,
  LABEL_CHECK_MARKER,
  LABEL_JUDGEMENT_MARKER,
  labelCheckMessages,
  labelJudgementMessages,
  parseCaseMessage,
} from "../../../src/judging/protocol.js";

const weather: McpTool = {
  name: "get_weather",
  description: "Current weather of a city",
  inputSchema: { type: "object", properties: { city: { type: "string" }, unit: { type: "string", enum: ["c", "f"] } }, required: ["city"] },
};
const call = (args: string, id = "call_1") => ({ id, type: "function" as const, function: { name: "get_weather", arguments: args } });

test("judgedAnswer turns wire calls into objects and keeps unreadable arguments as text", () => {
  assert.deepEqual(judgedAnswer({ content: null, tool_calls: [call('{"city":"Oslo"}'), call("{not json", "call_2")] }), {
    content: null,
    tool_calls: [
      { name: "get_weather", arguments: { city: "Oslo" } },
      { name: "get_weather", arguments: "{not json" },
    ],
  });
  assert.deepEqual(judgedAnswer({ content: "No tool fits." }), { content: "No tool fits.", tool_calls: [] });
});

test("a label-judgement request: marker in the system message, the case as the last user message's json block", () => {
  const prompt = [
    { role: "system" as const, content: "You are a tool agent." },
    { role: "user" as const, content: "Weather in Oslo? Reply like ```this```" },
  ];
  const label = judgedAnswer({ content: null, tool_calls: [call('{"city":"Bergen"}')] });
  const prediction = judgedAnswer({ content: null, tool_calls: [call('{"city":"Oslo"}')] });
  const messages = labelJudgementMessages({ prompt, tools: [weather], label, prediction });
  assert.equal(messages.length, 2);
  assert.equal(messages[0]!.role, "system");
  assert.ok(messages[0]!.content!.split("\n").includes(LABEL_JUDGEMENT_MARKER), "the marker is a line of its own");
  assert.ok(!messages[0]!.content!.includes(LABEL_CHECK_MARKER));
  const last = messages[messages.length - 1]!;
  assert.equal(last.role, "user");
  assert.equal((last.content!.match(/```/g) ?? []).length, 2, "exactly one fenced block although the user's text holds a fence");
  const c = parseCaseMessage(last.content!);
  assert.deepEqual(c, {
    tools: [{ type: "function", function: { name: "get_weather", description: weather.description, parameters: weather.inputSchema } }],
    messages: prompt,
    label,
    prediction,
  });
});

test("a label-check request carries the label only", () => {
  const label = judgedAnswer({ content: "I cannot help with that." });
  const messages = labelCheckMessages({ prompt: [{ role: "user", content: "Book a flight" }], tools: [weather], label });
  assert.ok(messages[0]!.content!.split("\n").includes(LABEL_CHECK_MARKER));
  const c = parseCaseMessage(messages[1]!.content!);
  assert.ok(c);
  assert.deepEqual(Object.keys(c).sort(), ["label", "messages", "tools"]);
});

test("caseMessage output parses back to the same value for any string content", () => {
  const tricky = { text: "```json\n{}\n```\n``` ` `` \u0060", nested: ["\n```", { k: "`x`" }] };
  assert.deepEqual(parseCaseMessage(caseMessage(tricky)), tricky);
  assert.equal(parseCaseMessage("no block here"), undefined);
  assert.equal(parseCaseMessage("```json\n[1, 2]\n```"), undefined, "the case is an object");
});

test("answer schemas: both fields required, verdicts from the fixed lists", () => {
  assert.ok(judgementAnswerSchema.safeParse({ verdict: "LABEL_WRONG", analysis: "the city differs" }).success);
  assert.ok(!judgementAnswerSchema.safeParse({ verdict: "LABEL_WRONG" }).success);
  assert.ok(!judgementAnswerSchema.safeParse({ verdict: "MAYBE", analysis: "" }).success);
  assert.ok(checkAnswerSchema.safeParse({ verdict: "INCORRECT", analysis: "wrong unit" }).success);
  assert.ok(!checkAnswerSchema.safeParse({ verdict: "LABEL_WRONG", analysis: "" }).success);
  assert.deepEqual(JUDGEMENT_RESPONSE_FORMAT.schema.required, ["verdict", "analysis"]);
  assert.deepEqual(JUDGEMENT_RESPONSE_FORMAT.schema.properties.verdict.enum, ["PRED_WRONG", "LABEL_WRONG", "BOTH_CORRECT", "BOTH_WRONG"]);
});

test("a judge reads an integer past 2^53 in the label's arguments with the digits the model wrote", () => {
  const label = judgedAnswer({ content: null, tool_calls: [call('{"city": "Oslo", "order": 12345678901234567890}')] });
  const text = labelCheckMessages({ tools: [weather], prompt: [{ role: "user", content: "Weather for order 12345678901234567890" }], label })
    .map((m) => m.content)
    .join("\n");
  assert.ok(text.includes('"order": 12345678901234567890\n'), text);
  assert.ok(!text.includes("12345678901234567000"));
});
