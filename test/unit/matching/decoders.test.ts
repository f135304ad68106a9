import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeBfclPython, decodeHermes, decodeOpenAiToolCalls } from "../../../src/matching/decoders.js";
import { PyFloat, isTuple } from "../../../src/matching/pyValue.js";
import type { DecodeResult } from "../../../src/matching/types.js";

function calls(r: DecodeResult) {
  assert.equal(r.ok, true, r.ok ? "" : `${r.error.kind}: ${r.error.reason}`);
  return r.ok ? r.calls : [];
}
function failKind(r: DecodeResult): string {
  assert.equal(r.ok, false, "expected a decode failure");
  return r.ok ? "" : r.error.kind;
}

test("openai tool_calls: valid calls keep int/float distinction", () => {
  const c = calls(decodeOpenAiToolCalls([{ function: { name: "get_weather", arguments: '{"city": "Paris", "days": 3, "t": 2.0, "r": 2.5}' } }]));
  assert.equal(c.length, 1);
  assert.equal(c[0]!.name, "get_weather");
  assert.equal(c[0]!.args.city, "Paris");
  assert.equal(c[0]!.args.days, 3);
  assert.ok(c[0]!.args.t instanceof PyFloat, "2.0 stays a float");
  assert.equal(c[0]!.args.r, 2.5);
});

test("openai tool_calls: empty, bad JSON, non-object, missing name are typed failures", () => {
  assert.equal(failKind(decodeOpenAiToolCalls(undefined)), "empty");
  assert.equal(failKind(decodeOpenAiToolCalls(null)), "empty");
  assert.equal(failKind(decodeOpenAiToolCalls([])), "empty");
  assert.equal(failKind(decodeOpenAiToolCalls([{ function: { name: "f", arguments: "{bad" } }])), "bad_arguments_json");
  assert.equal(failKind(decodeOpenAiToolCalls([{ function: { name: "f", arguments: "[1]" } }])), "bad_arguments_json");
  assert.equal(failKind(decodeOpenAiToolCalls([{ function: { name: "", arguments: "{}" } }])), "not_a_call");
  assert.equal(failKind(decodeOpenAiToolCalls([{} as never])), "not_a_call");
});

test("hermes: one or more <tool_call> blocks, also an unterminated last block", () => {
  const text = 'Sure.\n<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>{"name": "b", "arguments": "{\\"y\\": [1, 2]}"}';
  const c = calls(decodeHermes(text));
  assert.deepEqual(
    c.map((x) => x.name),
    ["a", "b"],
  );
  assert.deepEqual(c[1]!.args, { y: [1, 2] });
});

test("hermes: malformed outputs are typed failures", () => {
  assert.equal(failKind(decodeHermes("")), "empty");
  assert.equal(failKind(decodeHermes("just text")), "not_a_call");
  assert.equal(failKind(decodeHermes("<tool_call>{not json}</tool_call>")), "syntax");
  assert.equal(failKind(decodeHermes('<tool_call>{"arguments": {}}</tool_call>')), "not_a_call");
  assert.equal(failKind(decodeHermes('<tool_call>{"name": "f", "arguments": 3}</tool_call>')), "bad_arguments_json");
});

test("bfcl python: literals, nesting, tuples, negatives, escapes, dotted names", () => {
  const c = calls(
    decodeBfclPython(
      "[get_weather(city='Paris', days=3), f(x=[1, 2], y={'a': 1.5}), math.factorial(number=-5), g(t=(1, 'a'), b=True, n=None, s=\"it\\'s\\n\", e=1e3, neg=-2.5)]",
    ),
  );
  assert.deepEqual(
    c.map((x) => x.name),
    ["get_weather", "f", "math.factorial", "g"],
  );
  assert.deepEqual(c[0]!.args, { city: "Paris", days: 3 });
  assert.deepEqual(c[1]!.args, { x: [1, 2], y: { a: 1.5 } });
  assert.equal(c[2]!.args.number, -5);
  const g = c[3]!.args;
  assert.ok(isTuple(g.t));
  assert.deepEqual([...(g.t as unknown[])], [1, "a"]);
  assert.equal(g.b, true);
  assert.equal(g.n, null);
  assert.equal(g.s, "it's\n");
  assert.ok(g.e instanceof PyFloat && g.e.value === 1000);
  assert.equal(g.neg, -2.5);
});

test("bfcl python: BFCL pre-processing (backticks, missing brackets) and bare names", () => {
  const c = calls(decodeBfclPython("```\nsolve(eq=x, opts={'deep': [True, False]}, r=r'\\d+')\n```"));
  assert.deepEqual(c[0]!.args, { eq: "x", opts: { deep: [true, false] }, r: "\\d+" });
  assert.deepEqual(calls(decodeBfclPython("[]")), []);
});

test("bfcl python: malformed outputs are typed failures, never exceptions", () => {
  assert.equal(failKind(decodeBfclPython("")), "empty");
  assert.equal(failKind(decodeBfclPython("[f(a=1")), "syntax");
  assert.equal(failKind(decodeBfclPython("[f(a=)]")), "syntax");
  assert.equal(failKind(decodeBfclPython("[1, 2]")), "not_a_call");
  assert.equal(failKind(decodeBfclPython("[f(1, 2)]")), "unsupported_value");
  assert.equal(failKind(decodeBfclPython("[f(a=f'{x}')]")), "unsupported_value");
  assert.equal(failKind(decodeBfclPython("[f(a='unterminated)]")), "syntax");
  assert.equal(failKind(decodeBfclPython("I think the answer is 4")), "not_a_call");
  assert.equal(failKind(decodeBfclPython("Sure! get_weather(city='Paris')")), "not_a_call");
  for (const junk of ["[f(a=1)]]", "[(]", "[f(a={1: 2})]", "[f(a=3j)]", "\u0000", "[f(a=1,,b=2)]"]) {
    const r = decodeBfclPython(junk);
    assert.equal(r.ok, false, junk);
  }
});
