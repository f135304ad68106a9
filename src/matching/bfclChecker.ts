import type { FunctionDoc, ParamDoc } from "./types.js";
import type { MatchCall } from "./matchCall.js";
import { JAVA_TYPE_CONVERSION, javaTypeConverter } from "./javaConvert.js";
import { JS_TYPE_CONVERSION, jsTypeConverter } from "./jsConvert.js";
import { PyCrash, PyFloat, isDict, isTuple, pyEq, pyIn, pyIntToFloat, pyIter, pyLen, pyType, type PyTypeName } from "./pyValue.js";

/**
 * Faithful port of bfcl_eval/eval_checker/ast_eval/ast_checker.py from bfcl-eval 2026.3.23
 * (same logic as the v3 checker at the data commit). Comments mark where the original has
 * surprising behaviour that we reproduce on purpose. Values follow the pyValue.ts model.
 */
export type Language = "python" | "java" | "javascript";

/**
 * The result of one check. A class, so that every result has one shape: the matcher reads these
 * fields for every call it checks, and results of many shapes made those reads megamorphic.
 * Absent fields are undefined.
 */
export class SingleCheck {
  constructor(
    readonly valid: boolean,
    readonly errorType?: string,
    readonly message?: string,
    readonly param?: string,
    readonly expected?: unknown,
    readonly got?: unknown,
    /** type_checker's is_variable (set on its results only). */
    readonly isVariable = false,
  ) {}
}

const PYTHON_TYPE_MAPPING: Record<string, PyTypeName> = {
  string: "str",
  integer: "int",
  float: "float",
  boolean: "bool",
  array: "list",
  tuple: "list",
  dict: "dict",
  any: "str",
};
const PYTHON_NESTED_TYPE_CHECK_LIST = new Set(["array", "tuple"]);
const NESTED_CONVERSION_TYPE_LIST = new Set(["Array", "ArrayList", "array"]);

export function languageOf(category: string | undefined): Language {
  if (!category) return "python";
  if (category.includes("javascript")) return "javascript";
  if (category.includes("java")) return "java";
  return "python";
}

