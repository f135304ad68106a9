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
import { toOpenAiTool } from "../../../src/domain/types.js";
import { stringifyJson } from "../../../src/jsonSchema/exactNumbers.js";
import { ToolRenderCache } from "../../../src/synthesis/prompts.js";

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

test("a schema number is the one the tool file wrote: a 20-digit enum value a double would change loads with its digits", () => {
  // JSON.parse read 98765432109876543000 as the double whose JSON text is 98765432109876540000; the
  // library refused such a tool. It now loads with the digits recorded beside the double, and calls
  // are checked against them (Python jsonschema 4.26 on the file's int gives the same verdicts).
  const text = `{"name": "cancel_order", "description": "Cancel an order.", "inputSchema": {"type": "object", "properties": {"order_id": {"type": "integer", "enum": [98765432109876543000]}}, "required": ["order_id"]}}`;
  const loaded = normalizeTools(parseJsonExact(text), "orders.json");
  assert.deepEqual(loaded.errors, []);
  const exactTool = loaded.tools[0]!.tool;
  assert.deepEqual(problemsOf(`{"order_id": 98765432109876543000}`, exactTool), { rules: [], candidate: [] });
  assert.deepEqual(problemsOf(`{"order_id": 98765432109876540000}`, exactTool).rules, [
    'call[0] cancel_order: argument "order_id": must be one of 98765432109876543000',
  ]);
  // A tool that did come in with the double (built in code, or stored before) is still checked against what it shows.
  const tool = orderTool(`{"type": "integer", "enum": [98765432109876543000]}`);
  assert.deepEqual(tool.inputSchema, { type: "object", properties: { order_id: { type: "integer", enum: [98765432109876540000] } }, required: ["order_id"] });
  assert.deepEqual(problemsOf(`{"order_id": 98765432109876540000}`, tool), { rules: [], candidate: [] });
  assert.deepEqual(problemsOf(`{"order_id": 98765432109876543000}`, tool).rules, [
    'call[0] cancel_order: argument "order_id": must be one of 98765432109876540000',
  ]);
  // A 20-digit enum value a double writes back as written loads as that double, the tool unchanged.
  const held = normalizeTools(parseJsonExact(text.replace("98765432109876543000", "98765432109876540000")), "orders.json");
  assert.deepEqual(held.errors, []);
  assert.deepEqual(held.tools[0]!.tool, tool);
  assert.deepEqual(problemsOf(`{"order_id": 98765432109876540000}`, held.tools[0]!.tool), { rules: [], candidate: [] });
});

/** The problems argumentProblems finds with one `order_id` (its text read as a rule reads it) under `idSchema`. */
const idProblems = (idSchema: string, id: string): string[] =>
  argumentProblems(orderTool(idSchema), parseJsonExact(`{"order_id": ${id}}`) as Record<string, unknown>);

// Each verdict below is Python jsonschema 4.26's (Draft202012Validator) on the exact int. A double
// reads 12345678901234569999 and 12345678901234570001 as 12345678901234570000, and
// 12345678901234570003 (a multiple of 7) as that same double (not one): Ajv picked the branch on it.
const BOUND = "12345678901234570000";

test("oneOf picks its branch on the exact integer: one below an exclusive maximum matches that branch only", () => {
  const schema = `{"type": "integer", "oneOf": [{"exclusiveMaximum": ${BOUND}}, {"minimum": ${BOUND}}]}`;
  for (const id of ["12345678901234569999", BOUND, "12345678901234570001", "5"]) assert.deepEqual(idProblems(schema, id), [], id);
  // Both branches or neither on the exact integer fail as Ajv words it.
  const both = `{"type": "integer", "oneOf": [{"maximum": ${BOUND}}, {"minimum": 12345678901234567000}]}`;
  assert.deepEqual(idProblems(both, "12345678901234569999"), ['argument "order_id": must match exactly one schema in oneOf']);
  assert.deepEqual(idProblems(both, "12345678901234566999"), []);
});

