import type { ParamDoc } from "../matching/types.js";
import { PyFloat, isDict, pyType } from "../matching/pyValue.js";

/**
 * Renders a Python-model value as the Java / JavaScript source text a model would write for a
 * parameter of the given doc type (BFCL's java/javascript outputs are source-text strings).
 * Used to turn possible answers into outputs for tests and benchmarks. Dict values must already
 * be concrete (one value per key, see mutate.ts), not candidate lists.
 */
export function renderJava(value: unknown, doc: ParamDoc | undefined): string {
  const type = doc?.type ?? "any";
  const itemType = doc?.items?.type;
  if (typeof value === "string") return type === "char" ? `'${value}'` : value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number" || value instanceof PyFloat) {
    const n = Number(value);
    if (type === "long") return `${n}L`;
    if (type === "float") return `${floatText(n)}f`;
    if (type === "double" || pyType(value) === "float") return floatText(n); // Python str(30.0) == "30.0"
    return String(n);
  }
  if (Array.isArray(value)) {
    const parts = value.map((x) => javaElement(x, itemType));
    if (type === "ArrayList") return `new ArrayList<>(Arrays.asList(${parts.join(", ")}))`;
    return `new ${javaArrayElementType(itemType)}[]{${parts.join(", ")}}`;
  }
  if (isDict(value)) {
    const puts = Object.entries(value).map(([k, v]) => `put("${k}", ${javaElement(v, undefined)});`);
    return `new HashMap<String, Object>() {{ ${puts.join(" ")} }}`;
  }
  return value === null ? "null" : String(value);
}

function javaElement(x: unknown, itemType: string | undefined): string {
  if (typeof x === "string") return itemType === "char" ? `'${x}'` : `"${x}"`;
  if (typeof x === "number" || x instanceof PyFloat) {
    const n = Number(x);
    if (itemType === "long") return `${n}L`;
    if (itemType === "float") return `${floatText(n)}f`;
    if (pyType(x) === "float") return floatText(n);
    return String(n);
  }
  if (typeof x === "boolean") return x ? "true" : "false";
  return String(x);
}

function javaArrayElementType(itemType: string | undefined): string {
  switch (itemType) {
    case "integer":
      return "int";
    case "long":
      return "long";
    case "char":
      return "char";
    case "String":
      return "String";
    default:
      return "Object";
  }
}

function floatText(n: number): string {
  return Number.isInteger(n) ? `${n}.0` : String(n);
}

export function renderJs(value: unknown, doc: ParamDoc | undefined): string {
  const type = doc?.type ?? "any";
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number" || value instanceof PyFloat) {
    const n = Number(value);
    if (type === "Bigint") return `${n}n`;
    if (type === "float" && pyType(value) === "float") return floatText(n);
    return String(n);
  }
  if (Array.isArray(value)) return `[${value.map(jsElement).join(", ")}]`;
  if (isDict(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}: ${jsElement(v)}`)
      .join(", ")}}`;
  }
  return value === null ? "null" : String(value);
}

function jsElement(x: unknown): string {
  if (typeof x === "string") return `"${x}"`;
  if (Array.isArray(x)) return `[${x.map(jsElement).join(", ")}]`;
  if (x instanceof PyFloat) return floatText(x.value);
  if (isDict(x)) return renderJs(x, undefined);
  return String(x);
}
