/**
 * compareToLabel with tools as they are stored (JSON Schema types) and several tools offered.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { McpTool, ToolCall } from "../../../src/domain/types.js";
import { compareToLabel } from "../../../src/matching/labelAgreement.js";

const TOOLS: McpTool[] = [
  {
    name: "book_flight",
    description: "Book a flight.",
    inputSchema: { type: "object", properties: { origin: { type: "string" }, seats: { type: "integer" } }, required: ["origin"] },
  },
  {
    name: "convert_currency",
    description: "Convert money.",
    inputSchema: {
      type: "object",
      properties: { amount: { type: "number" }, currency: { type: "string" } },
      required: ["amount"],
    },
  },
];
const call = (name: string, args: unknown): ToolCall => ({ id: "c", type: "function", function: { name, arguments: JSON.stringify(args) } });

test("a single call of the second offered tool with a number argument is judged by its own doc", () => {
  const label = { content: null, tool_calls: [call("convert_currency", { amount: 12.5, currency: "EUR" })] };
  assert.deepEqual(compareToLabel(label, label, TOOLS), { agrees: true, reasons: [] });
  const other = compareToLabel({ content: null, tool_calls: [call("convert_currency", { amount: 13.5, currency: "EUR" })] }, label, TOOLS);
  assert.equal(other.agrees, false);
  assert.ok(
    other.reasons.some((r) => /value/i.test(r.code)),
    JSON.stringify(other.reasons),
  );
});

test("compareToLabel: object parameters and lists of objects are compared key by key (no checker crash)", () => {
  const tools: McpTool[] = [
    {
      name: "book",
      description: "Book a trip",
      inputSchema: {
        type: "object",
        properties: {
          pax: { type: "object", properties: { adults: { type: "integer" }, kids: { type: "boolean" } } },
          legs: { type: "array", items: { type: "object", properties: { from: { type: "string" } } } },
        },
        required: ["pax"],
      },
    },
  ];
  const answer = (args: unknown) => ({
    content: null,
    tool_calls: [{ id: "c", type: "function" as const, function: { name: "book", arguments: JSON.stringify(args) } }],
  });
  const label = answer({ pax: { adults: 2, kids: true }, legs: [{ from: "Paris" }] });
  assert.deepEqual(compareToLabel(label, label, tools), { agrees: true, reasons: [] });
  const wrongNested = compareToLabel(answer({ pax: { adults: 3, kids: true }, legs: [{ from: "Paris" }] }), label, tools);
  assert.equal(wrongNested.agrees, false);
  assert.match(wrongNested.reasons[0]!.code, /dict_value/);
  assert.equal(compareToLabel(answer({ pax: { adults: 2, kids: true }, legs: [{ from: "Rome" }] }), label, tools).agrees, false);
  assert.equal(compareToLabel(answer({ pax: { adults: 2 }, legs: [{ from: "Paris" }] }), label, tools).agrees, false, "a missing nested key");
});
