import { PyCrash, setKey } from "./pyValue.js";
import { PY_END, pyFloatParse, pyInner, pyIntParse } from "./pyText.js";

/**
 * Port of bfcl_eval's java_type_converter (bfcl-eval 2026.3.23): converts the source text a model
 * produced for a Java parameter into a Python-model value. Text that does not fit the expected
 * type stays a string (so the type check fails later), exactly like the original.
 */
export const JAVA_TYPE_CONVERSION: Record<string, "int" | "float" | "bool" | "str" | "list" | "dict" | "set"> = {
  byte: "int",
  short: "int",
  integer: "int",
  float: "float",
  double: "float",
  long: "int",
  boolean: "bool",
  char: "str",
  Array: "list",
  ArrayList: "list",
  Set: "set",
  HashMap: "dict",
  Hashtable: "dict",
  Queue: "list",
  Stack: "list",
  String: "str",
  any: "str",
};

const INT_RE = new RegExp(`^-?\\d+${PY_END}`);
const FLOAT_F_RE = new RegExp(`^-?\\d+(\\.\\d+)?([eE][+-]?\\d+)?[fF]${PY_END}`);
const DOUBLE_RE = new RegExp(`^-?\\d+(\\.\\d+)?([eE][+-]?\\d+)?${PY_END}`);
const LONG_RE = new RegExp(`^-?\\d+[lL]${PY_END}`);
const F_SUFFIX = new RegExp(`[fF]${PY_END}`);
const L_SUFFIX = new RegExp(`[lL]${PY_END}`);

function mustInt(s: string): number | bigint {
  const n = pyIntParse(s);
  if (n === undefined) throw new PyCrash(`invalid literal for int(): '${s}'`);
  return n;
}

function mustFloat(s: string): unknown {
  const n = pyFloatParse(s);
  if (n === undefined) throw new PyCrash(`could not convert string to float: '${s}'`);
  return n;
}

export function javaTypeConverter(value: string, expectedType: string, nestedType?: string): unknown {
  if (!(expectedType in JAVA_TYPE_CONVERSION)) throw new PyCrash(`Unsupported type: ${expectedType}`);
  switch (expectedType) {
    case "byte":
    case "short":
    case "integer":
      return INT_RE.test(value) ? mustInt(value) : value;
    case "float":
      return FLOAT_F_RE.test(value) ? mustFloat(value.replace(F_SUFFIX, "")) : value;
    case "double":
      return DOUBLE_RE.test(value) ? mustFloat(value) : value;
    case "long":
      return LONG_RE.test(value) ? mustInt(value.replace(L_SUFFIX, "")) : value;
    case "boolean":
      return value === "true" ? true : value === "false" ? false : value;
    case "char":
      // The original pattern `^\'.$\'` can never match, so chars always stay strings.
      return value;
    case "Array":
      return parseArray(value, nestedType);
    case "ArrayList":
      return parseArrayList(value, nestedType);
    case "HashMap":
      return parseHashMap(value);
    case "String":
    case "any":
      return value;
    default:
      throw new PyCrash(`${expectedType} conversion is not implemented`);
  }
}

function convertElement(text: string, nestedType: string | undefined): unknown {
  return nestedType ? javaTypeConverter(text, nestedType) : parseJavaValue(text);
}

function parseArrayList(input: string, nestedType?: string): unknown {
  const asList = /new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)/.exec(input);
  if (asList) {
    return asList[1]!.split(",").map((raw) => {
      const el = raw.trim();
      if (nestedType === "char" || nestedType === "String") return pyInner(el);
      return convertElement(el, nestedType);
    });
  }
  const adds = /new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}/s.exec(input);
  if (adds) {
    const out: unknown[] = [];
    for (const m of adds[1]!.matchAll(/add\((.+?)\)/g)) {
      const el = m[1]!.trim();
      if (nestedType === "char" || nestedType === "String") out.push(pyInner(el));
      else out.push(convertElement(el, nestedType));
    }
    return out;
  }
  if (/new\s+ArrayList<\w*>\(\)/.test(input)) return [];
  return input;
}

function parseArray(input: string, nestedType?: string): unknown {
  const m = /new\s+\w+\[\]\s*\{(.*?)\}/.exec(input);
  if (!m) return input;
  return m[1]!
    .split(",")
    .filter((x) => x.trim() !== "")
    .map((x) => convertElement(x.trim(), nestedType));
}

function parseHashMap(input: string): unknown {
  const m = /new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}/s.exec(input);
  if (m) {
    const out: Record<string, unknown> = {};
    const puts = m[1]!;
    if (puts.trim() !== "") {
      for (const p of puts.matchAll(/put\("(.*?)",\s*(.*?)\)/g)) setKey(out, p[1]!, parseJavaValue(p[2]!.trim()));
    }
    return out;
  }
  if (/new\s+HashMap<.*?>\s*\(\)/.test(input)) return {};
  return input;
}

/** Untyped element parse (parse_java_value). */
export function parseJavaValue(s: string): unknown {
  if (s === "true") return true;
  if (s === "false") return false;
  if (s.startsWith('"') && s.endsWith('"')) return pyInner(s);
  if (LONG_RE.test(s)) return mustInt(s.slice(0, -1));
  if (FLOAT_F_RE.test(s)) return mustFloat(s.replace(F_SUFFIX, ""));
  const i = pyIntParse(s);
  if (i !== undefined) return i;
  const f = pyFloatParse(s);
  if (f !== undefined) return f;
  return s;
}
