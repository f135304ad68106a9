/**
 * What judges are asked, and the answers they may give (the wire protocol in /work/briefs/contracts.md
 * A, which any OpenAI-compatible judge model can follow): a system prompt carrying a task marker line,
 * and one user message with the case as a ```json block.
 */
import { parseJsonExact, stringifyJsonExact } from "../util/exactJson.js";
import { z } from "zod";
import type { ChatMessage, McpTool, ToolCall } from "../domain/types.js";
import { toOpenAiTool } from "../domain/types.js";
import { JUDGE_VERDICTS } from "../db/schema.js";

export const LABEL_JUDGEMENT_MARKER = "### task: label-judgement";
export const LABEL_CHECK_MARKER = "### task: label-check";
export const PROTOCOL_VERSION = "judging/v1";

export { JUDGE_VERDICTS };
export type { JudgeVerdict } from "../db/schema.js";
export const LABEL_CHECK_VERDICTS = ["CORRECT", "INCORRECT"] as const;
export type LabelCheckVerdict = (typeof LABEL_CHECK_VERDICTS)[number];

/** An assistant turn as judges read it: arguments as objects, not JSON strings. */
export interface JudgedAnswer {
  content: string | null;
  tool_calls: { name: string; arguments: unknown }[];
}

export function judgedAnswer(m: { content: string | null; tool_calls?: readonly ToolCall[] }): JudgedAnswer {
  return {
    content: m.content,
    tool_calls: (m.tool_calls ?? []).map((c) => {
      let args: unknown;
      try {
        // Exact: a judge shown 12345678901234567000 for the user's order 12345678901234567890 would call the label wrong.
        args = parseJsonExact(c.function.arguments);
      } catch {
        args = c.function.arguments;
      }
      return { name: c.function.name, arguments: args };
    }),
  };
}

const JUDGEMENT_SYSTEM = `${LABEL_JUDGEMENT_MARKER}
You review tool-use training data. You get the tools, the conversation, a reference answer (the label)
and a model's answer (the prediction); they differ. Decide which is right for the user's request:
PRED_WRONG (the label is right, the prediction is wrong), LABEL_WRONG (the prediction is right, the label
is wrong), BOTH_CORRECT (both satisfy the request), BOTH_WRONG (neither does). Check the tool chosen,
every argument and its value against what the user asked, and whether a call was needed at all.
Reply with JSON: {"verdict": ..., "analysis": "what differs and why"}.`;

const CHECK_SYSTEM = `${LABEL_CHECK_MARKER}
You review tool-use training data. You get the tools, the conversation and the assistant's answer.
Decide whether the answer is CORRECT (the right tools, every argument and value as the user asked, or
no call when no tool fits) or INCORRECT. Reply with JSON: {"verdict": ..., "analysis": "why"}.`;

/**
 * The case as one ```json block. Backticks inside strings are written as \u0060 (the same JSON value),
 * so a conversation that itself contains a fence cannot close the block early.
 */
export function caseMessage(c: Record<string, unknown>): string {
  return "Case:\n```json\n" + stringifyJsonExact(c, 1).replaceAll("`", "\\u0060") + "\n```";
}

/** The case a judge request carries: the JSON in the last user message's ```json block (the inverse of caseMessage). */
export function parseCaseMessage(text: string): Record<string, unknown> | undefined {
  const m = /```json\n([\s\S]*?)\n```/.exec(text);
  if (!m) return undefined;
  try {
    const v: unknown = JSON.parse(m[1]!);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The messages of a label-judgement request (label versus prediction). */
export function labelJudgementMessages(p: { prompt: ChatMessage[]; tools: readonly McpTool[]; label: JudgedAnswer; prediction: JudgedAnswer }): ChatMessage[] {
  return [
    { role: "system", content: JUDGEMENT_SYSTEM },
    { role: "user", content: caseMessage({ tools: p.tools.map(toOpenAiTool), messages: p.prompt, label: p.label, prediction: p.prediction }) },
  ];
}

/** The messages of a label-check request (one answer: correct or not). */
export function labelCheckMessages(p: { prompt: ChatMessage[]; tools: readonly McpTool[]; label: JudgedAnswer }): ChatMessage[] {
  return [
    { role: "system", content: CHECK_SYSTEM },
    { role: "user", content: caseMessage({ tools: p.tools.map(toOpenAiTool), messages: p.prompt, label: p.label }) },
  ];
}

export const judgementAnswerSchema = z.object({ verdict: z.enum(JUDGE_VERDICTS), analysis: z.string() });
export const checkAnswerSchema = z.object({ verdict: z.enum(LABEL_CHECK_VERDICTS), analysis: z.string() });

export const JUDGEMENT_RESPONSE_FORMAT = {
  name: "label_judgement",
  schema: {
    type: "object",
    properties: { verdict: { type: "string", enum: [...JUDGE_VERDICTS] }, analysis: { type: "string" } },
    required: ["verdict", "analysis"],
    additionalProperties: false,
  },
} as const;

export const CHECK_RESPONSE_FORMAT = {
  name: "label_check",
  schema: {
    type: "object",
    properties: { verdict: { type: "string", enum: [...LABEL_CHECK_VERDICTS] }, analysis: { type: "string" } },
    required: ["verdict", "analysis"],
    additionalProperties: false,
  },
} as const;
