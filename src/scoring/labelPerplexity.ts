/**
 * Perplexity of a sample's label under a policy (the LoopTool selection signal, computed on the label
 * rather than on the model's own output): the prompt plus the label's assistant turn, rendered by the
 * served model's chat template, scored with vLLM's `prompt_logprobs`; the mean is over the label's
 * tokens only. The span is found by tokenizing through the server's own `/tokenize` with and without
 * the label, so it is the template's assistant turn whatever template the model has, and it ends at
 * the turn's end-of-turn token: what the template writes after that token (ChatML's `\n` after
 * `<|im_end|>`) the model never generates, and that near-certain token would pull every label's mean
 * logprob towards 0, the more the shorter the label. The token is known by its string: the built-in
 * lists (harmony's `<|return|>`/`<|call|>` for gpt-oss), or the stage's `endOfTurnTokens`.
 *
 * gpt-oss (a harmony rendering) is scored another way: vLLM feeds it openai-harmony's rendering of
 * the chat, not the chat template /tokenize renders (README, "Label perplexity span"), so its label
 * is scored after the prompt tokens the chat endpoint itself reports, written as the model generates it:
 * one generation per tool call, as gpt-oss stops at each call's `<|call|>`.
 */
import type { ChatMessage, McpTool, OpenAiTool, ToolCall } from "../domain/types.js";
import { toOpenAiTool } from "../domain/types.js";
import { LlmError, type CallOptions, type LlmClient } from "../llm/client.js";
import { policyPromptOf } from "../export/trainingMessages.js";
import { labelOf } from "../matching/labelAgreement.js";

export interface PerplexityResult {
  /** exp(-mean logprob) over the span's tokens. */
  perplexity: number;
  meanLogprob: number;
  /** Tokens in the span. */
  tokens: number;
  /** [start, end) of the span in the rendered prompt's tokens (with `spans`: the first's). */
  span: [number, number];
  /**
   * A gpt-oss label with several tool calls: each call's span, in the token sequence it was scored in
   * (the prompt, the calls before it as history, the call); `tokens` and the mean are over them all.
   */
  spans?: [number, number][];
  /** The end-of-turn token the span ends with; null when the rendered turn holds none the scorer knows (the span is then the whole rendered turn). */
  endOfTurn: string | null;
  /** With endOfTurn null: the turn's last token strings, to name the model's end-of-turn token from (`endOfTurnTokens`). */
  turnEnd?: string[];
}

/** End-of-turn tokens a stage's config names for its scored model (`endOfTurnTokens`), with the field's path for messages. */
export interface ConfiguredEndOfTurn {
  tokens: readonly string[];
  /** e.g. `stages[3].endOfTurnTokens`. */
  field: string;
}

/**
 * A sample that cannot be scored for a reason of its own (no label to score, a label token the policy
 * gives no probability): counted as failed, never retried, and never a reason to fail the rest of the batch.
 */
export class UnscorableSampleError extends Error {
  override name = "UnscorableSampleError";
}

/** The label span of a conversation: `withLabel` must start with `withoutLabel`. */
export function labelSpan(withoutLabel: readonly number[], withLabel: readonly number[]): [number, number] {
  if (withLabel.length <= withoutLabel.length)
    throw new Error(`the rendered label adds no tokens (${withoutLabel.length} tokens without it, ${withLabel.length} with it)`);
  for (let i = 0; i < withoutLabel.length; i++)
    if (withoutLabel[i] !== withLabel[i])
      throw new Error(
        `the prompt's tokens are not a prefix of the prompt-plus-label tokens (they differ at token ${i}); the chat template renders the generation prompt differently from the assistant turn`,
      );
  return [withoutLabel.length, withLabel.length];
}

