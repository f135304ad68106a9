/**
 * The simulated negotiation judge (NEGOTIATION_MARKER): disagreeing candidates for one assistant turn
 * are compared with the truthful reading of the dialogue (assistant.ts); the first that agrees under
 * src/matching is chosen, or none (null) when none does, with a reason per candidate.
 */
import { stringifyJsonExact } from "../../../util/exactJson.js";
import type { McpTool } from "../../../domain/types.js";
import { compareToLabel } from "../../../matching/labelAgreement.js";
import { differences } from "../judge.js";
import type { SimTool } from "../queryWriter.js";
import { answerOf, mcpToolOf } from "../truth.js";
import { truthfulReply, type AssistantReply } from "./assistant.js";
import { isObject, simToolsOf } from "./cases.js";

export interface CandidateAnswer {
  content: string | null;
  calls: { name: string; arguments: unknown }[];
}

export function candidateOf(v: unknown): CandidateAnswer {
  if (!isObject(v)) return { content: null, calls: [] };
  const calls = (Array.isArray(v.tool_calls) ? v.tool_calls : []).filter(isObject).map((c) => {
    const f = isObject(c.function) ? c.function : c;
    return { name: typeof f.name === "string" ? f.name : "", arguments: f.arguments ?? {} };
  });
  return { content: typeof v.content === "string" ? v.content : null, calls };
}

export interface NegotiationCase {
  tools: SimTool[];
  messages: unknown[];
  candidates: CandidateAnswer[];
}

export function parseNegotiationCase(c: Record<string, unknown>): NegotiationCase | undefined {
  if (!Array.isArray(c.candidates) || !Array.isArray(c.messages)) return undefined;
  return { tools: simToolsOf(c.tools), messages: c.messages, candidates: c.candidates.map(candidateOf) };
}

/** Whether an answer agrees with the truthful reply, and if not, what differs (in words). */
export function agreement(answer: CandidateAnswer, truth: AssistantReply, tools: readonly McpTool[]): { agrees: boolean; why: string[] } {
  if (truth.calls.length === 0) {
    if (answer.calls.length === 0) return { agrees: true, why: [] };
    const needs =
      truth.move === "question" ? "a question for the missing values" : truth.move === "final" ? "a final answer over the results" : "a text answer";
    return { agrees: false, why: [`calls ${answer.calls.map((c) => c.name).join(", ")} where the turn needs ${needs}`] };
  }
  const wire = {
    content: answer.content,
    tool_calls: answer.calls.map((c, i) => ({
      id: `cand-${i}`,
      type: "function" as const,
      function: { name: c.name, arguments: typeof c.arguments === "string" ? c.arguments : stringifyJsonExact(c.arguments) },
    })),
  };
  let agrees = false;
  try {
    agrees = compareToLabel(wire, answerOf(truth.calls), [...tools]).agrees;
  } catch {
    agrees = false; // tools the matcher cannot read: nothing can be confirmed
  }
  if (agrees) return { agrees, why: [] };
  const diffs = differences(answer, truth.calls);
  return { agrees, why: diffs.length > 0 ? diffs : ["does not match what the user asked"] };
}

export function negotiate(seed: number, c: NegotiationCase): { choice: number | null; reasons: string } {
  const truth = truthfulReply(seed, c.messages, c.tools);
  const tools = c.tools.map(mcpToolOf);
  const verdicts = c.candidates.map((cand) => agreement(cand, truth, tools));
  const choice = verdicts.findIndex((v) => v.agrees);
  const lines = verdicts.map((v, i) => `Candidate ${i} ${v.agrees ? "serves the latest request correctly" : v.why.join("; ")}.`);
  if (choice < 0) return { choice: null, reasons: `None serves the request. ${lines.join(" ")}` };
  return { choice, reasons: `Candidate ${choice} is right. ${lines.join(" ")}` };
}
