/**
 * Ints are exact in the matcher, as in Python: an integer literal a double cannot hold is a bigint,
 * and `==` between ints, and between an int and a float, is exact. Expected answers are Python's
 * (json.loads and ==, checked with the BFCL venv's python); test/bfcl/bigIntegers.test.ts checks the
 * same against the official checker.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { McpTool, ToolCall } from "../../../src/domain/types.js";
import { decodeBfclPython, decodeHermes, decodeOpenAiToolCalls } from "../../../src/matching/decoders.js";
import { compareToLabel } from "../../../src/matching/labelAgreement.js";
import { parseBfclResult, parsePyJson, stringifyPyJson } from "../../../src/matching/pyJson.js";
import type { MatchCall } from "../../../src/matching/matchCall.js";
import { pyIntParse } from "../../../src/matching/pyText.js";
import { PyFloat, pyEq, pyIn, pyRepr, pyType } from "../../../src/matching/pyValue.js";
import { consistencyOfAnswers } from "../../../src/scoring/consistency.js";

test("parsePyJson: an int a double cannot hold is a bigint with its digits; shorter ones and floats as before", () => {
  const v = parsePyJson(
    '{"a": 12345678901234567890, "b": -98765432109876543210, "c": 9007199254740993, "d": 9007199254740991, "e": 123456789012345, "f": 1e19, "g": 12345678901234567890.0, "h": -0}',
  ) as Record<string, unknown>;
  assert.equal(v.a, 12345678901234567890n);
  assert.equal(v.b, -98765432109876543210n);
  assert.equal(v.c, 9007199254740993n);
  assert.equal(v.d, 9007199254740991, "2^53 - 1 is a double's");
  assert.equal(v.e, 123456789012345);
  assert.deepEqual(v.f, new PyFloat(1e19), "a float stays a float, however large");
  assert.deepEqual(v.g, new PyFloat(12345678901234567168));
  assert.equal(pyType(v.a), "int");
  const [call] = parseBfclResult('[{"f": {"id": 12345678901234567891, "n": 7}}]') as MatchCall[];
  assert.deepEqual(call!.argValues, [12345678901234567891n, 7]);
  assert.equal(stringifyPyJson(v.a), "12345678901234567890", "handed to Python as its digits");
  assert.equal(stringifyPyJson([v.b, new PyFloat(2)]), "[-98765432109876543210, 2.0]");
  assert.equal(pyRepr(v.a), "12345678901234567890");
});

test("pyEq: ints compare exactly, with each other and with floats (Python's ==)", () => {
  const big = 12345678901234567890n;
  // Python: 12345678901234567890 == 12345678901234567891 -> False; float(12345678901234567890) == 12345678901234567168.
  const nearest = Number(big);
  assert.equal(nearest, 12345678901234567168);
  assert.equal(pyEq(big, 12345678901234567890n), true);
  assert.equal(pyEq(big, 12345678901234567891n), false);
  assert.equal(pyEq(big, nearest), false, "the int is not the double nearest it");
  assert.equal(pyEq(big, new PyFloat(nearest)), false);
  assert.equal(pyEq(12345678901234567168n, new PyFloat(nearest)), true, "the double's own value");
  assert.equal(pyEq(new PyFloat(nearest), 12345678901234567168n), true);
  assert.equal(pyEq(9007199254740993n, 9007199254740992), false);
  assert.equal(pyEq(9007199254740992n, 9007199254740992), true);
  assert.equal(pyEq(1n, true), true, "True == 1");
  assert.equal(pyEq(0n, false), true);
  assert.equal(pyEq(big, 0.5), false);
  assert.equal(pyEq(big, Infinity), false);
  assert.equal(pyEq(big, NaN), false);
  assert.equal(pyEq(big, "12345678901234567890"), false);
  assert.equal(pyEq(big, null), false);
  assert.equal(pyEq([big, 1], [12345678901234567890n, 1]), true);
  assert.equal(pyEq({ id: big }, { id: 12345678901234567891n }), false);
  assert.equal(pyIn(big, [1, 12345678901234567890n]), true);
  assert.equal(pyIn(big, [12345678901234567891n, 12345678901234567889n]), false);
  // The common path is unchanged.
  assert.equal(pyEq(3, new PyFloat(3)), true);
  assert.equal(pyEq(true, 1), true);
  assert.equal(pyEq(2, 3), false);
});

test("the decoders read ints exactly: JSON arguments, Hermes blocks and BFCL's Python call syntax", () => {
  const openAi = decodeOpenAiToolCalls([{ function: { name: "f", arguments: '{"id": 12345678901234567891}' } }]);
  assert.ok(openAi.ok);
  assert.equal(openAi.calls[0]!.args.id, 12345678901234567891n);
  const hermes = decodeHermes('<tool_call>{"name": "f", "arguments": {"id": -12345678901234567891}}</tool_call>');
  assert.ok(hermes.ok);
  assert.equal(hermes.calls[0]!.args.id, -12345678901234567891n);
  // Python: ast.literal_eval reads 0xFFFFFFFFFFFFFFFFF as 295147905179352825855 and -9_007_199_254_740_993 exactly.
  const py = decodeBfclPython("[f(a=12345678901234567891, b=-9_007_199_254_740_993, c=0xFFFFFFFFFFFFFFFFF, d=0x10, e=12, f=1.5e19)]");
  assert.ok(py.ok, py.ok ? "" : py.error.reason);
  assert.deepEqual(py.calls[0]!.args, { a: 12345678901234567891n, b: -9007199254740993n, c: 295147905179352825855n, d: 16, e: 12, f: new PyFloat(1.5e19) });
  // Java/JavaScript source text: Python's int("9223372036854775807").
  assert.equal(pyIntParse(" 9223372036854775807 "), 9223372036854775807n);
  assert.equal(pyIntParse("-9_223_372_036_854_775_808"), -9223372036854775808n);
  assert.equal(pyIntParse("+42"), 42);
});

const ORDERS: McpTool[] = [
  {
    name: "cancel_order",
    description: "Cancel an order.",
    inputSchema: { type: "object", properties: { order_id: { type: "integer" }, refund: { type: "number" } }, required: ["order_id"] },
  },
];
const call = (args: string): ToolCall => ({ id: "c", type: "function", function: { name: "cancel_order", arguments: args } });
const answer = (args: string) => ({ content: null, tool_calls: [call(args)] });

test("compareToLabel (probe.greedy, score.consistency): an order id past 2^53 agrees only when it is the label's", () => {
  const label = answer('{"order_id": 12345678901234567890}');
  assert.equal(compareToLabel(answer('{"order_id": 12345678901234567890}'), label, ORDERS).agrees, true);
  for (const wrong of ["12345678901234567891", "12345678901234567000", "12345678901234567890.0"]) {
    const r = compareToLabel(answer(`{"order_id": ${wrong}}`), label, ORDERS);
    assert.equal(r.agrees, false, wrong);
    // Stored as the probe result's jsonb: an int as its digits (in a string), never a throw or a rounded number.
    const stored = JSON.stringify(r.reasons);
    if (!wrong.includes(".")) assert.ok(stored.includes(`"expected":["12345678901234567890"],"got":"${wrong}"`), stored);
    else assert.ok(stored.includes('"code":"type_error:simple"'), stored);
  }
  const k = consistencyOfAnswers(
    [answer('{"order_id": 12345678901234567890}'), answer('{"order_id": 12345678901234567891}'), answer('{"order_id": 12345678901234567889}')],
    label,
    ORDERS,
    { easyAtLeast: 0.8, hardAtMost: 0.2 },
  );
  assert.equal(k.agree, 1);
});

test("compareToLabel reads floats as Python does: 2.0 is a float, accepted where a number is declared", () => {
  const label = answer('{"order_id": 7, "refund": 2.0}');
  assert.equal(compareToLabel(answer('{"order_id": 7, "refund": 2}'), label, ORDERS).agrees, true, "an int where a float is declared is float(value)");
  assert.equal(compareToLabel(answer('{"order_id": 7, "refund": 2.0}'), label, ORDERS).agrees, true);
  // BFCL's checker: a float for an integer parameter is a type error (Python's json.loads keeps 7.0 a float).
  assert.equal(compareToLabel(answer('{"order_id": 7.0, "refund": 2.0}'), label, ORDERS).agrees, false);
  assert.equal(compareToLabel(answer("2.0"), label, ORDERS).agrees, false, "arguments that are a number are not an object");
});
