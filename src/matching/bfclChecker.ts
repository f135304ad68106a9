import type { FunctionDoc, ParamDoc } from "./types.js";
import { JAVA_TYPE_CONVERSION, javaTypeConverter } from "./javaConvert.js";
import { JS_TYPE_CONVERSION, jsTypeConverter } from "./jsConvert.js";
import { PyCrash, PyFloat, isDict, pyEq, pyIn, pyIter, pyLen, pyType, type PyTypeName } from "./pyValue.js";

/**
 * Faithful port of bfcl_eval/eval_checker/ast_eval/ast_checker.py from bfcl-eval 2026.3.23
 * (same logic as the v3 checker at the data commit). Comments mark where the original has
 * surprising behaviour that we reproduce on purpose. Values follow the pyValue.ts model.
 */
export type Language = "python" | "java" | "javascript";

export interface SingleCheck {
  valid: boolean;
  errorType?: string;
  message?: string;
  param?: string;
  expected?: unknown;
  got?: unknown;
}

/** A decoded model call in BFCL's shape: `{fname: {param: value}}`. */
export type BfclCall = Record<string, Record<string, unknown>>;

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

const fail = (errorType: string, message: string, extra: Partial<SingleCheck> = {}): SingleCheck => ({
  valid: false,
  errorType,
  message,
  ...extra,
});
const OK: SingleCheck = { valid: true };

function possibleAnswerType(candidates: unknown[]): PyTypeName | undefined {
  for (const c of candidates) if (c !== "") return pyType(c);
  return undefined;
}

interface TypeCheck extends SingleCheck {
  isVariable: boolean;
}
// Shared results for the (hot) passing paths; never mutated.
const VALID_PLAIN: TypeCheck = Object.freeze({ valid: true, isVariable: false });
const VALID_VARIABLE: TypeCheck = Object.freeze({ valid: true, isVariable: true });

function typeChecker(
  param: string,
  value: unknown,
  candidates: unknown,
  expected: PyTypeName,
  nested: PyTypeName | undefined,
): TypeCheck {
  const cands = pyIter(candidates);
  const paType = possibleAnswerType(cands);
  // A candidate of a different type than the doc declares marks the param as a "variable".
  const isVariable = paType !== undefined && paType !== expected;
  let result: TypeCheck = { valid: true, isVariable: false, errorType: "type_error:simple" };
  const vt = pyType(value);
  if (vt === expected) {
    if (nested === undefined) return isVariable ? VALID_VARIABLE : VALID_PLAIN;
    for (const item of cands) {
      let flag = true; // non-list candidates (e.g. "") leave flag true: the nested check passes
      if (pyType(item) === "list") {
        for (const v of pyIter(value)) {
          if (!typeChecker(param, v, item, nested, undefined).valid) {
            flag = false;
            break;
          }
        }
      }
      if (flag) return isVariable ? VALID_VARIABLE : VALID_PLAIN;
    }
    // The original does not return here: it falls through to the variable check below.
    result = {
      valid: false,
      isVariable: false,
      errorType: "type_error:nested",
      message: `Nested type checking failed for parameter '${param}': expected ${expected} of ${nested}.`,
      param,
      got: value,
    };
  }
  if (paType !== undefined && vt === paType) return { ...result, isVariable: true };
  return {
    valid: false,
    isVariable: false,
    errorType: "type_error:simple",
    message: `Incorrect type for parameter '${param}'. Expected type ${expected}, got ${vt}. `,
    param,
    expected,
    got: value,
  };
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
  const stdValue = value.map(stdIfString); // tuples become lists here (list(model_output))
  for (const c of pyIter(candidates)) {
    const stdCandidate = standardizedCandidates(c);
    if (pyEq(stdValue, stdCandidate)) return OK;
  }
  return fail("value_error:list/tuple", `Invalid value for parameter '${param}'.`, {
    param,
    expected: candidates,
    got: value,
  });
}