/**
 * Tokens that end a turn in the chat templates of common open models, as vLLM's /tokenize writes them
 * in `token_strs`. The model generates one of them to end its answer (vLLM stops on it), so it belongs
 * in the label's likelihood; whatever the template writes after it (a newline) the model never does.
 * A model whose token is not here is named in the stage's `endOfTurnTokens`.
 */
export const END_OF_TURN_TOKENS: ReadonlySet<string> = new Set([
  "<|im_end|>", // ChatML: Qwen2, Qwen2.5, Qwen3, Hermes, Yi
  "<|eot_id|>", // Llama 3.x
  "<|eom_id|>", // Llama 3.1 and later, after a built-in (ipython) tool call
  "<|end|>", // Phi-3, Phi-4 (not in harmony: see HARMONY_END_OF_TURN_TOKENS)
  "<end_of_turn>", // Gemma
  "</s>", // Mistral, Llama 2
  "<|endoftext|>", // templates that close a turn with the end-of-text token itself
  "<\uff5cend\u2581of\u2581sentence\uff5c>", // DeepSeek V2, V3, R1
  "<|END_OF_TURN_TOKEN|>", // Command R
]);

/**
 * The harmony format's (gpt-oss) stop tokens: the assistant's turn ends with `<|return|>` after its
 * final answer and with `<|call|>` after a tool call. `<|end|>` closes a message inside the turn (the
 * analysis the template writes before a tool call), never the turn: the model goes on after it.
 */
export const HARMONY_END_OF_TURN_TOKENS: ReadonlySet<string> = new Set(["<|return|>", "<|call|>"]);

/** Every harmony message's header ends with this token; no other template of END_OF_TURN_TOKENS' models has it. */
const HARMONY_MESSAGE_TOKEN = "<|message|>";

/** Token strings shown of a turn without a recognised end-of-turn token. */
const TURN_END_SHOWN = 3;

/**
 * The label span cut after its last end-of-turn token: the tokens after it are template formatting
 * (ChatML's `\n`) the model never generates. With `configured` tokens (the stage's
 * `endOfTurnTokens`) only those count, and a span without one is an error naming the field. Without,
 * a harmony rendering (gpt-oss) ends at `<|return|>` or `<|call|>`, any other at a token of
 * END_OF_TURN_TOKENS; a span holding none keeps its whole length, with `turnEnd` its last tokens.
 */
export function endAtEndOfTurn(
  span: [number, number],
  tokenStrs: readonly string[],
  configured?: ConfiguredEndOfTurn,
): { span: [number, number]; endOfTurn: string | null; turnEnd?: string[] } {
  if (tokenStrs.length < span[1]) throw new Error(`${tokenStrs.length} token strings for a label span ending at token ${span[1]}`);
  const turn = tokenStrs.slice(span[0], span[1]);
  const ends = configured ? new Set(configured.tokens) : turn.includes(HARMONY_MESSAGE_TOKEN) ? HARMONY_END_OF_TURN_TOKENS : END_OF_TURN_TOKENS;
  for (let i = span[1] - 1; i >= span[0]; i--) {
    const token = tokenStrs[i]!;
    if (ends.has(token)) return { span: [span[0], i + 1], endOfTurn: token };
  }
  const turnEnd = turn.slice(-TURN_END_SHOWN);
  if (configured)
    throw new Error(
      `the label's rendered turn holds none of the end-of-turn tokens ${configured.field} names (${configured.tokens.map((t) => JSON.stringify(t)).join(", ")}); ` +
        `it ends with ${turnEnd.map((t) => JSON.stringify(t)).join(" ")}: name the token the model ends its turn with there, as /tokenize writes it in token_strs`,
    );
  return { span, endOfTurn: null, turnEnd };
}

/** The path of a stage's `endOfTurnTokens` in its config, for messages. */
export function endOfTurnField(stages: readonly { name: string }[], stageName: string): string {
  return `stages[${stages.findIndex((s) => s.name === stageName)}].endOfTurnTokens`;
}

