/**
 * Validates a call's parsed arguments against its tool's input schema and says what is wrong in the
 * caller's terms (`argument "filters.max_price": must be number`). Compiled validators are cached by the
 * tool's content hash: a campaign offers the same few hundred tools across many thousands of samples.
 *
 * Arguments read with parseJsonExact may hold bigints (an order id of 20 digits). Ajv knows numbers
 * only, so it validates a copy with each bigint as the nearest double, against a second compilation of
 * the schema (made on the first such call) in which every node's numeric keywords (bounds, `multipleOf`,
 * `enum`, `const`) stand inside one keyword of ours, EXACT_KEYWORD: it compares a bigint as Python
 * compares an int (12345678901234570001 is over an `exclusiveMaximum` of 12345678901234570000 though
 * both are one double) and leaves any other value to Ajv's own keywords. Ajv's verdict on those
 * keywords is then never taken for a bigint, so anyOf/oneOf/not/if pick their branches on the exact
 * integer too. An array or object holding a bigint is compared with `const`/`enum` exactly as well. A schema number is taken as its JSON text states it (what the model and every Python
 * reader of the tool see). Arguments without a bigint use the schema as written, as before.
 */
import type { McpTool } from "../domain/types.js";
import { toolHash } from "../tools/hash.js";
import { createAjv, withoutSchemaDeclaration, type ErrorObject, type ValidateFunction } from "../jsonSchema/ajv.js";
import { LruCache } from "./lruCache.js";
import { stringifyJsonExact } from "../util/exactJson.js";
import { hasExactNumbers, pointerToken, withExactNumbers } from "../jsonSchema/exactNumbers.js";
import { COMBINATOR_KEYS, MAX_SCHEMA_DEPTH, SUBSCHEMA_KEYS, SUBSCHEMA_LIST_KEYS, SUBSCHEMA_MAP_KEYS } from "../jsonSchema/keywords.js";

export const VALIDATOR_CACHE_CAPACITY = 2048;

type Compiled = { ok: true; schema: Record<string, unknown>; validate: ValidateFunction } | { ok: false; error: string };
/** A tool's validators: as written, and (compiled on the first call with a bigint) with exact numeric keywords. */
interface CacheEntry {
  plain: Compiled;
  exact?: Compiled;
  /** The numeric-keyword schemas the exact validator compiled on `numericAjv`, dropped with it. */
  numericSchemas: Record<string, unknown>[];
}

/** The keyword of the exact validator that holds a node's numeric keywords (the name keeps it apart from a tool's own). */
const EXACT_KEYWORD = "x-toolloop-exact-integer";
const NUMERIC_KEYWORDS = ["maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf", "enum", "const"] as const;

/**
 * The numeric keywords of a node as the tool file wrote them (its exact integers bigints), by the
 * EXACT_KEYWORD object of doubles Ajv compiles; only for schemas that record exact numbers.
 */
const exactKeywordValues = new WeakMap<object, Record<string, unknown>>();

/** The bigints of the arguments being validated, by Ajv instancePath; set only for the synchronous validate call. */
let exactIntegers: Map<string, bigint> | undefined;

const ajv = createAjv();
/** Validates what EXACT_KEYWORD holds for a value that is no bigint: Ajv's own numeric keywords, on their own. */
const numericAjv = createAjv();
/** Schemas compiled on numericAjv while one exact validator compiles; its CacheEntry keeps them for eviction. */
let compiledNumericSchemas: Record<string, unknown>[] = [];

