/**
 * The simulated judge (contract A). A system message with `### task: label-judgement` (label versus
 * prediction) or `### task: label-check` (the label alone); the last user message holds the case as
 * a ```json block `{tools, messages, label, prediction?}`. The judge knows what the simulated user
 * query was written from (the mistake-free tool agent's reading of it, as truth.ts defines it), so
 * its verdict is right unless it errs: with probability judgeErrorRate, drawn from the content
 * stream (so different judge models and per-request seeds err independently), it answers one of the
 * other verdicts. The analysis names what differs: tool, argument, value. Scripted, not a model.
 */
import type { McpTool, ToolCall } from "../../domain/types.js";
import { compareToLabel, type AssistantAnswer } from "../../matching/labelAgreement.js";
import type { SeededRandom } from "../../util/random.js";
import { toSimTool, type SimTool } from "./queryWriter.js";
import { parseJsonExact, stringifyJsonExact } from "../../util/exactJson.js";
import { literal } from "./text.js";
import { messageText, type AgentCall } from "./toolAgent.js";
import { answerOf, intentCalls, mcpToolOf } from "./truth.js";

export const LABEL_JUDGEMENT_TASK = /^\s*#{2,4}\s*task\s*:\s*label-judgement\s*$/im;
export const LABEL_CHECK_TASK = /^\s*#{2,4}\s*task\s*:\s*label-check\s*$/im;

export const JUDGEMENT_VERDICTS = ["PRED_WRONG", "LABEL_WRONG", "BOTH_CORRECT", "BOTH_WRONG"] as const;
export type JudgementVerdict = (typeof JUDGEMENT_VERDICTS)[number];
export const CHECK_VERDICTS = ["CORRECT", "INCORRECT"] as const;
export type CheckVerdict = (typeof CHECK_VERDICTS)[number];

/** An answer as the case block carries it: calls with `arguments` as an object (or, unreadable, a string). */
interface CaseAnswer {
  content: string | null;
  calls: { name: string; arguments: unknown }[];
}

