/**
 * Reasoning models (Qwen3, DeepSeek-R1, QwQ, gpt-oss) think before they answer. vLLM started with
 * `--reasoning-parser` returns the thought apart, in `message.reasoning` (earlier versions
 * `reasoning_content`), and the answer alone in `content` (null when the model only called tools);
 * without a parser the thought stays at the start of `content` as `<think>...</think>`, or only
 * `...</think>` when the chat template opened the tag in the prompt. No role's answer is its thought:
 * a label, a user turn, a judge's or planner's JSON is what follows it. So the client reads the
 * content without a leading thought, and never reads the reasoning fields into it.
 */

const OPEN = "<think>";
const CLOSE = "</think>";

export interface ContentWithoutThought {
  /** The answer after the thought, leading whitespace dropped; null when nothing follows it. */
  content: string | null;
  /**
   * What was cut: `closed` a whole thought (`<think>...</think>`, or `...</think>` whose opening tag
   * was in the prompt); `unclosed` an opened thought the answer ended inside (cut off while thinking),
   * so the content was all thought. Absent: the content had no leading thought.
   */
  stripped?: "closed" | "unclosed";
}

/**
 * The content without a leading thought. Only a thought at the start is cut: an answer that mentions
 * the tags later keeps them. The thought ends at the first `</think>` (as vLLM's parsers end it), so
 * whatever it holds (braces, JSON, a draft of the answer) never reaches the answer.
 */
export function stripLeadingThought(content: string | null): ContentWithoutThought {
  if (content === null) return { content: null };
  const start = content.search(/\S/);
  if (start < 0) return { content };
  const opened = content.startsWith(OPEN, start);
  const close = content.indexOf(CLOSE, opened ? start + OPEN.length : start);
  if (close < 0) return opened ? { content: null, stripped: "unclosed" } : { content };
  // The closing tag alone: the template opened the thought. A `<think>` before it would mean the tag
  // sits inside the answer's text, not around a thought.
  if (!opened && content.lastIndexOf(OPEN, close) >= 0) return { content };
  const rest = content.slice(close + CLOSE.length).replace(/^\s+/, "");
  return { content: rest === "" ? null : rest, stripped: "closed" };
}

/** Whether a chat message carries a thought apart from its content (vLLM's reasoning parser ran). */
export function hasSeparateThought(message: Record<string, unknown>): boolean {
  const nonEmpty = (v: unknown) => typeof v === "string" && v.trim() !== "";
  return nonEmpty(message.reasoning) || nonEmpty(message.reasoning_content);
}