type KeywordErrors = { errors?: Partial<ErrorObject>[] | null };
ajv.addKeyword({
  keyword: EXACT_KEYWORD,
  schemaType: "object",
  errors: true,
  compile(numeric: Record<string, unknown>) {
    const asAjv = numericAjv.compile(numeric);
    compiledNumericSchemas.push(numeric);
    // The values as the tool file wrote them, where they hold an integer a double cannot.
    const written = exactKeywordValues.get(numeric);
    // A fractional step is checked as Ajv checks it, on the double; so is any step of a double argument.
    const step = numeric.multipleOf;
    const doubleStep = typeof step === "number" && (!Number.isInteger(step) || written !== undefined) ? numericAjv.compile({ multipleOf: step }) : undefined;
    if (doubleStep) compiledNumericSchemas.push(doubleStep.schema as Record<string, unknown>);
    const check = (data: unknown, cxt?: { instancePath: string }): boolean => {
      let exact = exactIntegers && exactValueAt(data, cxt?.instancePath ?? "", exactIntegers);
      // Against numbers as the tool file wrote them, an integer is an int, as in Python.
      if (exact === undefined && written !== undefined && typeof data === "number" && Number.isSafeInteger(data)) exact = BigInt(data);
      let errors: Partial<ErrorObject>[];
      if (typeof exact === "bigint") {
        errors = exactIntegerErrors(exact, written ?? numeric);
        if (typeof step === "number" && !Number.isInteger(step) && doubleStep && !doubleStep(data)) errors.push(...(doubleStep.errors ?? []));
      } else if (exact !== undefined) errors = exactEqualityErrors(exact, written ?? numeric);
      else if (written !== undefined) {
        // A float (or any other value) against numbers as written: bounds and equality exactly, a step on the double.
        errors = typeof data === "number" ? exactBoundErrors(data, written) : [];
        if (typeof data === "number" && doubleStep && !doubleStep(data)) errors.push(...(doubleStep.errors ?? []));
        errors.push(...exactEqualityErrors(data, written));
      } else errors = asAjv(data) ? [] : [...(asAjv.errors ?? [])];
      // Ajv gives each error this node's instancePath and schemaPath (its own `keyword` stays).
      (check as KeywordErrors).errors = errors.map(({ instancePath: _at, ...e }) => e);
      return errors.length === 0;
    };
    return check;
  },
});

/**
 * The exact value of the instance at `path` where it holds a bigint: the bigint itself, or an array or
 * object rebuilt with its bigints (for `const`/`enum`); undefined where it holds none.
 */
function exactValueAt(data: unknown, path: string, bigints: Map<string, bigint>): unknown {
  const own = bigints.get(path);
  if (own !== undefined) return own;
  if (typeof data !== "object" || data === null) return undefined;
  const prefix = `${path}/`;
  for (const at of bigints.keys()) if (at.startsWith(prefix)) return withBigints(data, path, bigints);
  return undefined;
}

