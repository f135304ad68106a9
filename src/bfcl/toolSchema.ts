import type { FunctionDoc, ParamDoc } from "../matching/types.js";
import { languageOf } from "../matching/bfclChecker.js";
import { formatJsonPath, pathDeeperThan } from "../util/jsonDepth.js";

/**
 * BFCL function docs -> OpenAI `tools`, as bfcl-eval 2026.3.23 prepares them for FC models
 * (utils._func_doc_language_specific_pre_processing + model_handler.utils.convert_to_tool with
 * GORILLA_TO_OPENAPI and the OpenAI-completions style). Dots in names become "_" because OpenAI
 * names must match ^[a-zA-Z0-9_-]{1,64}$; the checker then expects the sanitised name too.
 */
const GORILLA_TO_OPENAPI: Record<string, string> = {
  integer: "integer",
  number: "number",
  float: "number",
  string: "string",
  boolean: "boolean",
  bool: "boolean",
  array: "array",
  list: "array",
  dict: "object",
  object: "object",
  tuple: "array",
  any: "string",
  byte: "integer",
  short: "integer",
  long: "integer",
  double: "number",
  char: "string",
  ArrayList: "array",
  Array: "array",
  HashMap: "object",
  Hashtable: "object",
  Queue: "array",
  Stack: "array",
  Any: "string",
  String: "string",
  Bigint: "integer",
};

export interface OpenAiTool {
  type: "function";
  function: { name: string; description?: string; parameters: Record<string, unknown> };
}

export function sanitizeToolName(name: string): string {
  return name.replace(/\./g, "_");
}

/** A BFCL (Gorilla) parameter type as the OpenAPI type bfcl-eval sends; unknown or missing types become "string", as there. */
export function mapType(t: string | undefined): string {
  return t !== undefined && t in GORILLA_TO_OPENAPI ? GORILLA_TO_OPENAPI[t]! : "string";
}

/**
 * BFCL's deepest function doc nests about ten JSON levels; one past this is malformed, and the
 * clone and the walk below recurse, so it is refused by name before either runs.
 */
export const MAX_FUNCTION_DOC_DEPTH = 160;

function castProperties(props: Record<string, ParamDoc>): Record<string, ParamDoc> {
  for (const value of Object.values(props)) {
    if (value.type === undefined) value.type = "string";
    else {
      if (value.type === "float") {
        value.format = "float";
        value.description = `${value.description ?? ""} This is a float type value.`;
      }
      value.type = mapType(value.type);
    }
    if (value.type === "array" || value.type === "object") {
      if (value.properties) value.properties = castProperties(value.properties);
      else if (value.items) {
        value.items.type = mapType(value.items.type);
        const items = value.items as ParamDoc;
        if (items.type === "array" && items.items) items.items.type = mapType(items.items.type);
        else if (items.type === "object" && items.properties) items.properties = castProperties(items.properties);
      }
    }
  }
  return props;
}

function languageHints(fn: FunctionDoc, category: string): void {
  const lang = languageOf(category);
  const hint =
    lang === "java"
      ? " Note that the provided function is in Java 8 SDK syntax."
      : lang === "javascript"
        ? " Note that the provided function is in JavaScript syntax."
        : " Note that the provided function is in Python 3 syntax.";
  fn.description = (fn.description ?? "") + hint;
  if (lang === "python") return;
  const langName = lang === "java" ? "Java" : "JavaScript";
  for (const value of Object.values(fn.parameters.properties)) {
    if (value.type === "any")
      value.description = `${value.description ?? ""} This parameter can be of any type of ${langName} object in string representation.`;
    else value.description = `${value.description ?? ""} This is ${langName} ${value.type} type parameter in string representation.`;
    const listType = lang === "java" ? value.type === "ArrayList" || value.type === "Array" : value.type === "array";
    if (listType && value.items) {
      value.description += ` The list elements are of type ${value.items.type}; they are not in string representation.`;
      delete value.items;
    }
    if (lang === "javascript" && value.type === "dict" && value.properties) {
      value.description += ` The dictionary entries have the following schema; they are not in string representation. ${JSON.stringify(value.properties)}`;
      delete value.properties;
    }
    value.type = "string";
  }
}

export function toOpenAiTools(functions: FunctionDoc[], category: string): OpenAiTool[] {
  return functions.map((original) => {
    const deep = pathDeeperThan(original, MAX_FUNCTION_DOC_DEPTH);
    if (deep) throw new Error(`function ${JSON.stringify(original.name)}: nests deeper than ${MAX_FUNCTION_DOC_DEPTH} levels at ${formatJsonPath("", deep)}`);
    const fn = structuredClone(original) as FunctionDoc;
    languageHints(fn, category);
    fn.parameters.type = "object";
    fn.parameters.properties = castProperties(fn.parameters.properties ?? {});
    const { name, description, parameters } = fn;
    return { type: "function", function: { name: sanitizeToolName(name), description, parameters: parameters as unknown as Record<string, unknown> } };
  });
}