/** A stage's `endOfTurnTokens` with its field path, or undefined when the stage does not set it. */
export function configuredEndOfTurn(
  stages: readonly { name: string }[],
  stage: { name: string; endOfTurnTokens?: readonly string[] | undefined },
): ConfiguredEndOfTurn | undefined {
  if (stage.endOfTurnTokens === undefined) return undefined;
  return { tokens: stage.endOfTurnTokens, field: endOfTurnField(stages, stage.name) };
}

/** Whether a stored perplexity's details (`endOfTurnTokens`, absent when none was configured) were computed with `configured`. */
export function sameEndOfTurnTokens(details: unknown, configured: ConfiguredEndOfTurn | undefined): boolean {
  const stored = (details as { endOfTurnTokens?: unknown } | null)?.endOfTurnTokens;
  if (configured === undefined) return stored === undefined;
  return Array.isArray(stored) && stored.length === configured.tokens.length && stored.every((t, i) => t === configured.tokens[i]);
}

/**
 * The warning of a stage some of whose perplexities found no end-of-turn token in the label's
 * rendered turn: how many, an example's last tokens, and the field that names the model's token.
 */
export function noEndOfTurnWarning(p: { count: number; of: number; what: string; field: string; example?: { id: string; turnEnd: unknown } }): string {
  const shown = Array.isArray(p.example?.turnEnd) ? p.example.turnEnd.map((t) => JSON.stringify(t)).join(" ") : undefined;
  return (
    `${p.count} of ${p.of} ${p.what} found no end-of-turn token in the label's rendered turn (details.endOfTurn null), so the span is the whole turn, ` +
    "with any template tokens after the model's end of turn that it never generates (a newline after the end token pulls short labels' perplexity down most)" +
    (shown && p.example ? `; ${p.example.id}'s turn ends with ${shown}` : "") +
    `. The policy's chat template ends its turn with a token not on the built-in list: set ${p.field} to it as /tokenize writes it in token_strs (e.g. ["<|im_end|>"])`
  );
}

/**
 * vLLM writes a logprob of -inf as this number (clamp_prompt_logprobs): the model gives the token no
 * probability at all, so it is not a very unlikely token to average with the others.
 */
export const VLLM_NEG_INF_LOGPROB = -9999;

/** Perplexity from token logprobs over [start, end). */
export function spanPerplexity(logprobs: readonly (number | null)[], span: [number, number]): { perplexity: number; meanLogprob: number } {
  if (!(Number.isInteger(span[0]) && Number.isInteger(span[1]) && 0 <= span[0] && span[0] < span[1] && span[1] <= logprobs.length))
    throw new Error(`the span [${span[0]}, ${span[1]}) is empty or outside the ${logprobs.length} logprobs`);
  let sum = 0;
  let n = 0;
  for (let i = span[0]; i < span[1]; i++) {
    const lp = logprobs[i];
    if (typeof lp !== "number" || !Number.isFinite(lp)) throw new Error(`no logprob for token ${i} of the label span [${span[0]}, ${span[1]})`);
    // Averaged in, -9999 would make a perplexity of e^(9999/n): 1e144 for a 30-token label, Infinity under 14.
    if (lp <= VLLM_NEG_INF_LOGPROB)
      throw new UnscorableSampleError(
        `token ${i} of the label span [${span[0]}, ${span[1]}) has logprob ${lp} (vLLM's -inf: the policy gives it no probability), so the perplexity is infinite`,
      );
    sum += lp;
    n++;
  }
  const meanLogprob = sum / n;
  const perplexity = Math.exp(-meanLogprob);
  // A value that is not a finite number would be stored as Infinity and spoil every mean and comparison.
  if (!Number.isFinite(perplexity))
    throw new UnscorableSampleError(`the label span [${span[0]}, ${span[1]}) has mean logprob ${meanLogprob}: its perplexity overflows a double`);
  return { perplexity, meanLogprob };
}

