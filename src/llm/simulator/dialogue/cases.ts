/**
 * Reading what the multi-turn roles are sent: which role a request is for (its system prompt's task
 * marker, src/dialogue/protocol.ts) and the case in its newest user message's ```json block. Tolerant
 * like the single-turn roles: a repair turn appended after the case carries none, so the newest user
 * message that has one is read.
 */
import { parseJsonExact } from "../../../util/exactJson.js";
import {
  ASSISTANT_INSTRUCTIONS,
  ASSISTANT_MARKER,
  DIALOGUE_PLAN_MARKER,
  markerPattern,
  NEGOTIATION_MARKER,
  REFLECT_MARKER,
  SAMPLE_CHECK_MARKER,
  TOOL_SERVER_MARKER,
  USER_TURN_MARKER,
} from "../../../dialogue/protocol.js";
import { jsonBlock } from "../judge.js";
import { toSimTool, type SimTool } from "../queryWriter.js";
import { messageText } from "../toolAgent.js";

export const DIALOGUE_ROLES = ["planner", "user", "tool-server", "reflect", "negotiation", "sample-check", "assistant"] as const;
export type DialogueRole = (typeof DIALOGUE_ROLES)[number];

const PATTERNS: [DialogueRole, RegExp][] = [
  ["planner", markerPattern(DIALOGUE_PLAN_MARKER)],
  ["user", markerPattern(USER_TURN_MARKER)],
  ["tool-server", markerPattern(TOOL_SERVER_MARKER)],
  ["reflect", markerPattern(REFLECT_MARKER)],
  ["negotiation", markerPattern(NEGOTIATION_MARKER)],
  ["sample-check", markerPattern(SAMPLE_CHECK_MARKER)],
  ["assistant", markerPattern(ASSISTANT_MARKER)],
];

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The role named by a system (or developer) message's task marker; the first marker found wins. */
export function markedRole(messages: readonly unknown[]): DialogueRole | undefined {
  for (const m of messages) {
    if (!isObject(m) || (m.role !== "system" && m.role !== "developer")) continue;
    const text = messageText(m.content);
    for (const [role, re] of PATTERNS) if (re.test(text)) return role;
  }
  return undefined;
}

/** A `### task: ...` line, of any role (the synthesis agents', the judges', the expander's). */
const ANY_TASK_MARKER = /^\s*#{2,4}\s*task\s*:/im;

/**
 * A dialogue's prompt addressed as a trained policy is addressed: no system (or developer) message
 * carries a role-play task marker, and one holds the dialogue assistant's instructions (its system
 * prompt less the marker line, as the exports write it and probe.greedy and the scoring stages send it).
 */
export function isUnmarkedDialoguePrompt(messages: readonly unknown[]): boolean {
  let instructed = false;
  for (const m of messages) {
    if (!isObject(m) || (m.role !== "system" && m.role !== "developer")) continue;
    const text = messageText(m.content);
    if (ANY_TASK_MARKER.test(text)) return false;
    if (text.includes(ASSISTANT_INSTRUCTIONS)) instructed = true;
  }
  return instructed;
}

/** The case object of the newest user message that carries one, read with every digit (an id past 2^53 is a bigint). */
export function caseOf(messages: readonly unknown[]): Record<string, unknown> | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (!isObject(m) || m.role !== "user") continue;
    const block = jsonBlock(messageText(m.content));
    if (isObject(block)) return block;
  }
  return undefined;
}

/** OpenAI tools (or MCP tools, or bare functions) as the scripts read them. */
export function simToolsOf(v: unknown): SimTool[] {
  return (Array.isArray(v) ? v : []).map(toSimTool).filter((t): t is SimTool => t !== undefined);
}

/** A tool's parameter schemas and required names. */
export function propertiesOf(tool: SimTool): Record<string, Record<string, unknown>> {
  const p = tool.parameters.properties;
  return isObject(p) ? (p as Record<string, Record<string, unknown>>) : {};
}

export function requiredOf(tool: SimTool): string[] {
  const r = tool.parameters.required;
  return Array.isArray(r) ? r.filter((x): x is string => typeof x === "string") : [];
}

/** Arguments as a call carries them: an object, or a JSON string of one; undefined when neither. */
export function argsObject(v: unknown): Record<string, unknown> | undefined {
  if (isObject(v)) return v;
  if (typeof v !== "string") return undefined;
  try {
    const parsed: unknown = parseJsonExact(v);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