/** Python's standardize_string. */
const IGNORED_CHARS = /[ ,./\-_*^]/g;
export function standardizeString(s: string): string {
  const lowered = s.replace(IGNORED_CHARS, "").toLowerCase();
  return lowered.includes("'") ? lowered.replace(/'/g, '"') : lowered;
}

/** A failed check. */
function fail(errorType: string, message: string, param: string, expected?: unknown, got?: unknown): SingleCheck {
  return new SingleCheck(false, errorType, message, param, expected, got);
}
// Shared results for the (hot) passing paths and the verdict-only failures; never mutated.
const OK = new SingleCheck(true);

/**
 * When false, failures return a shared result carrying only their error type (the same type the
 * detailed result would have) instead of building messages and details: for callers that only
 * need the verdict (rewards, scoring; parallel matching tries many pairs that fail and reports
 * them only when an expected call finds no match, and then re-checks in detail).
 */
let detailed = true;

/** Sets whether failures carry details; returns the previous setting for the caller to restore. */
export function setDetailed(detail: boolean): boolean {
  const before = detailed;
  detailed = detail;
  return before;
}

/** The shared verdict-only failure for an error type. */
const bareFailures = new Map<string, SingleCheck>();
function bare(errorType: string, isVariable = false): SingleCheck {
  const key = isVariable ? `${errorType}\u0000variable` : errorType;
  let r = bareFailures.get(key);
  if (r === undefined) bareFailures.set(key, (r = new SingleCheck(false, errorType, undefined, undefined, undefined, undefined, isVariable)));
  return r;
}
const FAILED_NESTED: TypeCheck = bare("type_error:nested", true);
const FAILED_TYPE: TypeCheck = bare("type_error:simple");
const FAILED_LIST = bare("value_error:list/tuple");
const FAILED_WRONG_NAME = bare("simple_function_checker:wrong_func_name");
const FAILED_UNEXPECTED = bare("simple_function_checker:unexpected_param");
const FAILED_MISSING_REQUIRED = bare("simple_function_checker:missing_required");
const FAILED_MISSING_OPTIONAL = bare("simple_function_checker:missing_optional");
const FAILED_JAVA_TYPE = bare("type_error:java");
const FAILED_JS_TYPE = bare("type_error:js");
const FAILED_STRING = bare("value_error:string");
const FAILED_OTHERS = bare("value_error:others");

function possibleAnswerType(candidates: unknown[]): PyTypeName | undefined {
  // Indexed loops on the hot paths: for-of iterators are not always optimised away.
  for (let i = 0; i < candidates.length; i++) if (candidates[i] !== "") return pyType(candidates[i]);
  return undefined;
}

/** type_checker's result: a SingleCheck whose isVariable is meaningful. */
type TypeCheck = SingleCheck;
const VALID_PLAIN: TypeCheck = OK;
const VALID_VARIABLE: TypeCheck = new SingleCheck(true, undefined, undefined, undefined, undefined, undefined, true);
/** The original's initial result with is_variable set: valid, but still carrying its error type. */
const VALID_VARIABLE_SIMPLE: TypeCheck = new SingleCheck(true, "type_error:simple", undefined, undefined, undefined, undefined, true);

/** type_checker; `cands` is the iterated possible answer and `paType` its possibleAnswerType. */
function typeChecker(
  param: string,
  value: unknown,
  cands: unknown[],
  paType: PyTypeName | undefined,
  expected: PyTypeName,
  nested: PyTypeName | undefined,
): TypeCheck {
  // A candidate of a different type than the doc declares marks the param as a "variable".
  const isVariable = paType !== undefined && paType !== expected;
  let nestedFailed = false;
  const vt = pyType(value);
  if (vt === expected) {
    if (nested === undefined) return isVariable ? VALID_VARIABLE : VALID_PLAIN;
    for (let ci = 0; ci < cands.length; ci++) {
      const item = cands[ci];
      let flag = true; // non-list candidates (e.g. "") leave flag true: the nested check passes
      if (pyType(item) === "list") {
        // The original recurses into type_checker(v, item, nested) without a nested type, which
        // passes exactly when v has the nested type or the type of item's first non-"" entry.
        const itemType = possibleAnswerType(item as unknown[]);
        const values = pyIter(value);
        for (let vi = 0; vi < values.length; vi++) {
          const t = pyType(values[vi]);
          if (t !== nested && (itemType === undefined || t !== itemType)) {
            flag = false;
            break;
          }
        }
      }
      if (flag) return isVariable ? VALID_VARIABLE : VALID_PLAIN;
    }
    // The original does not return here: it falls through to the variable check below.
    nestedFailed = true;
  }
  if (paType !== undefined && vt === paType) {
    if (!nestedFailed) return VALID_VARIABLE_SIMPLE;
    if (!detailed) return FAILED_NESTED;
    // The nested failure, now marked as a variable.
    return new SingleCheck(
      false,
      "type_error:nested",
      `Nested type checking failed for parameter '${param}': expected ${expected} of ${nested}.`,
      param,
      undefined,
      value,
      true,
    );
  }
  if (!detailed) return FAILED_TYPE;
  return new SingleCheck(false, "type_error:simple", `Incorrect type for parameter '${param}'. Expected type ${expected}, got ${vt}. `, param, expected, value);
}

const stdIfString = (v: unknown): unknown => (typeof v === "string" ? standardizeString(v) : v);

const STD_CACHE = Symbol("toolloop.standardized");
/**
 * Standardised copy of a label's candidate sequence (strings standardised, other items as is),
 * cached on the label array under a non-enumerable symbol: labels are immutable inputs here.
 */
function standardizedCandidates(c: unknown): unknown[] {
  if (Array.isArray(c)) {
    const holder = c as unknown as { [STD_CACHE]?: unknown[] };
    let cached = holder[STD_CACHE];
    if (cached === undefined) {
      cached = c.map(stdIfString);
      if (Object.isExtensible(c)) Object.defineProperty(c, STD_CACHE, { value: cached, enumerable: false, configurable: true, writable: true });
    }
    return cached;
  }
  return pyIter(c).map(stdIfString);
}

function listChecker(param: string, value: unknown[], candidates: unknown): SingleCheck {
  // Python compares the standardised list(model_output) (a list, even for a tuple) with each
  // standardised candidate; this does the same element by element without building the copy.
  const cands = pyIter(candidates);
  for (let ci = 0; ci < cands.length; ci++) {
    const stdCandidate = standardizedCandidates(cands[ci]);
    if (isTuple(stdCandidate) || stdCandidate.length !== value.length) continue;
    let equal = true;
    for (let i = 0; i < value.length && equal; i++) {
      const v = value[i];
      const sc = stdCandidate[i];
      equal = typeof v === "string" ? typeof sc === "string" && standardEquals(v, sc) : pyEq(v, sc);
    }
    if (equal) return OK;
  }
  if (!detailed) return FAILED_LIST;
  return fail("value_error:list/tuple", `Invalid value for parameter '${param}'.`, param, candidates, value);
}

function dictChecker(param: string, value: Record<string, unknown>, candidates: unknown): SingleCheck {
  let result: SingleCheck | undefined;
  const cands = pyIter(candidates);
  for (let ci = 0; ci < cands.length; ci++) {
    const candidate = cands[ci];
    if (candidate === "") continue;
    if (!isDict(candidate)) throw new PyCrash(`dict candidate for '${param}' is ${pyType(candidate)}`);
    let flag = true;
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(candidate, key)) {
        result = fail("value_error:dict_key", `Unexpected dict key parameter: '${key}'.`, `${param}.${key}`, undefined, value[key]);
        flag = false;
        break;
      }
      const v = value[key];
      if (!standardizedIn(v, standardizedCandidates(candidate[key]))) {
        result = fail("value_error:dict_value", `Invalid value for dict key '${key}' of parameter '${param}'.`, `${param}.${key}`, candidate[key], v);
        flag = false;
        break;
      }
    }
    // Note: the original runs this loop even after a failure above; only the error text changes.
    for (const key in candidate) {
      const acceptable = candidate[key];
      if (!Object.prototype.hasOwnProperty.call(value, key) && !pyIn("", acceptable)) {
        result = fail("value_error:dict_key", `Missing dict key parameter: '${key}'.`, `${param}.${key}`, acceptable);
        flag = false;
        break;
      }
    }
    if (flag) return OK;
  }
  return result ?? new SingleCheck(false, "dict_checker:unclear", `No acceptable dict for '${param}'.`, param);
}

