import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalJson, sampleId, seedFrom } from "../../../src/util/ids.js";
import { SeededRandom } from "../../../src/util/random.js";

test("canonical JSON ignores key order and undefined fields", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }), '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
});

test("sample ids depend on campaign and content only", () => {
  const messages = [{ role: "user", content: "hi" }];
  const tools = [{ name: "t", description: "d", inputSchema: { type: "object", properties: {} } }];
  const a = sampleId("c1", { messages, tools });
  assert.equal(a, sampleId("c1", { tools: JSON.parse(JSON.stringify(tools)), messages: [{ content: "hi", role: "user" }] }));
  assert.match(a, /^s_[0-9a-f]{24}$/);
  assert.notEqual(a, sampleId("c2", { messages, tools }));
  assert.notEqual(a, sampleId("c1", { messages: [{ role: "user", content: "hi!" }], tools }));
});

test("seeded random is reproducible and seeds differ by parts", () => {
  const r1 = new SeededRandom(seedFrom("x", 1));
  const r2 = new SeededRandom(seedFrom("x", 1));
  const seq1 = Array.from({ length: 5 }, () => r1.next());
  assert.deepEqual(
    seq1,
    Array.from({ length: 5 }, () => r2.next()),
  );
  assert.ok(seq1.every((v) => v >= 0 && v < 1));
  assert.notEqual(seedFrom("x", 1), seedFrom("x", 2));
  assert.deepEqual(new SeededRandom(7).shuffle([1, 2, 3, 4, 5]).sort(), [1, 2, 3, 4, 5]);
});
