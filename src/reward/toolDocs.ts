/**
 * The matcher reads BFCL-style function docs (types "string", "integer", "float", "boolean",
 * "array", "dict", "any"); a sample's tools travel as an OpenAI tools list (JSON Schema types).
 * This maps one to the other, and infers docs from the ground truth where a call's tool is absent.
 */
import type { DecodedCall, FunctionDoc, ParamDoc } from "../matching/types.js";
import { pyType } from "../matching/pyValue.js";

const SCALAR_TYPES: Record<string, string> = { string: "string", integer: "integer", number: "float", boolean: "boolean" };
/** Item types the checker's nested type check understands. */
const NESTED_ITEM_TYPES: Record<string, string> = { ...SCALAR_TYPES, object: "dict", array: "array" };
/** Deeper schemas are left untyped ("any": the value's type must equal the ground truth's, then an exact compare). */
const MAX_SCHEMA_DEPTH = 32;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * One JSON Schema property as a checker ParamDoc. Anything the checker has no faithful type for
 * (unions, "null", arrays of untyped items, missing types) becomes "any": the checker then accepts
 * a value of the ground truth's own type and compares it exactly.
 */
function toParamDoc(schema: unknown, depth: number): ParamDoc {
  if (!isObject(schema) || depth > MAX_SCHEMA_DEPTH) return { type: "any" };
  const t = schema.type;
  if (typeof t !== "string") return { type: "any" };
  const scalar = SCALAR_TYPES[t];
  if (scalar !== undefined) return { type: scalar };
  if (t === "object") {
    const doc: ParamDoc = { type: "dict" };
    if (isObject(schema.properties)) doc.properties = toProperties(schema.properties, depth + 1);
    return doc;
  }
  if (t === "array") {
    const items = schema.items;
    const itemType = isObject(items) && typeof items.type === "string" ? NESTED_ITEM_TYPES[items.type] : undefined;
    return itemType === undefined ? { type: "any" } : { type: "array", items: { type: itemType } };
  }
  return { type: "any" };
}

function toProperties(props: Record<string, unknown>, depth: number): Record<string, ParamDoc> {
  const out: Record<string, ParamDoc> = {};
  for (const [name, schema] of Object.entries(props)) Object.defineProperty(out, name, { value: toParamDoc(schema, depth), enumerable: true, writable: true });
  return out;
}

/**
 * An OpenAI tools list (`[{"type":"function","function":{name, description, parameters}}]`, or bare
 * `{name, parameters}` entries) as checker docs. Returns a message naming the bad entry instead of throwing.
 */
export function functionDocsFromOpenAiTools(tools: unknown): FunctionDoc[] | string {
  if (!Array.isArray(tools)) return "extra_info.tools: expected a JSON list of OpenAI tools";
  const docs: FunctionDoc[] = [];
  for (let i = 0; i < tools.length; i++) {
    const entry: unknown = tools[i];
    const fn = isObject(entry) && isObject(entry.function) ? entry.function : entry;
    if (!isObject(fn) || typeof fn.name !== "string" || fn.name === "")
      return `extra_info.tools[${i}]: expected {"type": "function", "function": {"name": ...}}`;
    const params = isObject(fn.parameters) ? fn.parameters : {};
    const required = Array.isArray(params.required) ? params.required.filter((r): r is string => typeof r === "string") : [];
    docs.push({ name: fn.name, parameters: { type: "dict", properties: isObject(params.properties) ? toProperties(params.properties, 1) : {}, required } });
  }
  return docs;
}

function inferredType(v: unknown): string {
  switch (pyType(v)) {
    case "str":
      return "string";
    case "int":
      return "integer";
    case "float":
      return "float";
    case "bool":
      return "boolean";
    case "dict":
      return "dict";
    default:
      return "any";
  }
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function lacksSomething(docs: FunctionDoc[], expected: DecodedCall[]): boolean {
  for (const call of expected) {
    const doc = docs.find((d) => d.name === call.name);
    if (doc === undefined) return true;
    for (const param in call.args) if (hasOwn(call.args, param) && !hasOwn(doc.parameters.properties, param)) return true;
  }
  return false;
}

/**
 * `docs` completed from the ground truth: a doc for each expected function that has none, and a
 * property for each expected argument its doc lacks (else the checker would refuse the right
 * answer as an unexpected parameter), typed from the ground-truth value and never required. The
 * ground truth is the reference: a tools list that disagrees with it should not zero the reward.
 * Returns `docs` itself when nothing is missing; never modifies it (changed docs are copies).
 */
export function withInferredDocs(docs: FunctionDoc[], expected: DecodedCall[]): FunctionDoc[] {
  if (!lacksSomething(docs, expected)) return docs;
  const out = [...docs];
  const copies = new Set<FunctionDoc>();
  const inferred = new Set<string>();
  for (const call of expected) {
    let index = out.findIndex((d) => d.name === call.name);
    if (index < 0) {
      const doc: FunctionDoc = { name: call.name, parameters: { type: "dict", properties: {}, required: [] } };
      copies.add(doc);
      index = out.push(doc) - 1;
    }
    for (const [param, value] of Object.entries(call.args)) {
      const t = inferredType(value);
      const key = `${call.name}\u0000${param}`;
      const props = out[index]!.parameters.properties;
      if (hasOwn(props, param)) {
        // Two expected calls of one function disagreeing on an inferred type: accept either.
        if (inferred.has(key) && props[param]!.type !== t) props[param] = { type: "any" };
        continue;
      }
      let doc = out[index]!;
      if (!copies.has(doc)) {
        doc = { ...doc, parameters: { ...doc.parameters, properties: { ...doc.parameters.properties } } };
        copies.add(doc);
        out[index] = doc;
      }
      Object.defineProperty(doc.parameters.properties, param, { value: { type: t }, enumerable: true, writable: true, configurable: true });
      inferred.add(key);
    }
  }
  return out;
}
