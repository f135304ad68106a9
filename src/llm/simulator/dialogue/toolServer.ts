/**
 * The simulated MCP tool server (TOOL_SERVER_MARKER): executes a call against its tool's schema and
 * the session's history. Results are stateful by history: an item the session created (its id is in
 * an earlier result) is read back with the same fields, argument values are echoed where the output
 * has a field of that name, and the same call gives the same result. Bad calls get `invalid_call`
 * (unknown tool, arguments that break the input schema, checked with the project's Ajv) or
 * `not_found` (an id of the kind this server issues that the session never saw); the engine's `fail`
 * gets exactly that error; `toolServerErrorRate` adds the server's own trouble from its own stream.
 * The case is read with every digit (roles.ts): an integer past 2^53 (a 20-digit order id) is a bigint,
 * echoed and matched as written; the schema check alone sees it as the nearest double.
 */
import { INJECTED_ERROR_TYPES, type ToolErrorType, type ToolResult } from "../../../dialogue/protocol.js";
import type { SimulatedToolServerError } from "../../simulatorMark.js";
import { createAjv, withoutSchemaDeclaration, type ErrorObject, type ValidateFunction } from "../../../jsonSchema/ajv.js";
import { holdsBigint, stringifyJsonExact } from "../../../util/exactJson.js";
import { canonicalJson, sha256Hex } from "../../../util/ids.js";
import { valueForSchema } from "../schemaValues.js";
import { toSimTool } from "../queryWriter.js";
import { identifierWords } from "../text.js";
import { argsObject, isObject } from "./cases.js";
import type { DialogueSimOptions } from "./options.js";
import { dialogueRng } from "./streams.js";

/** Ids this server hands out: `<noun>_<8 hex>`, e.g. `order_3f9a0c1d`. */
export const ISSUED_ID = /^[a-z][a-z0-9]*_[0-9a-f]{8}$/;

const ERROR_TYPES = ["invalid_call", "not_found", "rate_limited", "unavailable", "timeout", "permission_denied"] as const;

export interface ToolServerCase {
  tool: { name: string; description: string; parameters: Record<string, unknown>; outputSchema?: unknown } | undefined;
  call: { name: string; arguments: unknown };
  history: { name: string; arguments: unknown; result: unknown }[];
  fail?: ToolErrorType;
}

export function parseToolServerCase(c: Record<string, unknown>): ToolServerCase | undefined {
  if (!isObject(c.call) || typeof c.call.name !== "string") return undefined;
  const sim = c.tool ? toSimTool(c.tool) : undefined;
  const outputSchema = isObject(c.tool) ? c.tool.outputSchema : undefined;
  const history = (Array.isArray(c.history) ? c.history : [])
    .filter(isObject)
    .map((h) => ({ name: typeof h.name === "string" ? h.name : "", arguments: h.arguments, result: h.result }));
  const fail = typeof c.fail === "string" && (ERROR_TYPES as readonly string[]).includes(c.fail) ? (c.fail as ToolErrorType) : undefined;
  return {
    tool: sim ? { ...sim, ...(outputSchema !== undefined ? { outputSchema } : {}) } : undefined,
    call: { name: c.call.name, arguments: c.call.arguments },
    history,
    ...(fail ? { fail } : {}),
  };
}

const ajv = createAjv();
const validators = new Map<string, ValidateFunction | null>();

function validatorFor(schema: Record<string, unknown>): ValidateFunction | null {
  const key = canonicalJson(schema);
  let v = validators.get(key);
  if (v === undefined) {
    try {
      v = ajv.compile(withoutSchemaDeclaration(schema));
    } catch {
      v = null; // a schema Ajv cannot compile: the call is not checked against it
    }
    if (validators.size > 1000) validators.clear();
    validators.set(key, v);
  }
  return v;
}