/**
 * Logprobs of every prompt token from a chat response's top-level `prompt_logprobs` (vLLM's shape).
 * With `tokenIds` (what /tokenize made of the same prompt) each entry's logprob is the one keyed by
 * that token's id, so the two renderings are checked token by token, not only by count; an entry
 * with top-k alternatives beside the actual token is then read correctly too.
 */
export function promptLogprobsOf(
  raw: unknown,
  describe: string,
  tokenIds?: readonly number[],
  mismatch = "the chat endpoint and /tokenize render differently",
): (number | null)[] {
  const entries = (raw as { prompt_logprobs?: unknown } | null)?.prompt_logprobs;
  if (!Array.isArray(entries))
    throw new LlmError("bad_response", `${describe}: the response has no prompt_logprobs list; the endpoint must support vLLM's prompt_logprobs`);
  if (tokenIds && entries.length !== tokenIds.length)
    throw new LlmError(
      "bad_response",
      `${describe}: ${entries.length} prompt logprobs for a prompt /tokenize counts as ${tokenIds.length} tokens; ${mismatch}`,
    );
  return entries.map((entry: unknown, i) => {
    if (entry === null) {
      if (i === 0) return null;
      // Only the first prompt token has nothing before it; a null later would surface as a plain error in the span's arithmetic.
      throw new LlmError("bad_response", `${describe}: prompt_logprobs[${i}] is null; only the first entry (nothing precedes that token) may be`);
    }
    if (typeof entry !== "object" || Array.isArray(entry)) throw new LlmError("bad_response", `${describe}: prompt_logprobs[${i}] is not an object or null`);
    const byId = entry as Record<string, { logprob?: unknown } | undefined>;
    let chosen: { logprob?: unknown } | undefined;
    if (tokenIds) {
      chosen = byId[String(tokenIds[i])];
      if (chosen === undefined)
        throw new LlmError(
          "bad_response",
          `${describe}: prompt_logprobs[${i}] has no entry for token ${tokenIds[i]} (the token /tokenize put there); ${mismatch}`,
        );
    } else {
      // prompt_logprobs: 0 returns the prompt token alone (vLLM always includes the actual token).
      const values = Object.values(byId);
      if (values.length !== 1)
        throw new LlmError("bad_response", `${describe}: prompt_logprobs[${i}] should hold exactly the prompt token's logprob (prompt_logprobs: 0)`);
      chosen = values[0];
    }
    // vLLM writes -inf as a large negative number; anything not finite is unusable.
    if (typeof chosen?.logprob !== "number" || !Number.isFinite(chosen.logprob))
      throw new LlmError("bad_response", `${describe}: prompt_logprobs[${i}] lacks a finite numeric logprob`);
    return chosen.logprob;
  });
}

/** A label as the chat template sees it: an assistant message with OpenAI tool calls. */
function assistantMessage(label: { content: string | null; tool_calls?: readonly ToolCall[] }): ChatMessage {
  return { role: "assistant", content: label.content, ...(label.tool_calls && label.tool_calls.length > 0 ? { tool_calls: [...label.tool_calls] } : {}) };
}

/**
 * The perplexity of `label` as the answer to `prompt` under the client's model: three requests (two
 * /tokenize, one chat completion that scores the prompt and generates one token); for gpt-oss
 * (harmony) the two /tokenize, then per generation (a final answer, or each tool call) one chat
 * completion, one /tokenize and one /completions.
 */
