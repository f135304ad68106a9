/**
 * Each multi-turn role of the simulator answers in the protocol's shape (read with its zod schemas)
 * and does its job: the planner plans over the offered tools in the requested proportions, the
 * assistant calls, asks, chains and answers, the tool server is consistent with its session and
 * refuses bad calls, reflection fixes what the critique names, the negotiator picks the right
 * candidate or none.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAjv } from "../../../src/jsonSchema/ajv.js";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import { toOpenAiTool } from "../../../src/domain/types.js";
import {
  ASSISTANT_SYSTEM,
  dialoguePlanSchema,
  negotiationMessages,
  negotiationSchema,
  NEGOTIATION_RESPONSE_FORMAT,
  PLAN_RESPONSE_FORMAT,
  planMessages,
  reflectMessages,
  TOOL_RESULT_RESPONSE_FORMAT,
  toolResultSchema,
  toolServerMessages,
  type ToolErrorType,
  type ToolHistoryEntry,
  type ToolResult,
} from "../../../src/dialogue/protocol.js";
import { parseJsonExact } from "../../../src/util/exactJson.js";
import { RESULT_REFERENCE } from "../../../src/llm/simulator/dialogue/planner.js";
import { DIALOGUE_TOOLS } from "../../helpers/simDialogueTools.js";
import { scriptedAnswer } from "../../helpers/simDialogue.js";

const TOOLS = DIALOGUE_TOOLS;
const openAi = TOOLS.map(toOpenAiTool);
const tool = (name: string) => TOOLS.find((t) => t.name === name)!;

function plan(seed: number, targetTurns: number, needs: { single: number; multi: number; parallel: number }) {
  const a = scriptedAnswer(seed, {
    messages: planMessages({ tools: TOOLS, targetTurns, needs }),
    response_format: { type: "json_schema", json_schema: PLAN_RESPONSE_FORMAT },
  });
  assert.equal(a.role, "dialogue-planner");
  return dialoguePlanSchema.parse(JSON.parse(a.content!));
}

function assistant(messages: ChatMessage[], extra: Record<string, unknown> = {}) {
  return scriptedAnswer(0, { messages, tools: openAi, tool_choice: "auto", temperature: 0, ...extra });
}

function callsOf(a: { toolCalls: { name: string; arguments: string }[] }) {
  return a.toolCalls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) as Record<string, unknown> }));
}

function serve(call: { name: string; arguments: unknown }, history: ToolHistoryEntry[] = [], fail?: ToolErrorType): ToolResult {
  const a = scriptedAnswer(0, {
    messages: toolServerMessages({ tool: TOOLS.find((t) => t.name === call.name), call, history, ...(fail ? { fail } : {}) }),
    response_format: { type: "json_schema", json_schema: TOOL_RESULT_RESPONSE_FORMAT },
    temperature: 0,
  });
  assert.equal(a.role, "dialogue-tool-server");
  return toolResultSchema.parse(JSON.parse(a.content!));
}

test("planner: only offered tools, schema-valid values, targetTurns as given, needs in the requested proportions", () => {
  const ajv = createAjv();
  const p = plan(3, 13, { single: 0.5, multi: 0.3, parallel: 0.2 });
  assert.equal(p.targetTurns, 13);
  assert.equal(p.steps.length, 10, "about 0.8 steps per target turn");
  const count = (n: string) => p.steps.filter((s) => s.need === n).length;
  assert.deepEqual([count("single"), count("multi"), count("parallel")], [5, 3, 2]);
  for (const step of p.steps) {
    for (const call of step.calls) {
      const t = tool(call.name);
      assert.ok(t, `plan names an offered tool (${call.name})`);
      assert.ok(ajv.validate(t.inputSchema, call.arguments), `${call.name} ${JSON.stringify(call.arguments)}: ${ajv.errorsText()}`);
    }
    if (step.need === "parallel") assert.ok(step.calls.length >= 2);
    if (step.need === "multi") {
      assert.equal(step.calls.length, 2);
      assert.ok(Object.values(step.calls[1]!.arguments).includes(RESULT_REFERENCE), "the second call takes a value from the first's result");
    }
  }
  assert.deepEqual(plan(3, 13, { single: 0.5, multi: 0.3, parallel: 0.2 }), p, "deterministic for a request");
  const parallelOnly = plan(4, 5, { single: 0, multi: 0, parallel: 1 });
  assert.ok(parallelOnly.steps.every((s) => s.need === "parallel"));
  const singleOnly = plan(4, 1, { single: 1, multi: 0, parallel: 0 });
  assert.deepEqual(
    singleOnly.steps.map((s) => s.need),
    ["single"],
  );
});

test("assistant: calls with the user's values, in parallel when asked together, as OpenAI tool calls", () => {
  const a = assistant([
    { role: "system", content: ASSISTANT_SYSTEM },
    { role: "user", content: 'Could you get the current weather for a city with city "Oslo"? Also, get the latest price of a stock with symbol "MSFT".' },
  ]);
  assert.equal(a.role, "dialogue-assistant");
  assert.equal(a.content, null);
  assert.deepEqual(callsOf(a), [
    { name: "get_weather", args: { city: "Oslo" } },
    { name: "get_stock_price", args: { symbol: "MSFT" } },
  ]);
  assert.match(a.toolCalls[0]!.id, /^chatcmpl-tool-[0-9a-f]{32}$/);
  assert.equal(a.toolCalls[0]!.arguments, '{"city": "Oslo"}', "arguments as vLLM's parsers write them");
});

test("assistant: asks for a missing required value instead of inventing it, then uses the value it is given", () => {
  const dialogue: ChatMessage[] = [
    { role: "system", content: ASSISTANT_SYSTEM },
    { role: "user", content: 'Please create an order for a product with product id "ORD-1042".' },
  ];
  const ask = assistant(dialogue);
  assert.equal(ask.toolCalls.length, 0);
  assert.match(ask.content!, /quantity/);
  assert.match(ask.content!, /\?$/);
  dialogue.push({ role: "assistant", content: ask.content! }, { role: "user", content: "Sorry, I forgot to say: quantity 3." });
  assert.deepEqual(callsOf(assistant(dialogue)), [{ name: "create_order", args: { product_id: "ORD-1042", quantity: 3 } }]);
});

test("assistant: a multi-step need takes the id from the first result, then a final answer in plain words", () => {
  const dialogue: ChatMessage[] = [
    { role: "system", content: ASSISTANT_SYSTEM },
    {
      role: "user",
      content:
        'Create an order for a product with product id "A1B2C3" and quantity 2. Then get the status of an existing order, using the order id from that result.',
    },
  ];
  const first = assistant(dialogue);
  assert.deepEqual(callsOf(first), [{ name: "create_order", args: { product_id: "A1B2C3", quantity: 2 } }], "the dependent call waits for the result");
  const created = serve({ name: "create_order", arguments: { product_id: "A1B2C3", quantity: 2 } });
  assert.ok(created.ok);
  const orderId = (created.result as { id: string }).id;
  dialogue.push(
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_2_0", type: "function", function: { name: "create_order", arguments: first.toolCalls[0]!.arguments } }],
    },
    { role: "tool", tool_call_id: "call_2_0", content: JSON.stringify(created.result) },
  );
  const second = assistant(dialogue);
  assert.deepEqual(callsOf(second), [{ name: "get_order_status", args: { order_id: orderId } }]);
  const status = serve({ name: "get_order_status", arguments: { order_id: orderId } }, [
    { name: "create_order", arguments: { product_id: "A1B2C3", quantity: 2 }, result: created },
  ]);
  dialogue.push(
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_4_0", type: "function", function: { name: "get_order_status", arguments: second.toolCalls[0]!.arguments } }],
    },
    { role: "tool", tool_call_id: "call_4_0", content: JSON.stringify((status as { result: unknown }).result) },
  );
  const final = assistant(dialogue);
  assert.equal(final.toolCalls.length, 0);
  assert.ok(final.content!.includes(orderId), "the final answer reports the results");
  assert.doesNotMatch(final.content!, /[{}[\]?]/, "plain words: no JSON, no question");
});

test("assistant: a tool error is reported in the final answer; a dependent call is not made on a failed result", () => {
  const dialogue: ChatMessage[] = [
    { role: "system", content: ASSISTANT_SYSTEM },
    {
      role: "user",
      content:
        'Create an order for a product with product id "A1B2C3" and quantity 2. Then get the status of an existing order, using the order id from that result.',
    },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "c0", type: "function", function: { name: "create_order", arguments: '{"product_id": "A1B2C3", "quantity": 2}' } }],
    },
    { role: "tool", tool_call_id: "c0", content: JSON.stringify({ error: { type: "rate_limited", message: "Rate limit exceeded." } }) },
  ];
  const a = assistant(dialogue);
  assert.equal(a.toolCalls.length, 0);
  assert.match(a.content!, /did not go through \(rate limited\)/);
});

test("single-turn whole trajectory: a plain chat request with tools whose last message is a tool result gets a final answer", () => {
  const messages: ChatMessage[] = [
    { role: "user", content: 'Could you get the current weather for a city with city "Lima"?' },
    { role: "assistant", content: null, tool_calls: [{ id: "x", type: "function", function: { name: "get_weather", arguments: '{"city": "Lima"}' } }] },
    { role: "tool", tool_call_id: "x", content: '{"city": "Lima", "temperature_c": 19}' },
  ];
  const a = assistant(messages);
  assert.equal(a.role, "dialogue-assistant");
  assert.equal(a.toolCalls.length, 0);
  assert.match(a.content!, /temperature c 19/);
  // The request before the result is still the single-turn tool agent's.
  assert.equal(assistant(messages.slice(0, 1)).role, "tool-agent");
});

test("tool server: reads back what it created, repeats itself, follows the output schema, refuses bad calls", () => {
  const created = serve({ name: "create_order", arguments: { product_id: "A1B2C3", quantity: 2 } });
  assert.ok(created.ok);
  const order = created.result as Record<string, unknown>;
  assert.match(String(order.id), /^order_[0-9a-f]{8}$/);
  assert.equal(order.quantity, 2, "argument values are echoed");
  assert.deepEqual(serve({ name: "create_order", arguments: { product_id: "A1B2C3", quantity: 2 } }), created, "the same call, the same result");

  const history: ToolHistoryEntry[] = [{ name: "create_order", arguments: { product_id: "A1B2C3", quantity: 2 }, result: created }];
  const status = serve({ name: "get_order_status", arguments: { order_id: order.id } }, history);
  assert.ok(status.ok);
  const s = status.result as Record<string, unknown>;
  assert.equal(s.order_id, order.id, "the created id is read back");
  assert.ok(["pending", "shipped", "delivered"].includes(String(s.status)), "the output schema's enum holds");
  assert.ok(createAjv().validate(tool("get_order_status").outputSchema!, s));

  const unknownId = serve({ name: "get_order_status", arguments: { order_id: "order_0badc0de" } }, history);
  assert.deepEqual(unknownId.ok ? null : unknownId.error.type, "not_found");
  const unknownTool = serve({ name: "delete_everything", arguments: {} });
  assert.deepEqual(unknownTool.ok ? null : unknownTool.error.type, "invalid_call");
  const missing = serve({ name: "create_order", arguments: { product_id: "A1B2C3" } });
  assert.ok(!missing.ok && missing.error.type === "invalid_call" && /missing required argument quantity/.test(missing.error.message));
  const extra = serve({ name: "create_order", arguments: { product_id: "A1B2C3", quantity: 2, verbose: true } });
  assert.ok(!extra.ok && /unknown argument verbose/.test(extra.error.message));
  const wrongType = serve({ name: "create_order", arguments: { product_id: "A1B2C3", quantity: "2" } });
  assert.ok(!wrongType.ok && /quantity must be integer/.test(wrongType.error.message));
  const failed = serve({ name: "get_weather", arguments: { city: "Oslo" } }, [], "timeout");
  assert.ok(!failed.ok && failed.error.type === "timeout" && failed.error.message.length > 0);
});

/** The tool server's answer text for a call on `t`, and that text read with every digit (as LlmToolServer reads it). */
function serveText(t: McpTool, call: { name: string; arguments: unknown }, history: ToolHistoryEntry[] = []): { text: string; result: ToolResult } {
  const a = scriptedAnswer(0, {
    messages: toolServerMessages({ tool: t, call, history }),
    response_format: { type: "json_schema", json_schema: TOOL_RESULT_RESPONSE_FORMAT },
    temperature: 0,
  });
  assert.equal(a.role, "dialogue-tool-server");
  return { text: a.content!, result: toolResultSchema.parse(parseJsonExact(a.content!)) };
}