/** pyIn(stdIfString(v), stdCands) without building the standardised copy of v. */
function standardizedIn(v: unknown, stdCands: unknown[]): boolean {
  if (typeof v !== "string") return pyIn(v, stdCands);
  for (let i = 0; i < stdCands.length; i++) {
    const c = stdCands[i];
    if (typeof c === "string" && standardEquals(v, c)) return true;
  }
  return false;
}

function listDictChecker(param: string, value: unknown[], candidates: unknown): SingleCheck {
  let result: SingleCheck | undefined;
  const cands = pyIter(candidates);
  for (let ci = 0; ci < cands.length; ci++) {
    const candidate = cands[ci];
    let flag = true;
    if (value.length !== pyLen(candidate)) {
      result = fail("value_error:list_dict_count", "Wrong number of dictionaries in the list.", param, candidate, value);
      continue;
    }
    const items = pyIter(candidate);
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (!isDict(item)) throw new PyCrash(`'${pyType(item)}' object has no attribute 'items'`);
      result = dictChecker(param, item, [items[i]]);
      if (!result.valid) {
        flag = false;
        break;
      }
    }
    if (flag) return OK;
  }
  return result ?? new SingleCheck(false, "list_dict_checker:unclear", `No acceptable list of dicts for '${param}'.`, param);
}

function required<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new PyCrash(`KeyError: ${what}`);
  return v;
}

