/**
 * Exact-duplicate key of a sample: two samples get the same key when they ask the same thing and get
 * the same answer, up to formatting. What counts:
 * - every user turn, as normalised text (Unicode NFKC, lower case, whitespace collapsed, trimmed);
 * - every assistant turn, in order: its tool calls (name + arguments as canonical JSON) as a sorted
 *   multiset, since the calls of one parallel turn have no meaningful order, while separate turns
 *   (sequential calls) keep theirs; a turn without calls counts by its normalised text.
 * A multi-turn sample (kind multi_turn) counts its user turns, the exchange since the last user turn
 * (the assistant's calls and the tool results the label answers: a retry after a failed call, or the
 * call after a result, is another sample than the first call of that request) and its label (the last
 * message); earlier user turns' assistant turns and tool results are the dialogue's context, not what
 * the sample teaches.
 * The tools offered are deliberately left out: the same question with the same answer is a duplicate
 * whichever distractor tools surrounded it. System prompts and tool results are left out too: they
 * are context, not what the sample teaches.
 */
import type { ChatMessage, McpTool, ToolCall } from "../domain/types.js";
import { parseJsonExact } from "../util/exactJson.js";
import { canonicalJson, JsonTooDeepError, sha256Hex } from "../util/ids.js";

/** Bumped whenever the canonical form changes, so keys of different forms never compare equal. */
const KEY_VERSION = "exact-v1";
/** Multi-turn keys' own form (v2: the exchange since the last user turn, tool results included). */
const MULTI_TURN_KEY_VERSION = "exact-multi-turn-v2";

type CanonicalTurn = ["user", string] | ["calls", string[]] | ["text", string] | ["tool", string];

export function normalizeText(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

/**
 * Arguments as canonical JSON, or (tagged apart, so the two never collide) as normalised text when
 * they do not parse. Integers a double cannot hold keep their digits (parseJsonExact): two order ids
 * that differ past 2^53 are two answers; every other value reads, and so keys, as before.
 */
function canonicalArguments(args: string): string {
  try {
    return "json:" + canonicalJson(parseJsonExact(args));
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof JsonTooDeepError) return "text:" + normalizeText(args);
    throw err;
  }
}

function canonicalCall(call: ToolCall): string {
  return JSON.stringify([call.function.name, canonicalArguments(call.function.arguments)]);
}

function canonicalTurns(messages: ChatMessage[]): CanonicalTurn[] {
  const turns: CanonicalTurn[] = [];
  for (const m of messages) {
    if (m.role === "user") turns.push(["user", normalizeText(m.content)]);
    else if (m.role === "assistant") {
      const calls = m.tool_calls ?? [];
      // Code-unit order, not localeCompare: the key must not depend on the process's locale.
      if (calls.length > 0) turns.push(["calls", calls.map(canonicalCall).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))]);
      else turns.push(["text", normalizeText(m.content ?? "")]);
    } else if (m.role === "tool") turns.push(["tool", normalizeText(typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? null))]);
  }
  return turns;
}

/** A multi-turn sample's messages that make its key: every user turn, then everything after the last one (its calls, tool results and the label). */
function multiTurnKeyMessages(messages: ChatMessage[]): ChatMessage[] {
  let lastUser = -1;
  messages.forEach((m, i) => {
    if (m.role === "user") lastUser = i;
  });
  return messages.filter((m, i) => m.role === "user" || i > lastUser);
}

/** sha256 (hex) of the sample's canonical question-and-answer form; equal keys mean exact duplicates. */
export function exactDuplicateKey(sample: { messages: ChatMessage[]; tools: McpTool[]; kind?: string }): string {
  if (sample.kind === "multi_turn") return sha256Hex(JSON.stringify([MULTI_TURN_KEY_VERSION, canonicalTurns(multiTurnKeyMessages(sample.messages))]));
  // Single-turn samples carry no tool messages (a trajectory lives in metadata): their form is v1's.
  return sha256Hex(JSON.stringify([KEY_VERSION, canonicalTurns(sample.messages.filter((m) => m.role !== "tool"))]));
}
