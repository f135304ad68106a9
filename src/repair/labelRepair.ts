/**
 * Judgement-guided label repair (LoopTool's JGLV) as plain decisions: what a committee verdict leads
 * to, which answer BOTH_CORRECT keeps, and the sample a repair writes. No I/O; the repair.labels
 * handler asks the judges and the policy and stores what these functions decide.
 */
import type { ChatMessage, McpTool, SampleKind, ToolCall, Verdict } from "../domain/types.js";
import type { JudgeVerdict } from "../db/schema.js";
import { promptOf, type AssistantAnswer } from "../matching/labelAgreement.js";
import { sha256Hex, sampleId } from "../util/ids.js";
import { verifyRules } from "../verification/rules.js";

export const REPAIR_STAGE = "repair.labels";

/**
 * The step a verdict calls for: LABEL_WRONG takes the prediction as the label; BOTH_CORRECT compares
 * the two answers' perplexities; BOTH_WRONG drops the sample; PRED_WRONG keeps the label and makes the
 * sample an error seed (the policy's error, expanded later); no consensus does nothing.
 */
export type VerdictStep = "take_prediction" | "compare_perplexity" | "dropped" | "error_seed" | "no_consensus";

export function stepFor(verdict: JudgeVerdict | null): VerdictStep {
  switch (verdict) {
    case "LABEL_WRONG":
      return "take_prediction";
    case "BOTH_CORRECT":
      return "compare_perplexity";
    case "BOTH_WRONG":
      return "dropped";
    case "PRED_WRONG":
      return "error_seed";
    case null:
      return "no_consensus";
  }
}

/**
 * BOTH_CORRECT keeps the answer the policy finds harder (higher perplexity: more to learn from it).
 * A tie keeps the label: it was verified when it was made, and replacing it would gain nothing.
 * Infinity is a perplexity too (a token the policy gives no probability): the hardest answer.
 */
export function keepHigherPerplexity(ppl: { label: number; prediction: number }): "label" | "prediction" {
  for (const [k, v] of Object.entries(ppl)) if (!(v >= 1)) throw new Error(`${k} perplexity must be a number >= 1 (got ${v})`);
  return ppl.prediction > ppl.label ? "prediction" : "label";
}

/** A single-turn sample's kind follows from its label's call count. */
export function kindOfAnswer(answer: AssistantAnswer): SampleKind {
  const n = answer.tool_calls?.length ?? 0;
  return n === 0 ? "irrelevance" : n === 1 ? "standard" : "parallel";
}

export interface RepairedSample {
  id: string;
  kind: SampleKind;
  messages: ChatMessage[];
  tools: McpTool[];
  /** The rules verdict on the new sample; `verified` when it passes. */
  verdict: Verdict;
  status: "verified" | "rejected";
}

/**
 * The sample a repair writes: the original's prompt and tools with the prediction as its label. Call
 * ids are derived from the original's id (the policy's own ids are arbitrary), so the same repair
 * always yields the same sample id and a re-run writes nothing new. Verified by the rules like any
 * synthesized sample; the kind is the one the new label's call count makes (a multi_turn original's
 * repair stays multi_turn: the whole dialogue before the label is its prompt).
 */
export function repairedSample(
  campaignId: string,
  original: { id: string; messages: ChatMessage[]; tools: McpTool[]; kind?: SampleKind | string },
  prediction: AssistantAnswer,
): RepairedSample {
  const calls: ToolCall[] = (prediction.tool_calls ?? []).map((c, i) => ({
    id: `call_${sha256Hex(`${original.id}\u0000${i}`).slice(0, 24)}`,
    type: "function",
    function: { name: c.function.name, arguments: c.function.arguments },
  }));
  const label: ChatMessage =
    calls.length > 0 ? { role: "assistant", content: prediction.content, tool_calls: calls } : { role: "assistant", content: prediction.content };
  const messages = [...promptOf(original.messages), label];
  // A dialogue's turn stays a multi_turn sample (its prompt is the dialogue); a single-turn kind follows the new label.
  const kind: SampleKind = original.kind === "multi_turn" ? "multi_turn" : kindOfAnswer({ content: prediction.content, tool_calls: calls });
  const verdict = verifyRules({ kind, messages, tools: original.tools });
  return {
    id: sampleId(campaignId, { messages, tools: original.tools }),
    kind,
    messages,
    tools: original.tools,
    verdict,
    status: verdict.ok ? "verified" : "rejected",
  };
}