interface CompiledParam {
  /** Set when the original would raise while handling this parameter. */
  crash?: string;
  typeDesc: string;
  expected: PyTypeName;
  nested: PyTypeName | undefined;
  nestedType: string | undefined;
  candidates: unknown[];
  paType: PyTypeName | undefined;
  /** pyIter(candidates); set unless `crash` is. */
  iterated?: unknown[];
  /** Standardised string candidates (string_checker), built on first use. */
  stdStrings?: Set<string>;
  stdList?: string[];
  /**
   * Strings whose standardised form is among stdStrings by construction: the raw candidates, and
   * the all-ASCII standardised ones (standardising those again changes nothing). A hit skips the
   * character loops; a miss decides nothing.
   */
  knownGood?: Set<string>;
  knownGoodList?: string[];
}

/** What the checker needs to know about one model-output parameter name. */
interface ParamInfo {
  name: string;
  /** undefined: not both documented and in the possible answer (an unexpected parameter). */
  param: CompiledParam | undefined;
  required: boolean;
  /** In the possible answer without "" among its candidates. */
  mandatory: boolean;
}

export interface CompiledCall {
  doc: FunctionDoc;
  language: Language;
  underscoreToDot: boolean;
  funcName: string;
  required: string[];
  /** Distinct names in `required`. */
  requiredCount: number;
  /** Answer params without "" among their candidates, in answer order. */
  mandatory: string[];
  /** One lookup per model parameter: every documented-and-answered, required or mandatory name. */
  byName: Map<string, ParamInfo>;
  /** byName's values in answer order: outputs usually list parameters in that order, so the i-th
   * model parameter is tried against inOrder[i] (an identity compare of interned keys) before byName. */
  inOrder: ParamInfo[];
}

/**
 * Labels are checked against many outputs, so their per-parameter facts are computed once and
 * kept on the answer object under a non-enumerable symbol (invisible to JSON and Object.keys).
 */
const COMPILED = Symbol("toolloop.compiledAnswer");
type WithCompiled = { [COMPILED]?: CompiledCall };

/** Per-parameter facts of one expected call; throws PyCrash where the original would. */
export function compileCall(doc: FunctionDoc, answer: Record<string, Record<string, unknown[]>>, language: Language, underscoreToDot: boolean): CompiledCall {
  const cached = (answer as WithCompiled)[COMPILED];
  if (cached && cached.doc === doc && cached.language === language && cached.underscoreToDot === underscoreToDot) return cached;
  let possible: Record<string, unknown[]> | undefined;
  for (const k in answer) {
    possible = answer[k];
    break;
  }
  if (possible === undefined) throw new PyCrash("IndexError: possible answer is empty");
  const paramDetails = required(doc.parameters?.properties, "'properties'");
  const requiredParams = required(doc.parameters?.required, "'required'");
  let funcName = doc.name;
  if (underscoreToDot && funcName.includes(".")) funcName = funcName.replace(/\./g, "_");
  funcName = internalized(funcName);
  const byName = new Map<string, ParamInfo>();
  const infoOf = (name: string): ParamInfo => {
    let info = byName.get(name);
    if (info === undefined) byName.set(name, (info = { name, param: undefined, required: false, mandatory: false }));
    return info;
  };
  const mandatory: string[] = [];
  for (const param in possible) {
    const candidates = possible[param] as unknown[];
    if (!pyIn("", candidates)) {
      mandatory.push(param);
      infoOf(param).mandatory = true;
    }
    if (!Object.prototype.hasOwnProperty.call(paramDetails, param)) continue;
    infoOf(param).param = compileParam(paramDetails[param]!, candidates, language);
  }
  for (const p of requiredParams) infoOf(p).required = true;
  const compiled: CompiledCall = {
    doc,
    language,
    underscoreToDot,
    funcName,
    required: requiredParams,
    requiredCount: new Set(requiredParams).size,
    mandatory,
    byName,
    inOrder: [...byName.values()],
  };
  if (Object.isExtensible(answer)) Object.defineProperty(answer, COMPILED, { value: compiled, writable: true, configurable: true, enumerable: false });
  return compiled;
}

/**
 * The engine's interned copy of a string (property keys are interned): model-output keys read by
 * for-in are interned, so comparing them with an interned name is a pointer comparison.
 */
