/**
 * What leaves toolloop as training data carries no role-play protocol: the multi-turn assistant's
 * system prompt opens with a task marker line (`### task: dialogue-assistant`) so the LLM simulator
 * and any protocol-aware server know which role a request plays; a trained model must not learn it.
 * Exports (export.dataset, export.verl) drop such a line from system messages; stored samples keep
 * their messages exactly as they were sent (their ids are hashed from them). What the policy is asked
 * about a stored sample (probe.greedy, score.perplexity, score.consistency, and the prompt
 * repair.labels' judges see beside the policy's prediction) is the same marker-free prompt the
 * exports write: `policyPromptOf`.
 */
import type { ChatMessage } from "../domain/types.js";
import { promptOf } from "../matching/labelAgreement.js";

const TASK_MARKER_LINE = /^\s*#{2,4}\s*task\s*:[^\n]*(\n|$)/i;

/** Messages are read defensively: a malformed entry is passed through for the caller's own checks. */
export function withoutTaskMarkers<M extends ChatMessage>(messages: M[]): M[] {
  const marked = (m: unknown): m is { role: "system"; content: string } =>
    typeof m === "object" &&
    m !== null &&
    (m as { role?: unknown }).role === "system" &&
    typeof (m as { content?: unknown }).content === "string" &&
    TASK_MARKER_LINE.test((m as { content: string }).content);
  if (!messages.some(marked)) return messages;
  return messages.map((m) => (marked(m) ? { ...m, content: m.content.replace(TASK_MARKER_LINE, "") } : m));
}

/**
 * The prompt the policy is shown for a stored sample: the messages before its label (`promptOf`)
 * as a training row writes them, without the role-play task marker. Probing and scoring send this,
 * so the policy is probed and scored on the prompt it was trained on, not on the synthesis agents'.
 */
export function policyPromptOf(messages: readonly ChatMessage[]): ChatMessage[] {
  return promptOf(withoutTaskMarkers([...messages]));
}

/** An assistant turn that is context, not a target: OpenAI's chat fine-tuning format skips a message with `weight: 0`. */
export type UntrainedAssistant = Extract<ChatMessage, { role: "assistant" }> & { weight: 0 };

/**
 * A sample's messages as a training row sees them: every assistant turn before the label turn (at
 * `labelIndex`, the last message unless a trajectory follows it) is prompt, marked `weight: 0`, so a
 * trainer that learns every assistant message by default (OpenAI fine-tuning, and the chat-JSONL
 * readers that follow it) learns the label and what follows it only. A multi-turn sample's prompt
 * holds the dialogue's earlier assistant turns: some were rejected by the vote or the judges, and
 * each is also the label of its own cut, so without the weight it would be learned once per later cut.
 */
export function withPromptTurnsUntrained(messages: ChatMessage[], labelIndex = messages.length - 1): (ChatMessage | UntrainedAssistant)[] {
  if (!messages.some((m, i) => i < labelIndex && m.role === "assistant")) return messages;
  return messages.map((m, i) => (i < labelIndex && m.role === "assistant" ? { ...m, weight: 0 as const } : m));
}
