/**
 * Response bodies in the exact shapes vLLM's OpenAI-compatible server returns
 * (vllm/entrypoints/openai/protocol.py), so client code tested here works against a real server.
 */
import { ContextHasher, logprobOfUnit, MAX_MODEL_LEN, tokenize, tokenPieces, VOCAB_SIZE } from "./tokenizer.js";

import { SIMULATOR_FINGERPRINT } from "../simulatorMark.js";

/** Every completion names the simulator here (contract: clients mark what they got as simulated). */
export const SYSTEM_FINGERPRINT = SIMULATOR_FINGERPRINT;

export interface VllmError {
  object: "error";
  message: string;
  type: string;
  param: string | null;
  code: number;
}

const ERROR_TYPES: Record<number, string> = {
  400: "BadRequestError",
  404: "NotFoundError",
  429: "TooManyRequestsError",
  500: "InternalServerError",
  501: "NotImplementedError",
  503: "ServiceUnavailableError",
};

export function errorBody(status: number, message: string): VllmError {
  return { object: "error", message, type: ERROR_TYPES[status] ?? "BadRequestError", param: null, code: status };
}

export interface Usage {
  prompt_tokens: number;
  total_tokens: number;
  completion_tokens: number;
  prompt_tokens_details: null;
}

export function usage(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, total_tokens: prompt + completion, completion_tokens: completion, prompt_tokens_details: null };
}

function bytesOf(s: string): number[] {
  return [...Buffer.from(s, "utf8")];
}

const ALTERNATIVES = [
  " the",
  ",",
  ".",
  " and",
  " to",
  " a",
  " of",
  " in",
  " is",
  " that",
  " for",
  " it",
  " with",
  " on",
  " as",
  " be",
  " at",
  " by",
  " this",
  " or",
];

/** Ranked alternatives for a position, excluding the actual token. */
function alternatives(actual: string, k: number, actualRank: number): { token: string; logprob: number; rank: number }[] {
  const out: { token: string; logprob: number; rank: number }[] = [];
  let rank = 1;
  for (const token of ALTERNATIVES) {
    if (out.length >= k) break;
    if (token === actual) continue;
    if (rank === actualRank) rank++;
    out.push({ token, logprob: Math.min(-0.05, -0.7 * (rank - 1) - 0.35), rank });
    rank++;
  }
  return out;
}

/** Rank consistent with a logprob: likelier tokens rank higher. */
function rankFor(logprob: number): number {
  return 1 + Math.floor(-logprob / 0.7);
}

/** `choices[i].logprobs` for chat: one entry per generated token. */
export function chatLogprobs(text: string, topK: number): { content: unknown[] } {
  const pieces = tokenPieces(text);
  const ctx = new ContextHasher();
  const content = pieces.map((token) => {
    const logprob = logprobOfUnit(ctx.unitOf(token));
    ctx.append(token);
    const alts = alternatives(token, Math.max(0, topK - 1), rankFor(logprob));
    const top =
      topK > 0 ? [{ token, logprob, bytes: bytesOf(token) }, ...alts.map((a) => ({ token: a.token, logprob: a.logprob, bytes: bytesOf(a.token) }))] : [];
    return { token, logprob, bytes: bytesOf(token), top_logprobs: top };
  });
  return { content };
}

/**
 * vLLM `prompt_logprobs`: null for the first token (nothing precedes it), then a dict keyed by token
 * id string holding the actual token and the top-k alternatives.
 */
export function promptLogprobs(
  text: string,
  k: number,
  logprobAt: (index: number, unit: number) => number = (_i, unit) => logprobOfUnit(unit),
): (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[] {
  const { ids, pieces } = tokenize(text);
  const ctx = new ContextHasher();
  return pieces.map((piece, i) => {
    const unit = i === 0 ? 0 : ctx.unitOf(piece);
    ctx.append(piece);
    if (i === 0) return null;
    const logprob = logprobAt(i, unit);
    const rank = rankFor(logprob);
    const entry: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
    for (const a of alternatives(piece, k, rank)) entry[String(tokenize(a.token).ids[0] ?? 0)] = { logprob: a.logprob, rank: a.rank, decoded_token: a.token };
    entry[String(ids[i])] = { logprob, rank, decoded_token: piece };
    return entry;
  });
}

/** Legacy completions `logprobs` object (echo puts the prompt tokens first, the first logprob null). */
export function completionLogprobs(prompt: string, completion: string, echo: boolean, k: number) {
  const tokens: string[] = [];
  const tokenLogprobs: (number | null)[] = [];
  const top: (Record<string, number> | null)[] = [];
  const offsets: number[] = [];
  let offset = 0;
  const promptPieces = tokenPieces(prompt);
  const all = echo ? [...promptPieces, ...tokenPieces(completion)] : tokenPieces(completion);
  const ctx = new ContextHasher(echo ? "" : prompt);
  all.forEach((piece, i) => {
    tokens.push(piece);
    offsets.push(offset);
    offset += piece.length;
    if (echo && i === 0) {
      tokenLogprobs.push(null);
      top.push(null);
    } else {
      const lp = logprobOfUnit(ctx.unitOf(piece));
      tokenLogprobs.push(lp);
      const t: Record<string, number> = { [piece]: lp };
      for (const a of alternatives(piece, Math.max(0, k - 1), rankFor(lp))) t[a.token] = a.logprob;
      top.push(t);
    }
    ctx.append(piece);
  });
  return { text_offset: offsets, token_logprobs: tokenLogprobs, tokens, top_logprobs: top };
}

export interface ModelCard {
  id: string;
  object: "model";
  created: number;
  owned_by: "vllm";
  root: string;
  parent: null;
  max_model_len: number;
  permission: unknown[];
}

export function modelCard(id: string, created: number): ModelCard {
  return {
    id,
    object: "model",
    created,
    owned_by: "vllm",
    root: id,
    parent: null,
    max_model_len: MAX_MODEL_LEN,
    permission: [
      {
        id: `modelperm-${id}`,
        object: "model_permission",
        created,
        allow_create_engine: false,
        allow_sampling: true,
        allow_logprobs: true,
        allow_search_indices: false,
        allow_view: true,
        allow_fine_tuning: false,
        organization: "*",
        group: null,
        is_blocking: false,
      },
    ],
  };
}

export { MAX_MODEL_LEN, VOCAB_SIZE };