function internalized(s: string): string {
  for (const k in { [s]: 0 }) return k;
  return s;
}

function compileParam(details: ParamDoc, candidates: unknown[], language: Language): CompiledParam {
  const p: CompiledParam = { typeDesc: "", expected: "str", nested: undefined, nestedType: undefined, candidates, paType: undefined };
  try {
    p.typeDesc = required(details.type, "'type'");
    if (language === "python") {
      p.expected = required(PYTHON_TYPE_MAPPING[p.typeDesc], `python type '${p.typeDesc}'`);
      if (PYTHON_NESTED_TYPE_CHECK_LIST.has(p.typeDesc)) {
        p.nestedType = required(details.items?.type, "'items'");
        p.nested = required(PYTHON_TYPE_MAPPING[p.nestedType], `python type '${p.nestedType}'`);
      }
    } else {
      const table: Record<string, string> = language === "java" ? JAVA_TYPE_CONVERSION : JS_TYPE_CONVERSION;
      p.expected = required(table[p.typeDesc], `${language} type '${p.typeDesc}'`) as PyTypeName;
      if (NESTED_CONVERSION_TYPE_LIST.has(p.typeDesc)) {
        p.nestedType = required(details.items?.type, "'items'");
        p.nested = required(table[p.nestedType], `${language} type '${p.nestedType}'`) as PyTypeName;
      }
    }
    p.iterated = pyIter(candidates);
    p.paType = possibleAnswerType(p.iterated);
  } catch (err) {
    if (!(err instanceof PyCrash)) throw err;
    p.crash = err.message;
  }
  return p;
}

/** simple_function_checker. `answer` is one `{fname: {param: [candidates]}}` object. */
export function simpleFunctionChecker(
  doc: FunctionDoc | undefined,
  call: MatchCall,
  answer: Record<string, Record<string, unknown[]>>,
  language: Language,
  underscoreToDot: boolean,
): SingleCheck {
  if (doc === undefined) throw new PyCrash("'NoneType' object is not subscriptable (expected function not in docs)");
  return checkCompiledCall(compileCall(doc, answer, language, underscoreToDot), call);
}

/** checkCompiledCall(c, call).valid, without building failure details (same crashes). */
export function passesCompiledCall(c: CompiledCall, call: MatchCall): boolean {
  const before = detailed;
  detailed = false;
  try {
    return checkCompiledCall(c, call).valid;
  } finally {
    detailed = before;
  }
}

/**
 * simple_function_checker on a compiled answer. One pass over the model's arguments checks them
 * and counts the required and mandatory names present; the original's error precedence (missing
 * required, then per-parameter order, then missing optional) is kept by deferring the first
 * failure (or crash) until the required count is known.
 */
export function checkCompiledCall(c: CompiledCall, call: MatchCall): SingleCheck {
  // The original reads model_output[func_name]; a call in BFCL's shape has exactly one name.
  if (call.name !== c.funcName) {
    if (!detailed) return FAILED_WRONG_NAME;
    return new SingleCheck(
      false,
      "simple_function_checker:wrong_func_name",
      `Function name '${c.funcName}' not found in model output.`,
      undefined,
      c.funcName,
      call.name,
    );
  }
  const names = call.argNames;
  const values = call.argValues;
  const language = c.language;
  let failure: SingleCheck | undefined;
  let crashed = false;
  let crash: unknown;
  let requiredSeen = 0;
  let mandatorySeen = 0;
  const inOrder = c.inOrder;
  for (let position = 0; position < names.length; position++) {
    const param = names[position]!;
    // Outputs usually list parameters in the answer's order: try that one before the map.
    const guess = position < inOrder.length ? inOrder[position] : undefined;
    const info = guess !== undefined && guess.name === param ? guess : c.byName.get(param);
    if (info !== undefined && info.required) requiredSeen++;
    if (failure !== undefined || crashed) continue;
    const cp = info?.param;
    if (cp === undefined) {
      failure = !detailed
        ? FAILED_UNEXPECTED
        : new SingleCheck(false, "simple_function_checker:unexpected_param", `Unexpected parameter: '${param}'.`, param, undefined, values[position]);
      continue;
    }
    if (info!.mandatory) mandatorySeen++;
    try {
      failure = checkParam(param, values[position], cp, language);
    } catch (err) {
      crashed = true;
      crash = err;
    }
  }
  if (requiredSeen < c.requiredCount) {
    for (let i = 0; i < c.required.length; i++) {
      const p = c.required[i]!;
      if (call.indexOf(p) < 0) {
        if (!detailed) return FAILED_MISSING_REQUIRED;
        return new SingleCheck(false, "simple_function_checker:missing_required", `Missing required parameter: '${p}'.`, p);
      }
    }
  }
  if (crashed) throw crash;
  if (failure !== undefined) return failure;
  if (mandatorySeen < c.mandatory.length) {
    for (let i = 0; i < c.mandatory.length; i++) {
      const param = c.mandatory[i]!;
      if (call.indexOf(param) < 0) {
        if (!detailed) return FAILED_MISSING_OPTIONAL;
        return new SingleCheck(
          false,
          "simple_function_checker:missing_optional",
          `Optional parameter '${param}' not provided and not marked as optional.`,
          param,
          c.byName.get(param)?.param?.candidates,
        );
      }
    }
  }
  return OK;
}

