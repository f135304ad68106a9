/** `toolloop bfcl ...`: score decoded BFCL outputs with our matcher. */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { BFCL_SINGLE_TURN_CATEGORIES, BfclDataError, loadBfclCategory } from "../bfcl/data.js";
import { checkEntry } from "../bfcl/check.js";
import type { MatchMode } from "../matching/matcher.js";
import { parsePyJson } from "../matching/pyJson.js";
import { isDict } from "../matching/pyValue.js";
import { CliError } from "./campaign.js";

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
    throw new CliError(`cannot read --outputs ${opts.outputs}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message}`);
  }
  const known = new Set(entries.map((e) => e.id));
  const results = new Map<string, { result: unknown; line: number }>();
  text.split("\n").forEach((raw, i) => {
    const lineNo = i + 1;
    if (raw.trim() === "") return;
    let obj: unknown;
    try {
      obj = parsePyJson(raw);
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

export function registerBfclCommands(program: Command): void {
  const bfcl = program.command("bfcl").description("BFCL v3 tools (single-turn categories)");
  bfcl
    .command("check")
    .description("score decoded outputs ({\"id\", \"result\": [{\"func\": {\"param\": value}}]} per line) with the toolloop matcher")
    .requiredOption("--category <name>", `one of: ${BFCL_SINGLE_TURN_CATEGORIES.join(", ")}`)
    .requiredOption("--outputs <file>", "JSON Lines file of decoded outputs")
    .option("--data <dir>", "BFCL data directory (default: $BFCL_DATA_DIR or ../shared/bfcl)")
    .option("--mode <mode>", "bfcl (official behaviour) or strict (optimal parallel matching)", "bfcl")
    .action(async (opts: BfclCheckOptions) => {
      const report = await runBfclCheck(opts);
      const out = report.lines.map((l) => JSON.stringify(l)).join("\n");
      process.stdout.write((out ? out + "\n" : "") + formatAccuracy(report) + "\n");
      if (report.missing > 0) console.error(`note: ${report.missing} id(s) had no output line and count as wrong (errorType "${MISSING_OUTPUT}")`);
    });
}
