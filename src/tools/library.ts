/**
 * The tool library: reads tool definitions from MCP `tools/list` output, OpenAI `tools[]` files or the
 * built-in examples, normalises them to MCP tools and rejects broken ones with a message naming the tool
 * and the field, while every good tool still loads.
 */
import path from "node:path";
import type { ToolSource } from "../config/campaignConfig.js";
import type { JsonSchema, McpTool } from "../domain/types.js";
import { JsonFileError, readJsonFile } from "../util/jsonFile.js";
import { formatJsonPath, pathDeeperThan } from "../util/jsonDepth.js";
import { stringifyJsonExact } from "../util/exactJson.js";
import { MAX_TOOL_JSON_DEPTH } from "../jsonSchema/keywords.js";
import { EXACT_NUMBERS_KEY, pointerToken } from "../jsonSchema/exactNumbers.js";
import { EXAMPLE_TOOLS } from "./examples.js";
import { checkInputSchema, quote, type SchemaIssue } from "./schemaCheck.js";

export interface LoadedTool {
  tool: McpTool;
  source: string;
  domain?: string;
}

export interface ToolLoadError {
  source: string;
  /** Position of the entry in its source's tool list; -1 when the whole source failed. */
  index: number;
  name?: string;
  field?: string;
  message: string;
}

export interface ToolLoadResult {
  tools: LoadedTool[];
  errors: ToolLoadError[];
}

/** OpenAI's rule for function names; MCP is looser, but every tool must be offerable to both. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_.-]{1,64}$/;

export const EXAMPLE_SOURCE = "example";

/** Problems listed per rejected tool; the rest are counted. */
export const MAX_ISSUES_PER_TOOL = 20;

/** Largest tool file we read: tens of thousands of tools, far beyond any real `tools/list`. */
export const TOOL_FILE_MAX_BYTES = 64 * 1024 * 1024;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Finds the list of tool entries in any of the accepted file shapes, or says why there is none. */
function toolEntries(json: unknown): { entries: unknown[] } | { error: string } {
  if (Array.isArray(json)) return { entries: json };
  if (!isPlainObject(json)) return { error: `expected a tool list, an object with "tools", or a single tool (found ${json === null ? "null" : typeof json})` };
  if ("jsonrpc" in json) {
    if (isPlainObject(json.error)) return { error: `JSON-RPC error response: ${String(json.error.message ?? stringifyJsonExact(json.error))}` };
    if (!isPlainObject(json.result)) return { error: 'JSON-RPC response has no "result" object' };
    const tools = json.result.tools;
    return Array.isArray(tools) ? { entries: tools } : { error: 'JSON-RPC result has no "tools" list (expected a tools/list response)' };
  }
  if ("tools" in json) return Array.isArray(json.tools) ? { entries: json.tools } : { error: '"tools" must be a list' };
  // Legacy OpenAI `functions: [...]` request bodies.
  if ("functions" in json) return Array.isArray(json.functions) ? { entries: json.functions } : { error: '"functions" must be a list' };
  if ("name" in json || json.type === "function") return { entries: [json] };
  return { error: 'expected a tool list, an object with "tools" (MCP tools/list result or OpenAI tools), a JSON-RPC response, or a single tool' };
}

interface RawTool {
  name: unknown;
  description: unknown;
  schema: unknown;
  /** Where the schema lives in the entry as written, so messages point at the user's own field. */
  schemaField: string;
  outputSchema?: unknown;
  annotations?: unknown;
  domain?: unknown;
}

/** Detects the shape of one entry: OpenAI `{type:"function", function}`, MCP `{inputSchema}`, or a bare function object. */
function rawTool(entry: Record<string, unknown>): RawTool | { error: SchemaIssue } {
  if (entry.type === "function" || "function" in entry) {
    const fn = entry.function;
    if (!isPlainObject(fn)) return { error: { field: "function", message: 'must be an object with "name", "description" and "parameters"' } };
    return { name: fn.name, description: fn.description, schema: fn.parameters, schemaField: "function.parameters", domain: entry.domain };
  }
  if ("inputSchema" in entry) {
    return {
      name: entry.name,
      description: entry.description,
      schema: entry.inputSchema,
      schemaField: "inputSchema",
      outputSchema: entry.outputSchema,
      annotations: entry.annotations,
      domain: entry.domain,
    };
  }
  return { name: entry.name, description: entry.description, schema: entry.parameters, schemaField: "parameters", domain: entry.domain };
}