export interface JudgeCase {
  tools: SimTool[];
  messages: unknown[];
  label: CaseAnswer;
  prediction?: CaseAnswer;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The first ```json block of a text, parsed with every digit (parseJsonExact); undefined when there is none or it is not JSON. */
export function jsonBlock(text: string): unknown {
  const fenced = /```(?:json)?\s*\n([\s\S]*?)```/i.exec(text);
  if (!fenced) return undefined;
  try {
    return parseJsonExact(fenced[1]!);
  } catch {
    return undefined;
  }
}

function caseAnswer(v: unknown): CaseAnswer | undefined {
  if (!isObject(v)) return undefined;
  const raw = Array.isArray(v.tool_calls) ? v.tool_calls : [];
  const calls = raw.filter(isObject).map((c) => {
    const f = isObject(c.function) ? c.function : c;
    return { name: typeof f.name === "string" ? f.name : "", arguments: f.arguments ?? {} };
  });
  return { content: typeof v.content === "string" ? v.content : null, calls };
}

/** Reads the case of a judge request (the newest user message's block); undefined when there is none. */
export function parseJudgeCase(messages: readonly unknown[], withPrediction: boolean): JudgeCase | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Record<string, unknown> | undefined;
    if (m?.role !== "user") continue;
    // The newest user message with a case; a repair turn appended after it has none.
    const block = jsonBlock(messageText(m.content));
    if (!isObject(block)) continue;
    const label = caseAnswer(block.label);
    const prediction = caseAnswer(block.prediction);
    if (!label || (withPrediction && !prediction)) return undefined;
    const tools = (Array.isArray(block.tools) ? block.tools : []).map(toSimTool).filter((t): t is SimTool => t !== undefined);
    return { tools, messages: Array.isArray(block.messages) ? block.messages : [], label, ...(prediction ? { prediction } : {}) };
  }
  return undefined;
}

function wireAnswer(a: CaseAnswer): AssistantAnswer {
  const toolCalls: ToolCall[] = a.calls.map((c, i) => ({
    id: `case-${i}`,
    type: "function",
    function: { name: c.name, arguments: typeof c.arguments === "string" ? c.arguments : stringifyJsonExact(c.arguments) },
  }));
  return { content: a.content, tool_calls: toolCalls };
}

function argsOf(c: { arguments: unknown }): Record<string, unknown> | undefined {
  if (isObject(c.arguments)) return c.arguments;
  if (typeof c.arguments === "string") {
    try {
      const v: unknown = parseJsonExact(c.arguments);
      return isObject(v) ? v : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** What an answer does differently from the intent, in words; empty when nothing differs. */
export function differences(answer: CaseAnswer, intent: readonly AgentCall[]): string[] {
  const out: string[] = [];
  if (intent.length === 0) {
    if (answer.calls.length > 0) out.push(`calls ${answer.calls.map((c) => c.name).join(", ")} although no offered tool serves the request`);
    return out;
  }
  if (answer.calls.length === 0) return [`makes no call; the request needs ${intent.map((c) => c.name).join(", ")}`];
  if (answer.calls.length !== intent.length) out.push(`makes ${answer.calls.length} call(s) where the request needs ${intent.length}`);
  const n = Math.min(answer.calls.length, intent.length);
  for (let i = 0; i < n; i++) {
    const got = answer.calls[i]!;
    const want = intent[i]!;
    const where = intent.length > 1 ? `call ${i + 1}: ` : "";
    if (got.name !== want.name) {
      out.push(`${where}calls ${got.name} where the request needs ${want.name}`);
      continue;
    }
    const args = argsOf(got);
    if (!args) {
      out.push(`${where}${got.name} has arguments that are not a JSON object`);
      continue;
    }
    for (const [k, v] of Object.entries(want.args)) {
      if (!Object.hasOwn(args, k)) out.push(`${where}${got.name} omits argument ${k} (the request gives ${literal(v)})`);
      else if (stringifyJsonExact(args[k]) !== stringifyJsonExact(v))
        out.push(`${where}${got.name} sets ${k} to ${literal(args[k])}; the request asks for ${literal(v)}`);
    }
    for (const k of Object.keys(args)) if (!Object.hasOwn(want.args, k)) out.push(`${where}${got.name} adds argument ${k}, which the request does not give`);
  }
  return out;
}

interface Assessment {
  ok: boolean;
  diffs: string[];
}

function assess(answer: CaseAnswer, intent: readonly AgentCall[], tools: McpTool[]): Assessment {
  const agrees = compareToLabel(wireAnswer(answer), answerOf(intent), tools).agrees;
  const diffs = differences(answer, intent);
  return { ok: agrees, diffs: agrees ? [] : diffs.length > 0 ? diffs : ["does not match what the user asked"] };
}

/** One side's sentence, as the judge claims it (a wrong verdict comes with a claim that does not hold). */
function sideText(name: string, claimedOk: boolean, truth: Assessment): string {
  if (claimedOk) return `The ${name} matches what the user asked.`;
  if (!truth.ok) return `The ${name} ${truth.diffs.join("; ")}.`;
  return `The ${name} does not look like what the user asked.`;
}

const SIDES: Record<JudgementVerdict, [boolean, boolean]> = {
  BOTH_CORRECT: [true, true],
  PRED_WRONG: [true, false],
  LABEL_WRONG: [false, true],
  BOTH_WRONG: [false, false],
};

function verdictOf(labelOk: boolean, predOk: boolean): JudgementVerdict {
  return labelOk ? (predOk ? "BOTH_CORRECT" : "PRED_WRONG") : predOk ? "LABEL_WRONG" : "BOTH_WRONG";
}

/** The judge's answer to a label-judgement case. Draws exactly two numbers from `rng`. */
export function judgeLabel(rng: SeededRandom, c: JudgeCase, errorRate: number): { verdict: JudgementVerdict; analysis: string; erred: boolean } {
  const tools = c.tools.map(mcpToolOf);
  const intent = intentCalls(c.messages, c.tools);
  const label = assess(c.label, intent, tools);
  const prediction = assess(c.prediction ?? { content: null, calls: [] }, intent, tools);
  const right = verdictOf(label.ok, prediction.ok);
  const erred = rng.chance(errorRate);
  const other = rng.pick(JUDGEMENT_VERDICTS.filter((v) => v !== right));
  const verdict = erred ? other : right;
  const [labelClaim, predClaim] = SIDES[verdict];
  return { verdict, analysis: `${sideText("label", labelClaim, label)} ${sideText("prediction", predClaim, prediction)}`, erred };
}

/** The judge's answer to a label-check case. Draws exactly one number from `rng`. */
export function checkLabel(rng: SeededRandom, c: JudgeCase, errorRate: number): { verdict: CheckVerdict; analysis: string; erred: boolean } {
  const tools = c.tools.map(mcpToolOf);
  const label = assess(c.label, intentCalls(c.messages, c.tools), tools);
  const erred = rng.chance(errorRate);
  const ok = erred ? !label.ok : label.ok;
  return { verdict: ok ? "CORRECT" : "INCORRECT", analysis: sideText("answer", ok, label), erred };
}
