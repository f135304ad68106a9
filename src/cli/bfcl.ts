/** `toolloop bfcl ...`: score decoded BFCL outputs with our matcher. */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { BFCL_SINGLE_TURN_CATEGORIES, BfclDataError, loadBfclCategory } from "../bfcl/data.js";
import { checkEntry } from "../bfcl/check.js";
import type { MatchMode } from "../matching/matcher.js";
import { parseBfclOutputLine } from "../matching/pyJson.js";
import { isDict } from "../matching/pyValue.js";
import { CliError } from "./campaign.js";
import { plainInteger } from "./options.js";
import { runFastProbe, type FastProbeResult } from "../bfcl/fastProbe.js";
import { LlmClient, LlmError } from "../llm/client.js";
import { OVERALL_PROBE, OVERALL_PROBE_NOTE, PROBE_EVALUATOR, probeClient } from "../stages/evaluate/bfclFast/handler.js";

export interface BfclCheckOptions {
  category: string;
  outputs: string;
  data?: string;
  mode?: string;
}

export interface BfclCheckReport {
  lines: { id: string; valid: boolean; errorType: string | null }[];
  correct: number;
  total: number;
  missing: number;
}

/** Ids with no output line count as wrong (errorType "missing_output"), so accuracy is over the whole category. */
export const MISSING_OUTPUT = "missing_output";

export async function runBfclCheck(opts: BfclCheckOptions): Promise<BfclCheckReport> {
  const mode = (opts.mode ?? "bfcl") as MatchMode;
  if (mode !== "bfcl" && mode !== "strict") throw new CliError(`--mode must be "bfcl" or "strict", got "${String(opts.mode)}"`);
  if (!BFCL_SINGLE_TURN_CATEGORIES.includes(opts.category)) {
    throw new CliError(`unknown --category "${opts.category}"; valid categories: ${BFCL_SINGLE_TURN_CATEGORIES.join(", ")}`);
  }
  let entries;
  try {
    entries = await loadBfclCategory(opts.category, opts.data);
  } catch (err) {
    if (err instanceof BfclDataError) throw new CliError(err.message);
    throw err;
  }
  let text: string;
  try {
    text = await readFile(opts.outputs, "utf8");
  } catch (err) {
    throw new CliError(
      `cannot read --outputs ${opts.outputs}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message}`,
    );
  }
  const known = new Set(entries.map((e) => e.id));
  const results = new Map<string, { result: unknown; line: number }>();
  text.split("\n").forEach((raw, i) => {
    const lineNo = i + 1;
    if (raw.trim() === "") return;
    let obj: unknown;
    try {
      // The result is parsed straight into the matcher's call form (see matchCall.ts).
      obj = parseBfclOutputLine(raw);
    } catch (err) {
      throw new CliError(`${opts.outputs} line ${lineNo}: malformed JSON (${(err as Error).message})`);
    }
    if (!isDict(obj) || typeof obj.id !== "string") throw new CliError(`${opts.outputs} line ${lineNo}: expected an object with a string "id"`);
    if (!Object.prototype.hasOwnProperty.call(obj, "result")) throw new CliError(`${opts.outputs} line ${lineNo}: missing "result" for id "${obj.id}"`);
    if (!known.has(obj.id)) throw new CliError(`${opts.outputs} line ${lineNo}: unknown id "${obj.id}" for category ${opts.category}`);
    const prev = results.get(obj.id);
    if (prev) throw new CliError(`${opts.outputs} line ${lineNo}: duplicate id "${obj.id}" (first on line ${prev.line})`);
    results.set(obj.id, { result: obj.result, line: lineNo });
  });
  const report: BfclCheckReport = { lines: [], correct: 0, total: entries.length, missing: 0 };
  for (const entry of entries) {
    const out = results.get(entry.id);
    if (!out) {
      report.missing++;
      report.lines.push({ id: entry.id, valid: false, errorType: MISSING_OUTPUT });
      continue;
    }
    const v = checkEntry(entry, out.result, mode);
    if (v.valid) report.correct++;
    report.lines.push({ id: entry.id, valid: v.valid, errorType: v.errorType ?? null });
  }
  return report;
}

export function formatAccuracy(r: BfclCheckReport): string {
  const fraction = r.total === 0 ? 0 : r.correct / r.total;
  return `ACCURACY ${fraction.toFixed(4)} (${r.correct}/${r.total})`;
}

