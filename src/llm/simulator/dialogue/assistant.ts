/**
 * The simulated assistant (tool agent) of a dialogue: answers a chat request with tools from the
 * conversation's reading (reading.ts): OpenAI tool calls (several at once when the step is parallel),
 * a question for a required value nobody gave, the next call of a multi-step need with a value read
 * from the previous result, or a final answer over the results. The same reply serves single-turn
 * "whole trajectory" completion (a request whose last message is a tool result).
 *
 * Sampling: at temperature 0 the answer depends on the conversation alone (the request's seed is
 * ignored, as greedy decoding would); at temperature > 0 the seed enters the fault stream, so k
 * samples with k seeds disagree at the configured rate. The truthful reply (no faults) is what the
 * negotiator, the sample checker and reflection compare with.
 */
import { canonicalJson } from "../../../util/ids.js";
import type { SimTool } from "../queryWriter.js";
import type { AgentCall } from "../toolAgent.js";
import { inventedCall, violateSchema, wrongValue, type Disagreement, type SchemaViolation } from "./faults.js";
import type { DialogueSimOptions } from "./options.js";
import { readConversation, type NextMove } from "./reading.js";
import { dialogueRng } from "./streams.js";
import { decline, finalAnswer, question } from "./wording.js";

export interface AssistantReply {
  content: string | null;
  calls: AgentCall[];
  move: NextMove["kind"];
  fault?: SchemaViolation | Disagreement;
}

/** What a faultless assistant answers; its wording depends only on the conversation. */
export function truthfulReply(seed: number, messages: readonly unknown[], tools: readonly SimTool[]): AssistantReply {
  const rng = dialogueRng("assistant-text", seed, messages);
  const { move } = readConversation(messages, tools);
  switch (move.kind) {
    case "calls":
      return { content: null, calls: move.calls, move: move.kind };
    case "question":
      return { content: question(rng, move.missing), calls: [], move: move.kind };
    case "final":
      return { content: finalAnswer(rng, move.made), calls: [], move: move.kind };
    case "decline":
      return { content: decline(rng, move.closing), calls: [], move: move.kind };
  }
}

/** The sampling temperature a request asks for; vLLM's default is 1. */
export function temperatureOf(body: { temperature?: number | null }): number {
  return body.temperature ?? 1;
}

/** The fault stream's key: at temperature 0 the request's seed does not matter (greedy decoding). */
function faultKey(body: Record<string, unknown>): string {
  if (temperatureOf(body) > 0) return canonicalJson(body);
  const { seed: _seed, ...rest } = body;
  return canonicalJson(rest);
}

export function assistantReply(p: {
  seed: number;
  body: Record<string, unknown> & { temperature?: number | null };
  messages: readonly unknown[];
  tools: readonly SimTool[];
  rates: Required<DialogueSimOptions>;
}): AssistantReply {
  const truth = truthfulReply(p.seed, p.messages, p.tools);
  const rng = dialogueRng("assistant-fault", p.seed, faultKey(p.body));
  // Both draws always happen, so one rate never moves the other's decisions.
  const violate = rng.chance(p.rates.assistantSchemaViolationRate);
  const disagree = rng.chance(p.rates.assistantDisagreementRate) && temperatureOf(p.body) > 0;
  let reply = truth;
  if (disagree) reply = disagreement(rng, truth, p.messages, p.tools) ?? truth;
  if (violate && reply.calls.length > 0) {
    const broken = violateSchema(rng, reply.calls, p.tools);
    reply = { ...reply, calls: broken.calls, fault: broken.kind };
  }
  return reply;
}

function disagreement(
  rng: ReturnType<typeof dialogueRng>,
  truth: AssistantReply,
  messages: readonly unknown[],
  tools: readonly SimTool[],
): AssistantReply | undefined {
  if (truth.move === "calls") {
    const wrong = wrongValue(rng, truth.calls, tools);
    if (wrong) return { content: null, calls: wrong, move: "calls", fault: "wrong_value" };
    if (truth.calls.length > 1) return { content: null, calls: truth.calls.slice(0, -1), move: "calls", fault: "dropped_call" };
    return undefined;
  }
  const { move } = readConversation(messages, tools);
  if (move.kind === "question") {
    const first = move.missing[0]!;
    return { content: null, calls: [inventedCall(rng, first.call.tool, first.call.args)], move: "calls", fault: "invented_value" };
  }
  if (move.kind === "final") {
    const again = move.made.find((m) => m.args !== undefined);
    if (again) return { content: null, calls: [{ name: again.name, args: again.args! }], move: "calls", fault: "redundant_call" };
  }
  return undefined;
}
