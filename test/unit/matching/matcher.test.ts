import { test } from "node:test";
import assert from "node:assert/strict";
import { matchCalls, type MatchParams } from "../../../src/matching/matcher.js";
import { standardizeString } from "../../../src/matching/bfclChecker.js";
import { javaTypeConverter } from "../../../src/matching/javaConvert.js";
import { jsTypeConverter } from "../../../src/matching/jsConvert.js";
import { parsePyJson, stringifyPyJson } from "../../../src/matching/pyJson.js";
import { PyFloat, makeTuple } from "../../../src/matching/pyValue.js";
import type { BfclAnswer, FunctionDoc } from "../../../src/matching/types.js";

const doc = (name: string, properties: FunctionDoc["parameters"]["properties"], required: string[]): FunctionDoc => ({
  name,
  parameters: { type: "dict", properties, required },
});
const weather = doc(
  "get_weather",
  { city: { type: "string" }, days: { type: "integer" }, temp: { type: "float" }, tags: { type: "array", items: { type: "string" } }, opts: { type: "dict" } },
  ["city"],
);
const label: BfclAnswer = [
  {
    get_weather: { city: ["Paris", "Paris, France"], days: [3, ""], temp: [1.5, ""], tags: [["a b", "C"], ""], opts: [{ unit: ["c", ""], deep: [true] }, ""] },
  },
];

function check(args: Record<string, unknown>, extra: Partial<MatchParams> = {}) {
  return matchCalls({ calls: [{ name: "get_weather", args }], functions: [weather], label, category: "simple", mode: "bfcl", ...extra });
}

test("valid call, omittable params left out", () => {
  const r = check({ city: "Paris" });
  assert.equal(r.valid, true);
  assert.deepEqual(r.reasons, []);
});

test("wrong function name", () => {
  const r = matchCalls({ calls: [{ name: "weather", args: { city: "Paris" } }], functions: [weather], label, category: "simple", mode: "bfcl" });
  assert.equal(r.errorType, "simple_function_checker:wrong_func_name");
  assert.equal(r.reasons[0]!.expected, "get_weather");
});

test("missing required, unexpected param, missing non-omittable param", () => {
  assert.equal(check({ days: 3 }).errorType, "simple_function_checker:missing_required");
  const extra = check({ city: "Paris", color: "red" });
  assert.equal(extra.errorType, "simple_function_checker:unexpected_param");
  assert.equal(extra.reasons[0]!.param, "color");
  const strictLabel: BfclAnswer = [{ get_weather: { city: ["Paris"], days: [3] } }];
  assert.equal(check({ city: "Paris" }, { label: strictLabel }).errorType, "simple_function_checker:missing_optional");
});

test("types: no bool/int mixing, int accepted for float (top level only)", () => {
  assert.equal(check({ city: "Paris", days: true }).errorType, "type_error:simple");
  assert.equal(check({ city: "Paris", days: new PyFloat(3) }).errorType, "type_error:simple");
  assert.equal(check({ city: 1 }).errorType, "type_error:simple");
  const floatLabel: BfclAnswer = [{ get_weather: { city: ["Paris"], temp: [new PyFloat(2)] } }];
  assert.equal(check({ city: "Paris", temp: 2 }, { label: floatLabel }).valid, true, "int 2 is accepted for float 2.0");
  const listOfFloats = doc("f", { xs: { type: "array", items: { type: "float" } } }, ["xs"]);
  const l: BfclAnswer = [{ f: { xs: [[new PyFloat(1), 2.5]] } }];
  const nested = matchCalls({ calls: [{ name: "f", args: { xs: [1, 2.5] } }], functions: [listOfFloats], label: l, category: "simple", mode: "bfcl" });
  assert.equal(nested.valid, false, "an int inside a float list is a nested type error");
  assert.equal(nested.errorType, "type_error:nested");
});

test("string standardisation: case, spaces and ,./-_*^ ignored; quotes unified", () => {
  assert.equal(standardizeString("Paris, France"), "parisfrance");
  assert.equal(standardizeString("It's A-B_C*D^E/F.G"), 'it"sabcdefg');
  assert.equal(check({ city: "PARIS,france" }).valid, true);
  const bad = check({ city: "Pariss" });
  assert.equal(bad.errorType, "value_error:string");
  assert.equal(bad.reasons[0]!.got, "Pariss");
});

