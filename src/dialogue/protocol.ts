/**
 * What the multi-turn role players are asked, and the answers they may give: the wire protocol any
 * OpenAI-compatible model can follow, and the only contract between the dialogue engine and the LLM
 * simulator's scripts. Every non-assistant role gets a system prompt carrying a task marker line and
 * one user message with the case as a ```json block (judging/protocol.ts's caseMessage), and answers
 * JSON under `response_format: json_schema`. The assistant (tool agent) gets an ordinary chat request:
 * the dialogue so far, the offered tools, tool_choice "auto"; it answers with `tool_calls` or text.
 * Pure (zod only).
 */
import { z } from "zod";
import type { ChatMessage, McpTool, OpenAiTool } from "../domain/types.js";
import { toOpenAiTool } from "../domain/types.js";
import { caseMessage } from "../judging/protocol.js";
import { holdsBigint, parseJsonExact, stringifyJsonExact } from "../util/exactJson.js";

export const PROTOCOL_VERSION = "dialogue/v1";

export const DIALOGUE_PLAN_MARKER = "### task: dialogue-plan";
export const USER_TURN_MARKER = "### task: dialogue-user";
export const ASSISTANT_MARKER = "### task: dialogue-assistant";
export const TOOL_SERVER_MARKER = "### task: tool-server";
export const REFLECT_MARKER = "### task: reflect-revise";
export const NEGOTIATION_MARKER = "### task: turn-negotiation";
export const SAMPLE_CHECK_MARKER = "### task: sample-check";

