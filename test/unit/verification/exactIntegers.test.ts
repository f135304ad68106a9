/**
 * Integers a double cannot hold (an order id of 20 digits) are checked as Python compares them, in
 * verify.rules and in the dialogue's candidate check: exactly against the tool schema's bounds,
 * `enum` and `const` (a schema number as its JSON text states it), and two calls differing only in
 * such an id are two calls. JSON.parse read both ids as one double, so a call one past a schema's
 * `maximum` passed and two orders looked like the same call made twice.
 */
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { checkCandidate } from "../../../src/dialogue/candidateCheck.js";
import type { ChatMessage, McpTool, SampleKind, ToolCall } from "../../../src/domain/types.js";
import { argumentProblems, clearValidatorCache } from "../../../src/verification/argumentValidator.js";
import { verifyRules } from "../../../src/verification/rules.js";
import { normalizeTools } from "../../../src/tools/library.js";
import { parseJsonExact } from "../../../src/util/exactJson.js";

/** A tool as the library loads it: a 20-digit bound is a double (one the library accepts writes back as written). */
const orderTool = (idSchema: string): McpTool =>
  JSON.parse(
    `{"name": "cancel_order", "description": "Cancel an order.", "inputSchema": {"type": "object", "properties": {"order_id": ${idSchema}}, "required": ["order_id"]}}`,
  ) as McpTool;

const call = (id: string, args: string): ToolCall => ({ id, type: "function", function: { name: "cancel_order", arguments: args } });

function sample(kind: SampleKind, calls: ToolCall[], tool: McpTool) {
  const messages: ChatMessage[] = [
    { role: "user", content: "Cancel my orders." },
    { role: "assistant", content: null, tool_calls: calls },
  ];
  return { kind, messages, tools: [tool] };
}

/** Both checks' reasons for one call with these arguments. */
function problemsOf(args: string, tool: McpTool): { rules: string[]; candidate: string[] } {
  return {
    rules: verifyRules(sample("standard", [call("call_1", args)], tool)).reasons,
    candidate: checkCandidate({ role: "assistant", content: null, tool_calls: [call("call_1", args)] }, [tool]),
  };
}

beforeEach(() => clearValidatorCache());

test("an integer one past a 20-digit maximum breaks it; the maximum itself and below keep it", () => {
  const tool = orderTool(`{"type": "integer", "maximum": 12345678901234567000}`);
  const over = problemsOf(`{"order_id": 12345678901234567001}`, tool);
  assert.deepEqual(over.rules, ['call[0] cancel_order: argument "order_id": must be <= 12345678901234567000']);
  assert.deepEqual(over.candidate, ['call 0 (cancel_order): argument "order_id": must be <= 12345678901234567000']);
  for (const ok of ["12345678901234567000", "12345678901234566999", "1", "-12345678901234567890"])
    assert.deepEqual(problemsOf(`{"order_id": ${ok}}`, tool), { rules: [], candidate: [] }, ok);
});

test("minimum and the exclusive bounds compare exactly, both ways", () => {
  const tool = orderTool(`{"type": "integer", "minimum": 12345678901234567000, "exclusiveMaximum": 12345678901234570000}`);
  assert.deepEqual(problemsOf(`{"order_id": 12345678901234566999}`, tool).rules, [
    'call[0] cancel_order: argument "order_id": must be >= 12345678901234567000',
  ]);
  // A double reads 12345678901234569999 as the bound itself (the nearest double to both): Ajv alone rejected it.
  assert.deepEqual(problemsOf(`{"order_id": 12345678901234569999}`, tool), { rules: [], candidate: [] });
  assert.deepEqual(problemsOf(`{"order_id": 12345678901234570000}`, tool).candidate, [
    'call 0 (cancel_order): argument "order_id": must be < 12345678901234570000',
  ]);
});

test("enum and const of big integers take only the ids they list", () => {
  const listed = orderTool(`{"type": "integer", "enum": [12345678901234567000, 98765432109876540000]}`);
  assert.deepEqual(problemsOf(`{"order_id": 98765432109876540000}`, listed), { rules: [], candidate: [] });
  assert.deepEqual(problemsOf(`{"order_id": 12345678901234567001}`, listed).rules, [
    'call[0] cancel_order: argument "order_id": must be one of 12345678901234567000, 98765432109876540000',
  ]);
  const constant = orderTool(`{"const": 12345678901234567000}`);
  assert.deepEqual(problemsOf(`{"order_id": 12345678901234567000}`, constant), { rules: [], candidate: [] });
  assert.deepEqual(problemsOf(`{"order_id": 12345678901234567001}`, constant).candidate, [
    'call 0 (cancel_order): argument "order_id": must be equal to constant',
  ]);
});

