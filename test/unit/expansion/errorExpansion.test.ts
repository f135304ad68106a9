/** The error-expansion request (contract B) and its deterministic variations. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import {
  CALL_SHAPE_VERIFIER,
  callShapeVerdict,
  COMPLEXITIES,
  DEFAULT_PERSONAS,
  DEFAULT_STYLES,
  drawVariation,
  ERROR_EXPANSION_MARKER,
  expansionMessages,
  ExpansionSeedError,
  seedCase,
} from "../../../src/expansion/errorExpansion.js";

const TOOL: McpTool = { name: "get_weather", description: "Weather", inputSchema: { type: "object", properties: { city: { type: "string" } } } };
const seedMessages: ChatMessage[] = [
  { role: "system", content: "sys" },
  { role: "user", content: "Weather in Oslo and Rome?" },
  {
    role: "assistant",
    content: null,
    tool_calls: [
      { id: "a", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
      { id: "b", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
    ],
  },
];
const lists = { personas: DEFAULT_PERSONAS, styles: DEFAULT_STYLES, complexities: COMPLEXITIES };

test("variations are a pure function of seed, iteration, seed sample and index, drawn from the lists", () => {
  const v = (index: number, seed = 1, iteration = 2, id = "s_1") => drawVariation({ seed, iteration, seedSampleId: id, index, ...lists });
  assert.deepEqual(v(0), v(0));
  const all = Array.from({ length: 30 }, (_, i) => v(i));
  assert.ok(all.every((x, i) => x.index === i && DEFAULT_PERSONAS.includes(x.persona as never) && DEFAULT_STYLES.includes(x.style as never)));
  assert.ok(new Set(all.map((x) => `${x.persona}|${x.style}|${x.complexity}`)).size > 10, "indices vary the scenario");
  assert.notDeepEqual(
    all.map((x) => x.persona),
    Array.from({ length: 30 }, (_, i) => v(i, 2).persona),
    "another campaign seed draws other personas",
  );
  assert.deepEqual(drawVariation({ seed: 1, iteration: 1, seedSampleId: "x", index: 0, personas: ["p"], styles: ["s"], complexities: ["same"] }), {
    index: 0,
    persona: "p",
    style: "s",
    complexity: "same",
  });
});

test("the request: the marker in the system message, one json block with tools, seed query and calls, variation", () => {
  const variation = drawVariation({ seed: 1, iteration: 1, seedSampleId: "s", index: 3, ...lists });
  const messages = expansionMessages({ tools: [TOOL], seed: seedCase(seedMessages), variation });
  assert.equal(messages[0]?.role, "system");
  assert.ok((messages[0]!.content as string).split("\n").includes(ERROR_EXPANSION_MARKER));
  const last = messages[messages.length - 1]!;
  assert.equal(last.role, "user");
  const blocks = [...(last.content as string).matchAll(/```json\n([\s\S]*?)\n```/g)];
  assert.equal(blocks.length, 1);
  assert.deepEqual(JSON.parse(blocks[0]![1]!), {
    tools: [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: TOOL.inputSchema } }],
    seed: {
      query: "Weather in Oslo and Rome?",
      calls: [
        { name: "get_weather", arguments: { city: "Oslo" } },
        { name: "get_weather", arguments: { city: "Rome" } },
      ],
    },
    variation,
  });
});

test("the seed's calls reach the query writer as the label wrote them: an id past a double's precision, a float 2.0", () => {
  // JSON.parse read 12345678901234567891 as 12345678901234567000: the query writer was asked for a
  // request about another order, and the expansion's label carried that id.
  const messages: ChatMessage[] = [
    { role: "user", content: "Refund 2.0 units of order 12345678901234567891." },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "a", type: "function", function: { name: "refund", arguments: '{"order_id": 12345678901234567891, "quantity": 2.0}' } }],
    },
  ];
  const variation = drawVariation({ seed: 1, iteration: 1, seedSampleId: "s", index: 0, ...lists });
  const block = (expansionMessages({ tools: [TOOL], seed: seedCase(messages), variation }).at(-1)!.content as string).split("\n");
  assert.ok(block.includes('     "order_id": 12345678901234567891,'), block.join("\n"));
  assert.ok(block.includes('     "quantity": 2.0'), block.join("\n"));
});

test("an irrelevance seed has no calls; a seed without a readable label is refused", () => {
  assert.deepEqual(
    seedCase([
      { role: "user", content: "Tell me a joke" },
      { role: "assistant", content: "No tool fits." },
    ]),
    { query: "Tell me a joke", calls: [] },
  );
  assert.throws(() => seedCase([{ role: "user", content: "q" }]), ExpansionSeedError);
  assert.throws(
    () =>
      seedCase([
        { role: "user", content: "q" },
        { role: "assistant", content: null, tool_calls: [{ id: "a", type: "function", function: { name: "f", arguments: "{" } }] },
      ]),
    /label cannot be read/,
  );
});

test("an expansion keeps its seed's call shape: the same tools as many times (any order), none for an irrelevance seed", () => {
  const call = (name: string, args: Record<string, unknown>, id = "x") => ({
    id,
    type: "function" as const,
    function: { name, arguments: JSON.stringify(args) },
  });
  const answer = (...calls: ReturnType<typeof call>[]): ChatMessage[] => [
    { role: "user", content: "new request" },
    calls.length > 0 ? { role: "assistant", content: null, tool_calls: calls } : { role: "assistant", content: "No tool fits." },
  ];
  const ok = { verifier: CALL_SHAPE_VERIFIER, ok: true, reasons: [] };
  // The seed calls get_weather twice (Oslo, Rome): other values keep the shape.
  assert.deepEqual(callShapeVerdict(seedMessages, answer(call("get_weather", { city: "Lima" }), call("get_weather", { city: "Pune" }))), ok);
  const mixed: ChatMessage[] = [
    { role: "user", content: "q" },
    { role: "assistant", content: null, tool_calls: [call("get_weather", { city: "Oslo" }), call("get_time", { tz: "CET" })] },
  ];
  assert.deepEqual(callShapeVerdict(mixed, answer(call("get_time", { tz: "UTC" }), call("get_weather", { city: "Rome" }))), ok, "parallel calls in any order");

  const one = callShapeVerdict(seedMessages, answer(call("get_weather", { city: "Lima" })));
  assert.equal(one.ok, false, "one call where the seed makes two");
  assert.deepEqual(one.reasons, [
    "the label makes calls to get_weather; its error seed makes calls to get_weather, get_weather (an expansion keeps the seed's tools and call count)",
  ]);
  const other = callShapeVerdict(seedMessages, answer(call("get_weather", { city: "Lima" }), call("get_time", { tz: "UTC" })));
  assert.equal(other.ok, false, "another tool");
  assert.match(other.reasons[0]!, /makes calls to get_weather, get_time; its error seed makes calls to get_weather, get_weather/);
  assert.match(callShapeVerdict(seedMessages, answer()).reasons[0]!, /the label makes no call; /);

  const irrelevance: ChatMessage[] = [
    { role: "user", content: "Tell me a joke" },
    { role: "assistant", content: "No tool fits." },
  ];
  assert.deepEqual(callShapeVerdict(irrelevance, answer()), ok);
  assert.match(
    callShapeVerdict(irrelevance, answer(call("get_weather", { city: "Oslo" }))).reasons[0]!,
    /makes calls to get_weather; its error seed makes no call/,
  );
});