test("tool server: a 20-digit id is echoed and read back with every digit, not as the nearest double", () => {
  // The case reached the simulator with its digits (caseMessage writes them) and JSON.parse read
  // 12345678901234567891 as 12345678901234567000: the echo named another order.
  const id = 12345678901234567891n;
  const cancel: McpTool = {
    name: "cancel_order",
    description: "Cancel an order.",
    inputSchema: { type: "object", properties: { order_id: { type: "integer" }, reason: { type: "string" } }, required: ["order_id"] },
  };
  const echoed = serveText(cancel, { name: "cancel_order", arguments: { order_id: id, reason: "late" } });
  assert.match(echoed.text, /"order_id":12345678901234567891[,}]/);
  assert.ok(echoed.result.ok);
  assert.equal((echoed.result.result as Record<string, unknown>).order_id, id);

  const track: McpTool = {
    name: "track_order",
    description: "Track an order.",
    inputSchema: { type: "object", properties: { order_id: { type: "integer" } }, required: ["order_id"] },
    outputSchema: { type: "object", properties: { order_id: { type: "integer" }, carrier: { type: "string" } }, required: ["order_id", "carrier"] },
  };
  const tracked = serveText(track, { name: "track_order", arguments: { order_id: id } });
  assert.ok(tracked.result.ok);
  assert.equal((tracked.result.result as Record<string, unknown>).order_id, id, "the output schema's field takes the argument");

  // Of two orders one apart, the one the call names is read back.
  const history: ToolHistoryEntry[] = [
    { name: "place_order", arguments: {}, result: { ok: true, result: { order_id: id, item: "lamp" } } },
    { name: "place_order", arguments: {}, result: { ok: true, result: { order_id: id + 1n, item: "desk" } } },
  ];
  const lookup: McpTool = { ...cancel, name: "get_order", description: "Get an order." };
  const read = serveText(lookup, { name: "get_order", arguments: { order_id: id } }, history);
  assert.ok(read.result.ok);
  assert.deepEqual(read.result.result, { order_id: id, item: "lamp", status: "ok" });
  // A bigint is an integer to the server's schema check, and not a string.
  const wrong = serveText(
    { ...cancel, inputSchema: { type: "object", properties: { order_id: { type: "string" } } } },
    { name: "cancel_order", arguments: { order_id: id } },
  );
  assert.ok(!wrong.result.ok && /order_id must be string/.test(wrong.result.error.message));
});

