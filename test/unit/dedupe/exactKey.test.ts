/** What exactDuplicateKey treats as the same sample, and what it keeps apart. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { exactDuplicateKey, normalizeText } from "../../../src/dedupe/exactKey.js";
import type { ChatMessage, McpTool, ToolCall } from "../../../src/domain/types.js";

const weather: McpTool = { name: "get_weather", description: "Weather for a city", inputSchema: { type: "object", properties: { city: { type: "string" } } } };
const stock: McpTool = { name: "get_stock", description: "Stock price", inputSchema: { type: "object", properties: { ticker: { type: "string" } } } };

let nextId = 0;
const call = (name: string, args: string): ToolCall => ({ id: `call_${nextId++}`, type: "function", function: { name, arguments: args } });
const sample = (user: string, answer: ToolCall[] | string, tools: McpTool[] = [weather, stock]) => {
  const assistant: ChatMessage = typeof answer === "string" ? { role: "assistant", content: answer } : { role: "assistant", content: null, tool_calls: answer };
  return { messages: [{ role: "user", content: user }, assistant] satisfies ChatMessage[], tools };
};
const key = exactDuplicateKey;

test("the key is a sha256 hex digest and does not depend on call ids", () => {
  const a = key(sample("Weather in Paris?", [call("get_weather", '{"city":"Paris"}')]));
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(key(sample("Weather in Paris?", [call("get_weather", '{"city":"Paris"}')])), a, "a fresh call id changes nothing");
});

test("text normalisation: NFKC, case and whitespace", () => {
  assert.equal(normalizeText("  Ｗeather\u00a0in\n\tPARIS?  "), "weather in paris?");
  const calls = () => [call("get_weather", '{"city":"Paris"}')];
  assert.equal(key(sample("What is the weather in Paris?", calls())), key(sample("  what IS the\nweather   in paris?", calls())));
  assert.equal(key(sample("ﬁnd the weather in Paris", calls())), key(sample("find the weather in Paris", calls())), "the fi ligature is NFKC-equal to f + i");
});

test("argument key order and JSON formatting do not matter; values do", () => {
  const q = "Weather in Paris in celsius?";
  const a = key(sample(q, [call("get_weather", '{"city":"Paris","unit":"celsius"}')]));
  assert.equal(key(sample(q, [call("get_weather", '{ "unit": "celsius",\n  "city": "Paris" }')])), a);
  assert.notEqual(key(sample(q, [call("get_weather", '{"city":"paris","unit":"celsius"}')])), a, "argument values are compared exactly, not normalised");
  assert.notEqual(key(sample(q, [call("get_weather", '{"city":"Paris","unit":"fahrenheit"}')])), a);
  assert.notEqual(key(sample(q, [call("get_weather", '{"city":"Paris"}')])), a, "a missing argument differs");
});

test("a different tool name or different user text is not a duplicate", () => {
  const a = key(sample("Price of AAPL?", [call("get_stock", '{"ticker":"AAPL"}')]));
  assert.notEqual(key(sample("Price of AAPL?", [call("get_stock_price", '{"ticker":"AAPL"}')])), a);
  assert.notEqual(key(sample("Price of MSFT?", [call("get_stock", '{"ticker":"AAPL"}')])), a);
});

test("the tools offered are not part of the key", () => {
  const answer = () => [call("get_weather", '{"city":"Oslo"}')];
  assert.equal(key(sample("Weather in Oslo?", answer(), [weather])), key(sample("Weather in Oslo?", answer(), [stock, weather])));
});

test("one parallel turn is a multiset: call order does not matter, multiplicity does", () => {
  const paris = () => call("get_weather", '{"city":"Paris"}');
  const rome = () => call("get_weather", '{"city":"Rome"}');
  const a = key(sample("Weather in Paris and Rome?", [paris(), rome()]));
  assert.equal(key(sample("Weather in Paris and Rome?", [rome(), paris()])), a);
  assert.notEqual(key(sample("Weather in Paris and Rome?", [paris(), rome(), rome()])), a, "a repeated call is not the same answer");
  assert.notEqual(key(sample("Weather in Paris and Rome?", [paris()])), a);
});

test("sequential calls (separate assistant turns) keep their order", () => {
  const turns = (first: string, second: string): ChatMessage[] => [
    { role: "user", content: "Weather in Paris, then in Rome" },
    { role: "assistant", content: null, tool_calls: [call("get_weather", `{"city":"${first}"}`)] },
    { role: "tool", tool_call_id: "x", content: "sunny" },
    { role: "assistant", content: null, tool_calls: [call("get_weather", `{"city":"${second}"}`)] },
  ];
  assert.notEqual(key({ messages: turns("Paris", "Rome"), tools: [weather] }), key({ messages: turns("Rome", "Paris"), tools: [weather] }));
  assert.equal(key({ messages: turns("Paris", "Rome"), tools: [weather] }), key({ messages: turns("Paris", "Rome"), tools: [stock] }));
});

test("arguments that are not JSON compare as normalised text, never equal to a JSON reading", () => {
  const q = "Weather in Paris?";
  const a = key(sample(q, [call("get_weather", "{city: Paris}")]));
  assert.equal(key(sample(q, [call("get_weather", "  {CITY:   paris} ")])), a);
  assert.notEqual(key(sample(q, [call("get_weather", '{"city":"Paris"}')])), a);
  // Text that happens to spell a canonical JSON document is still kept apart from that document.
  assert.notEqual(key(sample(q, [call("get_weather", '{"city":"paris"')])), key(sample(q, [call("get_weather", '{"city":"paris"}')])));
});

test("irrelevance answers: text compared normalised, and never equal to a call", () => {
  const q = "Book me a flight to Tokyo";
  const refusal = key(sample(q, "I can't book flights with the tools I have."));
  assert.equal(key(sample(q, "  I CAN'T book flights with the tools   I have. ")), refusal);
  assert.equal(key(sample(q, "I can't book flights with the tools I have.", [stock])), refusal, "other distractors, same refusal");
  assert.notEqual(key(sample(q, "Sorry, no tool here books flights.")), refusal, "a different refusal text is a different answer");
  assert.notEqual(key(sample("Book me a flight to Kyoto", "I can't book flights with the tools I have.")), refusal);
  assert.notEqual(key(sample(q, [call("get_weather", '{"city":"Tokyo"}')])), refusal);
});

test("system prompts and tool results are context, not part of the key", () => {
  const base = sample("Weather in Paris?", [call("get_weather", '{"city":"Paris"}')]);
  const withSystem = { ...base, messages: [{ role: "system", content: "You are helpful." } as ChatMessage, ...base.messages] };
  assert.equal(key(withSystem), key(base));
});

test("multi_turn: the key counts every user turn and the label, not the assistant turns in between", () => {
  const dialogue = (middle: string, label: ChatMessage, secondUser = "And in Rome?"): ChatMessage[] => [
    { role: "system", content: "You are helpful." },
    { role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: middle },
    { role: "user", content: secondUser },
    label,
  ];
  const label: ChatMessage = { role: "assistant", content: null, tool_calls: [call("get_weather", '{"city":"Rome"}')] };
  const a = key({ kind: "multi_turn", messages: dialogue("It is sunny in Paris.", label), tools: [weather] });
  assert.equal(key({ kind: "multi_turn", messages: dialogue("Paris: 21 degrees and clear.", label), tools: [weather] }), a, "context turns differ");
  assert.notEqual(key({ kind: "multi_turn", messages: dialogue("It is sunny in Paris.", label, "And in Milan?"), tools: [weather] }), a);
  const other: ChatMessage = { role: "assistant", content: null, tool_calls: [call("get_weather", '{"city":"Roma"}')] };
  assert.notEqual(key({ kind: "multi_turn", messages: dialogue("It is sunny in Paris.", other), tools: [weather] }), a);
  // Without the kind the middle turn counts, as for single-turn samples.
  assert.notEqual(
    key({ messages: dialogue("Paris: 21 degrees and clear.", label), tools: [weather] }),
    key({ messages: dialogue("It is sunny in Paris.", label), tools: [weather] }),
  );
});

test("multi_turn: the exchange since the last user turn counts, so a retry after a failed call is not a copy of the first call", () => {
  const request: ChatMessage[] = [
    { role: "system", content: "You are helpful." },
    { role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: "Sunny." },
    { role: "user", content: "And the AAPL price?" },
  ];
  const ask = (): ChatMessage => ({ role: "assistant", content: null, tool_calls: [call("get_stock", '{"ticker":"AAPL"}')] });
  const failed: ChatMessage = { role: "tool", tool_call_id: "x", content: '{"error":{"type":"rate_limited","message":"slow down"}}' };
  const first = { kind: "multi_turn", messages: [...request, ask()], tools: [stock] };
  const retry = { kind: "multi_turn", messages: [...request, ask(), failed, ask()], tools: [stock] };
  // Both cuts of one dialogue: same user turns, same label; only the failed result in between tells them apart.
  assert.notEqual(key(retry), key(first), "the retry teaches what to do after an error");
  // The same retry in another dialogue (other earlier context, same request and exchange) is still a copy.
  const elsewhere = [{ role: "user", content: "Weather in Paris?" }, { role: "assistant", content: "It is 21 degrees." }, ...request.slice(3)] as ChatMessage[];
  assert.equal(key({ kind: "multi_turn", messages: [...elsewhere, ask(), failed, ask()], tools: [stock] }), key(retry));
  // The result it answers counts, normalised like text.
  const ok: ChatMessage = { role: "tool", tool_call_id: "x", content: '{"price": 191.2}' };
  const answer: ChatMessage = { role: "assistant", content: "AAPL is at 191.2." };
  assert.notEqual(
    key({ kind: "multi_turn", messages: [...request, ask(), ok, answer], tools: [stock] }),
    key({ kind: "multi_turn", messages: [...request, ask(), failed, answer], tools: [stock] }),
  );
  assert.equal(
    key({ kind: "multi_turn", messages: [...request, ask(), { ...ok, content: '  {"PRICE": 191.2}' }, answer], tools: [stock] }),
    key({ kind: "multi_turn", messages: [...request, ask(), ok, answer], tools: [stock] }),
  );
  // Earlier user turns' tool results stay context.
  const earlierResult = [request[0]!, request[1]!, ask(), { ...ok, content: "whatever" }, request[2]!, request[3]!, ask()] as ChatMessage[];
  assert.equal(key({ kind: "multi_turn", messages: earlierResult, tools: [stock] }), key(first));
});

test("single-turn keys are unchanged by the multi-turn form: the v1 digest keys stored before still match", () => {
  const s = sample("Weather in  PARIS?", [call("get_weather", '{ "city": "Paris" }')]);
  const v1 = createHash("sha256")
    .update(
      JSON.stringify([
        "exact-v1",
        [
          ["user", "weather in paris?"],
          ["calls", [JSON.stringify(["get_weather", 'json:{"city":"Paris"}'])]],
        ],
      ]),
    )
    .digest("hex");
  assert.equal(key(s), v1);
  const withResult = { ...s, messages: [...s.messages, { role: "tool", tool_call_id: "x", content: "sunny" } as ChatMessage] };
  assert.equal(key(withResult), v1);
});
