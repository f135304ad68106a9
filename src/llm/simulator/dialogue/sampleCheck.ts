/**
 * The simulated sample checker (SAMPLE_CHECK_MARKER, verify.judges): CORRECT or INCORRECT with an
 * analysis. A single-turn sample (no assistant or tool message in the prompt, and not opened by the
 * dialogue assistant's system prompt) is checked exactly as judge.ts checks a label (the truth is what
 * the simulated user query was written from). A multi-turn sample's label (the last message) is
 * compared under src/matching with what the truthful reading of its prompt answers (assistant.ts):
 * the same calls, or text where text is due. Either way the verdict is wrong at judgeErrorRate, from
 * the sample-check stream.
 */
import { checkLabel, parseJudgeCase } from "../judge.js";
import type { SeededRandom } from "../../../util/random.js";
import { mcpToolOf } from "../truth.js";
import { truthfulReply } from "./assistant.js";
import { isObject, markedRole, simToolsOf } from "./cases.js";
import { agreement, candidateOf } from "./negotiation.js";

export interface SampleCheckAnswer {
  verdict: "CORRECT" | "INCORRECT";
  analysis: string;
  erred: boolean;
}

/** A dialogue's sample: its prompt opens with the dialogue assistant's system prompt, or carries earlier turns. */
function isMultiTurn(prompt: readonly unknown[]): boolean {
  return markedRole(prompt) === "assistant" || prompt.some((m) => isObject(m) && (m.role === "assistant" || m.role === "tool"));
}

export function checkSample(
  rng: SeededRandom,
  seed: number,
  messages: readonly unknown[],
  c: Record<string, unknown>,
  errorRate: number,
): SampleCheckAnswer | undefined {
  const prompt = Array.isArray(c.messages) ? c.messages : undefined;
  if (!prompt || !isObject(c.label)) return undefined;
  if (!isMultiTurn(prompt)) {
    const single = parseJudgeCase(messages, false);
    return single ? checkLabel(rng, single, errorRate) : undefined;
  }
  const tools = simToolsOf(c.tools);
  const truth = truthfulReply(seed, prompt, tools);
  const label = agreement(candidateOf(c.label), truth, tools.map(mcpToolOf));
  const erred = rng.chance(errorRate);
  const ok = erred ? !label.agrees : label.agrees;
  const analysis = ok
    ? `The label serves the latest request given the conversation and the tool results so far${truth.move === "calls" ? "" : ` (${truth.move === "question" ? "it asks for what is missing" : truth.move === "final" ? "it answers from the results" : "no tool fits"})`}.`
    : label.agrees
      ? "The label does not look consistent with the conversation."
      : `The label ${label.why.join("; ")}.`;
  return { verdict: ok ? "CORRECT" : "INCORRECT", analysis, erred };
}