test("reflection: fixes the argument the critique names and keeps the calls it does not name", () => {
  const dialogue: ChatMessage[] = [
    { role: "system", content: ASSISTANT_SYSTEM },
    {
      role: "user",
      content: 'Create an order for a product with product id "A1B2C3" and quantity 2. Also, get the latest price of a stock with symbol "NVDA".',
    },
  ];
  const original = {
    role: "assistant" as const,
    content: null,
    tool_calls: [
      { id: "c0", type: "function" as const, function: { name: "create_order", arguments: '{"product_id": "A1B2C3", "quantity": "2"}' } },
      { id: "c1", type: "function" as const, function: { name: "get_stock_price", arguments: '{"symbol": "NVDA"}' } },
    ],
  };
  const a = scriptedAnswer(0, {
    messages: reflectMessages({ dialogue, original, critique: ["create_order: argument quantity must be integer"] }),
    tools: openAi,
    tool_choice: "auto",
    temperature: 0,
  });
  assert.equal(a.role, "dialogue-reflect");
  assert.deepEqual(callsOf(a), [
    { name: "create_order", args: { product_id: "A1B2C3", quantity: 2 } },
    { name: "get_stock_price", args: { symbol: "NVDA" } },
  ]);
  const hallucinated = scriptedAnswer(0, {
    messages: reflectMessages({
      dialogue,
      original: {
        ...original,
        tool_calls: [
          { id: "c0", type: "function", function: { name: "create_order_v2", arguments: '{"product_id": "A1B2C3", "quantity": 2}' } },
          original.tool_calls[1]!,
        ],
      },
      critique: ["create_order_v2 is not an offered tool"],
    }),
    tools: openAi,
  });
  assert.deepEqual(callsOf(hallucinated)[0], { name: "create_order", args: { product_id: "A1B2C3", quantity: 2 } });

  // The engine's critique lines say which call they are about; a call no line is about stays as it was.
  const engineStyle = scriptedAnswer(0, {
    messages: reflectMessages({
      dialogue,
      original: {
        ...original,
        tool_calls: [
          { id: "c0", type: "function", function: { name: "create_order_v2", arguments: '{"product_id": "A1B2C3", "quantity": 2}' } },
          { id: "c1", type: "function", function: { name: "get_stock_price", arguments: '{"symbol": "NVDA", "exchange": "NYSE"}' } },
        ],
      },
      critique: [`call 0 (create_order_v2): "create_order_v2" is not one of the offered tools (${TOOLS.map((t) => t.name).join(", ")})`],
    }),
    tools: openAi,
  });
  assert.deepEqual(callsOf(engineStyle), [
    { name: "create_order", args: { product_id: "A1B2C3", quantity: 2 } },
    { name: "get_stock_price", args: { symbol: "NVDA", exchange: "NYSE" } },
  ]);
});

