/**
 * LoopTool's voting on one assistant turn: k candidates sampled from the assistant role, each with its
 * own seed (a function of the dialogue's seed, the user turn, the round and the candidate's index, so a
 * resumed dialogue samples the same ones) at voting.temperature. Each candidate is checked
 * (candidateCheck.ts) and, when it breaks a rule and reflection is on, revised once (reflection.ts).
 * Valid candidates are grouped by agreement under src/matching (the strict label comparison that
 * score.consistency uses: two text answers agree when neither calls a tool; calls agree by the
 * matcher); the largest group wins when it has at least m members and no other group is as large (with
 * m <= k/2, two different answers can both reach m: a tie is no agreement, and the candidates' order
 * must not pick the label). Otherwise the negotiator, when one is configured, picks one of the valid
 * candidates with reasons or rejects them all.
 *
 * A rejected turn still carries the dialogue on (the engine stores it, never as a label) with the
 * plurality candidate, the first of the largest valid group. When none is valid it is the first
 * non-empty candidate, stored for the record, and the engine ends the dialogue there.
 */
import { parseJsonExact } from "../util/exactJson.js";
import { z } from "zod";
import { toOpenAiTool, type ChatMessage, type McpTool } from "../domain/types.js";
import type { LlmClient } from "../llm/client.js";
import { compareToLabel } from "../matching/labelAgreement.js";
import type { MultiTurnStage } from "../stages/synthesize/multiTurn/spec.js";
import { seedFrom } from "../util/ids.js";
import { checkCandidate, type AssistantMessage } from "./candidateCheck.js";
import { NEGOTIATION_RESPONSE_FORMAT, negotiationMessages, negotiationSchema } from "./protocol.js";
import { assistantMessage, reflectAndRevise } from "./reflection.js";
import type { AssistantTurnReview } from "./types.js";

export interface VoteInput {
  assistant: LlmClient;
  negotiator?: LlmClient;
  /** The stored messages of the dialogue so far. */
  dialogue: ChatMessage[];
  tools: McpTool[];
  voting: Pick<MultiTurnStage["voting"], "k" | "m" | "temperature">;
  reflection: boolean;
  dialogueSeed: number;
  userTurn: number;
  round: number;
  /** The seq the turn will be stored at: its tool call ids become `call_<seq>_<i>`. */
  seq: number;
  signal: AbortSignal;
  maxTextChars?: number;
}

export interface VoteResult {
  /** The message the dialogue continues with (review.candidates[review.chosen].message). */
  message: AssistantMessage;
  accepted: boolean;
  review: AssistantTurnReview;
  /** Reflect-and-revise calls made, and whether a negotiation call was made. */
  reflections: number;
  negotiated: boolean;
}

/** Stable ids whatever the model invented: resumes and every candidate of a turn use the same ones. */
export function withStableCallIds(m: AssistantMessage, seq: number): AssistantMessage {
  if (!m.tool_calls) return m;
  return { ...m, tool_calls: m.tool_calls.map((c, i) => ({ ...c, id: `call_${seq}_${i}` })) };
}

export function candidateSeed(dialogueSeed: number, userTurn: number, round: number, index: number): number {
  return seedFrom("dialogue-assistant", dialogueSeed, userTurn, round, index);
}

/** Whether two candidates agree: same calls under the strict matcher, or both plain text. */
export function candidatesAgree(a: AssistantMessage, b: AssistantMessage, tools: readonly McpTool[]): boolean {
  try {
    return compareToLabel(a, b, tools).agrees;
  } catch {
    // A tool the matcher cannot describe: only byte-identical calls agree.
    return JSON.stringify((a.tool_calls ?? []).map((c) => c.function)) === JSON.stringify((b.tool_calls ?? []).map((c) => c.function));
  }
}

/** Groups of candidate indices that agree, largest first (ties: the group found first). */
export function agreementGroups(messages: readonly AssistantMessage[], indices: readonly number[], tools: readonly McpTool[]): number[][] {
  const groups: number[][] = [];
  for (const i of indices) {
    const group = groups.find((g) => candidatesAgree(messages[i]!, messages[g[0]!]!, tools));
    if (group) group.push(i);
    else groups.push([i]);
  }
  return groups
    .map((g, order) => ({ g, order }))
    .sort((x, y) => y.g.length - x.g.length || x.order - y.order)
    .map((x) => x.g);
}

function decodedCalls(m: AssistantMessage): { name: string; arguments: unknown }[] {
  return (m.tool_calls ?? []).map((c) => {
    let args: unknown = c.function.arguments;
    try {
      // Exact (bigints past 2^53): the negotiator compares the candidates' values with the user's words.
      args = parseJsonExact(c.function.arguments);
    } catch {
      // kept verbatim: the negotiator sees what the candidate sent
    }
    return { name: c.function.name, arguments: args };
  });
}

