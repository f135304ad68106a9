import assert from "node:assert/strict";
import { test } from "node:test";
import { toOpenAiTools } from "../../../src/bfcl/toolSchema.js";
import { objectForSchema, valueForSchema } from "../../../src/llm/simulator/schemaValues.js";
import type { FunctionDoc } from "../../../src/matching/types.js";
import { canonicalJson, CANONICAL_JSON_MAX_DEPTH, JsonTooDeepError } from "../../../src/util/ids.js";
import { formatJsonPath, jsonTextDeeperThan, nestsDeeperThan, pathDeeperThan } from "../../../src/util/jsonDepth.js";
import { SeededRandom } from "../../../src/util/random.js";

/** `{"a": {"a": ... {}}}` with `levels` objects, built from text the way a hostile file arrives. */
const nestedObjects = (levels: number) => JSON.parse('{"a":'.repeat(levels - 1) + "{}" + "}".repeat(levels - 1)) as unknown;

test("pathDeeperThan measures containers without recursion and names the first path too deep", () => {
  assert.equal(pathDeeperThan({ a: [1, { b: 2 }] }, 3), undefined);
  assert.deepEqual(pathDeeperThan({ a: [1, { b: {} }] }, 3), ["a", 1, "b"]);
  assert.equal(pathDeeperThan("scalar", 0), undefined);
  assert.deepEqual(pathDeeperThan([], 0), []);
  const deep = nestedObjects(200_000);
  const path = pathDeeperThan(deep, 64);
  assert.equal(path?.length, 64);
  assert.equal(formatJsonPath("x", path ?? [], 20), "x.a.a.a.a.a.a.a.a.a… (64 levels)");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(pathDeeperThan(cyclic, 5), undefined);
});

test("canonicalJson refuses values deeper than its limit with a typed error, and keeps __proto__ keys", () => {
  assert.throws(() => canonicalJson(nestedObjects(CANONICAL_JSON_MAX_DEPTH + 5)), JsonTooDeepError);
  assert.equal(canonicalJson(nestedObjects(CANONICAL_JSON_MAX_DEPTH)), JSON.stringify(nestedObjects(CANONICAL_JSON_MAX_DEPTH)));
  assert.equal(canonicalJson(JSON.parse('{"b":1,"__proto__":{"x":1}}')), '{"__proto__":{"x":1},"b":1}');
});

test("simulated values stop nesting at a self-referencing or very deep schema", () => {
  const rng = new SeededRandom(1);
  const selfRef = { type: "object", properties: { child: { $ref: "#" }, name: { type: "string" } }, required: ["child", "name"] };
  const v = objectForSchema(rng, selfRef, selfRef);
  assert.ok(pathDeeperThan(v, 40) === undefined, "generation must stop nesting");
  const deep = nestedObjects(5000) as Record<string, unknown>;
  assert.doesNotThrow(() => valueForSchema(rng, { type: "array", items: { anyOf: [deep] } }, "x"));
  const proto = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}},"required":["__proto__"]}') as Record<string, unknown>;
  assert.ok(Object.hasOwn(objectForSchema(rng, proto, proto), "__proto__"));
});

test("BFCL function docs nested past the limit are refused by name, not with a RangeError", () => {
  let props: Record<string, unknown> = { leaf: { type: "string" } };
  for (let i = 0; i < 5000; i++) props = { p: { type: "dict", properties: props } };
  const fn = { name: "deep.fn", description: "d", parameters: { type: "dict", properties: props, required: [] } } as unknown as FunctionDoc;
  assert.throws(() => toOpenAiTools([fn], "simple"), /^Error: function "deep\.fn": nests deeper than 160 levels at parameters\.properties\.p\.properties\.p/);
});

test("nestsDeeperThan counts like pathDeeperThan; jsonTextDeeperThan counts brackets outside strings", () => {
  for (const [value, limit] of [
    [{ a: [1, { b: 2 }] }, 3],
    [{ a: [1, { b: {} }] }, 3],
    ["scalar", 0],
    [[], 0],
    [nestedObjects(70), 64],
    [nestedObjects(64), 64],
  ] as [unknown, number][]) {
    assert.equal(nestsDeeperThan(value, limit), pathDeeperThan(value, limit) !== undefined, JSON.stringify(value).slice(0, 40));
    assert.equal(jsonTextDeeperThan(JSON.stringify(value), limit), pathDeeperThan(value, limit) !== undefined, JSON.stringify(value).slice(0, 40));
  }
  assert.equal(nestsDeeperThan(nestedObjects(200_000), 256), true);
  assert.equal(jsonTextDeeperThan('{"a":"[[[[\\"[[[","b":[]}', 2), false, "brackets in strings, escaped quotes");
  assert.equal(jsonTextDeeperThan('{"a":"\\\\","b":[[]]}', 2), true, "an escaped backslash ends before the quote");
  assert.equal(jsonTextDeeperThan("[".repeat(300), 256), true, "unclosed text is measured too");
});
