/**
 * The scripted roles without HTTP: value read-back, the query-writer protocol, and deliberate mistakes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ajv } from "ajv";
import { chatRequestSchema } from "../../../src/llm/simulator/requests.js";
import { scriptChat } from "../../../src/llm/simulator/scripts.js";
import { findParamValue, splitSentences } from "../../../src/llm/simulator/text.js";
import { buildUserQueryPrompt, USER_QUERY_SYSTEM_PROMPT } from "../../../src/synthesis/prompts.js";
import type { McpTool } from "../../../src/domain/types.js";

const BOOKING: McpTool = {
  name: "book_hotel",
  description: "Book a hotel room in a city.",
  inputSchema: {
    type: "object",
    properties: {
      city: { type: "string" },
      start_date: { type: "string", format: "date" },
      date: { type: "string" },
      guests: { type: "integer", minimum: 1, maximum: 6 },
      to: { type: "string" },
      cc: { type: "array", items: { type: "string" } },
    },
    required: ["city", "start_date", "guests"],
    additionalProperties: false,
  },
};

test("value read-back: longer names first, connectors, quotes and sentences", () => {
  const text = 'Book a room with start date "2025-03-01", date: "2025-04-01", guests = 2 and cc set to ["a", "b"]. Also, to "x. y".';
  const taken: [number, number][] = [];
  const start = findParamValue(text, "start_date", taken);
  assert.equal(start?.value, "2025-03-01");
  taken.push(start!.span);
  assert.equal(findParamValue(text, "date", taken)?.value, "2025-04-01");
  assert.equal(findParamValue(text, "guests", taken)?.value, 2);
  assert.deepEqual(findParamValue(text, "cc", taken)?.value, ["a", "b"]);
  assert.equal(findParamValue(text, "to", taken)?.value, "x. y");
  assert.deepEqual(splitSentences(text).length, 2);
});

test("query writer protocol: a standard query the agent answers with the target's values", () => {
  const body = chatRequestSchema.parse({
    messages: [
      { role: "system", content: USER_QUERY_SYSTEM_PROMPT },
      { role: "user", content: buildUserQueryPrompt("standard", [BOOKING], [BOOKING]) },
    ],
    response_format: { type: "json_schema", json_schema: { name: "user_query", schema: { type: "object" } } },
  });
  const out = scriptChat(body, 1, 0);
  assert.equal(out.role, "user-query");
  const { query } = JSON.parse(out.content!) as { query: string };
  assert.match(query, /city/);
  const agent = scriptChat(
    chatRequestSchema.parse({
      messages: [{ role: "user", content: query }],
      tools: [{ type: "function", function: { name: BOOKING.name, description: BOOKING.description, parameters: BOOKING.inputSchema } }],
    }),
    1,
    0,
  );
  assert.equal(agent.toolCalls.length, 1);
  assert.ok(new Ajv({ strict: false, validateFormats: false }).validate(BOOKING.inputSchema, JSON.parse(agent.toolCalls[0]!.arguments)), query);
});

test("mistakeRate 1: every answer carries a realistic mistake, deterministically", () => {
  const ajv = new Ajv({ strict: false, validateFormats: false });
  const tools = [{ type: "function", function: { name: BOOKING.name, description: BOOKING.description, parameters: BOOKING.inputSchema } }];
  const kinds = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const body = chatRequestSchema.parse({
      messages: [
        { role: "user", content: `Please book a hotel room in a city with city "Paris", start date "2025-05-0${(i % 9) + 1}" and guests = ${(i % 5) + 1}.` },
      ],
      tools,
    });
    const out = scriptChat(body, i, 1);
    assert.deepEqual(scriptChat(body, i, 1), out);
    assert.ok(out.mistake, "a mistake was made");
    kinds.add(out.mistake);
    const call = out.toolCalls[0]!;
    const wrong = call.name !== BOOKING.name || !ajv.validate(BOOKING.inputSchema, JSON.parse(call.arguments));
    assert.ok(wrong, `mistake ${out.mistake} is visible: ${call.name} ${call.arguments}`);
  }
  assert.deepEqual([...kinds].sort(), ["extra_param", "hallucinated_tool", "missing_required", "wrong_type"]);
  const irrelevant = scriptChat(chatRequestSchema.parse({ messages: [{ role: "user", content: "Write a poem about the sea." }], tools }), 1, 1);
  assert.equal(irrelevant.mistake, "irrelevant_call");
  assert.equal(irrelevant.toolCalls.length, 1);
  const clean = scriptChat(chatRequestSchema.parse({ messages: [{ role: "user", content: "Write a poem about the sea." }], tools }), 1, 0);
  assert.equal(clean.toolCalls.length, 0);
});

test("generated string values honour the schema's pattern when the value bank has a match", async () => {
  const { valueForSchema } = await import("../../../src/llm/simulator/schemaValues.js");
  const { SeededRandom } = await import("../../../src/util/random.js");
  const schema = { type: "string", pattern: "^[\\w.-]+/[\\w.-]+$" };
  for (let seed = 1; seed <= 20; seed++) {
    const v = valueForSchema(new SeededRandom(seed), schema, "repo");
    assert.match(String(v), /^[\w.-]+\/[\w.-]+$/, `seed ${seed}: ${String(v)}`);
  }
});