test("bounds deeper in the arguments, under allOf and behind a $ref, and multipleOf compare exactly", () => {
  const tool = JSON.parse(`{"name": "cancel_order", "description": "x", "inputSchema": {"type": "object",
    "$defs": {"id": {"type": "integer", "maximum": 12345678901234567000}},
    "properties": {"orders": {"type": "array", "items": {"type": "object", "properties": {"id": {"$ref": "#/$defs/id"}}}},
      "batch": {"allOf": [{"type": "integer"}, {"multipleOf": 10}]}}}}`) as McpTool;
  const problems = argumentProblems(
    tool,
    parseJsonExact(`{"orders": [{"id": 1}, {"id": 12345678901234567001}], "batch": 12345678901234567891}`) as Record<string, unknown>,
  );
  assert.deepEqual(problems, ['argument "orders[1].id": must be <= 12345678901234567000', 'argument "batch": must be multiple of 10']);
  assert.deepEqual(
    argumentProblems(tool, parseJsonExact(`{"orders": [{"id": 12345678901234567000}], "batch": 12345678901234567890}`) as Record<string, unknown>),
    [],
  );
});

test("two calls whose ids differ past a double's precision are two calls, not one repeated", () => {
  const tool = orderTool(`{"type": "integer"}`);
  const calls = [call("call_1", `{"order_id": 12345678901234567890}`), call("call_2", `{"order_id": 12345678901234567891}`)];
  assert.deepEqual(verifyRules(sample("parallel", calls, tool)).reasons, []);
  assert.deepEqual(checkCandidate({ role: "assistant", content: null, tool_calls: calls }, [tool]), []);
  const same = [call("call_1", `{"order_id": 12345678901234567890}`), call("call_2", `{"order_id":12345678901234567890}`)];
  assert.deepEqual(verifyRules(sample("parallel", same, tool)).reasons, ["call[1] cancel_order: repeats call[0] with the same arguments"]);
});

test("a schema number is the one the tool shows: the library refuses a 20-digit enum value its double would change", () => {
  // JSON.parse read 98765432109876543000 as the double whose JSON text (what the model is shown, and
  // any Python reader of the tool reads) is 98765432109876540000, and the check, taking that text,
  // rejected a call with the id as the file wrote it. The library now refuses such a tool by field.
  const text = `{"name": "cancel_order", "description": "Cancel an order.", "inputSchema": {"type": "object", "properties": {"order_id": {"type": "integer", "enum": [98765432109876543000]}}, "required": ["order_id"]}}`;
  const loaded = normalizeTools(parseJsonExact(text), "orders.json");
  assert.deepEqual(loaded.tools, []);
  assert.deepEqual(
    loaded.errors.map((e) => e.field),
    ["inputSchema.properties.order_id.enum[0]"],
  );
  // A tool that did come in with the double (built in code, or stored before) is still checked against what it shows.
  const tool = orderTool(`{"type": "integer", "enum": [98765432109876543000]}`);
  assert.deepEqual(tool.inputSchema, { type: "object", properties: { order_id: { type: "integer", enum: [98765432109876540000] } }, required: ["order_id"] });
  assert.deepEqual(problemsOf(`{"order_id": 98765432109876540000}`, tool), { rules: [], candidate: [] });
  assert.deepEqual(problemsOf(`{"order_id": 98765432109876543000}`, tool).rules, [
    'call[0] cancel_order: argument "order_id": must be one of 98765432109876540000',
  ]);
  // A 20-digit enum value a double writes back as written loads, and a call with it passes.
  const held = normalizeTools(parseJsonExact(text.replace("98765432109876543000", "98765432109876540000")), "orders.json");
  assert.deepEqual(held.errors, []);
  assert.deepEqual(problemsOf(`{"order_id": 98765432109876540000}`, held.tools[0]!.tool), { rules: [], candidate: [] });
});