/** string_checker: standardize(value) among the standardised string candidates. */
function stringMatches(value: string, cp: CompiledParam): boolean {
  let list = cp.stdList;
  if (list === undefined) {
    const set = new Set<string>();
    const knownGood = new Set<string>();
    for (const x of pyIter(cp.candidates)) {
      if (typeof x !== "string") continue;
      const std = standardizeString(x);
      set.add(std);
      knownGood.add(x);
      if (isAscii(std)) knownGood.add(std);
    }
    cp.stdStrings = set;
    cp.knownGood = knownGood;
    cp.knownGoodList = [...knownGood];
    list = cp.stdList = [...set];
  }
  // Few candidates (the usual case): comparing with each beats hashing the value.
  const good = cp.knownGoodList!;
  if (good.length <= 8) {
    for (let k = 0; k < good.length; k++) if (good[k] === value) return true;
  } else if (cp.knownGood!.has(value)) return true;
  if (!isAscii(value)) return cp.stdStrings!.has(standardizeString(value));
  for (let k = 0; k < list.length; k++) if (asciiStandardEqualsKnownAscii(value, list[k]!)) return true;
  return false;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 128) return false;
  return true;
}

/** standardizeString(value) === std for an all-ASCII value, without allocating. */
function asciiStandardEqualsKnownAscii(value: string, std: string): boolean {
  let j = 0;
  const n = std.length;
  const len = value.length;
  for (let i = 0; i < len; i++) {
    const m = ASCII_STANDARD[value.charCodeAt(i)]!;
    if (m < 0) continue;
    if (j >= n || std.charCodeAt(j) !== m) return false;
    j++;
  }
  return j === n;
}

/** standardize_string per ASCII code unit: -1 dropped (space , . / - _ * ^), else the code it becomes. */
const ASCII_STANDARD = (() => {
  const t = new Int16Array(128);
  for (let c = 0; c < 128; c++) t[c] = c >= 65 && c <= 90 ? c + 32 : c === 39 ? 34 : c;
  for (const ch of " ,./-_*^") t[ch.charCodeAt(0)] = -1;
  return t;
})();

/**
 * Compares standardizeString(value) with an already standardised string without allocating:
 * 1 equal, 0 different, -1 value has non-ASCII text (caller falls back to the full rules).
 */
function asciiStandardEquals(value: string, std: string): number {
  let j = 0;
  const n = std.length;
  const len = value.length;
  for (let i = 0; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128) return -1;
    const m = ASCII_STANDARD[c]!;
    if (m < 0) continue;
    if (j >= n || std.charCodeAt(j) !== m) {
      // Keep scanning for non-ASCII so the verdict never depends on where the mismatch was.
      for (let k = i + 1; k < len; k++) if (value.charCodeAt(k) >= 128) return -1;
      return 0;
    }
    j++;
  }
  return j === n ? 1 : 0;
}

