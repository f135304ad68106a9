/**
 * A tool schema's own integers past a double's precision. The tool library reads tool files exactly
 * (parseJsonExact); a schema integer such as a `maximum` of 98765432109876543210 has no double whose
 * JSON text is those digits, so the schema keeps the nearest double (what Ajv, PostgreSQL's jsonb via
 * node-postgres and Temporal's JSON payloads all carry) and, beside it, the digits as the file wrote
 * them under EXACT_NUMBERS_KEY: JSON Pointer (from the schema's root) -> digits, strings so they
 * survive every JSON hop. Whatever shows the schema (toOpenAiTool: prompts, requests, exports) writes
 * the digits (withExactNumbers), and verify.rules checks calls against them. A schema without the key
 * (every schema whose integers a double holds) is used as written, at no cost.
 */
import { stringifyJsonExact } from "../util/exactJson.js";

/** The schema keyword holding the digits; the tool library refuses a tool file that writes it itself. */
export const EXACT_NUMBERS_KEY = "x-toolloop-exact-numbers";

/** An object key as a JSON Pointer token. */
export const pointerToken = (key: string): string => key.replace(/~/g, "~0").replace(/\//g, "~1");

/** Whether `schema` carries digits a double cannot hold (one property lookup). */
export function hasExactNumbers(schema: unknown): boolean {
  return typeof schema === "object" && schema !== null && Object.hasOwn(schema, EXACT_NUMBERS_KEY);
}

/** The pointer -> digits map of `schema`, only entries that are well formed. */
function exactNumbersOf(schema: Record<string, unknown>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const recorded = schema[EXACT_NUMBERS_KEY];
  if (typeof recorded !== "object" || recorded === null || Array.isArray(recorded)) return out;
  for (const [pointer, digits] of Object.entries(recorded)) if (typeof digits === "string" && /^-?\d+$/.test(digits)) out.set(pointer, BigInt(digits));
  return out;
}

/**
 * `schema` as the tool file wrote it: each recorded integer a bigint in its place, the key gone. The
 * same object when it records none. Write the result with stringifyJsonExact (or stringifyJson).
 */
export function withExactNumbers<T>(schema: T): T {
  if (!hasExactNumbers(schema)) return schema;
  const { [EXACT_NUMBERS_KEY]: _recorded, ...rest } = schema as Record<string, unknown>;
  const exact = exactNumbersOf(schema as Record<string, unknown>);
  const put = (node: unknown, at: string): unknown => {
    const own = exact.get(at);
    if (own !== undefined && typeof node === "number") return own;
    if (Array.isArray(node)) return node.map((v, i) => put(v, `${at}/${i}`));
    if (typeof node === "object" && node !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node))
        Object.defineProperty(out, k, { value: put(v, `${at}/${pointerToken(k)}`), enumerable: true, writable: true, configurable: true });
      return out;
    }
    return node;
  };
  return put(rest, "") as T;
}

/**
 * JSON.stringify, and where the value holds a bigint (a schema's exact integer, an exact argument)
 * stringifyJsonExact: JSON.stringify's bytes for every value without one, at JSON.stringify's cost.
 */
export function stringifyJson(value: unknown, space?: number): string {
  try {
    return JSON.stringify(value, null, space);
  } catch (err) {
    if (err instanceof TypeError && /BigInt/i.test(err.message)) return stringifyJsonExact(value, space);
    throw err;
  }
}
