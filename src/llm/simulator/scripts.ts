/**
 * What the simulator "says": a pure function of (seed, canonical request body).
 *
 * Protocol (the only contract with src/synthesis/prompts.ts; parsing is tolerant of extra text):
 * - User-query writer: a system message contains the line `### task: user-query`. The last user
 *   message has a line `kind: standard|parallel|irrelevance` and a ```json fenced block holding an
 *   array of OpenAI tools: the target calls in order (a tool may repeat) for standard/parallel, or
 *   the offered tools the request must avoid for irrelevance. Reply: `{"query": "..."}` as content.
 * - Tool-calling agent: any other chat request with `tools` (and tool_choice not "none"): one call
 *   per sentence that matches a tool (toolAgent.ts), or a short refusal when nothing matches.
 * - Judges (contract A): `### task: label-judgement` / `### task: label-check` (judge.ts).
 * - Error expansion (contract B): `### task: error-expansion` (expansion.ts).
 * - Multi-turn roles (src/dialogue/protocol.ts markers, any chat request with tools whose last
 *   message is a tool result, and the policy asked about a dialogue's turn: no task marker, the
 *   dialogue assistant's instructions as the system prompt): dialogue/roles.ts.
 * - `response_format: json_schema` otherwise: an object generated from the schema.
 * - Anything else: a short plain-text reply.
 */
import { canonicalJson, seedFrom, sha256Hex } from "../../util/ids.js";
import { SeededRandom } from "../../util/random.js";
import type { SimulatedToolServerError } from "../simulatorMark.js";
import { ERROR_EXPANSION_TASK, expandSeed, parseExpansionCase } from "./expansion.js";
import { checkLabel, judgeLabel, LABEL_CHECK_TASK, LABEL_JUDGEMENT_TASK, parseJudgeCase } from "./judge.js";
import { parseQueryTask, toSimTool, writeQuery, type SimTool } from "./queryWriter.js";
import type { ChatRequestBody } from "./requests.js";
import { stringifyJsonExact } from "../../util/exactJson.js";
import { normaliseDialogueOptions, type DialogueSimOptions } from "./dialogue/options.js";
import { scriptDialogue, type DialogueChatRole } from "./dialogue/roles.js";
import { pythonJson } from "./tokenizer.js";
import { objectForSchema, valueForSchema } from "./schemaValues.js";
import { lastUserText, messageText, runToolAgent, type MistakeKind, type MistakeScale, type ToolChoice } from "./toolAgent.js";

export const USER_QUERY_MARKER = /^\s*#{2,4}\s*task\s*:\s*user-query\s*$/im;

export interface ScriptedToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface ScriptedChat {
  content: string | null;
  toolCalls: ScriptedToolCall[];
  role: "user-query" | "tool-agent" | "judge" | "error-expansion" | "json-schema" | "text" | DialogueChatRole;
  mistake?: MistakeKind;
  /** The scripted fault a multi-turn role's answer carries (dialogue/options.ts rates), for tests. */
  fault?: string;
  /** Why the scripted tool server answered with an error (src/llm/simulatorMark.ts SIMULATOR_TOOL_SERVER_ERROR_FIELD), sent with the answer. */
  toolServerError?: SimulatedToolServerError;
}

export function contentRng(seed: number, body: unknown): SeededRandom {
  return new SeededRandom(seedFrom("content", seed, canonicalJson(body)));
}

/** Arguments serialised the way vLLM's tool parsers do (Python json.dumps: ", " and ": "). */
export { pythonJson };

function toolChoiceOf(body: ChatRequestBody): ToolChoice {
  const c = body.tool_choice;
  if (c && typeof c === "object") return { mode: "named", name: c.function.name };
  return { mode: c ?? "auto" };
}

const REPLIES = [
  "Happy to help. Here is a short answer based on what you asked",
  "Sure. In brief, the key point about your question is this",
  "Good question. The simplest way to put it is the following",
];

function plainText(rng: SeededRandom, userText: string): string {
  const topic = userText.replace(/\s+/g, " ").trim().slice(0, 80);
  return `${rng.pick(REPLIES)}: ${topic ? `"${topic}" ` : ""}is best handled step by step, starting with the part that matters most to you.`;
}

function userTexts(messages: readonly unknown[]): string[] {
  return messages.filter((m) => (m as Record<string, unknown>).role === "user").map((m) => messageText((m as Record<string, unknown>).content));
}

function hasSystemMarker(messages: readonly unknown[], marker: RegExp): boolean {
  return messages.some((m) => {
    const msg = m as Record<string, unknown>;
    return (msg.role === "system" || msg.role === "developer") && marker.test(messageText(msg.content));
  });
}

function isUserQueryTask(messages: readonly unknown[]): boolean {
  return hasSystemMarker(messages, USER_QUERY_MARKER);
}

