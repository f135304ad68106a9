/**
 * A tiny deterministic tokenizer for the simulator. Like a Hugging Face tokenizer, it first splits out
 * the chat template's added tokens (`<|im_start|>`, `<tool_call>`, ...: one id each), then cuts the
 * text between them into pieces: words or single punctuation marks carrying their leading spaces
 * (like BPE tokens), and runs of newlines on their own (as Qwen's pre-tokenizer keeps them), so the
 * pieces concatenate back to the text and a rendered chat always splits at turn boundaries. Token
 * ids are a stable hash of the piece, so counts and ids never depend on request order.
 */
import { parseJsonExact, stringifyJsonExact } from "../../util/exactJson.js";
import { createHash, type Hash } from "node:crypto";
import { sha256Hex } from "../../util/ids.js";

export const VOCAB_SIZE = 32_000;
export const MAX_MODEL_LEN = 32_768;

/** The chat template's added tokens, each one token with a fixed id below 100. */
export const SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"] as const;
const SPECIAL_IDS = new Map<string, number>(SPECIAL_TOKENS.map((t, i) => [t, 1 + i]));
const SPECIAL_SPLIT = new RegExp(`(${SPECIAL_TOKENS.map((t) => t.replace(/[|/]/g, "\\$&")).join("|")})`);

const PIECE = /[^\S\n]*(?:[\p{L}\p{N}]+|[^\s\p{L}\p{N}])|\s*\n|[^\S\n]+/gu;

export function tokenPieces(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(SPECIAL_SPLIT)) {
    if (part === "") continue;
    if (SPECIAL_IDS.has(part)) out.push(part);
    else for (const piece of part.match(PIECE) ?? []) out.push(piece);
  }
  return out;
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
  const special = SPECIAL_IDS.get(piece);
  if (special !== undefined) return special;
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

/** A stable number in [0, 1) for a token in a context. */
export function unitHash(context: string, piece: string): number {
  return parseInt(sha256Hex(context + "\u0000" + piece).slice(0, 8), 16) / 0x1_0000_0000;
}

/** A deterministic pseudo log-probability in (-6, 0] for a token in a context (a hash, not a model). */
export function pseudoLogprob(context: string, piece: string): number {
  return logprobOfUnit(unitHash(context, piece));
}

/** pseudoLogprob from the token's unitHash. */
export function logprobOfUnit(h: number): number {
  // Skewed towards likely tokens, as real text is.
  return -6 * h * h;
}

/**
 * unitHash(context, piece) for every token of a text in turn, without hashing the whole context again
 * for each token (which made a long prompt's logprobs quadratic in its length and the simulator, not
 * the client, the bottleneck of scoring benchmarks): the context's hash state grows piece by piece
 * and is copied for each token. Same values as unitHash: the pieces are whole code points, so their
 * UTF-8 bytes concatenate to the context's.
 */
export class ContextHasher {
  private readonly context: Hash = createHash("sha256");

  constructor(context = "") {
    if (context !== "") this.context.update(context);
  }

  /** unitHash(context so far, piece). */
  unitOf(piece: string): number {
    return (
      this.context
        .copy()
        .update("\u0000" + piece)
        .digest()
        .readUInt32BE(0) / 0x1_0000_0000
    );
  }

  append(piece: string): void {
    this.context.update(piece);
  }
}

export interface ChatTemplateOptions {
  /** End with an open assistant turn (`<|im_start|>assistant\n`); vLLM's default is true. */
  addGenerationPrompt?: boolean;
  /** Leave the final message open (no `<|im_end|>` after it), to continue it; cannot go with addGenerationPrompt. */
  continueFinalMessage?: boolean;
}

const DEFAULT_SYSTEM = "You are a helpful assistant.";

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content
      .map((p) =>
        p && typeof p === "object" && typeof (p as Record<string, unknown>).text === "string" ? ((p as Record<string, unknown>).text as string) : "",
      )
      .join("");
  return content == null ? "" : stringifyJsonExact(content);
}

/** Python's json.dumps spacing (", " and ": "), as Jinja's `tojson` in Hugging Face templates writes it. */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (value && typeof value === "object")
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`)
      .join(", ")}}`;
  if (typeof value === "bigint") return value.toString();
  return JSON.stringify(value) ?? "null";
}

