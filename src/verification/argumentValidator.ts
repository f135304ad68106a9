/**
 * Validates a call's parsed arguments against its tool's input schema and says what is wrong in the
 * caller's terms (`argument "filters.max_price": must be number`). Compiled validators are cached by the
 * tool's content hash: a campaign offers the same few hundred tools across many thousands of samples.
 */
import type { McpTool } from "../domain/types.js";
import { toolHash } from "../tools/hash.js";
import { createAjv, withoutSchemaDeclaration, type ErrorObject, type ValidateFunction } from "../jsonSchema/ajv.js";
import { LruCache } from "./lruCache.js";
import { COMBINATOR_KEYS, MAX_SCHEMA_DEPTH, SUBSCHEMA_KEYS, SUBSCHEMA_LIST_KEYS, SUBSCHEMA_MAP_KEYS } from "../jsonSchema/keywords.js";

export const VALIDATOR_CACHE_CAPACITY = 2048;

type Compiled = { ok: true; schema: Record<string, unknown>; validate: ValidateFunction } | { ok: false; error: string };

const ajv = createAjv();
const stats = { hits: 0, misses: 0 };
// Evicting must also drop Ajv's own reference, or its internal cache would keep every schema alive.
const cache = new LruCache<string, Compiled>(VALIDATOR_CACHE_CAPACITY, (_key, entry) => {
  if (entry.ok) ajv.removeSchema(entry.schema);
});

export function validatorCacheStats(): { size: number; hits: number; misses: number } {
  return { size: cache.size, ...stats };
}

export function clearValidatorCache(): void {
  cache.clear();
  stats.hits = 0;
  stats.misses = 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Our rule: a call may only pass parameters the tool declares, even where the schema would allow
 * others. Every object schema that lists `properties` and leaves `additionalProperties` open is closed;
 * one whose `additionalProperties` is a schema is a free-form map and stays as written. Schemas built
 * from combinators (allOf...) are left open: each branch sees only part of the properties. The root
 * `$id` goes so that two tools sharing an `$id` do not clash inside one Ajv instance.
 */
function closeObjects(node: unknown, insideCombinator = false, depth = 0): unknown {
  if (!isPlainObject(node)) return node;
  // The tool loader refuses deeper schemas; a tool that reached a sample some other way fails to compile.
  if (depth > MAX_SCHEMA_DEPTH) throw new Error(`schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`);
  const out: Record<string, unknown> = { ...node };
  for (const k of SUBSCHEMA_KEYS) if (Object.hasOwn(out, k)) out[k] = closeObjects(out[k], false, depth + 1);
  for (const k of SUBSCHEMA_LIST_KEYS) {
    const list = out[k];
    if (Array.isArray(list)) out[k] = list.map((sub) => closeObjects(sub, (COMBINATOR_KEYS as readonly string[]).includes(k), depth + 1));
  }
  for (const k of SUBSCHEMA_MAP_KEYS) {
    const map = out[k];
    if (isPlainObject(map)) out[k] = Object.fromEntries(Object.entries(map).map(([name, sub]) => [name, closeObjects(sub, false, depth + 1)]));
  }
  const combined = COMBINATOR_KEYS.some((k) => k in out);
  const open = out.additionalProperties === undefined || out.additionalProperties === true;
  if (isPlainObject(out.properties) && open && !combined && !insideCombinator) out.additionalProperties = false;
  return out;
}

/** Names a call may pass at the top level: the root's properties and those of its combinator branches. */
function declaredArguments(schema: Record<string, unknown>): Set<string> {
  const names = new Set(isPlainObject(schema.properties) ? Object.keys(schema.properties) : []);
  for (const k of COMBINATOR_KEYS) {
    const list = schema[k];
    if (!Array.isArray(list)) continue;
    for (const branch of list) if (isPlainObject(branch) && isPlainObject(branch.properties)) for (const n of Object.keys(branch.properties)) names.add(n);
  }
  return names;
}

function compile(tool: McpTool): Compiled {
  const key = toolHash(tool);
  const cached = cache.get(key);
  if (cached) {
    stats.hits++;
    return cached;
  }
  stats.misses++;
  let entry: Compiled;
  const { $id: _id, ...rest } = withoutSchemaDeclaration(tool.inputSchema);
  let schema: Record<string, unknown> | undefined;
  try {
    schema = closeObjects(rest) as Record<string, unknown>;
    entry = { ok: true, schema, validate: ajv.compile(schema) };
  } catch (err) {
    if (schema) ajv.removeSchema(schema);
    entry = { ok: false, error: (err as Error).message };
  }
  cache.set(key, entry);
  return entry;
}

/** `/filters/max_price` -> `filters.max_price`; `/tags/0` -> `tags[0]`. */
export function argumentPath(instancePath: string, child?: string): string {
  const parts =
    instancePath === ""
      ? []
      : instancePath
          .split("/")
          .slice(1)
          .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (child !== undefined) parts.push(child);
  let out = "";
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

function describeError(e: ErrorObject): string | undefined {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return `missing required argument "${argumentPath(e.instancePath, String(params.missingProperty))}"`;
    case "additionalProperties":
      return `unknown argument "${argumentPath(e.instancePath, String(params.additionalProperty))}"`;
    case "enum": {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map((v) => JSON.stringify(v)).join(", ") : "";
      return `argument "${argumentPath(e.instancePath)}": must be one of ${allowed}`;
    }
    default: {
      const where = e.instancePath === "" ? "arguments" : `argument "${argumentPath(e.instancePath)}"`;
      return `${where}: ${e.message ?? `fails "${e.keyword}"`}`;
    }
  }
}

/**
 * Every problem with `args` for `tool`, without the `call[i] name: ` prefix. Top-level required and
 * unknown arguments are checked here directly; nested ones come from Ajv with the same wording.
 */
export function argumentProblems(tool: McpTool, args: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const schema = tool.inputSchema;
  const declared = declaredArguments(schema);
  const required = Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : [];
  for (const r of required) if (!Object.hasOwn(args, r)) problems.push(`missing required argument "${r}"`);
  for (const k of Object.keys(args)) if (!declared.has(k)) problems.push(`unknown argument "${k}"`);

  const compiled = compile(tool);
  if (!compiled.ok) return [...problems, `tool schema does not compile (${compiled.error})`];
  if (compiled.validate(args)) return problems;
  for (const e of compiled.validate.errors ?? []) {
    // Already reported above, with the same message.
    if (e.instancePath === "" && (e.keyword === "required" || e.keyword === "additionalProperties")) continue;
    const message = describeError(e);
    if (message !== undefined && !problems.includes(message)) problems.push(message);
  }
  return problems;
}