function dictChecker(param: string, value: Record<string, unknown>, candidates: unknown): SingleCheck {
  let result: SingleCheck = { valid: false, errorType: "dict_checker:unclear", message: `No acceptable dict for '${param}'.`, param };
  for (const candidate of pyIter(candidates)) {
    if (candidate === "") continue;
    if (!isDict(candidate)) throw new PyCrash(`dict candidate for '${param}' is ${pyType(candidate)}`);
    result = { valid: false, errorType: "dict_checker:unclear", param };
    let flag = true;
    for (const [key, v] of Object.entries(value)) {
      if (!Object.prototype.hasOwnProperty.call(candidate, key)) {
        result = fail("value_error:dict_key", `Unexpected dict key parameter: '${key}'.`, { param: `${param}.${key}`, got: v });
        flag = false;
        break;
      }
      const stdCands = standardizedCandidates(candidate[key]);
      if (!pyIn(stdIfString(v), stdCands)) {
        result = fail("value_error:dict_value", `Invalid value for dict key '${key}' of parameter '${param}'.`, {
          param: `${param}.${key}`,
          expected: candidate[key],
          got: v,
        });
        flag = false;
        break;
      }
    }
    // Note: the original runs this loop even after a failure above; only the error text changes.
    for (const [key, acceptable] of Object.entries(candidate)) {
      if (!Object.prototype.hasOwnProperty.call(value, key) && !pyIn("", acceptable)) {
        result = fail("value_error:dict_key", `Missing dict key parameter: '${key}'.`, { param: `${param}.${key}`, expected: acceptable });
        flag = false;
        break;
      }
    }
    if (flag) return OK;
  }
  return result;
}