/**
 * The integers of a tool entry (read by parseJsonExact) past a double's precision: `found` says whether
 * there are any; `exact` has those of the schema a double cannot hold as written (98765432109876543210
 * has no double whose JSON text it is), by JSON Pointer from the schema's root, kept beside the double
 * under EXACT_NUMBERS_KEY so the model is shown, the exports write and verify.rules checks every digit;
 * `unheld` names such integers outside the schema (outputSchema, annotations), which are refused.
 * An integer its double writes back as written (12345678901234567000) loads as that double.
 * Iterative: depth is checked later.
 */
function bigIntegers(entry: unknown): { found: boolean; exact: Record<string, string>; unheld: SchemaIssue[] } {
  type Frame = { value: unknown; key: string | number | undefined; parent: Frame | undefined };
  const pathOf = (f: Frame): (string | number)[] => {
    const path: (string | number)[] = [];
    for (let at: Frame | undefined = f; at?.key !== undefined; at = at.parent) path.push(at.key);
    return path.reverse();
  };
  const unheld: SchemaIssue[] = [];
  const exact: Record<string, string> = {};
  const schemaAt = schemaPath(entry);
  let found = false;
  const stack: Frame[] = [{ value: entry, key: undefined, parent: undefined }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const v = frame.value;
    if (typeof v === "bigint") {
      found = true;
      const shown = JSON.stringify(Number(v));
      if (shown === v.toString()) continue;
      const path = pathOf(frame);
      if (schemaAt !== undefined && schemaAt.every((k, i) => path[i] === k))
        exact[
          path
            .slice(schemaAt.length)
            .map((k) => `/${pointerToken(String(k))}`)
            .join("")
        ] = v.toString();
      else
        unheld.push({
          field: formatJsonPath("", path),
          message: `${v} cannot be held by a double as written outside the input schema: it would load as ${shown} (write ${shown} if that is meant, or make the value a string)`,
        });
    } else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], key: i, parent: frame });
    else if (isPlainObject(v)) for (const [k, x] of Object.entries(v).reverse()) stack.push({ value: x, key: k, parent: frame });
  }
  return { found, exact, unheld };
}

/** Where an entry's input schema is (as rawTool finds it), as a path of keys; undefined for no object entry. */
function schemaPath(entry: unknown): string[] | undefined {
  if (!isPlainObject(entry)) return undefined;
  const raw = rawTool(entry);
  return "error" in raw ? undefined : raw.schemaField.split(".");
}

/** The name an entry gives itself (MCP or OpenAI shape), for a message about an entry that is not normalised. */
function writtenName(entry: unknown): string | undefined {
  if (!isPlainObject(entry)) return undefined;
  const name = isPlainObject(entry.function) ? entry.function.name : entry.name;
  return typeof name === "string" ? name : undefined;
}