function describeError(e: ErrorObject): string {
  const at = e.instancePath.replace(/^\//, "").replaceAll("/", ".");
  if (e.keyword === "required") return `missing required argument ${at ? `${at}.` : ""}${String((e.params as { missingProperty?: unknown }).missingProperty)}`;
  if (e.keyword === "additionalProperties")
    return `unknown argument ${at ? `${at}.` : ""}${String((e.params as { additionalProperty?: unknown }).additionalProperty)}`;
  return `argument ${at || "(root)"} ${e.message ?? "is invalid"}`;
}

function noun(toolName: string): string {
  const w = identifierWords(toolName);
  const last = (w.at(-1) ?? "item").replace(/[^a-z0-9]/g, "") || "item";
  return last.length > 3 && last.endsWith("s") && !last.endsWith("ss") ? last.slice(0, -1) : last;
}

function errorMessage(type: ToolErrorType, tool: string): string {
  const what = identifierWords(tool).join(" ") || tool;
  switch (type) {
    case "rate_limited":
      return `Rate limit exceeded for ${what}: too many requests, retry after 30 seconds.`;
    case "unavailable":
      return `The ${what} service is temporarily unavailable (503); please try again later.`;
    case "timeout":
      return `The ${what} request timed out after 30 seconds.`;
    case "permission_denied":
      return `The caller is not allowed to use ${what}: permission denied.`;
    case "not_found":
      return `No ${noun(tool)} matches the given arguments.`;
    case "invalid_call":
      return `The call to ${what} is invalid.`;
  }
}

const fail = (type: ToolErrorType, message: string): ToolResult => ({ ok: false, error: { type, message } });

/** Every primitive value seen in the session (arguments and results), for telling a known id from an unknown one. */
function knownValues(history: ToolServerCase["history"]): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, depth: number) => {
    if (depth > 8) return;
    if (typeof v === "string" || typeof v === "number" || typeof v === "bigint") out.add(String(v));
    else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (isObject(v)) for (const x of Object.values(v)) walk(x, depth + 1);
  };
  for (const h of history) {
    walk(h.arguments, 0);
    walk(h.result, 0);
  }
  return out;
}

function isIdKey(k: string): boolean {
  return identifierWords(k).at(-1) === "id";
}

/** A value that can be an id: a string or an integer (a bigint when past 2^53). */
function isScalarId(v: unknown): v is string | number | bigint {
  return typeof v === "string" || typeof v === "number" || typeof v === "bigint";
}

interface Entity {
  key: string;
  value: string;
  fields: Record<string, unknown>;
}

/** Objects of earlier results that carry an id (`id` or `<noun>_id`): what the session has created or seen. */
function entities(history: ToolServerCase["history"]): Entity[] {
  const out: Entity[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 8) return;
    if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (isObject(v)) {
      for (const [k, x] of Object.entries(v)) if (isIdKey(k) && isScalarId(x)) out.push({ key: k, value: String(x), fields: v });
      for (const x of Object.values(v)) walk(x, depth + 1);
    }
  };
  for (const h of history) walk(isObject(h.result) && h.result.ok === true ? h.result.result : undefined, 0);
  return out;
}

/** The entity an id argument names: the same key (`order_id` = `order_id`), or an `id` read back through `<noun>_id` / `id`. Newest first. */
function referencedEntity(known: readonly Entity[], args: Record<string, unknown>): Record<string, unknown> | undefined {
  for (const [k, v] of Object.entries(args)) {
    if (!isIdKey(k) || !isScalarId(v)) continue;
    for (let i = known.length - 1; i >= 0; i--) {
      const e = known[i]!;
      if (e.value === String(v) && (e.key === k || e.key === "id")) return e.fields;
    }
  }
  return undefined;
}

/** Tools that make something new get their own id even when an argument names an existing item. */
const CREATES = /^(create|add|new|make|book|place|post|submit|register|insert|open|start|schedule|send|upload)$/;

/** A bigint is a number here: an integer past 2^53. */
function kindOf(v: unknown): string {
  return typeof v === "bigint" ? "number" : typeof v;
}

function sameKind(a: unknown, b: unknown): boolean {
  return kindOf(a) === kindOf(b) && Array.isArray(a) === Array.isArray(b);
}

/** A value may replace a generated one when it has the same kind and, for an enum, is a member. */
function fits(schema: unknown, generated: unknown, value: unknown): boolean {
  if (!sameKind(generated, value)) return false;
  const e = isObject(schema) && Array.isArray(schema.enum) ? schema.enum : undefined;
  return !e || e.some((x) => stringifyJsonExact(x) === stringifyJsonExact(value));
}

