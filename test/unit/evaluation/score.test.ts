import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCampaignConfig } from "../../../src/config/campaignConfig.js";
import { ALL_BFCL_CATEGORIES, packageCategoryName, type BfclCategory } from "../../../src/evaluation/categories.js";
import { compareSummaries, computeOverallV3, expectedPackageSummary, type CategoryScores, type DatasetSizes } from "../../../src/evaluation/score.js";

const s = (correct: number, total: number) => ({ correct, total, accuracy: correct / total });
const sizes: DatasetSizes = Object.fromEntries(ALL_BFCL_CATEGORIES.map((c) => [c, 100])) as DatasetSizes;
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

const full: CategoryScores = {
  simple: s(90, 100),
  java: s(60, 100),
  javascript: s(30, 100),
  multiple: s(80, 100),
  parallel: s(70, 100),
  parallel_multiple: s(50, 100),
  irrelevance: s(100, 100),
  live_simple: s(1, 2),
  live_multiple: s(90, 100),
  live_parallel: s(0, 8),
  live_parallel_multiple: s(10, 10),
  live_irrelevance: s(40, 80),
  live_relevance: s(0, 0 + 1),
  multi_turn_base: s(20, 100),
  multi_turn_miss_func: s(10, 100),
  multi_turn_miss_param: s(0, 100),
  multi_turn_long_context: s(30, 100),
};

test("RULES.md formula: non-live plain mean with the three simple categories averaged first", () => {
  const o = computeOverallV3(full, sizes);
  close(o.nonLive, (0.6 + 0.8 + 0.7 + 0.5 + 1.0) / 5);
  close(o.multiTurn, (0.2 + 0.1 + 0 + 0.3) / 4);
  assert.deepEqual(o.missing, []);
});

test("RULES.md formula: live is weighted by entry count, not a plain mean", () => {
  const o = computeOverallV3(full, sizes);
  const weighted = (1 + 90 + 0 + 10 + 40 + 0) / (2 + 100 + 8 + 10 + 80 + 1);
  close(o.live, weighted);
  const plain = (0.5 + 0.9 + 0 + 1 + 0.5 + 0) / 6;
  assert.notEqual(Math.round(o.live * 1e6), Math.round(plain * 1e6));
  close(o.overall, (o.nonLive + o.live + o.multiTurn) / 3);
});

test("a missing category counts 0, weighted by its dataset size in live", () => {
  const only: CategoryScores = { live_simple: s(10, 10), irrelevance: s(5, 10) };
  const o = computeOverallV3(only, { ...sizes, live_multiple: 90 });
  close(o.live, 10 / (10 + 90 + 100 * 4));
  close(o.nonLive, 0.5 / 5);
  close(o.multiTurn, 0);
  assert.equal(o.missing.length, ALL_BFCL_CATEGORIES.length - 2);
  assert.ok(o.missing.includes("multi_turn_base"));
});

test("v4 package summary: AST-only groups, fixed 10/10/10/30/40 overall weights, N/A where the package prints it", () => {
  const e = expectedPackageSummary(full, sizes, "v4");
  close(e["Non-Live AST Acc"] as number, (0.6 + 0.8 + 0.7 + 0.5) / 4);
  close(e["Live Acc"] as number, (1 + 90 + 0 + 10) / (2 + 100 + 8 + 10));
  close(e["Multi Turn Acc"] as number, 0.15);
  const irrelevance = (1.0 + 0.5) / 2;
  close(e["Overall Acc"] as number, (10 * (e["Non-Live AST Acc"] as number) + 10 * (e["Live Acc"] as number) + 10 * irrelevance + 30 * 0.15) / 100);
  const partial = expectedPackageSummary({ simple: s(1, 1) }, sizes, "v4");
  assert.equal(partial["Non-Live AST Acc"], null);
});

test("v3 package summary is the RULES.md overall", () => {
  close(expectedPackageSummary(full, sizes, "v3")["Overall Acc"] as number, computeOverallV3(full, sizes).overall);
});

test("compareSummaries accepts the package's two-decimal percent rounding and names real differences", () => {
  assert.deepEqual(compareSummaries({ a: 0.123456 }, { a: 0.1235 }), []);
  assert.deepEqual(compareSummaries({ a: null }, { a: null }), []);
  assert.deepEqual(compareSummaries({ a: 0.5 }, { a: 0.4999 }), [{ column: "a", ours: 0.5, theirs: 0.4999 }]);
  assert.deepEqual(compareSummaries({ a: 0.5 }, {}), [{ column: "a", ours: 0.5, theirs: undefined }]);
  assert.deepEqual(compareSummaries({ a: 0.5 }, { a: null }), [{ column: "a", ours: 0.5, theirs: null }]);
});

test("v3 names map to the package's v4 names", () => {
  const m = (c: BfclCategory) => packageCategoryName(c, "v4");
  assert.deepEqual(
    [m("simple"), m("java"), m("javascript"), m("live_simple"), m("multi_turn_base")],
    ["simple_python", "simple_java", "simple_javascript", "live_simple", "multi_turn_base"],
  );
  assert.equal(packageCategoryName("simple", "v3"), "simple");
});

test("stage config: categories are validated against the known list (multi-turn included)", () => {
  const base = {
    name: "u",
    endpoints: { sim: { baseUrl: "http://127.0.0.1:8000/v1" } },
    roles: { generator: { endpoint: "sim", model: "m" }, policy: { endpoint: "sim", model: "p" } },
    tools: { sources: [{ kind: "example" }] },
  };
  const ok = parseCampaignConfig({ ...base, stages: [{ name: "evaluate.bfcl", categories: ["simple", "multi_turn_base"], limitPerCategory: 5 }] });
  assert.equal(ok.ok, true);
  const bad = parseCampaignConfig({ ...base, stages: [{ name: "evaluate.bfcl", categories: ["simple", "simple_python"] }] });
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? "" : bad.error.message, /stages\[0\]\.categories\[1\]: unknown BFCL category "simple_python"/);
  const dup = parseCampaignConfig({ ...base, stages: [{ name: "evaluate.bfcl", categories: ["simple", "simple"] }] });
  assert.match(dup.ok ? "" : dup.error.message, /stages\[0\]\.categories: expected each category at most once/);
  const empty = parseCampaignConfig({ ...base, stages: [{ name: "evaluate.bfcl", categories: [] }] });
  assert.match(empty.ok ? "" : empty.error.message, /stages\[0\]\.categories: expected at least one category/);
});