/** Validates and normalises one entry; returns the tool or every issue found with it. */
function normalizeEntry(entry: unknown): { tool: McpTool; domain?: string; name: string } | { issues: SchemaIssue[]; name?: string } {
  if (!isPlainObject(entry))
    return { issues: [{ field: "", message: `must be a tool object (found ${entry === null ? "null" : Array.isArray(entry) ? "an array" : typeof entry})` }] };
  const raw = rawTool(entry);
  if ("error" in raw) return { issues: [raw.error], name: typeof entry.name === "string" ? entry.name : undefined };

  const issues: SchemaIssue[] = [];
  const nameField = raw.schemaField === "function.parameters" ? "function.name" : "name";
  const descField = raw.schemaField === "function.parameters" ? "function.description" : "description";
  const name = typeof raw.name === "string" ? raw.name : undefined;
  if (raw.name === undefined) issues.push({ field: nameField, message: "missing" });
  else if (name === undefined) issues.push({ field: nameField, message: "must be a string" });
  else if (!TOOL_NAME_PATTERN.test(name))
    issues.push({ field: nameField, message: `${quote(name)} must be 1-64 characters of letters, digits, "_", "." or "-"` });

  if (raw.description === undefined) issues.push({ field: descField, message: "missing (the model picks tools by their description)" });
  else if (typeof raw.description !== "string") issues.push({ field: descField, message: "must be a string" });
  else if (raw.description.trim() === "") issues.push({ field: descField, message: "must not be empty" });

  // A tool without parameters takes no arguments: the empty object schema says exactly that.
  let schema: unknown = raw.schema ?? { type: "object", properties: {} };
  // OpenAI tolerates parameters without "type"; MCP requires "object". Fill it in rather than reject.
  if (isPlainObject(schema) && schema.type === undefined) schema = { type: "object", ...schema };
  issues.push(...checkInputSchema(schema, raw.schemaField));
  if (isPlainObject(schema) && Object.hasOwn(schema, EXACT_NUMBERS_KEY))
    issues.push({ field: `${raw.schemaField}.${EXACT_NUMBERS_KEY}`, message: "is reserved: toolloop records a schema's exact integers there itself" });

  if (raw.outputSchema !== undefined && !isPlainObject(raw.outputSchema)) issues.push({ field: "outputSchema", message: "must be a JSON Schema object" });
  if (raw.annotations !== undefined && !isPlainObject(raw.annotations)) issues.push({ field: "annotations", message: "must be an object" });
  // Both are kept in the tool and hashed with it (a recursive walk), so their depth is bounded like the schema's.
  for (const [field, value] of [
    ["outputSchema", raw.outputSchema],
    ["annotations", raw.annotations],
  ] as const) {
    const deep = isPlainObject(value) ? pathDeeperThan(value, MAX_TOOL_JSON_DEPTH) : undefined;
    if (deep) issues.push({ field, message: `nests deeper than ${MAX_TOOL_JSON_DEPTH} levels at ${formatJsonPath(field, deep)}` });
  }
  if (issues.length > 0 || name === undefined) return { issues, name };

  const tool: McpTool = { name, description: raw.description as string, inputSchema: schema as JsonSchema & { type: "object" } };
  if (isPlainObject(raw.outputSchema)) tool.outputSchema = raw.outputSchema;
  if (isPlainObject(raw.annotations)) tool.annotations = raw.annotations;
  return { tool, name, domain: typeof raw.domain === "string" && raw.domain !== "" ? raw.domain : undefined };
}

function entryLabel(index: number, name: string | undefined): string {
  return name === undefined ? `tools[${index}]` : `tools[${index}] ${quote(name)}`;
}

/**
 * Normalises any accepted tool-file shape to MCP tools. Each entry is detected on its own, so a file
 * may mix shapes. Broken entries become errors such as
 * `tools[3] "get_weather": inputSchema.properties.days.type: "integr" is not a JSON Schema type`.
 * Duplicate names within the file keep the first.
 */
export function normalizeTools(json: unknown, source: string): ToolLoadResult {
  const { tools, errors } = normalizeIndexed(json, source);
  return { tools: tools.map((t) => t.loaded), errors };
}

interface IndexedResult {
  tools: { loaded: LoadedTool; index: number }[];
  errors: ToolLoadError[];
}