export interface BfclProbeOptions {
  baseUrl: string;
  model: string;
  apiKeyEnv?: string;
  categories?: string;
  limit?: string;
  mode?: string;
  concurrency?: string;
  data?: string;
  json?: boolean;
}

export interface BfclProbeReport extends FastProbeResult {
  overallProbe: { accuracy: number; correct: number; total: number; note: string };
  /** Requests the endpoint refused or answered unreadably; each counts as a wrong answer. */
  failedRequests: number;
  /** Answers the toolloop LLM simulator gave (it marks each one): the scores are then of a scripted stand-in, not a model. */
  simulatedResponses: number;
  /** Whether any answer came from the simulator. */
  simulated: boolean;
}

function positiveIntFlag(flag: string, value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = plainInteger(value);
  if (n === undefined || n < 1) throw new CliError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** Checks every flag before the first request, so a typo never costs a partial run. */
function parseProbeOptions(opts: BfclProbeOptions): {
  baseUrl: string;
  model: string;
  apiKey?: string;
  categories: string[];
  limit?: number;
  mode: MatchMode;
  concurrency: number;
} {
  if (!/^https?:\/\/[^/\s]+/.test(opts.baseUrl ?? ""))
    throw new CliError(`--base-url must be an http(s) URL such as http://127.0.0.1:8000/v1, got "${String(opts.baseUrl)}"`);
  if (!opts.model || opts.model.trim() === "") throw new CliError("--model must be a non-empty model name");
  let apiKey: string | undefined;
  if (opts.apiKeyEnv !== undefined) {
    apiKey = process.env[opts.apiKeyEnv];
    if (!apiKey) throw new CliError(`--api-key-env: environment variable ${opts.apiKeyEnv} is not set`);
  }
  const categories =
    opts.categories === undefined
      ? [...BFCL_SINGLE_TURN_CATEGORIES]
      : opts.categories
          .split(",")
          .map((c) => c.trim())
          .filter((c) => c !== "");
  if (categories.length === 0) throw new CliError("--categories must name at least one category");
  for (const c of categories) {
    if (!BFCL_SINGLE_TURN_CATEGORIES.includes(c))
      throw new CliError(`--categories: unknown category "${c}"; valid categories: ${BFCL_SINGLE_TURN_CATEGORIES.join(", ")}`);
  }
  const duplicate = categories.find((c, i) => categories.indexOf(c) !== i);
  if (duplicate) throw new CliError(`--categories: "${duplicate}" is listed twice`);
  const mode = (opts.mode ?? "strict") as MatchMode;
  if (mode !== "bfcl" && mode !== "strict") throw new CliError(`--mode must be "bfcl" or "strict", got "${String(opts.mode)}"`);
  return {
    baseUrl: opts.baseUrl,
    model: opts.model,
    apiKey,
    categories,
    limit: positiveIntFlag("--limit", opts.limit, undefined),
    mode,
    concurrency: positiveIntFlag("--concurrency", opts.concurrency, 8) ?? 8,
  };
}

/** Scores an OpenAI-compatible endpoint with the fast probe (our matcher, in process). */
export async function runBfclProbe(opts: BfclProbeOptions, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<BfclProbeReport> {
  const p = parseProbeOptions(opts);
  // Load the data up front: a bad --data or a missing file is reported before any request.
  for (const c of p.categories) {
    try {
      await loadBfclCategory(c, opts.data);
    } catch (err) {
      if (err instanceof BfclDataError) throw new CliError(`--data: ${err.message}`);
      throw err;
    }
  }
  const counters = { failedRequests: 0 };
  const llm = new LlmClient({
    baseUrl: p.baseUrl,
    apiKey: p.apiKey,
    model: p.model,
    role: "policy",
    timeoutMs: 120_000,
    maxRetries: 3,
    maxConcurrency: p.concurrency,
  });
  let result: FastProbeResult;
  try {
    result = await runFastProbe({
      client: probeClient(llm, counters),
      categories: p.categories,
      dataDir: opts.data,
      limitPerCategory: p.limit,
      concurrency: p.concurrency,
      mode: p.mode,
      signal,
      onProgress,
    });
  } catch (err) {
    if (err instanceof LlmError) throw new CliError(`probe of ${p.baseUrl} (model ${p.model}) failed: ${err.message}`, 1);
    throw err;
  }
  const scores = Object.values(result.categories);
  const correct = scores.reduce((a, s) => a + s.correct, 0);
  const total = scores.reduce((a, s) => a + s.total, 0);
  return {
    ...result,
    overallProbe: { accuracy: total === 0 ? 0 : correct / total, correct, total, note: OVERALL_PROBE_NOTE },
    failedRequests: counters.failedRequests,
    simulatedResponses: llm.simulatedResponses,
    simulated: llm.simulatedResponses > 0,
  };
}

/** The human-readable report: a header naming the evaluator, then one line per category. */
export function formatProbeReport(r: BfclProbeReport): string {
  const width = Math.max(OVERALL_PROBE.length, ...Object.keys(r.categories).map((c) => c.length));
  const line = (name: string, s: { accuracy: number; correct: number; total: number }) =>
    `${name.padEnd(width)} ${s.accuracy.toFixed(4)} (${s.correct}/${s.total})`;
  const lines = [`evaluator: ${PROBE_EVALUATOR} (fast probe, mode ${r.mode}) — not the official bfcl-eval score`];
  for (const [c, s] of Object.entries(r.categories)) lines.push(line(c, s));
  lines.push(`${line(OVERALL_PROBE, r.overallProbe)}  (entry-weighted mean of the lines above; not the BFCL leaderboard formula)`);
  if (r.simulatedResponses > 0)
    lines.push(
      `SIMULATED: ${r.simulatedResponses} of ${r.overallProbe.total} answers came from the toolloop LLM simulator (scripted, not a model): these are not a model's scores`,
    );
  return lines.join("\n") + "\n";
}

/** Progress for a terminal (one updating line) or a log (a line every 10%). */
function stderrProgress(): (done: number, total: number) => void {
  let lastDecile = -1;
  return (done, total) => {
    if (process.stderr.isTTY) {
      process.stderr.write(`\rprobe ${done}/${total}${done === total ? "\n" : ""}`);
      return;
    }
    const decile = Math.floor((done / Math.max(1, total)) * 10);
    if (decile !== lastDecile) {
      lastDecile = decile;
      process.stderr.write(`probe ${done}/${total}\n`);
    }
  };
}

export function registerBfclCommands(program: Command): void {
  const bfcl = program.command("bfcl").description("BFCL v3 tools (single-turn categories)");
  bfcl
    .command("check")
    .description('score decoded outputs ({"id", "result": [{"func": {"param": value}}]} per line) with the toolloop matcher')
    .requiredOption("--category <name>", `one of: ${BFCL_SINGLE_TURN_CATEGORIES.join(", ")}`)
    .requiredOption("--outputs <file>", "JSON Lines file of decoded outputs")
    .option("--data <dir>", "BFCL data directory (default: $BFCL_DATA_DIR, else ../shared/bfcl, else the copy in data/bfcl)")
    .option("--mode <mode>", "bfcl (official behaviour) or strict (optimal parallel matching)", "bfcl")
    .action(async (opts: BfclCheckOptions) => {
      const report = await runBfclCheck(opts);
      const out = report.lines.map((l) => JSON.stringify(l)).join("\n");
      process.stdout.write((out ? out + "\n" : "") + formatAccuracy(report) + "\n");
      if (report.missing > 0) console.error(`note: ${report.missing} id(s) had no output line and count as wrong (errorType "${MISSING_OUTPUT}")`);
    });
  bfcl
    .command("probe")
    .description(
      `fast probe: prompt an OpenAI-compatible endpoint with the BFCL single-turn entries and score its tool calls with the toolloop matcher (evaluator "${PROBE_EVALUATOR}", not bfcl-eval)`,
    )
    .requiredOption("--base-url <url>", "OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    .requiredOption("--model <name>", "model name sent in requests")
    .option("--api-key-env <var>", "environment variable holding the API key")
    .option("--categories <list>", `comma-separated categories (default: all of ${BFCL_SINGLE_TURN_CATEGORIES.join(", ")})`)
    .option("--limit <n>", "probe only the first N entries of each category")
    .option("--mode <mode>", "strict (optimal parallel matching) or bfcl (official behaviour)", "strict")
    .option("--concurrency <n>", "parallel requests", "8")
    .option("--data <dir>", "BFCL data directory (default: $BFCL_DATA_DIR, else ../shared/bfcl, else the copy in data/bfcl)")
    .option("--json", "print the report as one JSON object")
    .action(async (opts: BfclProbeOptions) => {
      const report = await runBfclProbe(opts, stderrProgress());
      process.stdout.write(opts.json ? JSON.stringify(report) + "\n" : formatProbeReport(report));
      if (report.failedRequests > 0) console.error(`note: ${report.failedRequests} request(s) were refused or unreadable and count as wrong answers`);
    });
}
