/** Deterministic ids: the same content always gets the same id, so writes are idempotent upserts. */
import { createHash } from "node:crypto";

/** Deeper values are refused: the walk recurses, and callers validate depth long before this. */
export const CANONICAL_JSON_MAX_DEPTH = 512;

export class JsonTooDeepError extends Error {
  constructor(readonly limit: number) {
    super(`value nests deeper than ${limit} levels`);
    this.name = "JsonTooDeepError";
  }
}

/** JSON with object keys sorted recursively, so equal values serialise identically. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value, 0));
}

function sortKeys(v: unknown, depth: number): unknown {
  if (depth > CANONICAL_JSON_MAX_DEPTH) throw new JsonTooDeepError(CANONICAL_JSON_MAX_DEPTH);
  if (Array.isArray(v)) return v.map((x) => sortKeys(x, depth + 1));
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      // defineProperty: a "__proto__" key (JSON.parse makes it an own property) stays a key instead of
      // becoming the prototype and vanishing from the output.
      if (x !== undefined) Object.defineProperty(out, k, { value: sortKeys(x, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Sample id: hash of the campaign and the content (messages + tools); 24 hex chars = 96 bits. */
export function sampleId(campaignId: string, content: { messages: unknown; tools: unknown }): string {
  return "s_" + sha256Hex(campaignId + "\n" + canonicalJson({ messages: content.messages, tools: content.tools })).slice(0, 24);
}

/** A 32-bit seed derived from any parts; used to seed per-slot RNGs. */
export function seedFrom(...parts: (string | number)[]): number {
  return parseInt(sha256Hex(parts.join("\u0000")).slice(0, 8), 16) >>> 0;
}
