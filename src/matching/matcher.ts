import type { BfclAnswer, DecodedCall, FunctionDoc } from "./types.js";
import { maxBipartiteMatching } from "./assignment.js";
import {
  checkCompiledCall,
  compileCall,
  setDetailed,
  passesCompiledCall,
  findDescription,
  firstKey,
  languageOf,
  simpleFunctionChecker,
  type CompiledCall,
  type Language,
  SingleCheck,
} from "./bfclChecker.js";
import { MatchCall } from "./matchCall.js";
import { PyCrash, isDict, setKey } from "./pyValue.js";

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

/**
 * Reasons and results are built through these classes so that each has one shape whatever fields
 * it carries (absent ones are undefined, which JSON leaves out): the checker builds one for every
 * failing output, and objects built field by field took several shapes and extra allocations.
 */
class Reason implements MatchReason {
  code: string;
  message: string;
  call: number | undefined;
  expectedCall: number | undefined;
  function: string | undefined;
  param: string | undefined;
  expected: unknown;
  got: unknown;
  constructor(code: string, message: string, call?: number, expectedCall?: number, fn?: string, param?: string, expected?: unknown, got?: unknown) {
    this.code = code;
    this.message = message;
    this.call = call;
    this.expectedCall = expectedCall;
    this.function = fn;
    this.param = param;
    this.expected = expected;
    this.got = got;
  }

  /** Stored reasons (probe results' jsonb, `toolloop bfcl check`'s lines) are JSON: see jsonSafeValue. */
  toJSON(): MatchReason {
    return { ...this, expected: jsonSafeValue(this.expected), got: jsonSafeValue(this.got) };
  }
}

/**
 * A value for JSON.stringify, which throws on a bigint (an int past 2^53): such an int is written as
 * its digits in a string, the one exact form JSON.stringify can give it (a rounded number would show
 * two different ids as one). Everything else as it is.
 */
