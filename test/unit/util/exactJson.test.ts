/** parseJsonExact / parseJsonAsPython / stringifyJsonExact: JSON.parse and JSON.stringify, except for integers a double cannot hold (and, as Python, integral floats). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PyFloat } from "../../../src/matching/pyValue.js";
import { parseJsonAsPython, parseJsonAsPythonInOrder, parseJsonExact, stringifyJsonExact } from "../../../src/util/exactJson.js";
import { pythonJsonDumps } from "../../../src/util/pythonJson.js";

test("an integer past 2^53 is a bigint with the model's digits, and is written back as them", () => {
  const text = '{"order_id": 12345678901234567890, "n": [-98765432109876543210, 9007199254740993, 1.5, 1e400, 2.0, 1234567890123456]}';
  const v = parseJsonExact(text) as { order_id: unknown; n: unknown[] };
  assert.equal(v.order_id, 12345678901234567890n);
  assert.deepEqual(v.n, [-98765432109876543210n, 9007199254740993n, 1.5, Infinity, 2, 1234567890123456]);
  assert.equal(stringifyJsonExact(v), '{"order_id":12345678901234567890,"n":[-98765432109876543210,9007199254740993,1.5,null,2,1234567890123456]}');
  assert.equal(stringifyJsonExact({ a: [1n] }, 1), '{\n "a": [\n  1\n ]\n}');
});

test("everything else reads and writes as with JSON.parse and JSON.stringify, a 16-digit run or not", () => {
  for (const text of [
    '{"a": 1, "b": "x", "c": [true, null, {"d": 0.1}]}',
    '{"id": "12345678901234567890", "e": 1e21}',
    '{"a": 1, "a": 2, "__proto__": {"x": 1}, "long": 0.12345678901234567}',
  ]) {
    const exact = parseJsonExact(text);
    assert.deepEqual(exact, JSON.parse(text), text);
    assert.equal(Object.getPrototypeOf(exact), Object.prototype);
    assert.equal(stringifyJsonExact(exact), JSON.stringify(JSON.parse(text)), text);
  }
  for (const bad of ["{", '{"a": 12345678901234567890', "[1,]"]) assert.throws(() => parseJsonExact(bad), SyntaxError, bad);
});

test("parseJsonAsPython: also keeps a float with an integral value a float, written back as Python writes it", () => {
  const text = '{"a": 2.0, "b": 1e3, "c": 2, "d": 0.5, "e": -0.0, "f": 12345678901234567890, "g": 1E16, "h": "2.0", "i": [2.50, 7]}';
  const v = parseJsonAsPython(text) as Record<string, unknown>;
  assert.deepEqual(v, {
    a: new PyFloat(2),
    b: new PyFloat(1000),
    c: 2,
    d: 0.5,
    e: new PyFloat(-0),
    f: 12345678901234567890n,
    g: new PyFloat(1e16),
    h: "2.0",
    i: [2.5, 7],
  });
  assert.ok(Object.is((v.e as PyFloat).value, -0));
  // Python: json.dumps(json.loads(text), separators=(",", ":")).
  assert.equal(stringifyJsonExact(v), '{"a":2.0,"b":1000.0,"c":2,"d":0.5,"e":-0.0,"f":12345678901234567890,"g":1e+16,"h":"2.0","i":[2.5,7]}');
  // Text with no such number is JSON.parse's, and is written by JSON.stringify.
  assert.deepEqual(parseJsonAsPython('{"a": 1, "b": [0.25, "x"]}'), { a: 1, b: [0.25, "x"] });
  for (const bad of ["{", '{"a": 2.0', "NaN", '{"a": NaN}']) assert.throws(() => parseJsonAsPython(bad), SyntaxError, bad);
  assert.deepEqual(parseJsonAsPython('{"a": 1.0, "a": 2.0}'), { a: new PyFloat(2) });
});

test("parseJsonAsPythonInOrder keeps the text's key order where a key is integer-like, as a Python dict; json.dumps writes it so", () => {
  const text = '{"b": 1, "10": [{"2": 2.0, "a": null}], "2": "x\\u00e9\\n", "b": 12345678901234567890, "e": 1e3, "f": -0, "t": true}';
  const v = parseJsonAsPythonInOrder(text) as Map<string, unknown>;
  assert.ok(v instanceof Map);
  assert.deepEqual([...v.keys()], ["b", "10", "2", "e", "f", "t"], "a key given twice keeps its first place");
  assert.equal(v.get("b"), 12345678901234567890n, "and its last value");
  assert.equal(v.get("2"), "xé\n");
  // Python: json.dumps(json.loads(text), ensure_ascii=False)
  assert.equal(pythonJsonDumps(v), '{"b": 12345678901234567890, "10": [{"2": 2.0, "a": null}], "2": "xé\\n", "e": 1000.0, "f": 0, "t": true}');
  // Without an integer-like key a plain object's order is already the text's: parseJsonAsPython's result.
  assert.deepEqual(parseJsonAsPythonInOrder('{"b": 1, "a": 2.0}'), parseJsonAsPython('{"b": 1, "a": 2.0}'));
  for (const bad of ['{"2": 1', '{"2": NaN}', '{"2": 01}', '{"2": "\\x"}', '{"2": 1} x', '{"2" 1}', '{"2": [1,]}'])
    assert.throws(() => parseJsonAsPythonInOrder(bad), SyntaxError, bad);
});

test("parseJsonExact applies a reviver as JSON.parse does, on the exact path too", () => {
  const upper = (_k: string, v: unknown) => (typeof v === "string" ? v.toUpperCase() : v);
  assert.deepEqual(parseJsonExact('{"id": 12345678901234567890, "s": "a"}', upper), { id: 12345678901234567890n, s: "A" });
  assert.deepEqual(parseJsonExact('{"id": 1, "s": "a"}', upper), { id: 1, s: "A" });
});
