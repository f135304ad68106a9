/** parseJsonExact / stringifyJsonExact: JSON.parse and JSON.stringify, except for integers a double cannot hold. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseJsonExact, stringifyJsonExact } from "../../../src/util/exactJson.js";

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
