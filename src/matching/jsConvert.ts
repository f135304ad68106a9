import { PyCrash, setKey } from "./pyValue.js";
import { PY_END, pyFloatParse, pyInner, pyIntParse, pyStripChars } from "./pyText.js";

/**
 * Port of bfcl_eval's js_type_converter (bfcl-eval 2026.3.23): JavaScript source text -> value.
 * Unparseable text stays a string, like the original.
 */
export const JS_TYPE_CONVERSION: Record<string, "str" | "int" | "float" | "bool" | "dict" | "list"> = {
  String: "str",
  integer: "int",
  float: "float",
  Bigint: "int",
  Boolean: "bool",
  dict: "dict",
  array: "list",
  any: "str",
};

const INT_RE = new RegExp(`^-?\\d+${PY_END}`);
const FLOAT_RE = new RegExp(`^-?\\d+(\\.\\d+)?${PY_END}`);
const BIGINT_RE = new RegExp(`^-?\\d+n${PY_END}`);
const ARRAY_2D_RE = /^(?:\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\))/;
const ARRAY_RE = /^(?:\[(.*?)\]|\bnew\s+Array\((.*?)\))/;
const DICT_RE = /^\{(.*?)\}/;
const PAIR_RE = /([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)/g;

function isQuoted(v: string): boolean {
  return (v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"));
}

function mustInt(s: string): number | bigint {
  const n = pyIntParse(s);
  if (n === undefined) throw new PyCrash(`invalid literal for int(): '${s}'`);
  return n;
}

export function jsTypeConverter(value: string, expectedType: string, nestedType?: string): unknown {
  if (!(expectedType in JS_TYPE_CONVERSION)) throw new PyCrash(`Unsupported type: ${expectedType}`);
  switch (expectedType) {
    case "String":
      return isQuoted(value) ? pyInner(value) : value;
    case "integer":
      return INT_RE.test(value) ? mustInt(value) : value;
    case "float": {
      if (!FLOAT_RE.test(value)) return value;
      return pyFloatParse(value);
    }
    case "Bigint":
      return BIGINT_RE.test(value) ? mustInt(value.slice(0, -1)) : value;
    case "Boolean":
      return value === "true" ? true : value === "false" ? false : value;
    case "dict":
      return parseJsCollection(value, "dict", nestedType);
    case "array":
      return parseJsCollection(value, "array", nestedType);
    default:
      return value; // any
  }
}

export function parseJsCollection(rawCode: string, kind: "array" | "dict", nestedType?: string): unknown {
  const code = rawCode.trim();
  if (kind === "array") {
    try {
      const m2 = ARRAY_2D_RE.exec(code);
      if (m2) {
        const inner = [...m2[0].matchAll(/\[(.*?)\]/g)];
        return inner.map((m, idx) => {
          let s = m[1]!.trim();
          if (idx === 0 && s.startsWith("[")) s = s.slice(1);
          return s.split(",").map((e) => parseJsValue(e.trim()));
        });
      }
      const m = ARRAY_RE.exec(code);
      if (!m) return code;
      const body = m[1] ?? m[2];
      const trimmed = body === undefined ? "" : body.trim();
      const elements = trimmed ? trimmed.split(",") : [];
      if (nestedType) {
        return elements.map((e) => {
          const t = e.trim();
          return t.startsWith("'") || t.startsWith('"') ? jsTypeConverter(t, nestedType, "String") : jsTypeConverter(t, nestedType);
        });
      }
      return elements.map((e) => parseJsValue(e.trim()));
    } catch (err) {
      // The original swallows every error here and keeps the source text.
      if (err instanceof PyCrash) return code;
      throw err;
    }
  }
  if (code === "{}") return {};
  const m = DICT_RE.exec(code);
  if (!m) return code;
  const out: Record<string, unknown> = {};
  for (const pair of m[1]!.matchAll(PAIR_RE)) {
    const key = pyStripChars(pair[1]!.trim(), "'\"");
    const value = pair[2]!.trim();
    if (value.startsWith("[") && value.endsWith("]")) setKey(out, key, parseJsCollection(value, "array"));
    else if (value.startsWith("{") && value.endsWith("}")) setKey(out, key, parseJsCollection(value, "dict"));
    else setKey(out, key, parseJsValue(pyStripChars(value, "'\"")));
  }
  return out;
}

export function parseJsValue(raw: string): unknown {
  const s = raw.trim();
  if (s === "true") return true;
  if (s === "false") return false;
  if (isQuoted(s)) return pyInner(s);
  const i = pyIntParse(s);
  if (i !== undefined) return i;
  const f = pyFloatParse(s);
  if (f !== undefined) return f;
  return s;
}