test("anyOf takes a branch whose bound or multipleOf the exact integer meets, and refuses one it does not", () => {
  const schema = `{"anyOf": [{"type": "integer", "multipleOf": 7}, {"type": "string"}]}`;
  assert.deepEqual(idProblems(schema, "12345678901234570003"), []);
  assert.deepEqual(idProblems(schema, "14"), []);
  const refused = ['argument "order_id": must be multiple of 7', 'argument "order_id": must be string', 'argument "order_id": must match a schema in anyOf'];
  assert.deepEqual(idProblems(schema, "12345678901234570001"), refused);
  assert.deepEqual(idProblems(schema, "15"), refused);
  // Ajv's own double check missed no multiple above (a double past 2^53 divides to an integer); an exclusive bound it did.
  const above = `{"anyOf": [{"exclusiveMinimum": ${BOUND}}, {"type": "string"}]}`;
  assert.deepEqual(idProblems(above, "12345678901234570001"), []);
  assert.deepEqual(idProblems(above, BOUND), [
    `argument "order_id": must be > ${BOUND}`,
    'argument "order_id": must be string',
    'argument "order_id": must match a schema in anyOf',
  ]);
});

test("not and if/then/else decide on the exact integer", () => {
  const negated = `{"not": {"exclusiveMaximum": ${BOUND}}}`;
  assert.deepEqual(idProblems(negated, "12345678901234569999"), ['argument "order_id": must NOT be valid']);
  assert.deepEqual(idProblems(negated, BOUND), []);
  const conditional = `{"if": {"exclusiveMaximum": ${BOUND}}, "then": {"multipleOf": 3}, "else": {"multipleOf": 5}}`;
  assert.deepEqual(idProblems(conditional, "12345678901234569999"), []);
  assert.deepEqual(idProblems(conditional, "12345678901234569998"), [
    'argument "order_id": must be multiple of 3',
    'argument "order_id": must match "then" schema',
  ]);
  assert.deepEqual(idProblems(conditional, BOUND), []);
  assert.deepEqual(idProblems(conditional, "12345678901234570001"), [
    'argument "order_id": must be multiple of 5',
    'argument "order_id": must match "else" schema',
  ]);
});

test("ordinary numbers beside a big integer get Ajv's verdict and words, as without one", () => {
  const tool = JSON.parse(`{"name": "cancel_order", "description": "x", "inputSchema": {"type": "object", "properties": {
    "order_id": {"type": "integer"},
    "qty": {"anyOf": [{"type": "integer", "exclusiveMinimum": 0, "multipleOf": 0.5}, {"enum": ["all"]}]},
    "note": {"type": "string", "maxLength": 3}}}}`) as McpTool;
  for (const [qty, note] of [
    ["3", `"ok"`],
    ["0", `"long"`],
    ["2.25", `"x"`],
    [`"all"`, `"y"`],
    [`"some"`, `"z"`],
  ]) {
    const plain = argumentProblems(tool, JSON.parse(`{"order_id": 1, "qty": ${qty}, "note": ${note}}`) as Record<string, unknown>);
    const beside = argumentProblems(tool, parseJsonExact(`{"order_id": 12345678901234567890, "qty": ${qty}, "note": ${note}}`) as Record<string, unknown>);
    assert.deepEqual(beside, plain, `qty ${qty}`);
  }
  assert.deepEqual(argumentProblems(tool, { qty: 0 }), [
    'argument "qty": must be > 0',
    'argument "qty": must be one of "all"',
    'argument "qty": must match a schema in anyOf',
  ]);
});

test("const and enum compare a big integer deep inside an array or object exactly, as Python does", () => {
  // Verdicts from Python jsonschema 4.26 (Draft202012Validator) on the exact ints. Ajv compared the
  // doubles: [12345678901234567890] equalled [12345678901234567000] and was taken.
  const cases: [schema: string, value: string, problems: string[]][] = [
    [`{"enum": [[12345678901234567000]]}`, "[12345678901234567890]", ['argument "order_id": must be one of [12345678901234567000]']],
    [`{"enum": [[12345678901234567000]]}`, "[12345678901234567000]", []],
    [`{"const": {"a": [12345678901234567000]}}`, `{"a": [12345678901234567001]}`, ['argument "order_id": must be equal to constant']],
    [`{"const": {"a": [12345678901234567000]}}`, `{"a": [12345678901234567000]}`, []],
    [
      `{"enum": [{"id": 1}, {"id": 12345678901234567000}]}`,
      `{"id": 12345678901234567001}`,
      ['argument "order_id": must be one of {"id":1}, {"id":12345678901234567000}'],
    ],
    [`{"enum": [{"id": 1}, {"id": 12345678901234567000}]}`, `{"id": 12345678901234567000}`, []],
    [
      `{"anyOf": [{"const": [12345678901234567000]}, {"type": "string"}]}`,
      "[12345678901234567001]",
      ['argument "order_id": must be equal to constant', 'argument "order_id": must be string', 'argument "order_id": must match a schema in anyOf'],
    ],
    [`{"not": {"const": [12345678901234567000]}}`, "[12345678901234567001]", []],
  ];
  for (const [schema, value, problems] of cases) assert.deepEqual(idProblems(schema, value), problems, `${schema} ${value}`);
});