export async function voteOnTurn(p: VoteInput): Promise<VoteResult> {
  const { k, m, temperature } = p.voting;
  const openAiTools = p.tools.map(toOpenAiTool);
  const checkOpts = p.maxTextChars !== undefined ? { maxTextChars: p.maxTextChars } : {};
  let reflections = 0;

  const candidates: AssistantTurnReview["candidates"] = await Promise.all(
    Array.from({ length: k }, async (_, i) => {
      const res = await p.assistant.chat(
        { messages: p.dialogue, tools: openAiTools, toolChoice: "auto", temperature, seed: candidateSeed(p.dialogueSeed, p.userTurn, p.round, i) },
        { signal: p.signal },
      );
      const original = assistantMessage(res.message);
      const violations = checkCandidate(original, p.tools, { ...checkOpts, finishReason: res.finishReason });
      if (violations.length === 0) return { message: withStableCallIds(original, p.seq), valid: true };
      if (!p.reflection) return { message: withStableCallIds(original, p.seq), valid: false };
      reflections++;
      const reflection = await reflectAndRevise({
        client: p.assistant,
        dialogue: p.dialogue,
        tools: p.tools,
        original,
        critique: violations,
        seed: seedFrom("dialogue-reflect", p.dialogueSeed, p.userTurn, p.round, i),
        temperature,
        signal: p.signal,
        ...checkOpts,
      });
      const message = withStableCallIds(reflection.revision ?? original, p.seq);
      return { message, reflection, valid: reflection.stillInvalid.length === 0 };
    }),
  );

  const messages = candidates.map((c) => c.message);
  const valid = candidates.flatMap((c, i) => (c.valid ? [i] : []));
  const groups = agreementGroups(messages, valid, p.tools);
  const largest = groups[0] ?? [];
  const nonEmpty = messages.findIndex((msg) => (msg.tool_calls?.length ?? 0) > 0 || (msg.content ?? "").trim() !== "");
  const plurality = largest[0] ?? Math.max(0, nonEmpty);
  const votes = { groups: groups.map((g) => g.length), agreeRequired: m };
  const done = (review: Omit<AssistantTurnReview, "candidates" | "votes">, negotiated: boolean): VoteResult => ({
    message: messages[review.chosen]!,
    accepted: review.decision !== "rejected",
    review: { candidates, votes, ...review },
    reflections,
    negotiated,
  });

  const tie = largest.length >= m && (groups[1]?.length ?? 0) === largest.length;
  if (largest.length >= m && !tie) return done({ decision: "vote", chosen: largest[0]! }, false);
  if (valid.length === 0) return done({ decision: "rejected", rejectReason: `none of the ${k} candidates is valid`, chosen: plurality }, false);
  if (!p.negotiator)
    return done(
      {
        decision: "rejected",
        rejectReason: tie
          ? `a tie: ${groups.filter((g) => g.length === largest.length).length} groups of ${largest.length} of ${k} candidates agree on different answers; no negotiator is configured`
          : `only ${largest.length} of ${k} candidates agree; ${m} required and no negotiator is configured`,
        chosen: plurality,
      },
      false,
    );

  // The negotiator sees the valid candidates only: an invalid one can never be the turn.
  const offered = valid;
  const answerSchema = negotiationSchema.refine((a) => a.choice === null || a.choice < offered.length, {
    message: `expected null or a candidate index below ${offered.length}`,
    path: ["choice"],
  }) as z.ZodType<z.infer<typeof negotiationSchema>>;
  // bad_response after the repair propagates: the engine drops the dialogue as unusable_answer.
  const answer = await p.negotiator.structured(
    {
      messages: negotiationMessages({
        tools: p.tools,
        dialogue: p.dialogue,
        candidates: offered.map((i) => ({ content: messages[i]!.content, tool_calls: decodedCalls(messages[i]!) })),
      }),
      responseFormat: NEGOTIATION_RESPONSE_FORMAT,
      seed: seedFrom("dialogue-negotiation", p.dialogueSeed, p.userTurn, p.round),
    },
    answerSchema,
    { signal: p.signal, maxRepairs: 1 },
  );
  const choice = answer.choice === null ? null : offered[answer.choice]!;
  const negotiation = { choice, reasons: answer.reasons, model: p.negotiator.model };
  if (choice === null)
    return done({ decision: "rejected", negotiation, rejectReason: `the negotiator rejected every candidate: ${answer.reasons}`, chosen: plurality }, true);
  return done({ decision: "negotiation", negotiation, chosen: choice }, true);
}
