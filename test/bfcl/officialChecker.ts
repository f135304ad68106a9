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

/**
 * Other CPython builds of the venv's version that can run the official checker with the venv's
 * packages (PYTHONPATH): a distribution's interpreter is often built with PGO and LTO and runs
 * the checker faster than a source build such as pyenv's, so the benchmark times each and
 * compares with the fastest. BFCL_BENCH_PYTHONS (colon-separated paths) adds candidates.
 */
export function alternativePythons(): { label: string; python: PythonCommand }[] {
  const venv = venvPython();
  const info = spawnSync(
    venv,
    [
      "-c",
      "import sys, sysconfig, os; print('%d.%d' % sys.version_info[:2]); print(sysconfig.get_paths()['purelib']); print(os.path.realpath(sys._base_executable))",
    ],
    { encoding: "utf8" },
  );
  if (info.status !== 0) return [];
  const [version, purelib, base] = info.stdout.trim().split("\n");
  const candidates = [
    `/usr/bin/python${version}`,
    `/usr/local/bin/python${version}`,
    ...(process.env.BFCL_BENCH_PYTHONS ?? "").split(":").filter((p) => p !== ""),
  ];
  const seen = new Set([base]);
  const found: { label: string; python: PythonCommand }[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const env = { ...process.env, PYTHONPATH: purelib };
    const probe = spawnSync(
      candidate,
      [
        "-c",
        `import sys, os; assert '%d.%d' % sys.version_info[:2] == '${version}'; import bfcl_eval.eval_checker.ast_eval.type_convertor.java_type_converter; print(os.path.realpath(sys.executable))`,
      ],
      { encoding: "utf8", env },
    );
    const real = probe.stdout.trim();
    if (probe.status !== 0 || seen.has(real)) continue;
    seen.add(real);
    found.push({ label: real, python: { command: candidate, env } });
  }
  return found;
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
  /** Median time json.loads takes over the input lines (decoding, left out of checkSeconds). */
  loadSeconds: number;
  importSeconds: number;
  wallSeconds: number;
  /** The interpreter's version and executable. */
  python: string;
  executable: string;
}

/** One line per item, as official_check.py reads them (and as `toolloop bfcl check` reads outputs). */
export function officialInputLines(items: DiffItem[]): string[] {
  return items.map((it) => `{"id": ${JSON.stringify(it.entry.id)}, "category": ${JSON.stringify(it.entry.category)}, "result": ${stringifyPyJson(it.result)}}`);
}

/** An interpreter to run the official checker with: the venv's by default. */
export interface PythonCommand {
  command: string;
  env?: NodeJS.ProcessEnv;
}

export function runOfficialChecker(items: DiffItem[], repeats = 1, python: PythonCommand = { command: venvPython() }): OfficialRun {
  return runOfficialCheckerOnLines(officialInputLines(items), { repeats, python });
}

/**
 * The official checker on input lines as official_check.py reads them (`{"id", "category", "result"}`,
 * the result as JSON text: numbers reach Python's json.loads with the digits written), against the
 * BFCL data in `dataDir` (the resolved BFCL data directory by default).
 */
export function runOfficialCheckerOnLines(lines: string[], opts: { repeats?: number; python?: PythonCommand; dataDir?: string } = {}): OfficialRun {
  const repeats = opts.repeats ?? 1;
  const python = opts.python ?? { command: venvPython() };
  const input = lines.join("\n");
  const started = performance.now();
  const proc = spawnSync(
    python.command,
    [path.join(REPO_ROOT, "scripts", "bfcl", "official_check.py"), opts.dataDir ?? resolveBfclDataDir(), String(repeats)],
    {
      input,
      encoding: "utf8",
      maxBuffer: 1 << 30,
      env: python.env ?? process.env,
    },
  );
  const wallSeconds = (performance.now() - started) / 1000;
  if (proc.status !== 0) throw new Error(`official checker failed (exit ${proc.status}): ${proc.stderr.slice(-2000)}`);
  const verdictLines = proc.stdout.split("\n").filter((l) => l !== "");
  if (verdictLines.length !== lines.length) throw new Error(`official checker returned ${verdictLines.length} verdicts for ${lines.length} outputs`);
  const stats = JSON.parse(proc.stderr.trim().split("\n").pop() ?? "{}") as {
    check_seconds: number;
    runs: number[];
    load_seconds: number;
    import_seconds: number;
    python: string;
    executable: string;
  };
  return {
    verdicts: verdictLines.map((l) => {
      const [, verdict, detail] = l.split("\t");
      return { verdict: verdict as OfficialVerdict["verdict"], detail: detail ?? "" };
    }),
    checkSeconds: stats.check_seconds,
    runs: stats.runs,
    loadSeconds: stats.load_seconds,
    importSeconds: stats.import_seconds,
    wallSeconds,
    python: stats.python,
    executable: stats.executable,
  };
}