/** How the simulator recognises a marker (tolerant of 2-4 '#' and spacing, like the other tasks). */
export function markerPattern(marker: string): RegExp {
  const task = marker.replace(/^#+\s*task:\s*/, "").replace(/[-]/g, "\\-");
  return new RegExp(`^\\s*#{2,4}\\s*task\\s*:\\s*${task}\\s*$`, "im");
}

// ---------------------------------------------------------------------------------------------
// Planner

/** single: one call; multi: calls in sequence, a later one using an earlier result; parallel: several calls at once. */
export const PLAN_NEEDS = ["single", "multi", "parallel"] as const;
export type PlanNeed = (typeof PLAN_NEEDS)[number];

export const planCallSchema = z.object({ name: z.string().min(1), arguments: z.record(z.string(), z.unknown()) });
export const planStepSchema = z.object({
  need: z.enum(PLAN_NEEDS),
  /** What the user wants from this step, in words (the user simulator phrases it). */
  intent: z.string().min(1),
  /** The calls a correct assistant makes for this step, with the values the user knows. */
  calls: z.array(planCallSchema).min(1),
});
export const dialoguePlanSchema = z.object({
  /** One or two sentences: who the user is and what they are trying to get done. */
  scenario: z.string().min(1),
  steps: z.array(planStepSchema).min(1),
  /** The number of user turns the dialogue should take (clarifications and changes of mind included). */
  targetTurns: z.number().int().min(1),
});
export type PlanStep = z.infer<typeof planStepSchema>;
export type DialoguePlan = z.infer<typeof dialoguePlanSchema>;

export const PLAN_RESPONSE_FORMAT = {
  name: "dialogue_plan",
  schema: {
    type: "object",
    properties: {
      scenario: { type: "string" },
      steps: {
        type: "array",
        minItems: 1,
        items: {
          type: "object",
          properties: {
            need: { type: "string", enum: [...PLAN_NEEDS] },
            intent: { type: "string" },
            calls: {
              type: "array",
              minItems: 1,
              items: {
                type: "object",
                properties: { name: { type: "string" }, arguments: { type: "object" } },
                required: ["name", "arguments"],
              },
            },
          },
          required: ["need", "intent", "calls"],
        },
      },
      targetTurns: { type: "integer", minimum: 1 },
    },
    required: ["scenario", "steps", "targetTurns"],
  },
} as const;

const PLAN_SYSTEM = `${DIALOGUE_PLAN_MARKER}
You plan a realistic conversation between a user and an assistant that can call the given tools.
Write a scenario and an ordered list of steps. Each step is a need of the user: "single" (one tool
call), "multi" (calls in sequence, a later call using an earlier call's result) or "parallel" (several
independent calls at once). Give each step's calls with the argument values the user knows. Use only
the given tools and their parameter names. Aim for the requested number of user turns: plan about as
many steps as that number allows, leaving room for clarifications. Reply with JSON:
{"scenario": ..., "steps": [{"need": ..., "intent": ..., "calls": [{"name": ..., "arguments": {...}}]}], "targetTurns": N}.`;

export function planMessages(p: { tools: readonly McpTool[]; targetTurns: number; needs: Record<PlanNeed, number> }): ChatMessage[] {
  return [
    { role: "system", content: PLAN_SYSTEM },
    { role: "user", content: caseMessage({ tools: p.tools.map(toOpenAiTool), targetTurns: p.targetTurns, needs: p.needs }) },
  ];
}

// ---------------------------------------------------------------------------------------------
// User simulator

/** What the user said in a turn, as the user simulator sees the dialogue (no tool traffic). */
export interface UserView {
  role: "user" | "assistant";
  content: string;
  /** For the user's own turns: the plan step the turn was about (what it answered with). */
  step?: number;
}

export const USER_ACTIONS = ["request", "clarify", "change", "done"] as const;
export type UserAction = (typeof USER_ACTIONS)[number];

export const userTurnSchema = z.object({
  /** What the user says (for "done": a closing line, possibly empty). */
  message: z.string(),
  /** request: asks for a plan step; clarify: answers the assistant's question; change: changes an earlier request; done: the user is finished. */
  action: z.enum(USER_ACTIONS),
  /** The plan step this message is about (0-based). */
  step: z.number().int().min(0),
});
export type UserTurn = z.infer<typeof userTurnSchema>;

export const USER_TURN_RESPONSE_FORMAT = {
  name: "user_turn",
  schema: {
    type: "object",
    properties: {
      message: { type: "string" },
      action: { type: "string", enum: [...USER_ACTIONS] },
      step: { type: "integer", minimum: 0 },
    },
    required: ["message", "action", "step"],
  },
} as const;

const USER_SYSTEM = `${USER_TURN_MARKER}
You play the user in a conversation with an assistant that can use tools. Follow the plan step by
step, in your persona and style. Ask for one step at a time ("request"); when the assistant asks you
for something, answer it ("clarify"); now and then change your mind about an earlier request
("change"); when every step is done, say so ("done"). Never mention the plan, tools or JSON.
Reply with JSON: {"message": ..., "action": "request" | "clarify" | "change" | "done", "step": N}.`;

export function userTurnMessages(p: {
  plan: DialoguePlan;
  persona: string;
  style: string;
  transcript: readonly UserView[];
  /** User turns so far, and the most the dialogue may take. */
  turn: number;
  maxTurns: number;
  /** The offered tools, optional: with them the user knows which values are required (and so which it may leave out for the assistant to ask). */
  tools?: readonly McpTool[];
}): ChatMessage[] {
  return [
    { role: "system", content: `${USER_SYSTEM}\nPersona: ${p.persona}\nStyle: ${p.style}` },
    {
      role: "user",
      content: caseMessage({
        plan: p.plan,
        persona: p.persona,
        style: p.style,
        transcript: p.transcript,
        turn: p.turn,
        maxTurns: p.maxTurns,
        ...(p.tools ? { tools: p.tools.map(toOpenAiTool) } : {}),
      }),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Assistant (tool agent): an ordinary chat request; this system prompt opens the dialogue.

/**
 * The assistant's instructions: its system prompt less the task marker line, so what a trained model
 * is shown (the exports drop the marker, src/export/trainingMessages.ts) and what probing and scoring
 * send it.
 */
export const ASSISTANT_INSTRUCTIONS = `You are a helpful assistant with access to tools. Call a tool when it serves the user's request, with
arguments exactly as the user gave them; call independent tools together. If a required parameter is
missing, ask the user for it instead of guessing. After tool results arrive, answer the user in plain
language, or make the next call a result makes possible. If no tool fits, answer in text.`;

export const ASSISTANT_SYSTEM = `${ASSISTANT_MARKER}\n${ASSISTANT_INSTRUCTIONS}`;

// ---------------------------------------------------------------------------------------------
// Tool server (the MCP server simulator)

export const toolResultSchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({
    ok: z.literal(false),
    /** invalid_call: the call itself was wrong (unknown tool, bad or missing arguments, unknown id); the others are the server's own trouble. */
    error: z.object({ type: z.enum(["invalid_call", "not_found", "rate_limited", "unavailable", "timeout", "permission_denied"]), message: z.string() }),
  }),
]);
/**
 * `detail` is ours, never the server's (parsing drops it from an answer): why the engine made this
 * result itself, kept with the stored turn for analysis and never shown in the tool message.
 * `resultText` is ours too: set when the result holds an integer a double cannot hold (an order id of
 * 20 digits), it is the result's JSON with that integer's digits as the server wrote them, and it is
 * the tool message. `result` stays as JSON.parse reads it (the integer rounded), so a result is stored
 * and read back anywhere as before; the text travels as a string, which jsonb keeps as it is.
 */
export type ToolResult = z.infer<typeof toolResultSchema> & {
  detail?: string;
  resultText?: string;
  /**
   * Ours as well, recorded with the result (absent in results stored before): who decided it.
   * `injected`: an error the engine asked the tool server for (fault injection at the stage's
   * toolErrorRate); `tool_server`: the server's own answer (a result, or an error it chose).
   */
  origin?: ToolResultOrigin;
  /** Ours: the toolloop LLM simulator played the tool server (scripted answers, not a model), when it said so. */
  simulated?: true;
  /**
   * Ours, on an error of origin `tool_server` the toolloop simulator chose itself (absent for a real
   * server's results, and in results stored before): `rules` (the call broke its tool's rules: an
   * unknown tool, arguments against the schema, an id the session never saw) or `fault` (its own
   * random trouble, --dialogue-tool-server-error-rate). Reports show the two apart.
   */
  simulatedCause?: SimulatedToolServerCause;
};
export const SIMULATED_TOOL_SERVER_CAUSES = ["rules", "fault"] as const;
export type SimulatedToolServerCause = (typeof SIMULATED_TOOL_SERVER_CAUSES)[number];
export const TOOL_RESULT_ORIGINS = ["injected", "tool_server"] as const;
export type ToolResultOrigin = (typeof TOOL_RESULT_ORIGINS)[number];
export type ToolErrorType = Extract<ToolResult, { ok: false }>["error"]["type"];
/** Errors the engine may ask the tool server to produce (realistic trouble that is not the caller's fault). */
export const INJECTED_ERROR_TYPES = ["rate_limited", "unavailable", "timeout", "permission_denied", "not_found"] as const satisfies readonly ToolErrorType[];

export const TOOL_RESULT_RESPONSE_FORMAT = {
  name: "tool_result",
  schema: {
    type: "object",
    properties: {
      ok: { type: "boolean" },
      result: {},
      error: {
        type: "object",
        properties: {
          type: { type: "string", enum: ["invalid_call", "not_found", "rate_limited", "unavailable", "timeout", "permission_denied"] },
          message: { type: "string" },
        },
        required: ["type", "message"],
      },
    },
    required: ["ok"],
  },
} as const;

const TOOL_SERVER_SYSTEM = `${TOOL_SERVER_MARKER}
You simulate an MCP tool server. Execute the call on the given tool and return a realistic result that
fits the tool's description and output schema, and stays consistent with earlier calls and results in
this session (the same ids, names and values; a created item can be read back). If the call is
invalid (unknown tool, missing or wrongly typed arguments, an id that does not exist), return an
error of type "invalid_call" or "not_found". If "fail" names an error type, return that error with a
realistic message. Reply with JSON: {"ok": true, "result": ...} or {"ok": false, "error": {"type": ..., "message": ...}}.`;

export interface ToolHistoryEntry {
  name: string;
  arguments: unknown;
  result: ToolResult;
}

export function toolServerMessages(p: {
  tool: McpTool | undefined;
  call: { name: string; arguments: unknown };
  history: readonly ToolHistoryEntry[];
  fail?: ToolErrorType;
}): ChatMessage[] {
  return [
    { role: "system", content: TOOL_SERVER_SYSTEM },
    {
      role: "user",
      content: caseMessage({
        tool: p.tool ? { ...toOpenAiTool(p.tool), ...(p.tool.outputSchema ? { outputSchema: p.tool.outputSchema } : {}) } : null,
        call: p.call,
        history: p.history,
        ...(p.fail ? { fail: p.fail } : {}),
      }),
    },
  ];
}

/**
 * A tool server's answer read with parseJsonExact (its integers past a double's precision are bigints)
 * as a ToolResult: a result holding one keeps its exact text in `resultText`; any other is unchanged.
 */
export function exactToolResult(answer: z.infer<typeof toolResultSchema>): ToolResult {
  if (!answer.ok || !holdsBigint(answer.result)) return answer;
  const resultText = stringifyJsonExact(answer.result);
  return { ok: true, result: JSON.parse(resultText) as unknown, resultText };
}

/** A tool result as the `tool` message's content: the result's JSON (its exact text where it has one), or the error object (never `detail`). */
export function toolMessageContent(r: ToolResult): string {
  if (r.ok) return r.resultText ?? JSON.stringify(r.result);
  return JSON.stringify({ error: r.error });
}

/** A result as the tool server is shown it in the session's history: what the assistant saw, exact, with nothing of ours (`detail`, `resultText`, `origin`, `simulated`, `simulatedCause`). */
export function historyResult(r: ToolResult): ToolResult {
  if (!r.ok) return { ok: false, error: r.error };
  return { ok: true, result: r.resultText === undefined ? r.result : parseJsonExact(r.resultText) };
}

// ---------------------------------------------------------------------------------------------
// Self-reflection (InfTool): the assistant revises its own turn once, given a critique.

const REFLECT_SYSTEM = `${REFLECT_MARKER}
You are reviewing your own last answer in a tool-use conversation. The critique lists what is wrong
with it (tool calls that break the tool's schema, style problems). Give the corrected turn: the same
intent, fixed. Answer with tool calls or text exactly as you would in the conversation.`;

/**
 * The revise request: the assistant's own system prompt is replaced by the reflection prompt, the
 * dialogue so far, the original answer, and the critique as the last user message.
 */
export function reflectMessages(p: {
  dialogue: readonly ChatMessage[];
  original: Extract<ChatMessage, { role: "assistant" }>;
  critique: readonly string[];
}): ChatMessage[] {
  const rest = p.dialogue[0]?.role === "system" ? p.dialogue.slice(1) : p.dialogue;
  return [{ role: "system", content: REFLECT_SYSTEM }, ...rest, { role: "user", content: caseMessage({ original: p.original, critique: p.critique }) }];
}

// ---------------------------------------------------------------------------------------------
// Negotiation (LoopTool): a judge picks among disagreeing candidates, or rejects them all.

export const negotiationSchema = z.object({
  /** Index into candidates, or null to reject every one. */
  choice: z.number().int().min(0).nullable(),
  reasons: z.string(),
});
export type NegotiationAnswer = z.infer<typeof negotiationSchema>;

export const NEGOTIATION_RESPONSE_FORMAT = {
  name: "turn_negotiation",
  schema: {
    type: "object",
    properties: { choice: { type: ["integer", "null"], minimum: 0 }, reasons: { type: "string" } },
    required: ["choice", "reasons"],
  },
} as const;

const NEGOTIATION_SYSTEM = `${NEGOTIATION_MARKER}
Several assistants answered the same turn of a tool-use conversation and disagree. Pick the candidate
that serves the user's latest request correctly (right tools, every argument as the user gave it, a
question when something required is missing), or reject all when none does. Reply with JSON:
{"choice": <index or null>, "reasons": "why"}.`;

export function negotiationMessages(p: {
  tools: readonly McpTool[];
  dialogue: readonly ChatMessage[];
  candidates: readonly { content: string | null; tool_calls: { name: string; arguments: unknown }[] }[];
}): ChatMessage[] {
  return [
    { role: "system", content: NEGOTIATION_SYSTEM },
    { role: "user", content: caseMessage({ tools: p.tools.map(toOpenAiTool), messages: p.dialogue, candidates: p.candidates }) },
  ];
}

// ---------------------------------------------------------------------------------------------
// Sample check (verify.judges, LoopTool's second pass): CORRECT / INCORRECT with an analysis.

const SAMPLE_CHECK_SYSTEM = `${SAMPLE_CHECK_MARKER}
You review tool-use training data. You get the tools, the conversation and the assistant's last turn
(the label). Decide whether the label is CORRECT: logically consistent with the conversation and the
tool results so far, relevant to the user's latest request, the right tools with every argument as the
user gave it (or a question when something required is missing, or no call when no tool fits) or
INCORRECT. Reply with JSON: {"verdict": "CORRECT" | "INCORRECT", "analysis": "why"}.`;

export function sampleCheckMessages(p: {
  tools: readonly McpTool[];
  prompt: readonly ChatMessage[];
  label: { content: string | null; tool_calls: { name: string; arguments: unknown }[] };
}): ChatMessage[] {
  return [
    { role: "system", content: SAMPLE_CHECK_SYSTEM },
    { role: "user", content: caseMessage({ tools: p.tools.map(toOpenAiTool), messages: p.prompt, label: p.label }) },
  ];
}

export type { OpenAiTool };