test("lists compare in order with standardised string elements", () => {
  assert.equal(check({ city: "Paris", tags: ["A-B", "c"] }).valid, true);
  assert.equal(check({ city: "Paris", tags: ["c", "a b"] }).errorType, "value_error:list/tuple");
});

test("dicts: allowed keys, acceptable values, omittable keys", () => {
  assert.equal(check({ city: "Paris", opts: { deep: true } }).valid, true);
  assert.equal(check({ city: "Paris", opts: { deep: true, unit: "C" } }).valid, true);
  assert.equal(check({ city: "Paris", opts: { deep: true, x: 1 } }).errorType, "value_error:dict_key");
  assert.equal(check({ city: "Paris", opts: { deep: false } }).errorType, "value_error:dict_value");
  assert.equal(check({ city: "Paris", opts: { unit: "c" } }).errorType, "value_error:dict_key");
});

test("tuples are accepted only where the doc says tuple", () => {
  const d = doc("f", { p: { type: "tuple", items: { type: "integer" } }, q: { type: "array", items: { type: "integer" } } }, []);
  const l: BfclAnswer = [{ f: { p: [[1, 2], ""], q: [[1, 2], ""] } }];
  const run = (args: Record<string, unknown>) => matchCalls({ calls: [{ name: "f", args }], functions: [d], label: l, category: "simple", mode: "bfcl" });
  assert.equal(run({ p: makeTuple([1, 2]) }).valid, true);
  assert.equal(run({ q: makeTuple([1, 2]) }).errorType, "type_error:simple");
});

test("java / javascript: source text converted by the official rules", () => {
  assert.equal(javaTypeConverter("5L", "long"), 5);
  assert.ok(javaTypeConverter("3.0f", "float") instanceof PyFloat);
  assert.equal(javaTypeConverter("5", "long"), "5", "no L suffix: stays a string and fails the type check");
  assert.deepEqual(javaTypeConverter('new ArrayList<>(Arrays.asList("a", "b"))', "ArrayList", "String"), ["a", "b"]);
  assert.deepEqual(javaTypeConverter('new String[]{"a"}', "Array", "String"), ['"a"'], "official quirk: quotes kept");
  assert.deepEqual(javaTypeConverter('new HashMap<String, Object>() {{ put("k", 1); put("s", "v"); }}', "HashMap"), { k: 1, s: "v" });
  assert.equal(jsTypeConverter("10n", "Bigint"), 10);
  assert.equal(jsTypeConverter("'x'", "String"), "x");
  assert.deepEqual(jsTypeConverter("[1, 'two', true]", "array"), [1, "two", true]);
  assert.deepEqual(jsTypeConverter("{key: 'v', n: 5}", "dict"), { key: "v", n: 5 });

  const jd = doc("Foo.bar", { n: { type: "long" }, b: { type: "boolean" } }, ["n"]);
  const jl: BfclAnswer = [{ "Foo.bar": { n: [5], b: [true, ""] } }];
  const run = (args: Record<string, unknown>) => matchCalls({ calls: [{ name: "Foo.bar", args }], functions: [jd], label: jl, category: "java", mode: "bfcl" });
  assert.equal(run({ n: "5L", b: "true" }).valid, true);
  assert.equal(run({ n: 5 }).errorType, "type_error:java");
  assert.equal(run({ n: "5" }).errorType, "type_error:simple");
});

const addDoc = doc("add", { a: { type: "integer" }, b: { type: "integer", description: "optional" } }, ["a"]);

test("parallel (bfcl): greedy, order-free; counts must match", () => {
  const l: BfclAnswer = [{ add: { a: [1], b: ["", 2] } }, { add: { a: [3], b: [""] } }];
  const run = (calls: MatchParams["calls"], mode: "bfcl" | "strict" = "bfcl") =>
    matchCalls({ calls, functions: [addDoc], label: l, category: "parallel", mode });
  assert.equal(
    run([
      { name: "add", args: { a: 3 } },
      { name: "add", args: { a: 1 } },
    ]).valid,
    true,
  );
  assert.equal(run([{ name: "add", args: { a: 3 } }]).errorType, "parallel_function_checker_no_order:wrong_count");
  const dup = run([
    { name: "add", args: { a: 1 } },
    { name: "add", args: { a: 1 } },
  ]);
  assert.equal(dup.errorType, "parallel_function_checker_no_order:cannot_find_match");
  assert.equal(dup.reasons[0]!.expectedCall, 1);
});

