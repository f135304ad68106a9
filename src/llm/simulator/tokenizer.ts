/**
 * A tiny deterministic tokenizer for the simulator: pieces are words or single punctuation marks,
 * each carrying its leading whitespace (like BPE tokens), so the pieces concatenate back to the text.
 * Token ids are a stable hash of the piece, so counts and ids never depend on request order.
 */
import { sha256Hex } from "../../util/ids.js";

export const VOCAB_SIZE = 32_000;
export const MAX_MODEL_LEN = 32_768;

const PIECE = /\s*(?:[\p{L}\p{N}]+|[^\s\p{L}\p{N}])|\s+/gu;

export function tokenPieces(text: string): string[] {
  return text.match(PIECE) ?? [];
}

/** FNV-1a over UTF-16 code units; fast and stable across runs. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function tokenId(piece: string): number {
  // Ids below 100 are kept for "special" tokens, as real vocabularies do.
  return 100 + (fnv1a(piece) % (VOCAB_SIZE - 100));
}

export function tokenize(text: string): { ids: number[]; pieces: string[] } {
  const pieces = tokenPieces(text);
  return { ids: pieces.map(tokenId), pieces };
}

export function countTokens(text: string): number {
  return tokenPieces(text).length;
}

/** A deterministic pseudo log-probability in (-6, 0] for a token in a context (a hash, not a model). */
export function pseudoLogprob(context: string, piece: string): number {
  const h = parseInt(sha256Hex(context + "\u0000" + piece).slice(0, 8), 16) / 0x1_0000_0000;
  // Skewed towards likely tokens, as real text is.
  return -6 * h * h;
}

/** Chat messages rendered the way a ChatML template would, for counting prompt tokens. */
export function renderChatPrompt(messages: readonly unknown[], tools?: unknown): string {
  const parts: string[] = [];
  if (tools !== undefined) parts.push(`<|im_start|>system\n# Tools\n${JSON.stringify(tools)}<|im_end|>\n`);
  for (const m of messages) {
    const msg = (m ?? {}) as Record<string, unknown>;
    const role = typeof msg.role === "string" ? msg.role : "user";
    const content = typeof msg.content === "string" ? msg.content : msg.content == null ? "" : JSON.stringify(msg.content);
    const calls = msg.tool_calls ? JSON.stringify(msg.tool_calls) : "";
    parts.push(`<|im_start|>${role}\n${content}${calls}<|im_end|>\n`);
  }
  parts.push("<|im_start|>assistant\n");
  return parts.join("");
}
