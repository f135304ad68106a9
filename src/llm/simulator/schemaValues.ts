/**
 * Plausible values drawn from a JSON Schema: enums pick one, numbers respect bounds, strings follow
 * `format` or the parameter's name (city, date, email, query, ...). Used by the query writer to put
 * concrete values into requests, by the tool agent when a forced call lacks a value, and for
 * `response_format: json_schema` answers of roles the simulator does not script.
 */
import { stringifyJsonExact } from "../../util/exactJson.js";
import type { SeededRandom } from "../../util/random.js";
import { identifierWords } from "./text.js";

type Schema = Record<string, unknown>;

const BANK: Record<string, readonly string[]> = {
  city: ["Paris", "Tokyo", "Nairobi", "Lima", "Toronto", "Berlin", "Mumbai", "Sydney", "Austin", "Oslo"],
  country: ["France", "Japan", "Kenya", "Peru", "Canada", "Germany", "India", "Australia"],
  location: ["San Francisco, CA", "Lyon, France", "Kyoto, Japan", "Cape Town, South Africa", "Denver, CO"],
  address: ["221B Baker Street, London", "1600 Amphitheatre Parkway, Mountain View", "5 Rue de Rivoli, Paris"],
  name: ["Alice Martin", "Kenji Sato", "Priya Patel", "Lucas Silva", "Amara Okafor", "Jonas Berg"],
  email: ["alice.martin@example.com", "kenji.sato@example.org", "priya@example.net", "team@example.com"],
  phone: ["+1-415-555-0134", "+44 20 7946 0958", "+81 3-5555-0199"],
  query: ["noise cancelling headphones", "vegan lasagna recipe", "history of the printing press", "quarterly revenue report"],
  keyword: ["solar panels", "marathon training", "espresso", "machine learning"],
  title: ["Quarterly planning", "Team offsite", "Dentist appointment", "Project kickoff"],
  subject: ["Invoice for March", "Meeting notes", "Welcome aboard"],
  message: ["Running ten minutes late, start without me.", "The report is ready for review.", "Happy birthday!"],
  text: ["The quick brown fox jumps over the lazy dog.", "Good morning, how are you today?", "Our store opens at nine."],
  language: ["French", "Spanish", "German", "Japanese", "Portuguese"],
  currency: ["USD", "EUR", "JPY", "GBP", "INR"],
  symbol: ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN"],
  ticker: ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN"],
  color: ["red", "blue", "green", "black"],
  category: ["electronics", "books", "sports", "groceries"],
  genre: ["jazz", "science fiction", "comedy", "documentary"],
  unit: ["metric", "imperial"],
  timezone: ["Europe/Paris", "Asia/Tokyo", "America/New_York", "UTC"],
  airport: ["CDG", "HND", "JFK", "LHR", "SFO"],
  origin: ["CDG", "JFK", "SFO", "LHR"],
  destination: ["HND", "LHR", "BCN", "SYD"],
  url: ["https://example.com/articles/42", "https://example.org/status", "https://docs.example.net/guide"],
  id: ["A1B2C3", "ORD-1042", "usr_7731", "INV-2291"],
  username: ["alice_m", "kenji42", "priya.p"],
  description: ["Weekly sync about the roadmap", "Replace the kitchen faucet", "Draft the annual budget"],
  status: ["open", "closed", "pending"],
  ingredient: ["chickpeas", "basil", "salmon", "mushrooms"],
  author: ["Jane Austen", "Haruki Murakami", "Chinua Achebe"],
  team: ["Arsenal", "Lakers", "Yankees"],
  path: ["/home/alice/report.pdf", "docs/notes.txt", "/var/log/app.log"],
  file: ["report.pdf", "notes.txt", "photo.jpg"],
  ip: ["192.0.2.10", "198.51.100.7", "203.0.113.42"],
  domain: ["example.com", "example.org"],
  movie: ["Inception", "Spirited Away", "The Matrix"],
  song: ["Bohemian Rhapsody", "Clair de Lune", "Hey Jude"],
  product: ["wireless mouse", "standing desk", "water bottle"],
  word: ["serendipity", "ephemeral", "ubiquitous"],
  repo: ["octo-org/widgets", "acme/payments-api", "toolloop/toolloop", "data-team/etl-jobs"],
};

/** Word aliases: the first bank whose key is one of a parameter's words wins. */
const ALIASES: Record<string, string> = {
  town: "city",
  place: "location",
  where: "location",
  recipient: "email",
  to: "email",
  sender: "email",
  mail: "email",
  search: "query",
  q: "query",
  term: "keyword",
  keywords: "keyword",
  topic: "keyword",
  body: "message",
  content: "text",
  note: "text",
  sentence: "text",
  lang: "language",
  stock: "symbol",
  from: "origin",
  to_city: "destination",
  dest: "destination",
  link: "url",
  uri: "url",
  user: "username",
  login: "username",
  filename: "file",
  folder: "path",
  directory: "path",
  tz: "timezone",
  units: "unit",
  genre: "genre",
  film: "movie",
  track: "song",
  item: "product",
  artist: "author",
  host: "domain",
  repository: "repo",
  label: "title",
  event: "title",
  summary: "description",
  comment: "message",
  first: "name",
  last: "name",
};