/** Options that default to off; at 0 every answer is exactly what it was before they existed. */
export interface ScriptOptions {
  /** Share of tool-agent answers with a schema-valid wrong value (contract D), from its own stream. */
  silentMistakeRate?: number;
  /** How often a simulated judge gives a wrong verdict (contract A). */
  judgeErrorRate?: number;
  /** The multi-turn roles' rates (dialogue/options.ts); absent: their defaults. */
  dialogue?: Required<DialogueSimOptions>;
}

const DEFAULT_DIALOGUE = normaliseDialogueOptions(undefined);

/** The silent-mistake stream: seeded like the content stream but separate from it. */
export function silentRng(seed: number, body: unknown): SeededRandom {
  return new SeededRandom(seedFrom("silent-mistakes", seed, canonicalJson(body)));
}

export function scriptChat(body: ChatRequestBody, seed: number, mistakeRate: number, mistakeScale?: MistakeScale, options: ScriptOptions = {}): ScriptedChat {
  const rng = contentRng(seed, body);
  const messages = body.messages;
  const userText = lastUserText(messages);
  const format = body.response_format;
  const schema = format?.type === "json_schema" ? (format.json_schema?.schema ?? undefined) : undefined;

  if (isUserQueryTask(messages)) {
    // The newest user message carrying the task; a repair turn appended after it has none.
    const task = userTexts(messages)
      .reverse()
      .map(parseQueryTask)
      .find((t) => t !== undefined);
    if (task) return { content: JSON.stringify({ query: writeQuery(rng, task) }), toolCalls: [], role: "user-query" };
  }

  // The self-evolution roles: judges (contract A) and the error expander (contract B).
  if (hasSystemMarker(messages, LABEL_JUDGEMENT_TASK)) {
    const c = parseJudgeCase(messages, true);
    if (c) {
      const { verdict, analysis } = judgeLabel(rng, c, options.judgeErrorRate ?? 0);
      return { content: JSON.stringify({ verdict, analysis }), toolCalls: [], role: "judge" };
    }
  }
  if (hasSystemMarker(messages, LABEL_CHECK_TASK)) {
    const c = parseJudgeCase(messages, false);
    if (c) {
      const { verdict, analysis } = checkLabel(rng, c, options.judgeErrorRate ?? 0);
      return { content: JSON.stringify({ verdict, analysis }), toolCalls: [], role: "judge" };
    }
  }
  if (hasSystemMarker(messages, ERROR_EXPANSION_TASK)) {
    const c = parseExpansionCase(messages);
    if (c) return { content: JSON.stringify({ query: expandSeed(rng, c) }), toolCalls: [], role: "error-expansion" };
  }
  const dialogue = scriptDialogue(body, seed, { rates: options.dialogue ?? DEFAULT_DIALOGUE, judgeErrorRate: options.judgeErrorRate ?? 0 });
  if (dialogue) return dialogue;

  const tools = (body.tools ?? []).map(toSimTool).filter((t): t is SimTool => t !== undefined);
  const choice = toolChoiceOf(body);
  if (tools.length > 0 && choice.mode !== "none") {
    const silentRate = options.silentMistakeRate ?? 0;
    const reply = runToolAgent(rng, {
      messages,
      tools,
      choice,
      mistakeRate,
      ...(mistakeScale ? { mistakeScale } : {}),
      ...(silentRate > 0 ? { silent: { rate: silentRate, rng: silentRng(seed, body) } } : {}),
    });
    const callSeed = sha256Hex(`${seed}\u0000${canonicalJson(body)}`);
    const toolCalls = reply.calls.map((c, i) => ({
      id: `chatcmpl-tool-${sha256Hex(`${callSeed}:${i}`).slice(0, 32)}`,
      name: c.name,
      arguments: pythonJson(c.args),
    }));
    return { content: reply.content, toolCalls, role: "tool-agent", ...(reply.mistake ? { mistake: reply.mistake } : {}) };
  }

  if (schema) {
    const value =
      schema.type === "object" || schema.properties
        ? objectForSchema(rng, schema, schema, { optionalRate: 0.5 })
        : valueForSchema(rng, schema, format?.json_schema?.name ?? "value", schema);
    return { content: stringifyJsonExact(value), toolCalls: [], role: "json-schema" };
  }
  if (format?.type === "json_object") return { content: JSON.stringify({ response: plainText(rng, userText) }), toolCalls: [], role: "text" };
  return { content: plainText(rng, userText), toolCalls: [], role: "text" };
}

const COMPLETION_WORDS =
  "the of a to in and that it is was for on with as by this be at from or an have not are but which one all were when we there can more if".split(" ");

/** Continuation text for /v1/completions: deterministic filler words. */
export function scriptCompletion(rng: SeededRandom, maxTokens: number): string {
  const words: string[] = [];
  const n = Math.min(maxTokens, rng.int(8, 40));
  for (let i = 0; i < n; i++) words.push(rng.pick(COMPLETION_WORDS));
  return words.length > 0 ? " " + words.join(" ") : "";
}
