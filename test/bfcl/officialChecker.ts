import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BFCL_SINGLE_TURN_CATEGORIES, readBfclCategorySync, resolveBfclDataDir, type BfclEntry } from "../../src/bfcl/data.js";
import { generateVariants } from "../../src/bfcl/mutate.js";
import { stringifyPyJson } from "../../src/matching/pyJson.js";

/** Test/bench helper: runs the official bfcl_eval checker (scripts/bfcl/official_check.py) in the project venv. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export function venvPython(): string {
  return process.env.BFCL_VENV_PYTHON ?? path.join(REPO_ROOT, ".venv-bfcl", "bin", "python");
}

/** Returns a reason string when the official checker cannot be run here, else undefined. */
export function officialCheckerUnavailable(): string | undefined {
  const py = venvPython();
  if (!existsSync(py)) return `no BFCL venv python at ${py}; run scripts/ensure-bfcl-venv.sh`;
  const probe = spawnSync(py, ["-c", "import bfcl_eval.eval_checker.ast_eval.type_convertor.java_type_converter"], { encoding: "utf8" });
  if (probe.status !== 0) return `bfcl_eval is not importable with ${py}: ${probe.stderr.slice(-300)}`;
  return undefined;
}

export interface DiffItem {
  entry: BfclEntry;
  variant: string;
  result: unknown;
}

export function buildDiffItems(categories: readonly string[] = BFCL_SINGLE_TURN_CATEGORIES): DiffItem[] {
  const items: DiffItem[] = [];
  for (const c of categories) {
    for (const entry of readBfclCategorySync(c)) {
      for (const v of generateVariants(entry)) items.push({ entry, variant: v.variant, result: v.result });
    }
  }
  return items;
}

export interface OfficialVerdict {
  verdict: "valid" | "invalid" | "crash";
  detail: string;
}

export interface OfficialRun {
  verdicts: OfficialVerdict[];
  /** Median over the passes. */
  checkSeconds: number;
  runs: number[];
  importSeconds: number;
  wallSeconds: number;
}

export function runOfficialChecker(items: DiffItem[], repeats = 1): OfficialRun {
  const input = items
    .map((it) => `{"id": ${JSON.stringify(it.entry.id)}, "category": ${JSON.stringify(it.entry.category)}, "result": ${stringifyPyJson(it.result)}}`)
    .join("\n");
  const started = performance.now();
  const proc = spawnSync(venvPython(), [path.join(REPO_ROOT, "scripts", "bfcl", "official_check.py"), resolveBfclDataDir(), String(repeats)], {
    input,
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  const wallSeconds = (performance.now() - started) / 1000;
  if (proc.status !== 0) throw new Error(`official checker failed (exit ${proc.status}): ${proc.stderr.slice(-2000)}`);
  const lines = proc.stdout.split("\n").filter((l) => l !== "");
  if (lines.length !== items.length) throw new Error(`official checker returned ${lines.length} verdicts for ${items.length} outputs`);
  const stats = JSON.parse(proc.stderr.trim().split("\n").pop() ?? "{}") as { check_seconds: number; runs: number[]; import_seconds: number };
  return {
    verdicts: lines.map((l) => {
      const [, verdict, detail] = l.split("\t");
      return { verdict: verdict as OfficialVerdict["verdict"], detail: detail ?? "" };
    }),
    checkSeconds: stats.check_seconds,
    runs: stats.runs,
    importSeconds: stats.import_seconds,
    wallSeconds,
  };
}
