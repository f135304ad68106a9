/**
 * The simulator answering as a REASONING model served by vLLM (Qwen3, DeepSeek-R1, QwQ, gpt-oss): a
 * short scripted chain of thought (not a model's) comes before every chat answer, in one of the shapes
 * vLLM returns it:
 * - `parser`: served with `--reasoning-parser`: the thought in `message.reasoning` and
 *   `message.reasoning_content` (vLLM's docs name `reasoning` from 0.11 on, with `reasoning_content`
 *   kept beside it for a while and later removed; earlier versions have only `reasoning_content`), so a
 *   reader of either finds it; `content` is the answer alone, null when the model only called tools;
 * - `inline`: no reasoning parser: `<think>\n...\n</think>\n\n` at the start of `content`, before the
 *   answer (with tool calls, the text before the first `<tool_call>` block, which the tool parser
 *   leaves as the content);
 * - `inlineOpened`: as `inline`, but the chat template opened the tag in the prompt (Qwen3 thinking
 *   and DeepSeek-R1 templates end the generation prompt with `<think>\n`), so the content holds the
 *   thought and only the closing `</think>`.
 * The answer itself is the scripted one, unchanged; the thought counts towards `max_tokens` and the
 * completion tokens, as generated text does.
 */
export const REASONING_STYLES = ["parser", "inline", "inlineOpened"] as const;
export type ReasoningStyle = (typeof REASONING_STYLES)[number];

export interface ReasoningOptions {
  style: ReasoningStyle;
  /** Served model names that reason; default: every model the simulator serves. */
  models?: string[];
}

/** Checks the option; the error names the field. */
export function normaliseReasoningOptions(o: ReasoningOptions | undefined): ReasoningOptions | undefined {
  if (o === undefined) return undefined;
  if (!(REASONING_STYLES as readonly unknown[]).includes(o.style))
    throw new Error(`simulator reasoning.style must be one of ${REASONING_STYLES.join(", ")} (got ${JSON.stringify(o.style)})`);
  if (o.models !== undefined && (!Array.isArray(o.models) || o.models.length === 0 || o.models.some((m) => typeof m !== "string" || m === "")))
    throw new Error(`simulator reasoning.models must be a non-empty list of model names (got ${JSON.stringify(o.models)})`);
  return { style: o.style, ...(o.models ? { models: [...o.models] } : {}) };
}

/**
 * The scripted thought before an answer. It quotes the calls' arguments or the start of the answer, so
 * it holds braces and JSON whenever the answer does: a reader that looks for the answer's JSON inside
 * the whole content finds the thought's first.
 */
export function scriptedThought(answer: { content: string | null; toolCalls: readonly { name: string; arguments: string }[] }): string {
  if (answer.toolCalls.length > 0) {
    const steps = answer.toolCalls.map((c) => `call ${c.name} with ${c.arguments}`);
    return `Okay, let me think about which tools fit the request. I should ${steps.join(", then ")}. That covers everything asked.`;
  }
  const draft = (answer.content ?? "").slice(0, 160);
  return `Okay, let me work out the answer before I give it. A first draft: ${draft}\nYes, that answers it.`;
}

/** The generated text before the answer: the thought in its tags (the opening one only when the model generated it). */
export function thoughtPrefix(style: ReasoningStyle, thought: string): string {
  return `${style === "inlineOpened" ? "" : "<think>\n"}${thought}\n</think>\n\n`;
}

/** The thought as a reasoning parser returns it: the generated prefix without its tags (a prefix cut short keeps what was generated). */
export function thoughtOf(prefix: string): string {
  return prefix.replace(/^<think>\n/, "").replace(/\n<\/think>\n\n$/, "");
}