export async function perplexityOfAnswer(
  client: LlmClient,
  p: {
    prompt: ChatMessage[];
    label: { content: string | null; tool_calls?: readonly ToolCall[] };
    tools: readonly McpTool[];
    /** The stage's `endOfTurnTokens`, when set: they replace the built-in lists. */
    endOfTurn?: ConfiguredEndOfTurn | undefined;
  },
  opts: CallOptions = {},
): Promise<PerplexityResult> {
  const tools: OpenAiTool[] | undefined = p.tools.length > 0 ? p.tools.map(toOpenAiTool) : undefined;
  const full = [...p.prompt, assistantMessage(p.label)];
  const [without, withLabel] = await Promise.all([
    client.tokenizeChat({ messages: p.prompt, ...(tools ? { tools } : {}), addGenerationPrompt: true }, opts),
    client.tokenizeChat({ messages: full, ...(tools ? { tools } : {}), addGenerationPrompt: false, returnTokenStrs: true }, opts),
  ]);
  const describe = `LLM ${client.role} (${client.model})`;
  if (!withLabel.tokenStrs)
    throw new LlmError(
      "bad_response",
      `${describe}: /tokenize returned no token_strs for return_token_strs: true (vLLM 0.9.1 or later returns them); they are needed to end the label span at the template's end-of-turn token`,
    );
  if (isHarmonyRendering(withLabel.tokenStrs)) return harmonyPerplexityOfAnswer(client, { ...p, tools }, describe, opts);
  let span: [number, number];
  let endOfTurn: string | null;
  let turnEnd: string[] | undefined;
  try {
    ({ span, endOfTurn, turnEnd } = endAtEndOfTurn(labelSpan(without.tokens, withLabel.tokens), withLabel.tokenStrs, p.endOfTurn));
  } catch (err) {
    // The server's own template decides this, per sample (a label rendering to nothing, a template
    // that renders the generation prompt differently from the turn): unusable, not transient.
    throw new LlmError("bad_response", `${describe}: ${(err as Error).message}`);
  }
  const res = await client.chat(
    {
      messages: full,
      ...(tools ? { tools } : {}),
      temperature: 0,
      maxTokens: 1,
      extraBody: { prompt_logprobs: 0, add_generation_prompt: false, continue_final_message: false },
    },
    opts,
  );
  const logprobs = promptLogprobsOf(res.raw, describe, withLabel.tokens);
  return { ...spanPerplexity(logprobs, span), tokens: span[1] - span[0], span, endOfTurn, ...(turnEnd ? { turnEnd } : {}) };
}

/** A harmony rendering (gpt-oss): its messages open with `<|start|>` and their headers end with `<|message|>`. */
export function isHarmonyRendering(tokenStrs: readonly string[]): boolean {
  return tokenStrs.includes("<|start|>") && tokenStrs.includes(HARMONY_MESSAGE_TOKEN);
}

/**
 * One generation of a gpt-oss label: the calls of the label written before it (vLLM renders them as
 * history), and the text the model generates, as it generates it after `<|start|>assistant`.
 */
export interface HarmonyGeneration {
  earlierCalls: ToolCall[];
  text: string;
}

/**
 * A label as gpt-oss generates it on vLLM (openai cookbook, "OpenAI harmony response format";
 * openai/harmony docs/format.md): a final answer on the `final` channel ending with `<|return|>`; a
 * tool call on `commentary` to `functions.NAME`, `<|constrain|>json`, ending with `<|call|>`, its
 * text a preamble message on `commentary` before it (as vLLM reads an assistant message's content
 * beside tool calls). `<|call|>` is a stop token (vLLM's chat endpoint stops gpt-oss on
 * `stop_tokens_for_assistant_actions`), so a label with several calls is one generation per call,
 * each after the calls before it; the preamble belongs to the first.
 */
export function harmonyGenerations(label: { content: string | null; tool_calls?: readonly ToolCall[] }): HarmonyGeneration[] {
  const calls = label.tool_calls ?? [];
  if (calls.length === 0) return [{ earlierCalls: [], text: `<|channel|>final<|message|>${label.content ?? ""}<|return|>` }];
  return calls.map((c, i) => ({
    earlierCalls: calls.slice(0, i),
    text:
      (i === 0 && label.content ? `<|channel|>commentary<|message|>${label.content}<|end|><|start|>assistant` : "") +
      `<|channel|>commentary to=functions.${c.function.name} <|constrain|>json<|message|>${c.function.arguments}<|call|>`,
  }));
}