/** What a lookup without an output schema reports besides the echoed arguments, by the tool's noun. */
function flavour(rng: ReturnType<typeof dialogueRng>, noun: string): Record<string, unknown> {
  if (/^(weather|forecast|temperature)$/.test(noun))
    return { temperature_c: rng.int(-5, 34), conditions: rng.pick(["sunny", "cloudy", "light rain", "windy", "clear"]) };
  if (/^(price|quote|rate|cost)$/.test(noun)) return { price: Math.round((10 + rng.next() * 490) * 100) / 100, currency: "USD" };
  if (/^(product|item|result|record|match)$/.test(noun))
    return { name: rng.pick(["Aurora 2", "Model X100", "Classic", "Pro Edition"]), in_stock: rng.chance(0.8) };
  return {};
}

function resultOf(seed: number, c: ToolServerCase, args: Record<string, unknown>): unknown {
  const tool = c.tool!;
  const verb = identifierWords(tool.name)[0] ?? "";
  const referenced = CREATES.test(verb) ? undefined : referencedEntity(entities(c.history), args);
  const rng = dialogueRng("tool-result", seed, tool.name, args);
  const id = `${noun(tool.name)}_${sha256Hex(`${seed}\u0000${tool.name}\u0000${canonicalJson(args)}`).slice(0, 8)}`;

  if (isObject(tool.outputSchema)) {
    const value = valueForSchema(rng, tool.outputSchema, "result", tool.outputSchema, { optionalRate: 0.5 });
    if (!isObject(value)) return value;
    const props = isObject(tool.outputSchema.properties) ? tool.outputSchema.properties : {};
    for (const k of Object.keys(value)) {
      if (referenced && Object.hasOwn(referenced, k) && fits(props[k], value[k], referenced[k])) value[k] = referenced[k];
      if (Object.hasOwn(args, k) && fits(props[k], value[k], args[k])) value[k] = args[k];
    }
    return value;
  }
  // A read of an item the session has seen gives that item back; anything else is a new item.
  const out: Record<string, unknown> = referenced ? { ...referenced } : { id, ...flavour(rng, noun(tool.name)) };
  for (const [k, v] of Object.entries(args)) out[k] = v;
  if (!Object.hasOwn(out, "status")) out.status = "ok";
  return out;
}

/** The tool server's answer to a case. */
export function serveToolCall(seed: number, c: ToolServerCase, rates: Required<DialogueSimOptions>): ToolResult {
  return toolServerAnswer(seed, c, rates).result;
}

/**
 * The tool server's answer to a case and, for an error, why it gave it: `asked` (the engine's `fail`),
 * `rules` (the call broke the tool's rules: an unknown tool, arguments against its schema, an id the
 * session never saw) or `fault` (its own random trouble at toolServerErrorRate). Sent beside the
 * answer (src/llm/simulatorMark.ts), so reports tell the simulator's random faults from its rules.
 */
export function toolServerAnswer(
  seed: number,
  c: ToolServerCase,
  rates: Required<DialogueSimOptions>,
): { result: ToolResult; error?: SimulatedToolServerError } {
  const name = c.call.name;
  const byRule = (type: ToolErrorType, message: string) => ({ result: fail(type, message), error: "rules" as const });
  if (c.fail) return { result: fail(c.fail, errorMessage(c.fail, name)), error: "asked" };
  if (!c.tool || c.tool.name !== name) return byRule("invalid_call", `Unknown tool "${name}": this server offers no tool by that name.`);
  const args = argsObject(c.call.arguments);
  if (!args) return byRule("invalid_call", `The arguments of ${name} are not a JSON object.`);
  const validate = validatorFor(c.tool.parameters);
  // Ajv knows no bigint: it checks the arguments with each one as the nearest double.
  if (validate && !validate(holdsBigint(args) ? JSON.parse(stringifyJsonExact(args)) : args)) {
    const problems = (validate.errors ?? []).slice(0, 3).map(describeError);
    return byRule("invalid_call", `Invalid arguments for ${name}: ${problems.join("; ") || "they do not match the input schema"}.`);
  }
  const known = knownValues(c.history);
  for (const [k, v] of Object.entries(args)) {
    if (typeof v === "string" && ISSUED_ID.test(v) && !known.has(v))
      return byRule("not_found", `No ${noun(name)} with ${identifierWords(k).join(" ")} "${v}" exists.`);
  }
  const own = dialogueRng("tool-fault", seed, c);
  if (own.chance(rates.toolServerErrorRate)) {
    const type = own.pick(INJECTED_ERROR_TYPES);
    return { result: fail(type, errorMessage(type, name)), error: "fault" };
  }
  return { result: { ok: true, result: resultOf(seed, c, args) } };
}
