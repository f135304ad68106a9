/**
 * Checks a tool's input schema before it enters the library, so every problem is reported with a
 * path a person can find in their file (`inputSchema.properties.days.type`), not as Ajv's meta-schema
 * output. Ajv still compiles the schema afterwards to catch what this walk does not look at
 * (bad regexes, unresolvable $refs).
 */
import { createAjv, JSON_SCHEMA_TYPES, withoutSchemaDeclaration, type ErrorObject } from "../jsonSchema/ajv.js";
import { MAX_SCHEMA_DEPTH, MAX_TOOL_JSON_DEPTH, SUBSCHEMA_KEYS, SUBSCHEMA_LIST_KEYS, SUBSCHEMA_MAP_KEYS } from "../jsonSchema/keywords.js";
import { formatJsonPath, pathDeeperThan } from "../util/jsonDepth.js";

export interface SchemaIssue {
  /** Dotted path from the tool, e.g. `inputSchema.properties.days.type`. */
  field: string;
  message: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A string as messages quote it: cut to 64 characters, so a giant value cannot make a giant message. */
export function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return quote(v);
  return typeof v;
}

/** Renders a property name as a path segment, quoting the ones a dotted path would garble. */
function segment(key: string): string {
  return /^[A-Za-z0-9_$-]+$/.test(key) && key.length <= 64 ? `.${key}` : `[${quote(key)}]`;
}

interface Walk {
  base: string;
  issues: SchemaIssue[];
  /** Set once the depth limit is hit: one issue says so, not one per branch below the limit. */
  tooDeep: boolean;
}

function walk(node: unknown, path: string, depth: number, w: Walk): void {
  const isRoot = depth === 0;
  const issues = w.issues;
  if (typeof node === "boolean" && !isRoot) return; // `true`/`false` are valid subschemas
  if (depth > MAX_SCHEMA_DEPTH) {
    if (!w.tooDeep)
      issues.push({ field: w.base, message: `nests deeper than ${MAX_SCHEMA_DEPTH} levels at ${path.length > 160 ? `${path.slice(0, 160)}…` : path}` });
    w.tooDeep = true;
    return;
  }
  if (!isPlainObject(node)) {
    issues.push({ field: path, message: `must be a JSON Schema object (found ${describe(node)})` });
    return;
  }

  const type = node.type;
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    if (types.length === 0) issues.push({ field: `${path}.type`, message: "must not be an empty list" });
    for (const t of types) {
      if (typeof t !== "string") issues.push({ field: `${path}.type`, message: `must be a type name or a list of them (found ${describe(t)})` });
      else if (!JSON_SCHEMA_TYPES.has(t)) issues.push({ field: `${path}.type`, message: `${quote(t)} is not a JSON Schema type` });
    }
  }

  const properties = node.properties;
  if (node.required !== undefined) {
    if (!Array.isArray(node.required) || node.required.some((r) => typeof r !== "string")) {
      issues.push({ field: `${path}.required`, message: "must be a list of property names" });
    } else if (isPlainObject(properties) || isRoot) {
      // A `required` entry with no matching property can never be satisfied by a well-formed call.
      const known = isPlainObject(properties) ? properties : {};
      for (const r of node.required as string[]) {
        if (!Object.hasOwn(known, r)) issues.push({ field: `${path}.required`, message: `${quote(r)} is not in properties` });
      }
    }
  }

  for (const key of SUBSCHEMA_KEYS) {
    const sub = node[key];
    if (sub === undefined) continue;
    if (key === "items" && Array.isArray(sub)) {
      issues.push({ field: `${path}.items`, message: "must be a single schema (tuple validation is `prefixItems` in JSON Schema 2020-12)" });
      continue;
    }
    walk(sub, `${path}.${key}`, depth + 1, w);
  }
  for (const key of SUBSCHEMA_LIST_KEYS) {
    const list = node[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) issues.push({ field: `${path}.${key}`, message: `must be a list of schemas (found ${describe(list)})` });
    else list.forEach((sub, i) => walk(sub, `${path}.${key}[${i}]`, depth + 1, w));
  }
  for (const key of SUBSCHEMA_MAP_KEYS) {
    const map = node[key];
    if (map === undefined) continue;
    if (!isPlainObject(map)) issues.push({ field: `${path}.${key}`, message: `must be an object of schemas (found ${describe(map)})` });
    else for (const [name, sub] of Object.entries(map)) walk(sub, `${path}.${key}${segment(name)}`, depth + 1, w);
  }
  if (node.enum !== undefined && (!Array.isArray(node.enum) || node.enum.length === 0)) {
    issues.push({ field: `${path}.enum`, message: "must be a non-empty list" });
  }
}

/** Turns Ajv's meta-schema errors into path-named issues, one per path (anyOf branches are noise). */
function metaSchemaIssues(errors: ErrorObject[], base: string): SchemaIssue[] {
  const byPath = new Map<string, string>();
  for (const e of errors) {
    const field =
      base +
      e.instancePath
        .split("/")
        .slice(1)
        .map((p) => segment(p.replace(/~1/g, "/").replace(/~0/g, "~")))
        .join("");
    if (!byPath.has(field)) byPath.set(field, e.message ?? "is invalid");
  }
  return [...byPath].map(([field, message]) => ({ field, message }));
}

let sharedAjv: ReturnType<typeof createAjv> | undefined;

/**
 * Every issue with `schema` (the tool's `inputSchema`), or none. `base` names it in paths.
 * The root must be an object schema: that is what MCP requires and what OpenAI accepts as parameters.
 */
export function checkInputSchema(schema: unknown, base = "inputSchema"): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  if (!isPlainObject(schema)) return [{ field: base, message: `must be a JSON Schema object (found ${describe(schema)})` }];
  if (schema.type !== "object") issues.push({ field: `${base}.type`, message: `must be "object" (found ${describe(schema.type)})` });
  walk(schema, base, 0, { base, issues, tooDeep: false });
  if (issues.length > 0) return issues;
  // Values the walk does not enter (enum, const, default, vendor keywords) are bounded too: Ajv and
  // the content hash walk them recursively.
  const deep = pathDeeperThan(schema, MAX_TOOL_JSON_DEPTH);
  if (deep) return [{ field: base, message: `holds JSON nested deeper than ${MAX_TOOL_JSON_DEPTH} levels at ${formatJsonPath(base, deep)}` }];

  // One Ajv instance for all tools (creating one per tool is slow); each schema is removed after its
  // trial compile so the instance neither grows with the library nor clashes on a repeated `$id`.
  sharedAjv ??= createAjv();
  const candidate = withoutSchemaDeclaration(schema);
  if (!sharedAjv.validateSchema(candidate)) return metaSchemaIssues(sharedAjv.errors ?? [], base);
  try {
    sharedAjv.compile(candidate);
  } catch (err) {
    return [{ field: base, message: `does not compile: ${(err as Error).message}` }];
  } finally {
    sharedAjv.removeSchema(candidate);
  }
  return [];
}