/**
 * gpt-oss on vLLM: the chat endpoint renders the conversation with openai-harmony
 * (`render_conversation_for_completion`), its own system message and `<|start|>assistant` always
 * appended, never with the chat template /tokenize uses, and it closes a history's final answer with
 * `<|end|>`, which the model never generates there. So each generation of the label
 * (harmonyGenerations) is scored after the prompt tokens the chat endpoint reports
 * (`return_token_ids`) for the prompt plus, for a later tool call, the label's assistant message with
 * the calls before it (vLLM writes each as its own `<|start|>assistant to=functions.NAME…<|call|>`
 * message), the token ids scored as given by `/completions` with `prompt_logprobs`. The mean is over
 * every generation's tokens together: a label with several calls is as likely as its calls together.
 */
async function harmonyPerplexityOfAnswer(
  client: LlmClient,
  p: {
    prompt: ChatMessage[];
    label: { content: string | null; tool_calls?: readonly ToolCall[] };
    tools: OpenAiTool[] | undefined;
    endOfTurn?: ConfiguredEndOfTurn | undefined;
  },
  describe: string,
  opts: CallOptions,
): Promise<PerplexityResult> {
  // Settled, not Promise.all: no request of the sample is still running once it has failed.
  const settled = await Promise.allSettled(
    harmonyGenerations(p.label).map((g) => {
      const before: ChatMessage[] =
        g.earlierCalls.length > 0 ? [...p.prompt, { role: "assistant", content: p.label.content, tool_calls: g.earlierCalls }] : p.prompt;
      return scoreHarmonyGeneration(client, { messages: before, tools: p.tools, text: g.text, endOfTurn: p.endOfTurn }, describe, opts);
    }),
  );
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
  const scored = settled.map((s) => (s as PromiseFulfilledResult<PerplexityResult>).value);
  if (scored.length === 1) return scored[0]!;
  const tokens = scored.reduce((n, s) => n + s.tokens, 0);
  const meanLogprob = scored.reduce((sum, s) => sum + s.meanLogprob * s.tokens, 0) / tokens;
  const perplexity = Math.exp(-meanLogprob);
  if (!Number.isFinite(perplexity))
    throw new UnscorableSampleError(`the label's ${tokens} tokens have mean logprob ${meanLogprob}: its perplexity overflows a double`);
  const noEnd = scored.find((s) => s.endOfTurn === null);
  return {
    perplexity,
    meanLogprob,
    tokens,
    span: scored[0]!.span,
    spans: scored.map((s) => s.span),
    endOfTurn: noEnd ? null : scored[scored.length - 1]!.endOfTurn,
    ...(noEnd?.turnEnd ? { turnEnd: noEnd.turnEnd } : {}),
  };
}