function listDictChecker(param: string, value: unknown[], candidates: unknown): SingleCheck {
  let result: SingleCheck = { valid: false, errorType: "list_dict_checker:unclear", message: `No acceptable list of dicts for '${param}'.`, param };
  for (const candidate of pyIter(candidates)) {
    let flag = true;
    if (value.length !== pyLen(candidate)) {
      result = fail("value_error:list_dict_count", "Wrong number of dictionaries in the list.", { param, expected: candidate, got: value });
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
  return result;
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
  /** Standardised string candidates (string_checker), built on first use. */
  stdStrings?: Set<string>;
  stdList?: string[];
}

interface CompiledCall {
  doc: FunctionDoc;
  language: Language;
  underscoreToDot: boolean;
  funcName: string;
  required: string[];
  params: Map<string, CompiledParam>;
  /** Answer params without "" among their candidates, in answer order. */
  mandatory: string[];
}

/**
 * Labels are checked against many outputs, so their per-parameter facts are computed once and
 * kept on the answer object under a non-enumerable symbol (invisible to JSON and Object.keys;
 * faster than a WeakMap lookup on this hot path).
 */
const COMPILED = Symbol("toolloop.compiledAnswer");
type WithCompiled = { [COMPILED]?: CompiledCall };

function compileCall(doc: FunctionDoc, answer: Record<string, Record<string, unknown[]>>, language: Language, underscoreToDot: boolean): CompiledCall {
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
  const params = new Map<string, CompiledParam>();
  const mandatory: string[] = [];
  for (const param in possible) {
    const candidates = possible[param] as unknown[];
    if (!pyIn("", candidates)) mandatory.push(param);
    if (!Object.prototype.hasOwnProperty.call(paramDetails, param)) continue;
    params.set(param, compileParam(paramDetails[param]!, candidates, language));
  }
  const compiled: CompiledCall = { doc, language, underscoreToDot, funcName, required: requiredParams, params, mandatory };
  if (Object.isExtensible(answer)) Object.defineProperty(answer, COMPILED, { value: compiled, writable: true, configurable: true, enumerable: false });
  return compiled;
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
    p.paType = possibleAnswerType(pyIter(candidates));
  } catch (err) {
    if (!(err instanceof PyCrash)) throw err;
    p.crash = err.message;
  }
  return p;
}

/** simple_function_checker. `answer` is one `{fname: {param: [candidates]}}` object. */
export function simpleFunctionChecker(
  doc: FunctionDoc | undefined,
  call: BfclCall,
  answer: Record<string, Record<string, unknown[]>>,
  language: Language,
  underscoreToDot: boolean,
): SingleCheck {
  if (doc === undefined) throw new PyCrash("'NoneType' object is not subscriptable (expected function not in docs)");
  const c = compileCall(doc, answer, language, underscoreToDot);
  const modelParams = call[c.funcName];
  if (modelParams === undefined || !Object.prototype.hasOwnProperty.call(call, c.funcName)) {
    let got: string | undefined;
    for (const k in call) {
      got = k;
      break;
    }
    return { valid: false, errorType: "simple_function_checker:wrong_func_name", message: `Function name '${c.funcName}' not found in model output.`, expected: c.funcName, got };
  }
  for (const p of c.required) {
    if (!Object.prototype.hasOwnProperty.call(modelParams, p)) {
      return { valid: false, errorType: "simple_function_checker:missing_required", message: `Missing required parameter: '${p}'.`, param: p };
    }
  }
  for (const param in modelParams) {
    const cp = c.params.get(param);
    if (cp === undefined) {
      return { valid: false, errorType: "simple_function_checker:unexpected_param", message: `Unexpected parameter: '${param}'.`, param, got: modelParams[param] };
    }
    const r = checkParam(param, modelParams[param], cp, language);
    if (r !== undefined) return r;
  }
  for (const param of c.mandatory) {
    if (!Object.prototype.hasOwnProperty.call(modelParams, param)) {
      return { valid: false, errorType: "simple_function_checker:missing_optional", message: `Optional parameter '${param}' not provided and not marked as optional.`, param, expected: c.params.get(param)?.candidates };
    }
  }
  return OK;
}

/** string_checker: standardize(value) among the standardised string candidates. */
function stringMatches(value: string, cp: CompiledParam): boolean {
  let list = cp.stdList;
  if (list === undefined) {
    const set = new Set<string>();
    for (const x of pyIter(cp.candidates)) if (typeof x === "string") set.add(standardizeString(x));
    cp.stdStrings = set;
    list = cp.stdList = [...set];
  }
  for (let k = 0; k < list.length; k++) {
    const r = asciiStandardEquals(value, list[k]!);
    if (r === 1) return true;
    if (r === -1) return cp.stdStrings!.has(standardizeString(value));
  }
  return false;
}

/**
 * Compares standardizeString(value) with an already standardised string without allocating:
 * 1 equal, 0 different, -1 value has non-ASCII text (caller falls back to the full rules).
 */
function asciiStandardEquals(value: string, std: string): number {
  let j = 0;
  const n = std.length;
  for (let i = 0; i < value.length; i++) {
    let c = value.charCodeAt(i);
    if (c >= 128) return -1;
    // ignored: space , . / - _ * ^
    if (c === 32 || c === 44 || c === 46 || c === 47 || c === 45 || c === 95 || c === 42 || c === 94) continue;
    if (c >= 65 && c <= 90) c += 32;
    else if (c === 39) c = 34;
    if (j >= n || std.charCodeAt(j) !== c) {
      // Keep scanning for non-ASCII so the verdict never depends on where the mismatch was.
      for (let k = i + 1; k < value.length; k++) if (value.charCodeAt(k) >= 128) return -1;
      return 0;
    }
    j++;
  }
  return j === n ? 1 : 0;
}

/** Checks one parameter; undefined means it passed. */
function checkParam(param: string, rawValue: unknown, cp: CompiledParam, language: Language): SingleCheck | undefined {
  if (cp.crash !== undefined) throw new PyCrash(cp.crash);
  const { typeDesc, expected, nested, candidates } = cp;
  let value = rawValue;
  if (language !== "python") {
    if (typeof value !== "string") {
      return { valid: false, errorType: language === "java" ? "type_error:java" : "type_error:js", message: `Incorrect type for parameter '${param}'. Expected type String, got ${pyType(value)}.`, param, got: value };
    }
    const convert = language === "java" ? javaTypeConverter : jsTypeConverter;
    value = cp.nestedType !== undefined ? convert(value, typeDesc, cp.nestedType) : convert(value, typeDesc);
  }
  const vt0 = pyType(value);
  if (typeDesc === "tuple" && vt0 === "tuple") value = [...(value as unknown[])];
  // Python only: an int is accepted where a float is declared (top level only).
  if (language === "python" && typeDesc === "float" && vt0 === "int") value = new PyFloat(value as number);

  let isVariable: boolean;
  if (nested === undefined && pyType(value) === expected) {
    isVariable = cp.paType !== undefined && cp.paType !== expected;
  } else {
    const tc = typeChecker(param, value, candidates, expected, nested);
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
      return { valid: false, errorType: "value_error:string", message: `Invalid value for parameter '${param}'. Case insensitive.`, param, expected: candidates, got: value };
    }
    if (expected === "list") {
      const r = listChecker(param, value as unknown[], candidates);
      return r.valid ? undefined : r;
    }
  }
  if (!pyIn(value, candidates)) {
    return { valid: false, errorType: "value_error:others", message: `Invalid value for parameter '${param}'.`, param, expected: candidates, got: value };
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
