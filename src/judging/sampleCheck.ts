/**
 * LoopTool's second verification pass as pure logic (verify.judges): a sample's label is its LAST
 * message (an assistant turn: tool calls, a question, or a final answer) and its prompt is everything
 * before it, so a multi-turn sample's tool messages reach the judges as they are. Each committee
 * member reads the case (protocol.sampleCheckMessages) and answers CORRECT / INCORRECT with an
 * analysis, read under a zod schema with one repair; the consensus decides, and the decision becomes
 * the sample's `judges` verdict.
 */
import { z } from "zod";
import { sampleCheckMessages } from "../dialogue/protocol.js";
import type { ChatMessage, McpTool, SampleStatus, Verdict } from "../domain/types.js";
import type { LlmClient } from "../llm/client.js";
import { SAMPLE_CHECK_VERDICTS } from "../db/schema.js";
import { convene, tally, type Vote } from "./committee.js";
import type { CommitteeConfig } from "./committeeConfig.js";
import { judgedAnswer } from "./protocol.js";

export { SAMPLE_CHECK_VERDICTS };
export type SampleCheckVerdict = (typeof SAMPLE_CHECK_VERDICTS)[number];

/** The verifier name of the verdict verify.judges records on a sample. */
export const JUDGES_VERIFIER = "judges";

export const sampleCheckAnswerSchema = z.object({ verdict: z.enum(SAMPLE_CHECK_VERDICTS), analysis: z.string() });

export const SAMPLE_CHECK_RESPONSE_FORMAT = {
  name: "sample_check",
  schema: {
    type: "object",
    properties: { verdict: { type: "string", enum: [...SAMPLE_CHECK_VERDICTS] }, analysis: { type: "string" } },
    required: ["verdict", "analysis"],
    additionalProperties: false,
  },
} as const;

/** Thrown for a sample whose last message is not an assistant turn: there is no label to judge. */
export class NoLabelError extends Error {}

/**
 * The request every judge gets for a sample: the tools, the prompt (every message before the last,
 * tool messages included) and the label (the last message, arguments decoded).
 */
export function sampleCheckCase(sample: { id: string; messages: readonly ChatMessage[]; tools: readonly McpTool[] }): ChatMessage[] {
  const label = sample.messages[sample.messages.length - 1];
  if (!label || label.role !== "assistant")
    throw new NoLabelError(`sample ${sample.id}: the last message is ${label ? `a ${label.role} message` : "missing"}, not the assistant turn to judge`);
  return sampleCheckMessages({ tools: sample.tools, prompt: sample.messages.slice(0, -1), label: judgedAnswer(label) });
}

export interface SampleCheck {
  /** Votes asked now (the ones to store). */
  fresh: Vote<SampleCheckVerdict>[];
  /** Every vote: the ones stored before and the fresh ones. */
  votes: Vote<SampleCheckVerdict>[];
  /** The verdict with at least `consensus` votes, or null (no consensus). */
  verdict: SampleCheckVerdict | null;
  counts: Record<string, number>;
}

/**
 * Asks the committee members whose vote is not in `before` (each repeated sample its own request
 * with its own seed) and tallies all votes. Unreadable answers are null votes; transport failures
 * propagate.
 */
export async function checkSample(p: {
  committee: CommitteeConfig;
  clientFor: (role: string) => LlmClient;
  sample: { id: string; messages: readonly ChatMessage[]; tools: readonly McpTool[] };
  before: readonly Vote<SampleCheckVerdict>[];
  signal: AbortSignal;
}): Promise<SampleCheck> {
  const messages = sampleCheckCase(p.sample);
  const fresh = await convene(
    p.committee,
    p.clientFor,
    { messages, responseFormat: SAMPLE_CHECK_RESPONSE_FORMAT, schema: sampleCheckAnswerSchema },
    p.signal,
    new Set(p.before.map((v) => v.judge)),
  );
  const votes = [...p.before, ...fresh];
  const { verdict, counts } = tally(votes, p.committee.consensus);
  return { fresh, votes, verdict, counts };
}

/**
 * The sample's `judges` verdict and its status once every other verdict is counted: INCORRECT by
 * consensus rejects; no consensus rejects or keeps as configured.
 */
export function decideSample(p: {
  verdict: SampleCheckVerdict | null;
  counts: Record<string, number>;
  consensus: number;
  committeeSize: number;
  noConsensus: "keep" | "reject";
  otherVerdicts: readonly Verdict[];
}): { verdict: Verdict; status: SampleStatus } {
  const tallyText = `${p.counts.CORRECT ?? 0} CORRECT, ${p.counts.INCORRECT ?? 0} INCORRECT of ${p.committeeSize} votes (consensus ${p.consensus})`;
  let verdict: Verdict;
  if (p.verdict === "CORRECT") verdict = { verifier: JUDGES_VERIFIER, ok: true, reasons: [] };
  else if (p.verdict === "INCORRECT") verdict = { verifier: JUDGES_VERIFIER, ok: false, reasons: [`judged INCORRECT: ${tallyText}`] };
  else
    verdict = {
      verifier: JUDGES_VERIFIER,
      ok: p.noConsensus === "keep",
      reasons: [`no consensus (${p.noConsensus === "keep" ? "kept" : "rejected"}, noConsensus ${p.noConsensus}): ${tallyText}`],
    };
  const verdicts = [...p.otherVerdicts.filter((v) => v.verifier !== JUDGES_VERIFIER), verdict];
  return { verdict, status: verdicts.every((v) => v.ok) ? "verified" : "rejected" };
}
