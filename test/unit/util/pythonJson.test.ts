import assert from "node:assert/strict";
import { test } from "node:test";
import { PyFloat } from "../../../src/matching/pyValue.js";
import { pythonJsonDumps } from "../../../src/util/pythonJson.js";

// Expected strings are what CPython's json.dumps(value, ensure_ascii=False) prints for the same value.
test("pythonJsonDumps writes Python's json.dumps spacing, text as is and escapes as JSON", () => {
  assert.equal(pythonJsonDumps({ a: [1, "x", null, true], b: {} }), '{"a": [1, "x", null, true], "b": {}}');
  assert.equal(pythonJsonDumps([]), "[]");
  assert.equal(pythonJsonDumps('Zürich ✓ "q"\n\t\u0001 </b>'), '"Zürich ✓ \\"q\\"\\n\\t\\u0001 </b>"');
  assert.equal(pythonJsonDumps({ skipped: undefined, kept: 0 }), '{"kept": 0}');
});

test("pythonJsonDumps writes floats as Python's repr does: exponent form below 1e-4, two-digit exponent", () => {
  const cases: [number, string][] = [
    [0.5, "0.5"],
    [2.35, "2.35"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [1.5e-7, "1.5e-07"],
    [-2.5e-100, "-2.5e-100"],
    [123456789.125, "123456789.125"],
    [42, "42"],
    [-7, "-7"],
    [1e20, "100000000000000000000"],
  ];
  for (const [n, want] of cases) assert.equal(pythonJsonDumps(n), want, String(n));
});

test("pythonJsonDumps writes a PyFloat as Python's float repr: 2.0, -0.0, exponent form from 1e16", () => {
  // Python: repr(float(x)) for each.
  const cases: [number, string][] = [
    [2, "2.0"],
    [-0, "-0.0"],
    [0, "0.0"],
    [-7, "-7.0"],
    [1000, "1000.0"],
    [9999999999999998, "9999999999999998.0"],
    [1e16, "1e+16"],
    [-1e16, "-1e+16"],
    [12345678901234567168, "1.2345678901234567e+19"],
    [1e22, "1e+22"],
    [1.5e300, "1.5e+300"],
  ];
  for (const [n, want] of cases) assert.equal(pythonJsonDumps(new PyFloat(n)), want, String(n));
  assert.equal(pythonJsonDumps({ a: [new PyFloat(2), 2, 12345678901234567890n] }), '{"a": [2.0, 2, 12345678901234567890]}');
});