test("a tool file's bounds past a double load with their digits: checked exactly, shown and written with every digit", () => {
  // Verdicts from Python jsonschema 4.26 on the file's ints. The library refused this tool: no double
  // has 98765432109876543210 (or 12345678901234567891) as its JSON text.
  const file = `{"tools": [{"type": "function", "function": {"name": "cancel_order", "description": "Cancel an order.", "parameters": {"type": "object",
    "properties": {"order_id": {"type": "integer", "maximum": 98765432109876543210, "multipleOf": 98765432109876543210, "default": 98765432109876543210},
      "pair": {"enum": [[12345678901234567891]]}, "near": {"type": "number", "exclusiveMaximum": 98765432109876543210}}, "required": ["order_id"]}}}]}`;
  const loaded = normalizeTools(parseJsonExact(file), "orders.json");
  assert.deepEqual(loaded.errors, []);
  const tool = loaded.tools[0]!.tool;
  const check = (args: string) => argumentProblems(tool, parseJsonExact(args) as Record<string, unknown>);
  assert.deepEqual(check(`{"order_id": 98765432109876543210}`), []);
  assert.deepEqual(check(`{"order_id": 98765432109876543211}`), [
    'argument "order_id": must be <= 98765432109876543210',
    'argument "order_id": must be multiple of 98765432109876543210',
  ]);
  assert.deepEqual(check(`{"order_id": 1, "pair": [12345678901234567891]}`), ['argument "order_id": must be multiple of 98765432109876543210']);
  assert.deepEqual(check(`{"order_id": 0, "pair": [12345678901234567890]}`), ['argument "pair": must be one of [12345678901234567891]']);
  // A double argument (no bigint in the call) is compared with the bound as written, as Python compares a float with an int.
  assert.deepEqual(check(`{"order_id": 0, "near": 9.8765432109876543e19}`), ['argument "near": must be < 98765432109876543210']);
  assert.deepEqual(check(`{"order_id": 0, "near": 9.87654321098765e19}`), []);

  // The model, the prompts and every export see the digits, not the double's text, and not the record.
  const shown = stringifyJson(toOpenAiTool(tool));
  assert.match(shown, /"maximum":98765432109876543210,"multipleOf":98765432109876543210,"default":98765432109876543210/);
  assert.match(shown, /"enum":\[\[12345678901234567891\]\]/);
  assert.doesNotMatch(shown, /x-toolloop|98765432109876540000/);
  assert.match(new ToolRenderCache().prettyJsonArray([tool]), /"maximum": 98765432109876543210,/);
  // The stored tool is plain JSON (jsonb, Temporal payloads): the digits travel as strings.
  const stored = JSON.parse(JSON.stringify(tool)) as McpTool;
  assert.equal(stringifyJson(toOpenAiTool(stored)), shown);
  assert.deepEqual(argumentProblems(stored, parseJsonExact(`{"order_id": 98765432109876543211}`) as Record<string, unknown>).length, 2);
  // A file may not write the record itself.
  const forged = normalizeTools(
    parseJsonExact(`{"name": "t", "description": "d", "inputSchema": {"type": "object", "x-toolloop-exact-numbers": {"/minimum": "1"}}}`),
    "t.json",
  );
  assert.deepEqual(
    forged.errors.map((e) => e.field),
    ["inputSchema.x-toolloop-exact-numbers"],
  );
});
