/**
 * Runs the official bfcl-eval package (its own `bfcl` CLI, through scripts/bfcl/eval_cli.py which
 * only adds a registry entry for our policy model) in the project's Python virtual environment, and
 * reads back what it writes: result files (one JSON line per generated id), score files (first line
 * `{accuracy, correct_count, total_count}`) and the data_overall.csv summary.
 *
 * Route: function-calling mode through bfcl-eval's OpenAI chat-completions handler, pointed at the
 * policy's OpenAI-compatible endpoint with OPENAI_BASE_URL. No model server is started and no model
 * hub is contacted (the local-inference handlers would load a tokenizer from the hub). See
 * docs/bfcl-eval.md.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { terminateProcess, tailFile } from "../util/childProcess.js";
import type { CategoryScore, PackageSummary } from "./score.js";
import type { PackageLayout } from "./categories.js";
import { writeFileAtomic } from "../util/atomicFiles.js";

/** Registry name the shim adds; also the name of the model folder under result/ and score/. */
export const BFCL_REGISTRY_NAME = "toolloop-policy-FC";
/** Prefix bfcl-eval writes in place of a result when a request failed. */
export const INFERENCE_ERROR_PREFIX = "Error during inference";

export class BfclEvalError extends Error {
  override name = "BfclEvalError";
}

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "scripts"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new BfclEvalError(`cannot find the toolloop repository root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const REPO_ROOT = findRepoRoot();
export const SHIM_PATH = path.join(REPO_ROOT, "scripts", "bfcl", "eval_cli.py");
export const ENSURE_VENV_SCRIPT = path.join(REPO_ROOT, "scripts", "ensure-bfcl-venv.sh");

/**
 * The venv's python: TOOLLOOP_BFCL_PYTHON if set, else `.venv-bfcl/bin/python`, created by
 * scripts/ensure-bfcl-venv.sh when missing (idempotent and quick once present).
 */
export async function ensureBfclPython(log: (m: string) => void = () => undefined, signal?: AbortSignal): Promise<string> {
  const override = process.env.TOOLLOOP_BFCL_PYTHON;
  if (override) {
    if (!fs.existsSync(override)) throw new BfclEvalError(`TOOLLOOP_BFCL_PYTHON points to ${override}, which does not exist`);
    return override;
  }
  const python = path.join(REPO_ROOT, ".venv-bfcl", "bin", "python");
  if (fs.existsSync(python)) return python;
  if (!fs.existsSync(ENSURE_VENV_SCRIPT)) throw new BfclEvalError(`no bfcl-eval environment: ${python} is missing and so is ${ENSURE_VENV_SCRIPT}`);
  log(`[bfcl] creating the bfcl-eval environment with ${ENSURE_VENV_SCRIPT}`);
  const code = await runProcess({
    command: "bash",
    args: [ENSURE_VENV_SCRIPT],
    cwd: REPO_ROOT,
    env: process.env,
    logFile: path.join(REPO_ROOT, ".venv-bfcl.log"),
    signal,
  });
  if (code !== 0 || !fs.existsSync(python)) {
    throw new BfclEvalError(`${ENSURE_VENV_SCRIPT} failed (exit ${code}); last lines:\n${tailFile(path.join(REPO_ROOT, ".venv-bfcl.log"), 20)}`);
  }
  return python;
}

export interface BfclPackageInfo {
  version: string;
  layout: PackageLayout;
  /** File-name prefix of its data and result files, e.g. "BFCL_v4". */
  prefix: string;
  dataDir: string;
}

const packageInfoCache = new Map<string, Promise<BfclPackageInfo>>();

/** Version, naming scheme and data directory of the installed bfcl-eval (asked once per python). */
export function bfclPackageInfo(python: string): Promise<BfclPackageInfo> {
  let cached = packageInfoCache.get(python);
  if (!cached) {
    cached = readPackageInfo(python);
    cached.catch(() => packageInfoCache.delete(python));
    packageInfoCache.set(python, cached);
  }
  return cached;
}

async function readPackageInfo(python: string): Promise<BfclPackageInfo> {
  // Reads metadata and files only: importing the package itself would create folders in its root.
  const code = [
    "import json, importlib.metadata as m, importlib.util as u, os, re",
    "spec = u.find_spec('bfcl_eval')",
    "pkg = os.path.dirname(spec.origin)",
    "src = open(os.path.join(pkg, 'constants', 'category_mapping.py')).read()",
    "prefix = re.search(r'VERSION_PREFIX\\s*=\\s*[\"\\']([^\"\\']+)', src)",
    "print(json.dumps({'version': m.version('bfcl-eval'), 'prefix': prefix.group(1) if prefix else None, 'dataDir': os.path.join(pkg, 'data')}))",
  ].join("\n");
  const out = await captureProcess(python, ["-c", code]);
  let info: { version?: unknown; prefix?: unknown; dataDir?: unknown };
  try {
    info = JSON.parse(out.trim().split("\n").pop() ?? "") as typeof info;
  } catch {
    throw new BfclEvalError(`cannot read the bfcl-eval package metadata with ${python}: ${out.slice(-500)}`);
  }
  if (typeof info.version !== "string" || typeof info.prefix !== "string" || typeof info.dataDir !== "string") {
    throw new BfclEvalError(`unexpected bfcl-eval metadata from ${python}: ${out.slice(-500)}`);
  }
  const layout: PackageLayout = /^BFCL_v[4-9]/.test(info.prefix) ? "v4" : "v3";
  return { version: info.version, layout, prefix: info.prefix, dataDir: info.dataDir };
}

function captureProcess(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", (err) => reject(new BfclEvalError(`cannot run ${command}: ${err.message}`)));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new BfclEvalError(`${command} ${args[0] ?? ""} exited ${code}: ${out.slice(-800)}`))));
  });
}

/** Ids of a category in the package's own data file, in file order. */
export async function packageCategoryIds(info: BfclPackageInfo, packageCategory: string): Promise<string[]> {
  const file = path.join(info.dataDir, `${info.prefix}_${packageCategory}.json`);
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch {
    throw new BfclEvalError(`bfcl-eval data file for category "${packageCategory}" not found: ${file}`);
  }
  const ids: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const id = (JSON.parse(line) as { id?: unknown }).id;
    if (typeof id !== "string") throw new BfclEvalError(`${file}:${i + 1}: entry without an id`);
    ids.push(id);
  });
  return ids;
}

export interface RunOptions {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here (bfcl-eval is chatty; this is the place to look when it fails). */
  logFile: string;
  signal?: AbortSignal;
}

/**
 * Runs a process in its own process group and resolves with its exit code. On abort the whole group
 * is terminated (bfcl-eval runs a thread pool; a group kill also reaches any helpers it forks) and
 * the promise rejects with the abort reason.
 */
export async function runProcess(opts: RunOptions): Promise<number> {
  if (opts.signal?.aborted) throw abortError(opts.signal);
  await fsp.mkdir(path.dirname(opts.logFile), { recursive: true });
  const log = fs.openSync(opts.logFile, "a");
  try {
    const child = spawn(opts.command, opts.args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", log, log] });
    const exited = new Promise<number>((resolve, reject) => {
      child.on("error", (err) => reject(new BfclEvalError(`cannot run ${opts.command}: ${err.message}`)));
      child.on("exit", (code, sig) => resolve(code ?? (sig ? 128 : 1)));
    });
    let killing: Promise<void> | undefined;
    const onAbort = () => {
      if (child.pid !== undefined) killing = terminateProcess(child.pid, { group: true, graceMs: 3000 });
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const code = await exited;
      if (killing) await killing;
      if (opts.signal?.aborted) throw abortError(opts.signal);
      return code;
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
    }
  } finally {
    fs.closeSync(log);
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new Error("cancelled");
}

export interface BfclCommand {
  python: string;
  /** BFCL_PROJECT_ROOT: where bfcl-eval keeps its lock files, .env and test_case_ids_to_generate.json. */
  projectRoot: string;
  /** Model name the endpoint serves (sent as `model`). */
  model: string;
  /** OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1. */
  baseUrl: string;
  apiKey?: string;
  signal?: AbortSignal;
}

/** `bfcl <args>` through the shim, with an environment that pins every path to `projectRoot`. */
export async function runBfcl(cmd: BfclCommand, args: string[]): Promise<void> {
  await fsp.mkdir(cmd.projectRoot, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BFCL_PROJECT_ROOT: cmd.projectRoot,
    OPENAI_BASE_URL: cmd.baseUrl,
    // The OpenAI SDK refuses to start without a key; local servers ignore it.
    OPENAI_API_KEY: cmd.apiKey ?? "EMPTY",
    TOOLLOOP_BFCL_MODEL: cmd.model,
    // The shim exits when this process dies: a SIGKILLed worker must not leave bfcl-eval generating.
    TOOLLOOP_BFCL_PARENT_PID: String(process.pid),
    PYTHONUNBUFFERED: "1",
    // The package's progress bars are noise in a log file.
    TQDM_DISABLE: "1",
  };
  const logFile = path.join(cmd.projectRoot, "bfcl.log");
  const code = await runProcess({ command: cmd.python, args: [SHIM_PATH, ...args], cwd: cmd.projectRoot, env, logFile, signal: cmd.signal });
  if (code !== 0) throw new BfclEvalError(`bfcl ${args[0] ?? ""} exited with code ${code}; last lines of ${logFile}:\n${tailFile(logFile, 25)}`);
}

export interface ResultFileState {
  /** Ids with a usable result (kept in the file). */
  ids: Set<string>;
  /** Lines dropped: truncated by a kill, duplicated, or a failed request that must be retried. */
  dropped: number;
  /** Failed requests among the dropped lines, with their messages. */
  transientErrors: { id: string; message: string }[];
  /**
   * Requests the endpoint refused because of how it is set up (unknown model, bad key, wrong path),
   * dropped too: kept, they would be scored as the model's answer (an irrelevance entry "declined"
   * by a 404 counts as correct), and every other request gets the same refusal.
   */
  endpointErrors: { id: string; message: string; status: number }[];
}

/** Messages of failed requests that say nothing about the model (endpoint down, overloaded, timed out). */
const TRANSIENT_ERROR = /connection|timed? ?out|timeout|error code: (408|409|429|5\d\d)|service unavailable|rate limit/i;
/** The OpenAI SDK's message for a refusal that every request would get (src/llm/errors.ts ENDPOINT_MISCONFIGURED_STATUSES). */
const ENDPOINT_ERROR = /error code: (401|403|404|405|407)\b/i;

/**
 * Makes a result file safe to resume from: drops a line cut short by a kill (bfcl-eval would fail
 * to parse it), duplicates, and results that record a transient request failure or an endpoint's
 * refusal (bfcl-eval would otherwise keep them as the model's answer and never ask again).
 * Rewrites atomically.
 */
export async function repairResultFile(file: string): Promise<ResultFileState> {
  const state: ResultFileState = { ids: new Set(), dropped: 0, transientErrors: [], endpointErrors: [] };
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return state;
    throw err;
  }
  const kept: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let entry: { id?: unknown; result?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      state.dropped++;
      continue;
    }
    if (typeof entry.id !== "string" || state.ids.has(entry.id)) {
      state.dropped++;
      continue;
    }
    const failure = typeof entry.result === "string" && entry.result.startsWith(INFERENCE_ERROR_PREFIX) ? entry.result : undefined;
    const refusal = failure === undefined ? null : ENDPOINT_ERROR.exec(failure);
    if (failure !== undefined && refusal) {
      state.dropped++;
      state.endpointErrors.push({ id: entry.id, message: failure, status: Number(refusal[1]) });
      continue;
    }
    if (failure !== undefined && TRANSIENT_ERROR.test(failure)) {
      state.dropped++;
      state.transientErrors.push({ id: entry.id, message: failure });
      continue;
    }
    state.ids.add(entry.id);
    kept.push(line);
  }
  if (state.dropped > 0) {
    await writeFileAtomic(file, kept.map((l) => `${l}\n`).join(""));
  }
  return state;
}

/** Complete lines in a result file: cheap progress while bfcl-eval is writing it. */
export function countResultLines(file: string): number {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return 0;
  }
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** The first line of a bfcl-eval score file: the category's accuracy and counts. */
export async function readScoreFile(file: string): Promise<CategoryScore> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch {
    throw new BfclEvalError(`bfcl-eval wrote no score file at ${file}`);
  }
  const first = text.slice(0, text.indexOf("\n") === -1 ? undefined : text.indexOf("\n"));
  let head: { accuracy?: unknown; correct_count?: unknown; total_count?: unknown };
  try {
    head = JSON.parse(first) as typeof head;
  } catch {
    throw new BfclEvalError(`${file}: first line is not JSON`);
  }
  const { accuracy, correct_count: correct, total_count: total } = head;
  if (typeof accuracy !== "number" || typeof correct !== "number" || typeof total !== "number" || !Number.isInteger(correct) || !Number.isInteger(total)) {
    throw new BfclEvalError(`${file}: expected {"accuracy": number, "correct_count": int, "total_count": int} on the first line, got ${first.slice(0, 200)}`);
  }
  return { accuracy, correct, total };
}

/**
 * data_overall.csv (one model row) -> column -> fraction, or null for "N/A". The package joins
 * fields with commas without quoting, which is why the shim's display name has no comma.
 */
export function parseOverallCsv(text: string, file = "data_overall.csv"): PackageSummary {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines[0]?.split(",");
  const row = lines[1]?.split(",");
  if (!header || !row) throw new BfclEvalError(`${file}: expected a header and one model row`);
  if (row.length !== header.length) throw new BfclEvalError(`${file}: header has ${header.length} columns, row has ${row.length}`);
  const out: PackageSummary = {};
  header.forEach((column, i) => {
    const cell = (row[i] ?? "").trim();
    if (cell === "N/A") out[column] = null;
    else if (/^-?\d+(\.\d+)?%$/.test(cell)) out[column] = Number(cell.slice(0, -1)) / 100;
  });
  return out;
}

/** Where bfcl-eval writes a category's result and score files below a model folder. */
export function categorySubdir(packageCategory: string): string {
  if (packageCategory.startsWith("multi_turn")) return "multi_turn";
  if (packageCategory.startsWith("live_")) return "live";
  return "non_live";
}

export function resultFilePath(resultDir: string, info: BfclPackageInfo, packageCategory: string): string {
  return path.join(resultDir, BFCL_REGISTRY_NAME, categorySubdir(packageCategory), `${info.prefix}_${packageCategory}_result.json`);
}

export function scoreFilePath(scoreDir: string, info: BfclPackageInfo, packageCategory: string): string {
  return path.join(scoreDir, BFCL_REGISTRY_NAME, categorySubdir(packageCategory), `${info.prefix}_${packageCategory}_score.json`);
}