function bankFor(paramName: string): readonly string[] | undefined {
  const words = identifierWords(paramName);
  for (let i = words.length - 1; i >= 0; i--) {
    const w = words[i]!;
    // Own properties only: a parameter called "constructor" must not find Object.prototype's.
    const key = Object.hasOwn(BANK, w) ? w : Object.hasOwn(ALIASES, w) ? ALIASES[w] : undefined;
    if (key !== undefined && Object.hasOwn(BANK, key)) return BANK[key];
    const singular = w.slice(0, -1);
    if (w.endsWith("s") && Object.hasOwn(BANK, singular)) return BANK[singular];
  }
  return undefined;
}

function safeRegExp(source: string): RegExp | undefined {
  try {
    return new RegExp(source, "u");
  } catch {
    return undefined;
  }
}

function isoDate(rng: SeededRandom): string {
  const m = rng.int(1, 12);
  const d = rng.int(1, 28);
  return `2025-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

function stringValue(rng: SeededRandom, schema: Schema, paramName: string): string {
  const format = typeof schema.format === "string" ? schema.format : "";
  const words = identifierWords(paramName);
  let v: string;
  if (format === "date" || (words.includes("date") && format !== "date-time") || words.includes("day") || words.includes("birthday")) v = isoDate(rng);
  else if (format === "date-time" || words.includes("datetime") || words.includes("timestamp"))
    v = `${isoDate(rng)}T${String(rng.int(7, 20)).padStart(2, "0")}:${rng.pick(["00", "15", "30", "45"])}:00Z`;
  else if (format === "time" || words.includes("time")) v = `${String(rng.int(7, 20)).padStart(2, "0")}:${rng.pick(["00", "15", "30", "45"])}`;
  else if (format === "email") v = rng.pick(BANK.email!);
  else if (format === "uri" || format === "url") v = rng.pick(BANK.url!);
  else if (format === "uuid") v = "3f2b8c1e-9d4a-4e7b-a6c5-1b2d3e4f5a6b";
  else if (format === "ipv4") v = rng.pick(BANK.ip!);
  else {
    // A schema pattern narrows the bank to values a real user would type for it.
    const pattern = typeof schema.pattern === "string" ? safeRegExp(schema.pattern) : undefined;
    const bank = bankFor(paramName)?.filter((b) => !pattern || pattern.test(b));
    v = bank && bank.length > 0 ? rng.pick(bank) : `${words.join(" ") || "value"} ${rng.pick(["alpha", "blue", "north", "prime", "delta"])}`;
  }
  const min = typeof schema.minLength === "number" ? schema.minLength : 0;
  const max = typeof schema.maxLength === "number" ? schema.maxLength : Infinity;
  if (v.length > max) v = v.slice(0, Math.max(min, max));
  while (v.length < min) v += "x";
  return v;
}

function numberValue(rng: SeededRandom, schema: Schema, integer: boolean, paramName: string): number {
  const words = identifierWords(paramName);
  let lo =
    typeof schema.minimum === "number"
      ? schema.minimum
      : typeof schema.exclusiveMinimum === "number"
        ? schema.exclusiveMinimum + (integer ? 1 : 0.01)
        : undefined;
  let hi =
    typeof schema.maximum === "number"
      ? schema.maximum
      : typeof schema.exclusiveMaximum === "number"
        ? schema.exclusiveMaximum - (integer ? 1 : 0.01)
        : undefined;
  // Defaults that read naturally for the parameter.
  const [dlo, dhi] = words.includes("year")
    ? [1990, 2025]
    : words.some((w) => ["price", "amount", "budget", "salary"].includes(w))
      ? [10, 500]
      : words.some((w) => ["lat", "latitude"].includes(w))
        ? [-60, 60]
        : words.some((w) => ["lon", "lng", "longitude"].includes(w))
          ? [-170, 170]
          : [1, 10];
  lo ??= hi !== undefined ? Math.min(dlo, hi) : dlo;
  hi ??= Math.max(lo, dhi);
  if (integer) {
    const a = Math.ceil(lo);
    const b = Math.max(a, Math.floor(hi));
    return rng.int(a, b);
  }
  return Math.round((lo + rng.next() * (hi - lo)) * 100) / 100;
}

/** Resolves local `$ref`s (`#/$defs/X`, `#/definitions/X`) against the root schema. */
function deref(schema: Schema, root: Schema): Schema {
  let s = schema;
  for (let guard = 0; typeof s.$ref === "string" && guard < 16; guard++) {
    const parts = (s.$ref as string).replace(/^#\/?/, "").split("/").filter(Boolean);
    let cur: unknown = root;
    for (const p of parts) cur = cur && typeof cur === "object" ? (cur as Schema)[p] : undefined;
    if (!cur || typeof cur !== "object") return {};
    s = cur as Schema;
  }
  return s;
}

export function schemaType(schema: Schema): string | undefined {
  const t = schema.type;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) return (t.find((x) => x !== "null") as string | undefined) ?? (t[0] as string | undefined);
  if (schema.properties) return "object";
  if (schema.items) return "array";
  return undefined;
}

/**
 * Past this depth values stop nesting (objects get no properties, lists no items, alternatives are
 * not followed): a self-referencing `$ref` or a very deep schema must end in a value, not a RangeError.
 */
export const MAX_VALUE_DEPTH = 32;

export interface ValueOptions {
  /** Probability of including each optional object property (0 = required only). */
  optionalRate?: number;
}

export function valueForSchema(rng: SeededRandom, schemaIn: unknown, paramName: string, root?: Schema, opts: ValueOptions = {}, depth = 0): unknown {
  const schema0 = schemaIn && typeof schemaIn === "object" ? (schemaIn as Schema) : {};
  const rootSchema = root ?? schema0;
  const schema = deref(schema0, rootSchema);
  if (Object.hasOwn(schema, "const")) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return rng.pick(schema.enum);
  if (depth >= MAX_VALUE_DEPTH) return shallowValue(rng, schema, paramName);
  for (const key of ["anyOf", "oneOf"] as const) {
    const alts = schema[key];
    if (Array.isArray(alts) && alts.length > 0) {
      const nonNull = alts.filter((a) => !(a && typeof a === "object" && (a as Schema).type === "null"));
      return valueForSchema(rng, nonNull[0] ?? alts[0], paramName, rootSchema, opts, depth + 1);
    }
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    const merged: Schema = {};
    for (const part of schema.allOf) Object.assign(merged, deref((part ?? {}) as Schema, rootSchema));
    return valueForSchema(rng, merged, paramName, rootSchema, opts, depth + 1);
  }
  if (schema.default !== undefined && rng.chance(0.3)) return schema.default;
  switch (schemaType(schema)) {
    case "string":
      return stringValue(rng, schema, paramName);
    case "integer":
      return numberValue(rng, schema, true, paramName);
    case "number":
      return numberValue(rng, schema, false, paramName);
    case "boolean":
      return rng.chance(0.5);
    case "null":
      return null;
    case "array": {
      const minItems = typeof schema.minItems === "number" ? schema.minItems : 1;
      const maxItems = typeof schema.maxItems === "number" ? schema.maxItems : Math.max(minItems, 3);
      const n = depth > 4 ? minItems : rng.int(Math.min(minItems, maxItems), Math.max(minItems, Math.min(maxItems, minItems + 2)));
      const singular = paramName.endsWith("s") ? paramName.slice(0, -1) : paramName;
      const items: unknown[] = [];
      for (let i = 0; i < n * 3 && items.length < n; i++) {
        const v = valueForSchema(rng, schema.items, singular, rootSchema, opts, depth + 1);
        // Distinct items read better ("Paris and Tokyo") and satisfy uniqueItems.
        if (!items.some((x) => stringifyJsonExact(x) === stringifyJsonExact(v)) || i >= n * 2) items.push(v);
      }
      return items;
    }
    case "object":
      return objectForSchema(rng, schema, rootSchema, opts, depth);
    default:
      return stringValue(rng, schema, paramName);
  }
}

/** A value that nests nothing: what valueForSchema gives once MAX_VALUE_DEPTH is reached. */
function shallowValue(rng: SeededRandom, schema: Schema, paramName: string): unknown {
  switch (schemaType(schema)) {
    case "object":
      return {};
    case "array":
      return [];
    case "integer":
      return numberValue(rng, schema, true, paramName);
    case "number":
      return numberValue(rng, schema, false, paramName);
    case "boolean":
      return rng.chance(0.5);
    case "null":
      return null;
    default:
      return stringValue(rng, schema, paramName);
  }
}

/** Sets an own property even for "__proto__", which plain assignment would turn into the prototype. */
function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

export function objectForSchema(rng: SeededRandom, schema: Schema, root: Schema, opts: ValueOptions = {}, depth = 0): Record<string, unknown> {
  const props = (schema.properties && typeof schema.properties === "object" ? schema.properties : {}) as Record<string, unknown>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as unknown[]).filter((r): r is string => typeof r === "string") : []);
  const out: Record<string, unknown> = {};
  if (depth >= MAX_VALUE_DEPTH) return out;
  for (const [k, sub] of Object.entries(props)) {
    if (required.has(k) || (depth < 4 && rng.chance(opts.optionalRate ?? 0))) setOwn(out, k, valueForSchema(rng, sub, k, root, opts, depth + 1));
  }
  for (const k of required) if (!Object.hasOwn(out, k)) setOwn(out, k, stringValue(rng, {}, k));
  return out;
}
