import type { BfclAnswer, DecodedCall, FunctionDoc } from "./types.js";
import { maxBipartiteMatching } from "./assignment.js";
import { findDescription, firstKey, languageOf, simpleFunctionChecker, type BfclCall, type Language, type SingleCheck } from "./bfclChecker.js";
import { PyCrash, isDict } from "./pyValue.js";

export type MatchMode = "bfcl" | "strict";

export interface MatchReason {
  call?: number;
  expectedCall?: number;
  function?: string;
  param?: string;
  code: string;
  message: string;
  expected?: unknown;
  got?: unknown;
}

export interface MatchResult {
  valid: boolean;
  /** BFCL's error type string, e.g. "simple_function_checker:wrong_func_name". */
  errorType?: string;
  reasons: MatchReason[];
  divergence?: { bfcl: boolean; strict: boolean; note: string };
}

export interface MatchParams {
  calls: DecodedCall[];
  functions: FunctionDoc[];
  label: BfclAnswer | { reference: DecodedCall[] };
  /** BFCL category name: picks the checker (parallel / multiple / simple) and language rules. */
  category?: string;
  mode: MatchMode;
  /** BFCL's underscore_to_dot: expected names have "." replaced by "_" (FC models whose tool names were sanitised). */
  underscoreToDot?: boolean;
}

export const CHECKER_CRASH = "checker_crash";
const WRONG_FORMAT = "ast_decoder:decoder_wrong_output_format";

type CheckerKind = "parallel" | "multiple" | "simple";

function checkerKind(category: string | undefined, answer: BfclAnswer, functions: FunctionDoc[]): CheckerKind {
  if (category !== undefined) {
    if (category.includes("parallel")) return "parallel";
    if (category.includes("multiple")) return "multiple";
    return "simple";
  }
  if (answer.length > 1) return "parallel";
  return functions.length > 1 ? "multiple" : "simple";
}

interface CategoryInfo {
  relevance: boolean;
  language: Language;
  kind: CheckerKind;
}
const categoryInfoCache = new Map<string, CategoryInfo>();

function categoryInfo(category: string): CategoryInfo {
  let info = categoryInfoCache.get(category);
  if (info === undefined) {
    info = { relevance: category.includes("relevance"), language: languageOf(category), kind: checkerKind(category, [], []) };
    categoryInfoCache.set(category, info);
  }
  return info;
}

function toAnswer(label: MatchParams["label"]): BfclAnswer {
  if (Array.isArray(label)) return label;
  return label.reference.map((c) => ({ [c.name]: Object.fromEntries(Object.entries(c.args).map(([k, v]) => [k, [v]])) }));
}

function reasonOf(check: SingleCheck, call: number | undefined, expectedCall: number | undefined, fn: string | undefined): MatchReason {
  const r: MatchReason = { code: check.errorType ?? "unknown", message: check.message ?? check.errorType ?? "check failed" };
  if (call !== undefined) r.call = call;
  if (expectedCall !== undefined) r.expectedCall = expectedCall;
  if (fn !== undefined) r.function = fn;
  if (check.param !== undefined) r.param = check.param;
  if (check.expected !== undefined) r.expected = check.expected;
  if (check.got !== undefined) r.got = check.got;
  return r;
}

function invalid(errorType: string, message: string, extra: Partial<MatchReason> = {}): MatchResult {
  return { valid: false, errorType, reasons: [{ code: errorType, message, ...extra }] };
}

/**
 * Compares decoded calls with a BFCL label (or a reference call list). `bfcl` mode reproduces the
 * official checker (bfcl-eval 2026.3.23) exactly, including its greedy parallel matching; `strict`
 * uses an optimal assignment for parallel calls and reports where the two verdicts differ.
 */
export function matchCalls(p: MatchParams): MatchResult {
  const category = p.category;
  if (category !== undefined && category.includes("relevance")) return relevanceVerdict(category, p.calls.length);
  const calls: BfclCall[] = [];
  for (const [i, c] of p.calls.entries()) {
    if (!isDict(c.args)) return invalid(WRONG_FORMAT, `call ${i} (${c.name}) has non-object arguments`, { call: i });
    calls.push({ [c.name]: c.args });
  }
  return matchBfclCalls(calls, p.functions, toAnswer(p.label), category, p.mode, p.underscoreToDot ?? false);
}

/** matchCalls on calls already in BFCL's `{name: args}` form (no conversion; used by the CLI path). */
export function matchBfclCalls(calls: BfclCall[], functions: FunctionDoc[], answer: BfclAnswer, category: string | undefined, mode: MatchMode, underscoreToDot = false): MatchResult {
  const info = category === undefined ? undefined : categoryInfo(category);
  if (info?.relevance) return relevanceVerdict(category!, calls.length);
  const ctx: Ctx = { docs: functions, language: info?.language ?? "python", underscoreToDot };
  try {
    switch (info?.kind ?? checkerKind(undefined, answer, functions)) {
      case "parallel":
        return mode === "bfcl" ? parallelGreedy(ctx, calls, answer) : parallelOptimal(ctx, calls, answer);
      case "multiple":
        return multiple(ctx, calls, answer);
      default:
        return simple(ctx, calls, answer);
    }
  } catch (err) {
    if (err instanceof PyCrash) {
      return invalid(CHECKER_CRASH, `the official checker raises on this input: ${err.message}`);
    }
    throw err;
  }
}

interface Ctx {
  docs: FunctionDoc[];
  language: Language;
  underscoreToDot: boolean;
}