/** `data` (the doubles Ajv sees) with the bigint at each instancePath put back. */
function withBigints(data: unknown, path: string, bigints: Map<string, bigint>): unknown {
  const own = bigints.get(path);
  if (own !== undefined) return own;
  if (Array.isArray(data)) return data.map((v, i) => withBigints(v, `${path}/${i}`, bigints));
  if (isPlainObject(data)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(data))
      Object.defineProperty(out, k, { value: withBigints(v, `${path}/${pointerToken(k)}`, bigints), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return data;
}

const stats = { hits: 0, misses: 0 };
// Evicting must also drop Ajv's own references, or its internal caches would keep every schema alive.
const cache = new LruCache<string, CacheEntry>(VALIDATOR_CACHE_CAPACITY, (_key, entry) => {
  for (const compiled of [entry.plain, entry.exact]) if (compiled?.ok) ajv.removeSchema(compiled.schema);
  for (const numeric of entry.numericSchemas) numericAjv.removeSchema(numeric);
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
 * `$id` goes so that two tools sharing an `$id` do not clash inside one Ajv instance. With `exact`, each
 * node's numeric keywords move into EXACT_KEYWORD (the exact validator); a tool's own EXACT_KEYWORD goes.
 */
function closeObjects(node: unknown, exact: boolean, insideCombinator = false, depth = 0): unknown {
  if (!isPlainObject(node)) return node;
  // The tool loader refuses deeper schemas; a tool that reached a sample some other way fails to compile.
  if (depth > MAX_SCHEMA_DEPTH) throw new Error(`schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`);
  const out: Record<string, unknown> = { ...node };
  for (const k of SUBSCHEMA_KEYS) if (Object.hasOwn(out, k)) out[k] = closeObjects(out[k], exact, false, depth + 1);
  for (const k of SUBSCHEMA_LIST_KEYS) {
    const list = out[k];
    if (Array.isArray(list)) out[k] = list.map((sub) => closeObjects(sub, exact, (COMBINATOR_KEYS as readonly string[]).includes(k), depth + 1));
  }
  for (const k of SUBSCHEMA_MAP_KEYS) {
    const map = out[k];
    if (isPlainObject(map)) out[k] = Object.fromEntries(Object.entries(map).map(([name, sub]) => [name, closeObjects(sub, exact, false, depth + 1)]));
  }
  delete out[EXACT_KEYWORD];
  const numeric = exact ? NUMERIC_KEYWORDS.filter((k) => Object.hasOwn(out, k)) : [];
  if (numeric.length > 0) {
    const written = Object.fromEntries(numeric.map((k) => [k, out[k]]));
    const doubles = toDoubles(written) as Record<string, unknown>;
    if (doubles !== written) exactKeywordValues.set(doubles, written);
    out[EXACT_KEYWORD] = doubles;
    for (const k of numeric) delete out[k];
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

/** `v` with each bigint as the nearest double; `v` itself when it holds none. */
function toDoubles(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) {
    const items = v.map(toDoubles);
    return items.some((x, i) => x !== v[i]) ? items : v;
  }
  if (isPlainObject(v)) {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const d = toDoubles(x);
      if (d !== x) changed = true;
      Object.defineProperty(out, k, { value: d, enumerable: true, writable: true, configurable: true });
    }
    return changed ? out : v;
  }
  return v;
}

/**
 * The tool's validator: as written, or with exact numeric keywords (`exact`, for arguments holding a
 * bigint, and for every call on a tool whose schema records integers a double cannot hold).
 */
function compile(tool: McpTool, exact: boolean): Compiled {
  const key = toolHash(tool);
  let entry = cache.get(key);
  if (entry) stats.hits++;
  else {
    stats.misses++;
    entry = { plain: compileSchema(tool, false), numericSchemas: [] };
    cache.set(key, entry);
  }
  if (!exact && !hasExactNumbers(tool.inputSchema)) return entry.plain;
  if (!entry.exact) {
    compiledNumericSchemas = entry.numericSchemas;
    try {
      entry.exact = compileSchema(tool, true);
    } finally {
      compiledNumericSchemas = [];
    }
  }
  return entry.exact;
}

function compileSchema(tool: McpTool, exact: boolean): Compiled {
  const { $id: _id, ...rest } = withoutSchemaDeclaration(tool.inputSchema);
  let schema: Record<string, unknown> | undefined;
  try {
    // The exact form takes the numbers as the tool file wrote them; Ajv is given doubles throughout.
    schema = exact
      ? (toDoubles(closeObjects(withExactNumbers(rest), true)) as Record<string, unknown>)
      : (closeObjects(rest, false) as Record<string, unknown>);
    return { ok: true, schema, validate: ajv.compile(schema) };
  } catch (err) {
    if (schema) ajv.removeSchema(schema);
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * A schema number as Python reads the tool's JSON text: an integral double past 2^53 is written as
 * digits (12345678901234567000, though the double is ...7168) and read back as that int; the rest are
 * compared as they are (JavaScript compares a bigint with a number exactly, as Python an int with a float).
 */
function schemaNumber(n: number): number | bigint {
  return Number.isInteger(n) && !Number.isSafeInteger(n) && Math.abs(n) < 1e21 ? BigInt(String(n)) : n;
}

/** Ajv's errors for the bounds of `schema` (numbers, or bigints as a tool file wrote them) that `x` breaks, compared exactly. */
function exactBoundErrors(x: number | bigint, schema: Record<string, unknown>): Partial<ErrorObject>[] {
  const errors: Partial<ErrorObject>[] = [];
  const bound = (keyword: string, comparison: string, holds: (limit: number | bigint) => boolean) => {
    const limit = schema[keyword];
    if ((typeof limit === "number" || typeof limit === "bigint") && !holds(typeof limit === "number" ? schemaNumber(limit) : limit))
      errors.push({ keyword, params: { comparison, limit }, message: `must be ${comparison} ${limit}` });
  };
  bound("maximum", "<=", (l) => x <= l);
  bound("minimum", ">=", (l) => x >= l);
  bound("exclusiveMaximum", "<", (l) => x < l);
  bound("exclusiveMinimum", ">", (l) => x > l);
  return errors;
}

/** Ajv's errors for the numeric keywords of `schema` that the exact integer `x` breaks. */
function exactIntegerErrors(x: bigint, schema: Record<string, unknown>): Partial<ErrorObject>[] {
  const errors = exactBoundErrors(x, schema);
  const step = schema.multipleOf;
  // A fractional step is checked as Ajv checks it, on the double.
  const integerStep = typeof step === "bigint" ? step : typeof step === "number" && Number.isInteger(step) ? BigInt(schemaNumber(step)) : undefined;
  if (integerStep !== undefined && integerStep > 0n && x % integerStep !== 0n)
    errors.push({ keyword: "multipleOf", params: { multipleOf: step }, message: `must be multiple of ${step}` });
  errors.push(...exactEqualityErrors(x, schema));
  return errors;
}

/** Ajv's errors for the `const` and `enum` of `schema` that the exact value `x` (bigints for big integers) breaks. */
function exactEqualityErrors(x: unknown, schema: Record<string, unknown>): Partial<ErrorObject>[] {
  const errors: Partial<ErrorObject>[] = [];
  if (Object.hasOwn(schema, "const") && !equalsAsPython(x, schema.const))
    errors.push({ keyword: "const", params: { allowedValue: schema.const }, message: "must be equal to constant" });
  if (Array.isArray(schema.enum) && !schema.enum.some((v) => equalsAsPython(x, v)))
    errors.push({ keyword: "enum", params: { allowedValues: schema.enum }, message: "must be equal to one of the allowed values" });
  return errors;
}

/**
 * Whether the instance value `x` equals the schema value `v` as Python jsonschema decides (`equal`):
 * numbers by value, an int and a float alike (a schema number as its JSON text states it), a boolean
 * only a boolean, arrays item by item, objects key by key.
 */
function equalsAsPython(x: unknown, v: unknown): boolean {
  if (typeof v === "number") return (typeof x === "number" || typeof x === "bigint") && x == schemaNumber(v);
  if (typeof v === "bigint") return (typeof x === "number" || typeof x === "bigint") && x == v;
  if (Array.isArray(v)) return Array.isArray(x) && x.length === v.length && x.every((item, i) => equalsAsPython(item, v[i]));
  if (isPlainObject(v)) {
    if (!isPlainObject(x)) return false;
    const keys = Object.keys(v);
    return keys.length === Object.keys(x).length && keys.every((k) => Object.hasOwn(x, k) && equalsAsPython(x[k], v[k]));
  }
  return x === v;
}

/** `value` with every bigint as the nearest double, for Ajv; `found` gets each bigint by its instancePath. */
function withDoubles(value: unknown, path: string, found: Map<string, bigint>): unknown {
  if (typeof value === "bigint") {
    found.set(path, value);
    return Number(value);
  }
  if (Array.isArray(value)) return value.map((v, i) => withDoubles(v, `${path}/${i}`, found));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      Object.defineProperty(out, k, {
        value: withDoubles(v, `${path}/${pointerToken(k)}`, found),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  return value;
}

function holdsBigint(v: unknown): boolean {
  if (typeof v === "bigint") return true;
  if (Array.isArray(v)) return v.some(holdsBigint);
  if (isPlainObject(v)) return Object.values(v).some(holdsBigint);
  return false;
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
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map((v) => stringifyJsonExact(v)).join(", ") : "";
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
 * `args` as parseJsonExact reads them: a bigint is checked exactly against the schema's numbers.
 */
export function argumentProblems(tool: McpTool, args: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const schema = tool.inputSchema;
  const declared = declaredArguments(schema);
  const required = Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : [];
  for (const r of required) if (!Object.hasOwn(args, r)) problems.push(`missing required argument "${r}"`);
  for (const k of Object.keys(args)) if (!declared.has(k)) problems.push(`unknown argument "${k}"`);

  const exact = new Map<string, bigint>();
  const data = holdsBigint(args) ? withDoubles(args, "", exact) : args;
  const compiled = compile(tool, exact.size > 0);
  if (!compiled.ok) return [...problems, `tool schema does not compile (${compiled.error})`];
  let valid: boolean;
  exactIntegers = exact.size > 0 ? exact : undefined;
  try {
    valid = compiled.validate(data);
  } finally {
    exactIntegers = undefined;
  }
  if (valid) return problems;
  for (const e of compiled.validate.errors ?? []) {
    // Already reported above, with the same message.
    if (e.instancePath === "" && (e.keyword === "required" || e.keyword === "additionalProperties")) continue;
    const message = describeError(e);
    if (message !== undefined && !problems.includes(message)) problems.push(message);
  }
  return problems;
}
