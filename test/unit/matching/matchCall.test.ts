import { test } from "node:test";
import assert from "node:assert/strict";
import { checkEntry } from "../../../src/bfcl/check.js";
import { BFCL_SINGLE_TURN_CATEGORIES } from "../../../src/bfcl/data.js";
import { MatchCall, bfclCallsFromValue } from "../../../src/matching/matchCall.js";
import { matchBfclCalls } from "../../../src/matching/matcher.js";
import { parseBfclOutputLine, parseBfclResult, parsePyJson, stringifyPyJson } from "../../../src/matching/pyJson.js";
import { PyFloat } from "../../../src/matching/pyValue.js";
import { buildDiffItems } from "../../bfcl/officialChecker.js";

test("parseBfclResult: a call list becomes MatchCalls in the model's order, values as parsePyJson reads them", () => {
  const calls = parseBfclResult(
    '[{"get_weather": {"city": "Paris, a rather long city name", "days": 3, "temp": 2.0, "tags": ["a", "b"]}}, {"f": {}}]',
  ) as MatchCall[];
  assert.equal(calls.length, 2);
  assert.ok(calls.every((c) => c instanceof MatchCall));
  assert.equal(calls[0]!.name, "get_weather");
  assert.deepEqual(calls[0]!.argNames, ["city", "days", "temp", "tags"]);
  assert.equal(calls[0]!.argValues[0], "Paris, a rather long city name");
  assert.equal(calls[0]!.argValues[1], 3);
  assert.ok(calls[0]!.argValues[2] instanceof PyFloat, "2.0 stays a float");
  assert.deepEqual(calls[0]!.argValues[3], ["a", "b"]);
  assert.deepEqual(calls[1]!.argNames, []);
  assert.deepEqual(calls[0]!.argsObject(), { city: "Paris, a rather long city name", days: 3, temp: new PyFloat(2), tags: ["a", "b"] });
  assert.equal(calls[0]!.indexOf("temp"), 2);
  assert.equal(calls[0]!.indexOf("nope"), -1);
  assert.deepEqual(parseBfclResult("[]"), []);
});

test("parseBfclResult: a repeated argument keeps its first position and the last value, as Python's dict", () => {
  const [call] = parseBfclResult('[{"f": {"a": 1, "b": 2, "a": 3}}]') as MatchCall[];
  assert.deepEqual(call!.argNames, ["a", "b"]);
  assert.deepEqual(call!.argValues, [3, 2]);
  assert.deepEqual(parsePyJson('{"a": 1, "b": 2, "a": 3}'), { a: 3, b: 2 });
});

test("parseBfclResult: anything not in BFCL's call shape is returned as parsed, and is not a call list", () => {
  for (const text of ['[{"f": 1}]', '[{"f": {}, "g": {}}]', "[{}]", '[{"f": {"a": 1}}, 2]', '{"f": {"a": 1}}', '"text"', "[1, 2]", "null"]) {
    const parsed = parseBfclResult(text);
    assert.deepEqual(parsed, parsePyJson(text), text);
    assert.equal(bfclCallsFromValue(parsed), undefined, text);
  }
});

test("parseBfclResult: strings are decoded with JSON's escapes; malformed text is a SyntaxError with its offset", () => {
  const [call] = parseBfclResult('[{"f": {"s": "line\\nbreak \\u00e9 \\"quoted\\" and long enough to be copied"}}]') as MatchCall[];
  assert.equal(call!.argValues[0], 'line\nbreak é "quoted" and long enough to be copied');
  assert.throws(() => parseBfclResult('[{"f": {"s": "bad \\x escape"}}]'), /invalid escape in string at offset 13/);
  assert.throws(() => parseBfclResult('[{"f": {"s": 1}'), SyntaxError);
  assert.throws(() => parseBfclResult('[{"f": {"s": 1}}] trailing'), /unexpected trailing data/);
});

test("argument names are interned and their lists shared between calls with the same names", () => {
  const a = parseBfclResult('[{"get_weather": {"city": "A", "days": 1}}]') as MatchCall[];
  const b = parseBfclResult('[{"get_weather": {"city": "B", "days": 2}}]') as MatchCall[];
  assert.equal(a[0]!.argNames, b[0]!.argNames, "one list for one name sequence");
  assert.notEqual(a[0]!.argValues, b[0]!.argValues);
});

test("parseBfclOutputLine: only the top-level result is parsed into calls", () => {
  const line = parseBfclOutputLine('{"id": "simple_0", "meta": {"result": [{"f": {}}]}, "result": [{"f": {"x": 1}}]}') as Record<string, unknown>;
  assert.equal(line.id, "simple_0");
  assert.ok((line.result as unknown[])[0] instanceof MatchCall);
  assert.deepEqual((line.meta as { result: unknown }).result, [{ f: {} }]);
  assert.deepEqual(parseBfclOutputLine('[{"result": [{"f": {}}]}]'), [{ result: [{ f: {} }] }], "not inside a top-level list");
});

test("checking parsed calls gives exactly what checking the plain objects gives, reasons included, in both modes", () => {
  // Every generated output of every category (~54k), as the differential test and the benchmark use them.
  const items = buildDiffItems(BFCL_SINGLE_TURN_CATEGORIES);
  assert.ok(items.length > 50000);
  for (const mode of ["bfcl", "strict"] as const) {
    for (const it of items) {
      const text = stringifyPyJson(it.result);
      const fromCalls = JSON.stringify(checkEntry(it.entry, parseBfclResult(text), mode));
      const fromObjects = JSON.stringify(checkEntry(it.entry, parsePyJson(text), mode));
      assert.equal(fromCalls, fromObjects, `${it.entry.id} ${it.variant} (${mode})`);
    }
  }
});

test("verdicts: the error type at once, the reasons on first read, equal to an eager check's and owned by the caller", () => {
  const items = buildDiffItems(["multiple", "parallel"]);
  let failures = 0;
  for (const it of items) {
    const calls = bfclCallsFromValue(it.result);
    const v = checkEntry(it.entry, it.result, "bfcl");
    if (calls === undefined) continue;
    const eager = matchBfclCalls(calls, it.entry.function, it.entry.answer!, it.entry.category, "bfcl");
    assert.equal(v.valid, eager.valid, it.entry.id);
    assert.equal(v.errorType, eager.errorType, it.entry.id);
    assert.deepEqual(JSON.parse(JSON.stringify(v.reasons)), JSON.parse(JSON.stringify(eager.reasons)), it.entry.id);
    if (!v.valid) {
      failures++;
      assert.ok(v.reasons.length > 0 && v.reasons[0]!.message.length > 0);
    }
    assert.equal(v.reasons, v.reasons, "computed once");
  }
  assert.ok(failures > 100);
  const [first] = items;
  const a = checkEntry(first!.entry, first!.result, "bfcl");
  const b = checkEntry(first!.entry, first!.result, "bfcl");
  a.reasons.push({ code: "mine", message: "added by the caller" });
  assert.equal(b.reasons.length, a.reasons.length - 1, "each verdict has its own reasons array");
  assert.deepEqual(
    Object.keys(JSON.parse(JSON.stringify(a))),
    a.errorType === undefined ? ["id", "valid", "reasons"] : ["id", "valid", "errorType", "reasons"],
  );
});
