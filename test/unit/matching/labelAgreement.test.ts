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
