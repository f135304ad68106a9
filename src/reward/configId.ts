import { createHash } from "node:crypto";
import type { RewardConfig } from "./config.js";

/** JSON with object keys sorted at every level: one text per config, whatever order it was written in. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const keys = Object.keys(v).sort();
    return `{${keys
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/** The reward service's id of a (parsed, defaults applied) config: the first 16 hex digits of the SHA-256 of its canonical JSON. */
export function rewardConfigId(config: RewardConfig): string {
  return createHash("sha256").update(canonicalJson(config)).digest("hex").slice(0, 16);
}