/** One harmony generation scored: `text` after the prompt tokens vLLM's chat endpoint makes of `messages`. */
async function scoreHarmonyGeneration(
  client: LlmClient,
  p: { messages: ChatMessage[]; tools: OpenAiTool[] | undefined; text: string; endOfTurn?: ConfiguredEndOfTurn | undefined },
  describe: string,
  opts: CallOptions,
): Promise<PerplexityResult> {
  const [res, label] = await Promise.all([
    client.chat({ messages: p.messages, ...(p.tools ? { tools: p.tools } : {}), temperature: 0, maxTokens: 1, extraBody: { return_token_ids: true } }, opts),
    client.tokenizeText(p.text, { addSpecialTokens: false, returnTokenStrs: true }, opts),
  ]);
  const promptIds = (res.raw as { prompt_token_ids?: unknown }).prompt_token_ids;
  if (!(Array.isArray(promptIds) && promptIds.length > 0 && promptIds.every((t) => Number.isInteger(t))))
    throw new LlmError(
      "bad_response",
      `${describe}: the chat response has no prompt_token_ids for return_token_ids: true (vLLM 0.10.2 or later returns them); ` +
        "a gpt-oss (harmony) label is scored after the prompt tokens the chat endpoint feeds the model, which are not what /tokenize's chat template renders",
    );
  if (!label.tokenStrs)
    throw new LlmError(
      "bad_response",
      `${describe}: /tokenize returned no token_strs for return_token_strs: true (vLLM 0.9.1 or later returns them); they are needed to end the label span at the turn's end-of-turn token`,
    );
  const ids = [...(promptIds as number[]), ...label.tokens];
  const strs = [...new Array<string>(promptIds.length).fill(""), ...label.tokenStrs];
  let span: [number, number];
  let endOfTurn: string | null;
  let turnEnd: string[] | undefined;
  try {
    ({ span, endOfTurn, turnEnd } = endAtEndOfTurn([promptIds.length, ids.length], strs, p.endOfTurn));
  } catch (err) {
    throw new LlmError("bad_response", `${describe}: ${(err as Error).message}`);
  }
  const raw = await client.scoreTokens(ids, opts);
  const choice = ((raw.choices as unknown[] | undefined) ?? [])[0] as { prompt_logprobs?: unknown } | undefined;
  const logprobs = promptLogprobsOf({ prompt_logprobs: choice?.prompt_logprobs }, describe, ids, "/completions did not score the token ids it was given");
  return { ...spanPerplexity(logprobs, span), tokens: span[1] - span[0], span, endOfTurn, ...(turnEnd ? { turnEnd } : {}) };
}

/** The perplexity of a stored sample's label (its last assistant message) given the messages before it. */
export async function labelPerplexity(
  client: LlmClient,
  sample: { messages: ChatMessage[]; tools: McpTool[] },
  opts: CallOptions = {},
  endOfTurn?: ConfiguredEndOfTurn,
): Promise<PerplexityResult> {
  const label = labelOf(sample.messages);
  if (!label) throw new UnscorableSampleError("the sample has no assistant message (label) to score");
  return perplexityOfAnswer(client, { prompt: policyPromptOf(sample.messages), label, tools: sample.tools, endOfTurn }, opts);
}

/**
 * LoopTool's own-output perplexity: the policy's greedy answer to the prompt, scored by the logprobs
 * of the tokens it generated. Kept beside the label PPL for comparison.
 */
export async function ownOutputPerplexity(
  client: LlmClient,
  sample: { messages: ChatMessage[]; tools: McpTool[] },
  opts: CallOptions = {},
): Promise<{ perplexity: number; meanLogprob: number; tokens: number; answer: { content: string | null; tool_calls?: ToolCall[] } }> {
  const tools = sample.tools.length > 0 ? sample.tools.map(toOpenAiTool) : undefined;
  const res = await client.chat({ messages: policyPromptOf(sample.messages), ...(tools ? { tools } : {}), temperature: 0, logprobs: true }, opts);
  const content = ((res.raw as { choices?: { logprobs?: { content?: { logprob?: unknown }[] } }[] }).choices ?? [])[0]?.logprobs?.content;
  if (!Array.isArray(content) || content.length === 0)
    throw new LlmError("bad_response", `LLM ${client.role} (${client.model}): the response has no choices[0].logprobs.content`);
  const lps = content.map((c, i) => {
    if (typeof c?.logprob !== "number" || !Number.isFinite(c.logprob))
      throw new LlmError("bad_response", `LLM ${client.role} (${client.model}): logprobs.content[${i}] lacks a finite numeric logprob`);
    return c.logprob;
  });
  const { perplexity, meanLogprob } = spanPerplexity(lps, [0, lps.length]);
  return { perplexity, meanLogprob, tokens: lps.length, answer: res.message };
}
