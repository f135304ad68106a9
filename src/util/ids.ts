/** Deterministic ids: the same content always gets the same id, so writes are idempotent upserts. */
import crypto, { createHash } from "node:crypto";

/** Deeper values are refused: the walk recurses, and callers validate depth long before this. */
export const CANONICAL_JSON_MAX_DEPTH = 512;

export class JsonTooDeepError extends Error {
  constructor(readonly limit: number) {
    super(`value nests deeper than ${limit} levels`);
    this.name = "JsonTooDeepError";
  }
}

/**
 * JSON with object keys sorted recursively, so equal values serialise identically. Written in one
 * pass (no key-sorted copy of the value is built): byte-identical to JSON.stringify of such a copy,
 * which is how ids were first defined (test/unit/util/sampleIdStability.test.ts holds it to that).
 */
export function canonicalJson(value: unknown): string {
  return writeCanonical(value, 0) as string;
}

/** The canonical text of `v`, or undefined for what JSON leaves out (undefined, functions, symbols). */
function writeCanonical(v: unknown, depth: number): string | undefined {
  if (depth > CANONICAL_JSON_MAX_DEPTH) throw new JsonTooDeepError(CANONICAL_JSON_MAX_DEPTH);
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "boolean":
      return v ? "true" : "false";
    case "bigint":
      // An integer a double cannot hold, read exactly (src/util/exactJson.ts): its digits.
      return v.toString();
    case "object": {
      if (v === null) return "null";
      if (Array.isArray(v)) {
        let out = "[";
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out += ",";
          out += writeCanonical(v[i], depth + 1) ?? "null";
        }
        return out + "]";
      }
      // Own enumerable keys only (a Date or Map has none, so is "{}"), undefined values skipped; a
      // "__proto__" key (JSON.parse makes it an own property) is a key like any other.
      const obj = v as Record<string, unknown>;
      const keys = sortKeys(Object.keys(obj));
      let out = "{";
      let first = true;
      for (const k of keys) {
        const x = obj[k];
        if (x === undefined) continue;
        const text = writeCanonical(x, depth + 1);
        if (text === undefined) continue;
        out += (first ? "" : ",") + JSON.stringify(k) + ":" + text;
        first = false;
      }
      return out + "}";
    }
    default:
      return undefined;
  }
}

/**
 * The order JSON.stringify wrote the keys of a key-sorted copy in: JavaScript enumerates integer-like
 * keys ("2", "10": array indices) first, in numeric order, then the others in the order they were
 * added (sorted). Ids were defined by that output, so it is kept exactly.
 */
function keyOrder(a: string, b: string): number {
  const ai = isArrayIndex(a);
  const bi = isArrayIndex(b);
  if (ai && bi) return Number(a) - Number(b);
  if (ai !== bi) return ai ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Keys in keyOrder. Most objects hashed are small (a message, a tool call, a schema property):
 * sorted in place by insertion, which unlike Array.prototype.sort allocates nothing (the native
 * sort's scratch space was a tenth of what computing ids allocated). Keys are distinct, so any
 * correct sort gives the same order.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort(keyOrder);
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && keyOrder(keys[j] as string, k) > 0) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

const MAX_ARRAY_INDEX = 2 ** 32 - 2;
function isArrayIndex(k: string): boolean {
  const c = k.charCodeAt(0);
  if (!(c >= 48 && c <= 57)) return false; // fast path: most keys start with a letter
  return /^(?:0|[1-9][0-9]*)$/.test(k) && Number(k) <= MAX_ARRAY_INDEX;
}

/**
 * Canonical JSON of tools, each computed once: a batch offers the same few library tools to hundreds
 * of samples. Keyed by object identity, so it is only for tools nobody mutates while it lives (a
 * batch's library, read from the database for that batch).
 */
export class ToolJsonCache {
  private readonly texts = new WeakMap<object, string>();

  /** The tool's canonical JSON at `depth` (where a sample's tools sit in the hashed value). */
  text(tool: unknown, depth: number): string {
    if (tool === null || typeof tool !== "object") return writeCanonical(tool, depth) ?? "null";
    let t = this.texts.get(tool);
    if (t === undefined) {
      t = writeCanonical(tool, depth) ?? "null";
      this.texts.set(tool, t);
    }
    return t;
  }
}

/** One-shot crypto.hash (Node >= 20.12) skips the Hash object's per-call setup; same digest. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string | Buffer, encoding: "hex") => string }).hash;

export function sha256Hex(data: string | Buffer): string {
  if (oneShotHash) return oneShotHash("sha256", data, "hex");
  return createHash("sha256").update(data).digest("hex");
}

/** Sample id: hash of the campaign and the content (messages + tools); 24 hex chars = 96 bits. */
export function sampleId(campaignId: string, content: { messages: unknown; tools: unknown }, tools?: ToolJsonCache): string {
  return "s_" + sha256Hex(campaignId + "\n" + sampleContentJson(content, tools)).slice(0, 24);
}

/** canonicalJson({messages, tools}), with each tool's text from `cache` when given. */
function sampleContentJson(content: { messages: unknown; tools: unknown }, cache: ToolJsonCache | undefined): string {
  if (!cache || !Array.isArray(content.tools)) return canonicalJson({ messages: content.messages, tools: content.tools });
  // {"messages": ..., "tools": [...]}: keys in sorted order, each at the depth it has in that object.
  const messages = writeCanonical(content.messages, 1);
  let tools = "[";
  for (let i = 0; i < content.tools.length; i++) tools += (i > 0 ? "," : "") + cache.text(content.tools[i], 2);
  tools += "]";
  return messages === undefined ? `{"tools":${tools}}` : `{"messages":${messages},"tools":${tools}}`;
}

/** A 32-bit seed derived from any parts; used to seed per-slot RNGs. */
export function seedFrom(...parts: (string | number)[]): number {
  return parseInt(sha256Hex(parts.join("\u0000")).slice(0, 8), 16) >>> 0;
}
