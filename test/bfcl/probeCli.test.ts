/** `toolloop bfcl probe` as a process against the LLM simulator: report shape, --json, bad flags. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import { startSimulator, type SimulatorHandle } from "../../src/llm/simulator/server.js";
import { formatProbeReport, type BfclProbeReport } from "../../src/cli/bfcl.js";
import { REPO_ROOT } from "./officialChecker.js";

const main = path.join(REPO_ROOT, "dist", "src", "cli", "main.js");
let sim: SimulatorHandle;

before(async () => {
  sim = await startSimulator({ seed: 7, latencyMs: 5, maxConcurrency: 8, quiet: true });
});
after(async () => {
  await sim.close();
});

/** Async on purpose: the simulator answers from this process's event loop. */
function toolloop(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { encoding: "utf8", env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const chatRequests = () => sim.stats().byPath["/v1/chat/completions"] ?? 0;

test("bfcl probe prints the evaluator header and one line per category", { timeout: 90_000 }, async () => {
  const before = chatRequests();
  const r = await toolloop([
    "bfcl",
    "probe",
    "--base-url",
    sim.url,
    "--model",
    "toolloop-sim-policy",
    "--categories",
    "simple,irrelevance",
    "--limit",
    "4",
    "--concurrency",
    "4",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(chatRequests() - before, 8);
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines[0], "evaluator: toolloop-matcher (fast probe, mode strict) — not the official bfcl-eval score");
  // The simulator marks every answer: the report says the scores are a scripted stand-in's.
  assert.equal(lines.length, 5);
  assert.equal(lines[4], "SIMULATED: 8 of 8 answers came from the toolloop LLM simulator (scripted, not a model): these are not a model's scores");
  const parsed = lines.slice(1, 4).map((l) => /^(\S+)\s+(\d\.\d{4}) \((\d+)\/(\d+)\)/.exec(l));
  assert.deepEqual(
    parsed.map((m) => m?.[1]),
    ["simple", "irrelevance", "overall_probe"],
  );
  for (const m of parsed.slice(0, 2)) {
    assert.ok(m);
    assert.equal(m[4], "4");
    assert.equal(Number(m[2]).toFixed(4), (Number(m[3]) / 4).toFixed(4));
  }
  assert.equal(parsed[2]?.[4], "8");
  assert.match(lines[3]!, /not the BFCL leaderboard formula/);
  assert.match(r.stderr, /probe 8\/8/, "progress goes to stderr");
});

test("bfcl probe --json reports per-category scores with the evaluator and mode", { timeout: 90_000 }, async () => {
  const r = await toolloop([
    "bfcl",
    "probe",
    "--base-url",
    sim.url,
    "--model",
    "toolloop-sim-policy",
    "--categories",
    "live_simple",
    "--limit",
    "3",
    "--mode",
    "bfcl",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    evaluator: string;
    mode: string;
    categories: Record<string, { total: number; correct: number; accuracy: number }>;
    overallProbe: { total: number };
    simulated: boolean;
    simulatedResponses: number;
  };
  assert.equal(report.evaluator, "toolloop-matcher");
  assert.equal(report.mode, "bfcl");
  assert.deepEqual(Object.keys(report.categories), ["live_simple"]);
  assert.equal(report.categories.live_simple?.total, 3);
  assert.equal(report.overallProbe.total, 3);
  assert.equal(report.simulated, true);
  assert.equal(report.simulatedResponses, 3);
});

test("bfcl probe: bad flags exit 2 with an error naming the flag, before any request", { timeout: 90_000 }, async () => {
  const base = ["bfcl", "probe", "--base-url", sim.url, "--model", "toolloop-sim-policy"];
  const before = chatRequests();
  const cases: [string[], RegExp][] = [
    [["--categories", "simple,multi_turn_base"], /error: --categories: unknown category "multi_turn_base"; valid categories: simple/],
    [["--limit", "0"], /error: --limit must be a positive integer, got "0"/],
    [["--concurrency", "x"], /error: --concurrency must be a positive integer, got "x"/],
    [["--mode", "fuzzy"], /error: --mode must be "bfcl" or "strict", got "fuzzy"/],
    [["--data", path.join(REPO_ROOT, "no-such-bfcl-dir")], /error: --data: BFCL data directory not found/],
    [["--api-key-env", "TOOLLOOP_PROBE_TEST_UNSET_KEY"], /error: --api-key-env: environment variable TOOLLOOP_PROBE_TEST_UNSET_KEY is not set/],
  ];
  for (const [flags, pattern] of cases) {
    const r = await toolloop([...base, ...flags]);
    assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
  const badUrl = await toolloop(["bfcl", "probe", "--base-url", "localhost:8000", "--model", "m"]);
  assert.equal(badUrl.code, 2);
  assert.match(badUrl.stderr, /error: --base-url must be an http\(s\) URL/);
  assert.equal(chatRequests() - before, 0);
});

test("a probe of a real endpoint (no simulator mark) prints no SIMULATED line", () => {
  const report = {
    evaluator: "toolloop-matcher",
    mode: "strict",
    categories: { simple: { correct: 1, total: 2, accuracy: 0.5 } },
    overallProbe: { accuracy: 0.5, correct: 1, total: 2, note: "" },
    failedRequests: 0,
    simulatedResponses: 0,
    simulated: false,
  } as unknown as BfclProbeReport;
  assert.doesNotMatch(formatProbeReport(report), /SIMULATED/);
  assert.match(formatProbeReport({ ...report, simulatedResponses: 2, simulated: true }), /\nSIMULATED: 2 of 2 answers came from the toolloop LLM simulator/);
});