/** normalizeTools, keeping each tool's position in its file so later errors can point at it. */
function normalizeIndexed(json: unknown, source: string): IndexedResult {
  const found = toolEntries(json);
  if ("error" in found) return { tools: [], errors: [{ source, index: -1, message: found.error }] };
  // An empty list is a source error, not silence: a config naming a file meant to load its tools,
  // and with no error the CLI's and the registration's "no valid tool" messages had nothing to name.
  if (found.entries.length === 0) return { tools: [], errors: [{ source, index: -1, message: "lists no tools" }] };

  const tools: IndexedResult["tools"] = [];
  const errors: ToolLoadError[] = [];
  const firstIndex = new Map<string, number>();
  found.entries.forEach((written, index) => {
    const big = bigIntegers(written);
    // The entry as JSON.parse reads it (each big integer its double); the schema's own digits go beside it.
    const entry = big.found && big.unheld.length === 0 ? (JSON.parse(stringifyJsonExact(written)) as unknown) : written;
    const result: ReturnType<typeof normalizeEntry> = big.unheld.length > 0 ? { issues: big.unheld, name: writtenName(written) } : normalizeEntry(entry);
    if ("tool" in result && Object.keys(big.exact).length > 0) result.tool.inputSchema = { ...result.tool.inputSchema, [EXACT_NUMBERS_KEY]: big.exact };
    const label = entryLabel(index, result.name);
    if ("issues" in result) {
      const first = result.issues[0];
      // Distinct issues, and not thousands of them: a 5,000-entry `type` list must not make a megabyte message.
      const distinct = [...new Set(result.issues.map((i) => (i.field === "" ? i.message : `${i.field}: ${i.message}`)))];
      const shown = distinct.slice(0, MAX_ISSUES_PER_TOOL).join("; ");
      const detail = distinct.length > MAX_ISSUES_PER_TOOL ? `${shown}; and ${distinct.length - MAX_ISSUES_PER_TOOL} more problems` : shown;
      errors.push({ source, index, name: result.name, field: first?.field || undefined, message: `${label}: ${detail}` });
      return;
    }
    const earlier = firstIndex.get(result.name);
    if (earlier !== undefined) {
      errors.push({
        source,
        index,
        name: result.name,
        field: "name",
        message: `${label}: duplicate name (first defined as tools[${earlier}] in ${source}; this one is skipped)`,
      });
      return;
    }
    firstIndex.set(result.name, index);
    tools.push({ loaded: result.domain === undefined ? { tool: result.tool, source } : { tool: result.tool, source, domain: result.domain }, index });
  });
  return { tools, errors };
}

/** Loads one configured source. File paths are relative to `baseDir` (where the config lives). */
export async function loadToolSource(source: ToolSource, baseDir: string): Promise<ToolLoadResult> {
  const { tools, errors } = await loadSourceIndexed(source, baseDir);
  return { tools: tools.map((t) => t.loaded), errors };
}

async function loadSourceIndexed(source: ToolSource, baseDir: string): Promise<IndexedResult> {
  if (source.kind === "example") {
    // Copies, so a caller mutating a loaded tool cannot change the built-in set.
    return {
      tools: EXAMPLE_TOOLS.map(({ domain, tool }, index) => ({ loaded: { tool: structuredClone(tool), source: EXAMPLE_SOURCE, domain }, index })),
      errors: [],
    };
  }
  const file = path.resolve(baseDir, source.path);
  const label = source.path;
  let json: unknown;
  try {
    json = await readJsonFile(file, { maxBytes: TOOL_FILE_MAX_BYTES, what: `an ${source.kind} tool file`, exactIntegers: true });
  } catch (err) {
    if (!(err instanceof JsonFileError)) throw err;
    return { tools: [], errors: [{ source: label, index: -1, message: `${source.kind} tool file: ${err.message}` }] };
  }
  return normalizeIndexed(json, label);
}

/**
 * Loads every source in order. A name already loaded from an earlier source wins; the later one is
 * reported naming both sources. A source that cannot be read is one error; the others still load.
 */
export async function loadToolLibrary(sources: ToolSource[], baseDir: string): Promise<ToolLoadResult> {
  const tools: LoadedTool[] = [];
  const errors: ToolLoadError[] = [];
  const loadedFrom = new Map<string, string>();
  for (const source of sources) {
    const result = await loadSourceIndexed(source, baseDir);
    errors.push(...result.errors);
    for (const { loaded, index } of result.tools) {
      const first = loadedFrom.get(loaded.tool.name);
      if (first !== undefined) {
        errors.push({
          source: loaded.source,
          index,
          name: loaded.tool.name,
          field: "name",
          message: `${entryLabel(index, loaded.tool.name)}: duplicate name, already loaded from ${first}; the one from ${loaded.source} is skipped`,
        });
        continue;
      }
      loadedFrom.set(loaded.tool.name, loaded.source);
      tools.push(loaded);
    }
  }
  return { tools, errors };
}