function jsonSafeValue(v: unknown): unknown {
  if (typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return v.map(jsonSafeValue);
  if (isDict(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) setKey(out, k, jsonSafeValue(v[k]));
    return out;
  }
  return v;
}

class Result implements MatchResult {
  divergence: MatchResult["divergence"];
  constructor(
    public valid: boolean,
    public errorType: string | undefined,
    public reasons: MatchReason[],
  ) {
    this.divergence = undefined;
  }
}

/**
 * The plain "valid" result, shared on the hot path and never mutated (not frozen: a frozen object
 * has a shape of its own); the exported functions copy it.
 */
export const VALID_MATCH: MatchResult = new Result(true, undefined, Object.freeze([]) as unknown as MatchReason[]);
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

export interface CategoryInfo {
  relevance: boolean;
  language: Language;
  kind: CheckerKind;
}
const categoryInfoCache = new Map<string, CategoryInfo>();

/** Facts derived from a BFCL category name (cached: category strings repeat across entries). */
let lastCategory: string | undefined;
let lastCategoryInfo: CategoryInfo | undefined;
export function categoryInfo(category: string): CategoryInfo {
  // Entries come in runs of one category: the last answer is usually the one asked for again.
  if (category === lastCategory) return lastCategoryInfo!;
  let info = categoryInfoCache.get(category);
  if (info === undefined) {
    info = { relevance: category.includes("relevance"), language: languageOf(category), kind: checkerKind(category, [], []) };
    categoryInfoCache.set(category, info);
  }
  lastCategory = category;
  lastCategoryInfo = info;
  return info;
}

function toAnswer(label: MatchParams["label"]): BfclAnswer {
  if (Array.isArray(label)) return label;
  return label.reference.map((c) => ({ [c.name]: Object.fromEntries(Object.entries(c.args).map(([k, v]) => [k, [v]])) }));
}

function reasonOf(check: SingleCheck, call: number | undefined, expectedCall: number | undefined, fn: string | undefined): MatchReason {
  return new Reason(
    check.errorType ?? "unknown",
    check.message ?? check.errorType ?? "check failed",
    call,
    expectedCall,
    fn,
    check.param,
    check.expected,
    check.got,
  );
}

/**
 * Whether failures carry reasons. Off for verdict-only matching (matchWithCategory's `detail`):
 * a failure is then the shared bare result of its error type, with no reasons.
 */
let detail = true;
const NO_REASONS = Object.freeze([]) as unknown as MatchReason[];
const bareResults = new Map<string | undefined, MatchResult>();
let lastBare: MatchResult | undefined;
function bareResult(errorType: string | undefined): MatchResult {
  if (lastBare !== undefined && lastBare.errorType === errorType) return lastBare;
  let r = bareResults.get(errorType);
  if (r === undefined) bareResults.set(errorType, (r = new Result(false, errorType, NO_REASONS)));
  lastBare = r;
  return r;
}

function invalid(errorType: string, message: string, extra?: Partial<MatchReason>): MatchResult {
  const reason =
    extra === undefined
      ? new Reason(errorType, message)
      : new Reason(errorType, message, extra.call, extra.expectedCall, extra.function, extra.param, extra.expected, extra.got);
  return new Result(false, errorType, [reason]);
}

/**
 * Compares decoded calls with a BFCL label (or a reference call list). `bfcl` mode reproduces the
 * official checker (bfcl-eval 2026.3.23) exactly, including its greedy parallel matching; `strict`
 * uses an optimal assignment for parallel calls and reports where the two verdicts differ.
 */
export function matchCalls(p: MatchParams): MatchResult {
  const category = p.category;
  if (category !== undefined && category.includes("relevance")) {
    const r = relevanceVerdict(category, p.calls.length);
    return r === VALID_MATCH ? new Result(true, undefined, []) : r;
  }
  const calls: MatchCall[] = [];
  for (const [i, c] of p.calls.entries()) {
    if (!isDict(c.args)) return invalid(WRONG_FORMAT, `call ${i} (${c.name}) has non-object arguments`, { call: i });
    calls.push(MatchCall.fromArgs(c.name, c.args));
  }
  return matchBfclCalls(calls, p.functions, toAnswer(p.label), category, p.mode, p.underscoreToDot ?? false);
}

/** matchCalls on calls already in the matcher's working form (MatchCall; see matchCall.ts). */
export function matchBfclCalls(
  calls: MatchCall[],
  functions: FunctionDoc[],
  answer: BfclAnswer,
  category: string | undefined,
  mode: MatchMode,
  underscoreToDot = false,
): MatchResult {
  const r = matchWithCategory(calls, functions, answer, category, category === undefined ? undefined : categoryInfo(category), mode, underscoreToDot);
  return r === VALID_MATCH ? new Result(true, undefined, []) : r;
}

/** matchBfclCalls with the category already looked up; may return the shared VALID_MATCH. */
export function matchWithCategory(
  calls: MatchCall[],
  functions: FunctionDoc[],
  answer: BfclAnswer,
  category: string | undefined,
  info: CategoryInfo | undefined,
  mode: MatchMode,
  underscoreToDot: boolean,
  withReasons = true,
): MatchResult {
  // Verdict-only matching (withReasons false): the same verdict and error type, no reasons.
  const detailBefore = detail;
  const checkerBefore = setDetailed(withReasons);
  detail = withReasons;
  try {
    return matchInCategory(calls, functions, answer, category, info, mode, underscoreToDot);
  } finally {
    detail = detailBefore;
    setDetailed(checkerBefore);
  }
}

function matchInCategory(
  calls: MatchCall[],
  functions: FunctionDoc[],
  answer: BfclAnswer,
  category: string | undefined,
  info: CategoryInfo | undefined,
  mode: MatchMode,
  underscoreToDot: boolean,
): MatchResult {
  if (info?.relevance) return relevanceVerdict(category!, calls.length);
  const language = info?.language ?? "python";
  try {
    switch (info?.kind ?? checkerKind(undefined, answer, functions)) {
      case "parallel":
        return mode === "bfcl"
          ? parallelGreedy(functions, language, underscoreToDot, calls, answer)
          : parallelOptimal({ docs: functions, language, underscoreToDot }, calls, answer);
      case "multiple":
        return multiple(functions, language, underscoreToDot, calls, answer);
      default:
        return simple(functions, language, underscoreToDot, calls, answer);
    }
  } catch (err) {
    if (err instanceof PyCrash) {
      if (!detail) return bareResult(CHECKER_CRASH);
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
    if (hasCall && !detail) return bareResult("irrelevance_error:decoder_success");
    return hasCall ? invalid("irrelevance_error:decoder_success", `expected no call, got ${callCount}`, { got: callCount }) : VALID_MATCH;
  }
  if (!hasCall && !detail) return bareResult("relevance_error:decoder_failed");
  return hasCall ? VALID_MATCH : invalid("relevance_error:decoder_failed", "expected at least one call, got none");
}

function singleVerdict(check: SingleCheck, call: number, fn: string | undefined): MatchResult {
  if (check.valid) return VALID_MATCH;
  return detail ? new Result(false, check.errorType, [reasonOf(check, call, 0, fn)]) : bareResult(check.errorType);
}

/**
 * An expected call resolved against the docs: its name, the doc the checker uses, and the compiled
 * answer, or the error the original would raise when it reaches this call.
 */
interface ResolvedExpected {
  name: string;
  doc: FunctionDoc | undefined;
  compiled: CompiledCall | undefined;
  crash: PyCrash | undefined;
}

interface ResolvedAnswer {
  docs: FunctionDoc[];
  language: Language;
  underscoreToDot: boolean;
  /** simple_function_checker is given the first doc (simple category) rather than the named one. */
  firstDoc: boolean;
  calls: ResolvedExpected[];
}

/**
 * The same label is checked against many outputs: doc lookups and compilation are done once per
 * answer list and cached on it under a non-enumerable symbol (all answer arrays share one shape,
 * so this lookup stays fast, unlike lookups keyed on the varied answer objects).
 */
const RESOLVED = Symbol("toolloop.resolvedAnswer");
type WithResolved = { [RESOLVED]?: ResolvedAnswer };

function resolveAnswer(docs: FunctionDoc[], language: Language, underscoreToDot: boolean, answer: BfclAnswer, firstDoc: boolean): ResolvedAnswer {
  const cached = (answer as WithResolved)[RESOLVED];
  if (
    cached !== undefined &&
    cached.docs === docs &&
    cached.language === language &&
    cached.underscoreToDot === underscoreToDot &&
    cached.firstDoc === firstDoc
  ) {
    return cached;
  }
  return buildResolved(docs, language, underscoreToDot, answer, firstDoc);
}

// Separate from resolveAnswer so that the closure below does not make every call allocate a context.
function buildResolved(docs: FunctionDoc[], language: Language, underscoreToDot: boolean, answer: BfclAnswer, firstDoc: boolean): ResolvedAnswer {
  const calls: ResolvedExpected[] = answer.map((expected) => {
    const name = firstKey(expected);
    const doc = firstDoc ? docs[0] : findDescription(docs, name);
    let compiled: CompiledCall | undefined;
    let crash: PyCrash | undefined;
    if (doc === undefined) crash = new PyCrash("'NoneType' object is not subscriptable (expected function not in docs)");
    else {
      try {
        compiled = compileCall(doc, expected, language, underscoreToDot);
      } catch (err) {
        if (!(err instanceof PyCrash)) throw err;
        crash = err;
      }
    }
    return { name, doc, compiled, crash };
  });
  const resolved: ResolvedAnswer = { docs, language, underscoreToDot, firstDoc, calls };
  if (Object.isExtensible(answer)) Object.defineProperty(answer, RESOLVED, { value: resolved, writable: true, configurable: true, enumerable: false });
  return resolved;
}

/** simple_function_checker for resolved expected call; raises as the original would. */
function checkResolved(e: ResolvedExpected, call: MatchCall): SingleCheck {
  if (e.compiled === undefined) throw e.crash!;
  return checkCompiledCall(e.compiled, call);
}

function simple(docs: FunctionDoc[], language: Language, underscoreToDot: boolean, calls: MatchCall[], answer: BfclAnswer): MatchResult {
  if (calls.length !== 1) {
    if (!detail) return bareResult("simple_function_checker:wrong_count");
    return invalid("simple_function_checker:wrong_count", `expected exactly 1 call, got ${calls.length}`, { got: calls.length });
  }
  if (answer.length === 0) throw new PyCrash("IndexError: possible answer is empty");
  const e = resolveAnswer(docs, language, underscoreToDot, answer, true).calls[0]!;
  return singleVerdict(checkResolved(e, calls[0]!), 0, e.doc?.name);
}

function multiple(docs: FunctionDoc[], language: Language, underscoreToDot: boolean, calls: MatchCall[], answer: BfclAnswer): MatchResult {
  if (calls.length !== answer.length) {
    if (!detail) return bareResult("multiple_function_checker:wrong_count");
    return invalid("multiple_function_checker:wrong_count", `expected ${answer.length} call(s), got ${calls.length}`, { got: calls.length });
  }
  if (answer.length === 0) throw new PyCrash("IndexError: possible answer is empty");
  const e = resolveAnswer(docs, language, underscoreToDot, answer, false).calls[0]!;
  return singleVerdict(checkResolved(e, calls[0]!), 0, e.name);
}

function parallelCountCheck(calls: MatchCall[], answer: BfclAnswer): MatchResult | undefined {
  if (calls.length === answer.length) return undefined;
  if (!detail) return bareResult("parallel_function_checker_no_order:wrong_count");
  return invalid("parallel_function_checker_no_order:wrong_count", `expected ${answer.length} calls, got ${calls.length}`, {
    expected: answer.length,
    got: calls.length,
  });
}

const CANNOT_MATCH = "parallel_function_checker_no_order:cannot_find_match";

/** parallel_function_checker_no_order: for each expected call, the first unused model call that passes. */
function parallelGreedy(docs: FunctionDoc[], language: Language, underscoreToDot: boolean, calls: MatchCall[], answer: BfclAnswer): MatchResult {
  const countError = parallelCountCheck(calls, answer);
  if (countError) return countError;
  const resolved = resolveAnswer(docs, language, underscoreToDot, answer, false).calls;
  // Model calls already taken: a bit set while it fits in an int (always, in practice).
  const usedList: boolean[] | undefined = calls.length > 30 ? new Array<boolean>(calls.length).fill(false) : undefined;
  let usedBits = 0;
  for (let e = 0; e < resolved.length; e++) {
    const expected = resolved[e]!;
    let matched = false;
    for (let m = 0; m < calls.length; m++) {
      if (usedList === undefined ? (usedBits & (1 << m)) !== 0 : usedList[m]) continue;
      const compiled = expected.compiled;
      if (compiled === undefined) throw expected.crash!;
      // A call with another name fails at once; only same-name pairs are checked (without details).
      const call = calls[m]!;
      if (call.name === compiled.funcName && passesCompiledCall(compiled, call)) {
        if (usedList === undefined) usedBits |= 1 << m;
        else usedList[m] = true;
        matched = true;
        break;
      }
    }
    if (!matched) {
      if (!detail) return bareResult(CANNOT_MATCH);
      // Only now are the failed attempts checked again for their details (checks are pure).
      const reasons: MatchReason[] = [
        new Reason(CANNOT_MATCH, `no unmatched model call satisfies expected call ${e} (${expected.name})`, undefined, e, expected.name),
      ];
      for (let m = 0; m < calls.length; m++)
        if (usedList === undefined ? (usedBits & (1 << m)) === 0 : !usedList[m])
          reasons.push(reasonOf(checkResolved(expected, calls[m]!), m, e, expected.name));
      return new Result(false, CANNOT_MATCH, reasons);
    }
  }
  return VALID_MATCH;
}

/** Optimal assignment over the full pass/fail matrix; also reports the greedy verdict when it differs. */
function parallelOptimal(ctx: Ctx, calls: MatchCall[], answer: BfclAnswer): MatchResult {
  const countError = parallelCountCheck(calls, answer);
  if (countError) return countError;
  const checks: SingleCheck[][] = answer.map((expected) => {
    const name = Object.keys(expected)[0] ?? "";
    const doc = findDescription(ctx.docs, name);
    return calls.map((call) => {
      try {
        return simpleFunctionChecker(doc, call, expected, ctx.language, ctx.underscoreToDot);
      } catch (err) {
        if (err instanceof PyCrash) return new SingleCheck(false, CHECKER_CRASH, err.message);
        throw err;
      }
    });
  });
  const ok = checks.map((row) => row.map((c) => c.valid));
  const assignment = maxBipartiteMatching(ok, calls.length);
  const strictValid = assignment.every((m) => m >= 0);
  const greedyValid = greedyFromMatrix(ok, calls.length);
  if (!strictValid && !detail) return bareResult(CANNOT_MATCH);
  const reasons: MatchReason[] = [];
  if (!strictValid) {
    for (const [e, m] of assignment.entries()) {
      if (m >= 0) continue;
      const name = Object.keys(answer[e]!)[0] ?? "";
      reasons.push(new Reason(CANNOT_MATCH, `no model call can be assigned to expected call ${e} (${name})`, undefined, e, name));
      checks[e]!.forEach((c, mi) => {
        if (!c.valid) reasons.push(reasonOf(c, mi, e, name));
      });
    }
  }
  const result: MatchResult = strictValid ? new Result(true, undefined, reasons) : new Result(false, CANNOT_MATCH, reasons);
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