test("strict: optimal assignment where greedy fails, reported as a divergence", () => {
  // Expected 0 accepts a=1 or a=2; expected 1 accepts only a=1. Output [a=1, a=2]:
  // greedy gives a=1 to expected 0 and then finds nothing for expected 1; optimal pairs 0<->a=2, 1<->a=1.
  const l: BfclAnswer = [{ add: { a: [1, 2] } }, { add: { a: [1] } }];
  const calls = [
    { name: "add", args: { a: 1 } },
    { name: "add", args: { a: 2 } },
  ];
  const bfcl = matchCalls({ calls, functions: [addDoc], label: l, category: "parallel", mode: "bfcl" });
  const strict = matchCalls({ calls, functions: [addDoc], label: l, category: "parallel", mode: "strict" });
  assert.equal(bfcl.valid, false);
  assert.equal(strict.valid, true);
  assert.deepEqual(strict.divergence && { bfcl: strict.divergence.bfcl, strict: strict.divergence.strict }, { bfcl: false, strict: true });
  const agree = matchCalls({ calls: [calls[1]!, calls[0]!], functions: [addDoc], label: l, category: "parallel", mode: "strict" });
  assert.equal(agree.valid, true);
  assert.equal(agree.divergence, undefined);
});

test("multiple: one call checked against the answer's function; reference labels", () => {
  const other = doc("sub", { a: { type: "integer" } }, ["a"]);
  const l: BfclAnswer = [{ sub: { a: [4] } }];
  assert.equal(matchCalls({ calls: [{ name: "sub", args: { a: 4 } }], functions: [addDoc, other], label: l, category: "multiple", mode: "bfcl" }).valid, true);
  assert.equal(
    matchCalls({ calls: [{ name: "add", args: { a: 4 } }], functions: [addDoc, other], label: l, category: "multiple", mode: "bfcl" }).errorType,
    "simple_function_checker:wrong_func_name",
  );
  const ref = { reference: [{ name: "sub", args: { a: 4 } }] };
  assert.equal(matchCalls({ calls: [{ name: "sub", args: { a: 4.0 } }], functions: [addDoc, other], label: ref, mode: "strict" }).valid, true);
  assert.equal(
    matchCalls({ calls: [{ name: "sub", args: { a: 5 } }], functions: [addDoc, other], label: ref, mode: "strict" }).errorType,
    "value_error:others",
  );
});

test("relevance categories, underscore_to_dot, and checker crashes as verdicts", () => {
  assert.equal(matchCalls({ calls: [], functions: [addDoc], label: [], category: "irrelevance", mode: "bfcl" }).valid, true);
  assert.equal(
    matchCalls({ calls: [{ name: "add", args: {} }], functions: [addDoc], label: [], category: "live_irrelevance", mode: "bfcl" }).errorType,
    "irrelevance_error:decoder_success",
  );
  assert.equal(matchCalls({ calls: [], functions: [addDoc], label: [], category: "live_relevance", mode: "bfcl" }).errorType, "relevance_error:decoder_failed");
  const dotted = doc("math.add", { a: { type: "integer" } }, ["a"]);
  const l: BfclAnswer = [{ "math.add": { a: [1] } }];
  assert.equal(
    matchCalls({ calls: [{ name: "math_add", args: { a: 1 } }], functions: [dotted], label: l, category: "simple", mode: "bfcl", underscoreToDot: true }).valid,
    true,
  );
  assert.equal(matchCalls({ calls: [{ name: "math_add", args: { a: 1 } }], functions: [dotted], label: l, category: "simple", mode: "bfcl" }).valid, false);
  const untyped = doc("u", { a: { description: "no type" } }, []);
  const crash = matchCalls({ calls: [{ name: "u", args: { a: 1 } }], functions: [untyped], label: [{ u: { a: [1] } }], category: "simple", mode: "bfcl" });
  assert.equal(crash.valid, false);
  assert.equal(crash.errorType, "checker_crash");
});

test("pyJson keeps floats as floats both ways", () => {
  const v = parsePyJson('{"a": 1, "b": 1.0, "c": [2.50, -0.0, 1e2], "d": NaN}') as Record<string, unknown>;
  assert.equal(v.a, 1);
  assert.ok(v.b instanceof PyFloat);
  assert.equal(stringifyPyJson({ a: 1, b: new PyFloat(1) }), '{"a": 1, "b": 1.0}');
  assert.throws(() => parsePyJson("{'a': 1}"), /offset/);
});