function relevanceVerdict(category: string, callCount: number): MatchResult {
  const hasCall = callCount > 0;
  if (category.includes("irrelevance")) {
    return hasCall
      ? invalid("irrelevance_error:decoder_success", `expected no call, got ${callCount}`, { got: callCount })
      : { valid: true, reasons: [] };
  }
  return hasCall ? { valid: true, reasons: [] } : invalid("relevance_error:decoder_failed", "expected at least one call, got none");
}

function singleVerdict(check: SingleCheck, call: number, fn: string | undefined): MatchResult {
  return check.valid ? { valid: true, reasons: [] } : { valid: false, errorType: check.errorType, reasons: [reasonOf(check, call, 0, fn)] };
}

function simple(ctx: Ctx, calls: BfclCall[], answer: BfclAnswer): MatchResult {
  if (calls.length !== 1) {
    return invalid("simple_function_checker:wrong_count", `expected exactly 1 call, got ${calls.length}`, { got: calls.length });
  }
  const doc = ctx.docs[0];
  const expected = answer[0];
  if (expected === undefined) throw new PyCrash("IndexError: possible answer is empty");
  return singleVerdict(simpleFunctionChecker(doc, calls[0]!, expected, ctx.language, ctx.underscoreToDot), 0, doc?.name);
}

function multiple(ctx: Ctx, calls: BfclCall[], answer: BfclAnswer): MatchResult {
  if (calls.length !== answer.length) {
    return invalid("multiple_function_checker:wrong_count", `expected ${answer.length} call(s), got ${calls.length}`, { got: calls.length });
  }
  const expected = answer[0];
  if (expected === undefined) throw new PyCrash("IndexError: possible answer is empty");
  const name = firstKey(expected);
  const doc = findDescription(ctx.docs, name);
  return singleVerdict(simpleFunctionChecker(doc, calls[0]!, expected, ctx.language, ctx.underscoreToDot), 0, name);
}

function parallelCountCheck(calls: BfclCall[], answer: BfclAnswer): MatchResult | undefined {
  if (calls.length === answer.length) return undefined;
  return invalid("parallel_function_checker_no_order:wrong_count", `expected ${answer.length} calls, got ${calls.length}`, {
    expected: answer.length,
    got: calls.length,
  });
}

const CANNOT_MATCH = "parallel_function_checker_no_order:cannot_find_match";

/** parallel_function_checker_no_order: for each expected call, the first unused model call that passes. */
function parallelGreedy(ctx: Ctx, calls: BfclCall[], answer: BfclAnswer): MatchResult {
  const countError = parallelCountCheck(calls, answer);
  if (countError) return countError;
  const used: boolean[] = new Array<boolean>(calls.length).fill(false);
  for (let e = 0; e < answer.length; e++) {
    const expected = answer[e]!;
    const name = firstKey(expected);
    const doc = findDescription(ctx.docs, name);
    const reasons: MatchReason[] = [];
    let matched = false;
    for (let m = 0; m < calls.length; m++) {
      if (used[m]) continue;
      const r = simpleFunctionChecker(doc, calls[m]!, expected, ctx.language, ctx.underscoreToDot);
      if (r.valid) {
        used[m] = true;
        matched = true;
        break;
      }
      reasons.push(reasonOf(r, m, e, name));
    }
    if (!matched) {
      reasons.unshift({ code: CANNOT_MATCH, expectedCall: e, function: name, message: `no unmatched model call satisfies expected call ${e} (${name})` });
      return { valid: false, errorType: CANNOT_MATCH, reasons };
    }
  }
  return { valid: true, reasons: [] };
}

/** Optimal assignment over the full pass/fail matrix; also reports the greedy verdict when it differs. */
function parallelOptimal(ctx: Ctx, calls: BfclCall[], answer: BfclAnswer): MatchResult {
  const countError = parallelCountCheck(calls, answer);
  if (countError) return countError;
  const checks: SingleCheck[][] = answer.map((expected) => {
    const name = Object.keys(expected)[0] ?? "";
    const doc = findDescription(ctx.docs, name);
    return calls.map((call) => {
      try {
        return simpleFunctionChecker(doc, call, expected, ctx.language, ctx.underscoreToDot);
      } catch (err) {
        if (err instanceof PyCrash) return { valid: false, errorType: CHECKER_CRASH, message: err.message };
        throw err;
      }
    });
  });
  const ok = checks.map((row) => row.map((c) => c.valid));
  const assignment = maxBipartiteMatching(ok, calls.length);
  const strictValid = assignment.every((m) => m >= 0);
  const greedyValid = greedyFromMatrix(ok, calls.length);
  const reasons: MatchReason[] = [];
  if (!strictValid) {
    for (const [e, m] of assignment.entries()) {
      if (m >= 0) continue;
      const name = Object.keys(answer[e]!)[0] ?? "";
      reasons.push({ code: CANNOT_MATCH, expectedCall: e, function: name, message: `no model call can be assigned to expected call ${e} (${name})` });
      checks[e]!.forEach((c, mi) => {
        if (!c.valid) reasons.push(reasonOf(c, mi, e, name));
      });
    }
  }
  const result: MatchResult = strictValid ? { valid: true, reasons } : { valid: false, errorType: CANNOT_MATCH, reasons };
  if (greedyValid !== strictValid) {
    result.divergence = {
      bfcl: greedyValid,
      strict: strictValid,
      note: "BFCL's greedy matching took a model call that a later expected call needed; an optimal assignment exists",
    };
  }
  return result;
}

function greedyFromMatrix(ok: boolean[][], modelCount: number): boolean {
  const used = new Set<number>();
  for (const row of ok) {
    let found = -1;
    for (let m = 0; m < modelCount; m++) {
      if (!used.has(m) && row[m]) {
        found = m;
        break;
      }
    }
    if (found < 0) return false;
    used.add(found);
  }
  return true;
}
