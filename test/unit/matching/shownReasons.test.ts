/**
 * The reasons `sample lineage` shows for a probe mismatch: from the matcher's real output, the one
 * that explains it (the call of the same function with a wrong argument), not the first pairwise
 * check against another function's call.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { McpTool, ToolCall } from "../../../src/domain/types.js";
import { compareToLabel } from "../../../src/matching/labelAgreement.js";
import { shownReasons } from "../../../src/matching/shownReasons.js";

const TOOLS: McpTool[] = [
  {
    name: "get_air_quality",
    description: "Air quality of a city.",
    inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
  {
    name: "get_stock_price",
    description: "A stock's price.",
    inputSchema: { type: "object", properties: { symbol: { type: "string" } }, required: ["symbol"] },
  },
];
const call = (name: string, args: Record<string, unknown>, i: number): ToolCall => ({
  id: `c${i}`,
  type: "function",
  function: { name, arguments: JSON.stringify(args) },
});

test("a parallel mismatch shows the wrong argument of the same function's call, not 'Function name not found'", () => {
  const label = { content: null, tool_calls: [call("get_air_quality", { city: "Oslo" }, 0), call("get_stock_price", { symbol: "TSLA" }, 1)] };
  const predicted = {
    content: null,
    tool_calls: [call("get_air_quality", { city: "Oslo" }, 0), call("get_stock_price", { symbol: "TSLA", verbose: "auto" }, 1)],
  };
  const r = compareToLabel(predicted, label, TOOLS);
  assert.equal(r.agrees, false);
  // What the matcher stores: the header, then a check per model call in call order (call 0 first: the other function).
  assert.match(r.reasons.map((x) => x.message).join("\n"), /Function name 'get_stock_price' not found in model output/);
  const shown = shownReasons(r.reasons);
  assert.equal(shown.length, 2);
  assert.match(shown[0] ?? "", /no model call can be assigned to expected call 1 \(get_stock_price\)/);
  assert.doesNotMatch(shown.join("; "), /not found in model output/);
  assert.match(shown[1] ?? "", /verbose/, `the unexpected argument is named: ${shown[1]}`);
});

test("with no call of the expected function, the wrong-name reason is what there is to show", () => {
  const reasons = [
    { code: "parallel_function_checker_no_order:cannot_find_match", message: "no model call can be assigned to expected call 0 (f)", expectedCall: 0 },
    { code: "simple_function_checker:wrong_func_name", message: "Function name 'f' not found in model output.", call: 0, expectedCall: 0 },
  ];
  assert.deepEqual(shownReasons(reasons), ["no model call can be assigned to expected call 0 (f)", "Function name 'f' not found in model output."]);
  assert.deepEqual(shownReasons([{ code: "no_call", message: "the label makes 1 call(s); the answer makes none" }, { code: "x" }]), [
    "the label makes 1 call(s); the answer makes none",
  ]);
});
