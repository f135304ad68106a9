/**
 * Parsing of the files bfcl-eval writes. The fixtures were produced by one real run of bfcl-eval
 * 2026.3.23 (5 categories, a few ids each, against a scripted endpoint); score files keep their
 * first line only.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { countResultLines, parseOverallCsv, readScoreFile, REPO_ROOT, repairResultFile } from "../../../src/evaluation/bfclEval.js";
import { compareSummaries, expectedPackageSummary, type CategoryScores, type DatasetSizes } from "../../../src/evaluation/score.js";

const FIXTURES = path.join(REPO_ROOT, "test", "unit", "evaluation", "fixtures");
const fixture = (name: string) => path.join(FIXTURES, name);

test("score file: first line gives accuracy and counts", async () => {
  assert.deepEqual(await readScoreFile(fixture("BFCL_v4_live_irrelevance_score.json")), { accuracy: 1 / 3, correct: 1, total: 3 });
  assert.deepEqual(await readScoreFile(fixture("BFCL_v4_simple_python_score.json")), { accuracy: 0, correct: 0, total: 5 });
});

test("score file: missing or malformed is an error naming the file", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bfcl-score-"));
  const bad = path.join(dir, "x_score.json");
  fs.writeFileSync(bad, '{"accuracy": "high"}\n');
  await assert.rejects(readScoreFile(bad), new RegExp(`${bad}: expected \\{"accuracy"`));
  await assert.rejects(readScoreFile(path.join(dir, "none.json")), /wrote no score file at .*none\.json/);
  fs.rmSync(dir, { recursive: true });
});

test("data_overall.csv: percentages become fractions, N/A becomes null", () => {
  const summary = parseOverallCsv(fs.readFileSync(fixture("data_overall.csv"), "utf8"));
  assert.equal(summary["Overall Acc"], 0.0292);
  assert.equal(summary["Non-Live AST Acc"], null);
  assert.equal(summary["Live Acc"], 0);
  assert.equal(summary["Irrelevance Detection"], 0.2917);
  assert.throws(() => parseOverallCsv("a,b\n1%\n", "f.csv"), /f\.csv: header has 2 columns, row has 1/);
});

test("the package's own summary of the fixture run agrees with ours", async () => {
  const scores: CategoryScores = {
    simple: await readScoreFile(fixture("BFCL_v4_simple_python_score.json")),
    irrelevance: await readScoreFile(fixture("BFCL_v4_irrelevance_score.json")),
    live_simple: await readScoreFile(fixture("BFCL_v4_live_simple_score.json")),
    live_irrelevance: await readScoreFile(fixture("BFCL_v4_live_irrelevance_score.json")),
    multi_turn_base: await readScoreFile(fixture("BFCL_v4_multi_turn_base_score.json")),
  };
  // Dataset sizes of bfcl-eval 2026.3.23 for the live AST categories (weights of the missing ones).
  const sizes: DatasetSizes = { live_simple: 258, live_multiple: 1053, live_parallel: 16, live_parallel_multiple: 24 };
  const theirs = parseOverallCsv(fs.readFileSync(fixture("data_overall.csv"), "utf8"));
  assert.deepEqual(compareSummaries(expectedPackageSummary(scores, sizes, "v4"), theirs), []);
  // A wrong number is caught.
  const wrong = { ...scores, irrelevance: { correct: 2, total: 4, accuracy: 0.5 } };
  assert.deepEqual(
    compareSummaries(expectedPackageSummary(wrong, sizes, "v4"), theirs).map((m) => m.column),
    ["Overall Acc"],
  );
});

test("result file repair: drops a cut-short line, duplicates, transient request failures and endpoint refusals; keeps model errors", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bfcl-result-"));
  const file = path.join(dir, "r.json");
  const real = fs.readFileSync(fixture("BFCL_v4_simple_python_result.json"), "utf8").trim().split("\n");
  const lines = [
    real[0],
    real[1],
    real[0], // duplicate id
    JSON.stringify({ id: "simple_python_7", result: "Error during inference: Connection error." }),
    JSON.stringify({ id: "simple_python_8", result: "Error during inference: Expecting value: line 1 column 1 (char 0)" }),
    JSON.stringify({ id: "simple_python_9", result: "Error during inference: Error code: 404 - The model `x` does not exist." }),
    JSON.stringify({ id: "simple_python_10", result: "Error during inference: Error code: 401 - Incorrect API key provided" }),
    (real[2] ?? "").slice(0, 40), // killed mid-write
  ];
  fs.writeFileSync(file, lines.join("\n"));
  assert.equal(countResultLines(file), 7);
  const state = await repairResultFile(file);
  assert.deepEqual([...state.ids], ["simple_python_0", "simple_python_1", "simple_python_8"]);
  assert.equal(state.dropped, 5);
  assert.deepEqual(
    state.transientErrors.map((e) => e.id),
    ["simple_python_7"],
  );
  // A refusal every request gets (unknown model, bad key) is no answer of the model's.
  assert.deepEqual(
    state.endpointErrors.map((e) => [e.id, e.status]),
    [
      ["simple_python_9", 404],
      ["simple_python_10", 401],
    ],
  );
  assert.equal(countResultLines(file), 3);
  // Idempotent, and a missing file is an empty state.
  assert.equal((await repairResultFile(file)).dropped, 0);
  assert.equal((await repairResultFile(path.join(dir, "none.json"))).ids.size, 0);
  fs.rmSync(dir, { recursive: true });
});
