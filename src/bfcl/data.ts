import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BfclAnswer, FunctionDoc } from "../matching/types.js";
import { parsePyJson } from "../matching/pyJson.js";
import { BFCL_FAST_CATEGORIES } from "./categoryNames.js";
import { rejectUnsafeIntegers } from "./unsafeIntegers.js";

/** The 13 single-turn (non-multi-turn) BFCL v3 categories (one list: src/bfcl/categoryNames.ts). */
export const BFCL_SINGLE_TURN_CATEGORIES: readonly string[] = BFCL_FAST_CATEGORIES;

/** Categories scored by "is there a call at all" (no possible-answer file). */
export function isRelevanceCategory(category: string): boolean {
  return category.includes("relevance");
}

export interface BfclEntry {
  id: string;
  category: string;
  question: unknown;
  function: FunctionDoc[];
  answer?: BfclAnswer;
}

export class BfclDataError extends Error {}

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new BfclDataError("cannot locate the repository root (no package.json above this module)");
    dir = parent;
  }
}

/** Data dir: explicit argument, else $BFCL_DATA_DIR, else ../shared/bfcl next to the repository. */
export function resolveBfclDataDir(dataDir?: string): string {
  if (dataDir) return path.resolve(dataDir);
  const env = process.env.BFCL_DATA_DIR;
  if (env) return path.resolve(env);
  // The workspace's shared copy when there is one, else the copy vendored with the repo (same
  // files, Apache-2.0, see data/bfcl/SOURCE.md), so a clone anywhere can check and probe.
  const shared = path.resolve(findRepoRoot(), "..", "shared", "bfcl");
  return existsSync(shared) ? shared : path.resolve(findRepoRoot(), "data", "bfcl");
}

export function assertKnownCategory(category: string): void {
  if (!BFCL_SINGLE_TURN_CATEGORIES.includes(category)) {
    throw new BfclDataError(`unknown BFCL category "${category}"; valid categories: ${BFCL_SINGLE_TURN_CATEGORIES.join(", ")}`);
  }
}

async function readJsonLines<T>(file: string, parse: (line: string, lineNumber: number) => unknown): Promise<T[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BfclDataError(code === "ENOENT" ? `BFCL data file not found: ${file}` : `cannot read ${file}: ${(err as Error).message}`);
  }
  const out: T[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      out.push(parse(line, i + 1) as T);
    } catch (err) {
      if (err instanceof BfclDataError) throw err;
      throw new BfclDataError(`${file} line ${i + 1}: invalid JSON (${(err as Error).message})`);
    }
  });
  return out;
}

/**
 * A question file's line, read with JSON.parse: none of BFCL v3's holds an integer a double cannot
 * hold (src/bfcl/unsafeIntegers.ts checks), so a line that does fails here, naming the file and line,
 * rather than being compared and sent rounded.
 */
function readQuestionLine(line: string, file: string, lineNumber: number): unknown {
  rejectUnsafeIntegers(line, file, lineNumber, (message) => new BfclDataError(message));
  return JSON.parse(line);
}

/** Loads one category's entries, joined with their possible answers (keeps Python int/float distinction). */
export async function loadBfclCategory(category: string, dataDir?: string): Promise<BfclEntry[]> {
  assertKnownCategory(category);
  const dir = resolveBfclDataDir(dataDir);
  if (!existsSync(dir)) throw new BfclDataError(`BFCL data directory not found: ${dir} (set --data or BFCL_DATA_DIR)`);
  const questionFile = path.join(dir, "data", `BFCL_v3_${category}.json`);
  const raw = await readJsonLines<{ id?: unknown; question?: unknown; function?: unknown }>(questionFile, (l, n) => readQuestionLine(l, questionFile, n));
  const entries: BfclEntry[] = raw.map((r, i) => {
    if (typeof r.id !== "string" || !Array.isArray(r.function)) {
      throw new BfclDataError(`${questionFile} entry ${i + 1}: missing "id" or "function"`);
    }
    return { id: r.id, category, question: r.question, function: r.function as FunctionDoc[] };
  });
  if (isRelevanceCategory(category)) return entries;
  const answerFile = path.join(dir, "possible_answer", `BFCL_v3_${category}.json`);
  const answers = await readJsonLines<{ id?: unknown; ground_truth?: unknown }>(answerFile, parsePyJson);
  const byId = new Map<string, BfclAnswer>();
  for (const a of answers) if (typeof a.id === "string" && Array.isArray(a.ground_truth)) byId.set(a.id, a.ground_truth as BfclAnswer);
  for (const e of entries) {
    const answer = byId.get(e.id);
    if (!answer) throw new BfclDataError(`${answerFile}: no possible answer for id ${e.id}`);
    e.answer = answer;
  }
  return entries;
}

/** Synchronous variant for tests and benchmarks that need all data at once. */
export function readBfclCategorySync(category: string, dataDir?: string): BfclEntry[] {
  assertKnownCategory(category);
  const dir = resolveBfclDataDir(dataDir);
  const read = (f: string) =>
    readFileSync(f, "utf8")
      .split("\n")
      .map((line, i) => ({ line, lineNumber: i + 1 }))
      .filter(({ line }) => line.trim() !== "");
  const questionFile = path.join(dir, "data", `BFCL_v3_${category}.json`);
  const entries: BfclEntry[] = read(questionFile).map(({ line, lineNumber }) => {
    const r = readQuestionLine(line, questionFile, lineNumber) as { id: string; question: unknown; function: FunctionDoc[] };
    return { id: r.id, category, question: r.question, function: r.function };
  });
  if (isRelevanceCategory(category)) return entries;
  const byId = new Map<string, BfclAnswer>();
  for (const { line } of read(path.join(dir, "possible_answer", `BFCL_v3_${category}.json`))) {
    const a = parsePyJson(line) as { id: string; ground_truth: BfclAnswer };
    byId.set(a.id, a.ground_truth);
  }
  for (const e of entries) {
    const answer = byId.get(e.id);
    if (answer) e.answer = answer;
  }
  return entries;
}
