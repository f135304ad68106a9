/**
 * What leaves toolloop as training data carries no role-play protocol: the multi-turn assistant's
 * system prompt opens with a task marker line (`### task: dialogue-assistant`) so the LLM simulator
 * and any protocol-aware server know which role a request plays; a trained model must not learn it.
 * Exports (export.dataset, export.verl) drop such a line from system messages; stored samples keep
 * their messages exactly as they were sent (scoring and probing re-send them).
 */
import type { ChatMessage } from "../domain/types.js";

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