test("negotiation: picks the candidate the truthful reading agrees with, or rejects all, with reasons", () => {
  const dialogue: ChatMessage[] = [
    { role: "system", content: ASSISTANT_SYSTEM },
    { role: "user", content: 'Could you get the current weather for a city with city "Oslo" and days = 3?' },
  ];
  const ask = (candidates: { content: string | null; tool_calls: { name: string; arguments: unknown }[] }[]) => {
    const a = scriptedAnswer(0, {
      messages: negotiationMessages({ tools: TOOLS, dialogue, candidates }),
      response_format: { type: "json_schema", json_schema: NEGOTIATION_RESPONSE_FORMAT },
    });
    assert.equal(a.role, "dialogue-negotiation");
    return negotiationSchema.parse(JSON.parse(a.content!));
  };
  const wrong = { content: null, tool_calls: [{ name: "get_weather", arguments: { city: "Oslo", days: 4 } }] };
  const right = { content: null, tool_calls: [{ name: "get_weather", arguments: { city: "Oslo", days: 3 } }] };
  const text = { content: "Which city?", tool_calls: [] };
  const picked = ask([wrong, right]);
  assert.equal(picked.choice, 1);
  assert.match(picked.reasons, /Candidate 0 get_weather sets days to 4; the request asks for 3/);
  const none = ask([wrong, text]);
  assert.equal(none.choice, null);
  assert.match(none.reasons, /None serves/);
});