/** standardizeString(value) === std, allocating only for non-ASCII values. */
function standardEquals(value: string, std: string): boolean {
  const r = asciiStandardEquals(value, std);
  return r === 1 || (r === -1 && standardizeString(value) === std);
}

/** Checks one parameter; undefined means it passed. */
function checkParam(param: string, rawValue: unknown, cp: CompiledParam, language: Language): SingleCheck | undefined {
  if (cp.crash !== undefined) throw new PyCrash(cp.crash);
  const { typeDesc, expected, nested, candidates } = cp;
  let value = rawValue;
  if (language !== "python") {
    if (typeof value !== "string") {
      if (!detailed) return language === "java" ? FAILED_JAVA_TYPE : FAILED_JS_TYPE;
      return new SingleCheck(
        false,
        language === "java" ? "type_error:java" : "type_error:js",
        `Incorrect type for parameter '${param}'. Expected type String, got ${pyType(value)}.`,
        param,
        undefined,
        value,
      );
    }
    const convert = language === "java" ? javaTypeConverter : jsTypeConverter;
    value = cp.nestedType !== undefined ? convert(value, typeDesc, cp.nestedType) : convert(value, typeDesc);
  }
  let vt = pyType(value);
  if (typeDesc === "tuple" && vt === "tuple") {
    value = [...(value as unknown[])];
    vt = "list";
  } else if (language === "python" && typeDesc === "float" && vt === "int") {
    // Python only: an int is accepted where a float is declared (top level only), as float(value).
    value = new PyFloat(pyIntToFloat(value as number | bigint));
    vt = "float";
  }

  let isVariable: boolean;
  if (nested === undefined && vt === expected) {
    isVariable = cp.paType !== undefined && cp.paType !== expected;
  } else {
    const tc = typeChecker(param, value, cp.iterated!, cp.paType, expected, nested);
    if (!tc.valid) return tc;
    isVariable = tc.isVariable;
  }

  if (!isVariable) {
    if (expected === "dict") {
      const r = dictChecker(param, value as Record<string, unknown>, candidates);
      return r.valid ? undefined : r;
    }
    if (expected === "list" && nested === "dict") {
      const r = listDictChecker(param, value as unknown[], candidates);
      return r.valid ? undefined : r;
    }
    if (expected === "str") {
      if (stringMatches(value as string, cp)) return undefined;
      if (!detailed) return FAILED_STRING;
      return new SingleCheck(false, "value_error:string", `Invalid value for parameter '${param}'. Case insensitive.`, param, candidates, value);
    }
    if (expected === "list") {
      const r = listChecker(param, value as unknown[], candidates);
      return r.valid ? undefined : r;
    }
  }
  if (!pyIn(value, candidates)) {
    if (!detailed) return FAILED_OTHERS;
    return new SingleCheck(false, "value_error:others", `Invalid value for parameter '${param}'.`, param, candidates, value);
  }
  return undefined;
}

/** find_description: the first doc with that name. */
export function findDescription(docs: FunctionDoc[], name: string): FunctionDoc | undefined {
  if (docs.length < 4) {
    for (let i = 0; i < docs.length; i++) if (docs[i]!.name === name) return docs[i];
    return undefined;
  }
  // Long doc lists (live_multiple) are searched often: index them once, keeping the first doc per name.
  const holder = docs as unknown as { [DOC_INDEX]?: Map<string, FunctionDoc> };
  let index = holder[DOC_INDEX];
  if (index === undefined || index.size === 0) {
    index = new Map();
    for (const d of docs) if (!index.has(d.name)) index.set(d.name, d);
    if (Object.isExtensible(docs)) Object.defineProperty(docs, DOC_INDEX, { value: index, enumerable: false, configurable: true, writable: true });
  }
  return index.get(name);
}
const DOC_INDEX = Symbol("toolloop.docIndex");

/** First key of a one-key call/answer object, without allocating a key array. */
export function firstKey(o: object): string {
  for (const k in o) return k;
  return "";
}
