/** parseJsonExact / parseJsonAsPython / stringifyJsonExact: JSON.parse and JSON.stringify, except for integers a double cannot hold (and, as Python, integral floats). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PyFloat } from "../../../src/matching/pyValue.js";
import { parseJsonAsPython, parseJsonExact, stringifyJsonExact } from "../../../src/util/exactJson.js";

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