/** One Hermes tool-call block; arguments given as a JSON string are parsed first (vLLM does so before templating). */
export function hermesToolCall(name: string, args: unknown): string {
  let value = args;
  if (typeof args === "string") {
    try {
      value = parseJsonExact(args);
    } catch {
      return `<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": ${args}}\n</tool_call>`;
    }
  }
  return `<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": ${pythonJson(value ?? {})}}\n</tool_call>`;
}

function callsOf(msg: Record<string, unknown>): { name: string; args: unknown }[] {
  if (!Array.isArray(msg.tool_calls)) return [];
  return msg.tool_calls.map((c) => {
    const call = (c ?? {}) as Record<string, unknown>;
    const f = (call.function && typeof call.function === "object" ? call.function : call) as Record<string, unknown>;
    return { name: typeof f.name === "string" ? f.name : "", args: f.arguments ?? {} };
  });
}

/** An assistant turn's body: content, then one Hermes block per call (Qwen2.5's template). */
export function assistantTurnBody(content: string | null, calls: readonly { name: string; args: unknown }[]): string {
  if (calls.length === 0) return `\n${content ?? ""}`;
  return (content ? `\n${content}` : "") + calls.map((c) => `\n${hermesToolCall(c.name, c.args)}`).join("");
}

/**
 * Chat messages rendered the way Qwen2.5's ChatML template with Hermes tool calls does: the tools
 * (one JSON line each) in the system turn, assistant calls as `<tool_call>` blocks, consecutive tool
 * results as `<tool_response>` blocks in one user turn. /tokenize and the chat endpoint both use
 * this, so their token counts agree exactly.
 */
export function renderChatPrompt(messages: readonly unknown[], tools?: readonly unknown[], opts: ChatTemplateOptions = {}): string {
  const addGenerationPrompt = opts.addGenerationPrompt ?? true;
  const continueFinal = opts.continueFinalMessage ?? false;
  const msgs = messages.map((m) => (m ?? {}) as Record<string, unknown>);
  const roleOf = (m: Record<string, unknown> | undefined) => (m && typeof m.role === "string" ? m.role : "user");
  const parts: string[] = [];
  const firstIsSystem = msgs.length > 0 && (roleOf(msgs[0]) === "system" || roleOf(msgs[0]) === "developer");
  const system = firstIsSystem ? textOf(msgs[0]!.content) : undefined;
  if (tools && tools.length > 0) {
    parts.push(
      `<|im_start|>system\n${system ?? DEFAULT_SYSTEM}\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n` +
        `You are provided with function signatures within <tools></tools> XML tags:\n<tools>${tools.map((t) => `\n${pythonJson(t)}`).join("")}\n</tools>\n\n` +
        `For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n` +
        `{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n`,
    );
  } else if (system === undefined) parts.push(`<|im_start|>system\n${DEFAULT_SYSTEM}<|im_end|>\n`);
  msgs.forEach((msg, i) => {
    const last = i === msgs.length - 1;
    // continue_final_message: the last message stays open, without its end token.
    const end = last && continueFinal ? "" : "<|im_end|>\n";
    const role = roleOf(msg);
    if (i === 0 && firstIsSystem) {
      if (!(tools && tools.length > 0)) parts.push(`<|im_start|>system\n${system}${end}`);
      return;
    }
    if (role === "tool" || role === "function") {
      const open = i === 0 || roleOf(msgs[i - 1]) !== role ? "<|im_start|>user" : "";
      const close = last || roleOf(msgs[i + 1]) !== role ? end : "";
      parts.push(`${open}\n<tool_response>\n${textOf(msg.content)}\n</tool_response>${close}`);
      return;
    }
    if (role === "assistant") {
      const calls = callsOf(msg);
      const content = msg.content == null ? null : textOf(msg.content);
      parts.push(`<|im_start|>assistant${assistantTurnBody(content, calls)}${end}`);
      return;
    }
    parts.push(`<|im_start|>${role === "developer" ? "system" : role}\n${textOf(msg.content)}${end}`);
  });
  if (addGenerationPrompt) parts.push("<|im_start|>assistant\n");
  return parts.join("");
}
