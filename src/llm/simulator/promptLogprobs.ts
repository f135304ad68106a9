/**
 * Prompt logprobs that behave like a policy's: when a chat request scores a conversation whose last
 * message is an assistant turn (a label), the simulator works out what the SIMULATED policy itself
 * would answer to the messages before it (the same scripted function the chat endpoint uses, at
 * temperature 0) and gives the label's tokens high logprobs where they line up with that answer
 * (token-level longest common subsequence) and low ones where they do not. So a label the policy
 * would produce has a low perplexity and a corrupted one a high perplexity. Tokens before the final
 * turn keep the ordinary pseudo logprobs. A hash, not a model: nothing here was learned.
 */
import type { ChatRequestBody } from "./requests.js";
import type { ScriptedChat } from "./scripts.js";
import { assistantTurnBody, logprobOfUnit, tokenize } from "./tokenizer.js";

/** Logprob ranges: tokens the policy agrees with, and tokens it would not have produced. */
export const AGREE_LOGPROB = { max: -0.01, min: -0.2 } as const;
export const DISAGREE_LOGPROB = { max: -2.5, min: -6 } as const;

/** Above this many cells the alignment falls back to position-by-position equality (turns are short). */
const MAX_LCS_CELLS = 4_000_000;

/**
 * The request the simulated policy answers when it is asked the prompt of a scoring request: the
 * same body without the final message and without the scoring fields, at temperature 0. A greedy
 * probe that sends `{model, messages, tools, tool_choice, temperature: 0}` gets exactly this answer.
 */
export function policyRequestOf(body: ChatRequestBody): ChatRequestBody {
  const rest: Record<string, unknown> = { ...body };
  for (const key of [
    "prompt_logprobs",
    "max_tokens",
    "max_completion_tokens",
    "add_generation_prompt",
    "continue_final_message",
    "logprobs",
    "top_logprobs",
    "n",
    "stream",
  ])
    delete rest[key];
  return { ...rest, messages: body.messages.slice(0, -1), temperature: 0 } as ChatRequestBody;
}

/** Does this chat request score a final assistant turn (contract C)? */
export function scoresFinalAssistantTurn(body: ChatRequestBody, addGenerationPrompt: boolean): boolean {
  return body.prompt_logprobs != null && !addGenerationPrompt && body.messages.length > 1 && body.messages.at(-1)?.role === "assistant";
}

/** The policy's answer rendered as a whole assistant turn, as the template renders the label. */
export function renderedAnswerTurn(answer: Pick<ScriptedChat, "content" | "toolCalls">): string {
  const calls = answer.toolCalls.map((c) => ({ name: c.name, args: c.arguments }));
  return `<|im_start|>assistant${assistantTurnBody(answer.content, calls)}<|im_end|>\n`;
}

/** For each token of `a`, whether it belongs to a longest common subsequence with `b`. */
export function alignedTokens(a: readonly number[], b: readonly number[]): boolean[] {
  const n = a.length;
  const m = b.length;
  const out = new Array<boolean>(n).fill(false);
  if (n === 0 || m === 0) return out;
  if ((n + 1) * (m + 1) > MAX_LCS_CELLS) {
    for (let i = 0; i < n; i++) out[i] = a[i] === b[i];
    return out;
  }
  const w = m + 1;
  const dp = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) dp[i * w + j] = a[i] === b[j] ? dp[(i + 1) * w + j + 1]! + 1 : Math.max(dp[(i + 1) * w + j]!, dp[i * w + j + 1]!);
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out[i] = true;
      i++;
      j++;
    } else if (dp[(i + 1) * w + j]! >= dp[i * w + j + 1]!) i++;
    else j++;
  }
  return out;
}

/**
 * The logprob of each prompt token: pseudo ones up to `finalTurnStart` (a token index), then high
 * or low by agreement of the final turn's tokens with `referenceTurn` (the policy's own answer).
 */
export function agreementLogprobs(promptText: string, finalTurnStart: number, referenceTurn: string): (index: number, unit: number) => number {
  const { ids } = tokenize(promptText);
  const aligned = alignedTokens(ids.slice(finalTurnStart), tokenize(referenceTurn).ids);
  // `unit` is the token's unitHash in its context (the pseudo logprob's source).
  return (index, h) => {
    if (index < finalTurnStart) return logprobOfUnit(h);
    const range = aligned[index - finalTurnStart] ? AGREE_LOGPROB : DISAGREE_LOGPROB;
    return range.max + (range.min - range.max) * h;
  };
}
