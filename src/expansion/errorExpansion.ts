/**
 * Error-driven data expansion (LoopTool's EDDE): new samples around an error seed that keep its call
 * shape (the same tools in the same order, as many calls; an irrelevance seed stays one no tool can
 * serve) and vary the scenario: a persona, an interaction style and a complexity, drawn
 * deterministically per (seed, iteration, error seed, n) from configured lists.
 *
 * Wire protocol (/work/briefs/contracts.md B): the system message carries the line
 * `### task: error-expansion`; the last user message holds one ```json block
 * `{"tools", "seed": {"query", "calls": [{"name", "arguments"}]}, "variation": {"index", "persona", "style", "complexity"}}`;
 * the answer (json_schema) is `{"query": string}`. The label is then made the normal way: the
 * generator answers the new query as a tool agent, exactly as single-turn synthesis does.
 */
import { z } from "zod";
import type { ChatMessage, McpTool, SampleKind, Verdict } from "../domain/types.js";
import { toOpenAiTool } from "../domain/types.js";
import type { LlmClient } from "../llm/client.js";
import { decodeToolCalls, labelOf } from "../matching/labelAgreement.js";
import { answerAsToolAgent } from "../synthesis/singleTurn.js";
import { parseJsonAsPython, stringifyJsonExact } from "../util/exactJson.js";
import { seedFrom, sha256Hex } from "../util/ids.js";
import { SeededRandom } from "../util/random.js";
import type { Complexity } from "./variationDefaults.js";

export const ERROR_EXPANSION_MARKER = "### task: error-expansion";
export const EXPANSION_PROMPT_VERSION = "error-expansion/v1";
export { COMPLEXITIES, DEFAULT_PERSONAS, DEFAULT_STYLES, type Complexity } from "./variationDefaults.js";

export interface Variation {
  index: number;
  persona: string;
  style: string;
  complexity: Complexity;
}

/** The n-th variation of an error seed: a pure function of the campaign seed, iteration, seed id and n. */
export function drawVariation(p: {
  seed: number;
  iteration: number;
  seedSampleId: string;
  index: number;
  personas: readonly string[];
  styles: readonly string[];
  complexities: readonly Complexity[];
}): Variation {
  const rng = new SeededRandom(seedFrom("error-expansion-variation", p.seed, p.iteration, p.seedSampleId, p.index));
  return { index: p.index, persona: rng.pick(p.personas), style: rng.pick(p.styles), complexity: rng.pick(p.complexities) };
}

export class ExpansionSeedError extends Error {
  override name = "ExpansionSeedError";
}

/**
 * The seed's user query and its label's calls (arguments as objects), as the protocol sends them: read
 * as Python reads them (src/util/exactJson.ts), so the query writer sees the label's values as written
 * (an order id of 20 digits exactly, `2.0` a float) and the expansion asks about the seed's order.
 */
export function seedCase(messages: readonly ChatMessage[]): { query: string; calls: { name: string; arguments: Record<string, unknown> }[] } {
  const query = messages
    .filter((m) => m.role === "user")
    .map((m) => m.content)
    .join("\n");
  const label = labelOf(messages);
  if (!label) throw new ExpansionSeedError("the seed has no assistant answer (label)");
  const decoded = decodeToolCalls(label.tool_calls, parseJsonAsPython);
  if ("badCall" in decoded) throw new ExpansionSeedError(`the seed's label cannot be read: ${decoded.message}`);
  return { query, calls: decoded.calls.map((c) => ({ name: c.name, arguments: c.args })) };
}

const SYSTEM_PROMPT = [
  ERROR_EXPANSION_MARKER,
  "You write new training requests for an AI assistant that calls tools, around a request the assistant got wrong.",
  "Write one new user request that needs exactly the same calls in shape: the same tools, in the same order, the same number of calls, with different data values.",
  "If the seed makes no call (no tool fits it), write a new request that none of the tools can serve.",
  "Write it as the persona would, in the given style; complexity says whether the wording is simpler, the same, or richer than the seed's (the calls stay the same).",
  "Give every value the calls need concretely in the text. Do not mention tools, functions or JSON.",
  'Reply with only a JSON object of the form {"query": "<the request>"}.',
].join("\n");

/** The query writer's request for one variation of a seed. */
export function expansionMessages(p: { tools: readonly McpTool[]; seed: ReturnType<typeof seedCase>; variation: Variation }): ChatMessage[] {
  const block = { tools: p.tools.map(toOpenAiTool), seed: p.seed, variation: p.variation };
  return [
    { role: "system", content: SYSTEM_PROMPT },
    { role: "user", content: "Seed and variation:\n```json\n" + stringifyJsonExact(block, 1) + "\n```" },
  ];
}

export const EXPANSION_RESPONSE_FORMAT = {
  name: "error_expansion",
  schema: { type: "object", properties: { query: { type: "string" } }, required: ["query"], additionalProperties: false },
} as const;
const expansionAnswerSchema = z.object({ query: z.string().trim().min(1, "query must be a non-empty string") });

export interface ExpandedSample {
  kind: SampleKind;
  messages: ChatMessage[];
  tools: McpTool[];
  metadata: Record<string, unknown>;
}

/** Two generator requests: the new query (contract B), then the tool agent's answer to it (the label). */
export async function expandErrorSeed(p: {
  seed: { id: string; kind: SampleKind; messages: ChatMessage[]; tools: McpTool[] };
  variation: Variation;
  generator: LlmClient;
  signal?: AbortSignal;
}): Promise<ExpandedSample> {
  const seed = seedCase(p.seed.messages);
  const { query } = await p.generator.structured(
    { messages: expansionMessages({ tools: p.seed.tools, seed, variation: p.variation }), responseFormat: EXPANSION_RESPONSE_FORMAT },
    expansionAnswerSchema,
    { signal: p.signal },
  );
  const answered = await answerAsToolAgent(p.generator, query, p.seed.tools, p.signal);
  return {
    kind: p.seed.kind,
    messages: withSeedCallIds(p.seed.id, answered.messages),
    tools: p.seed.tools,
    metadata: {
      variation: p.variation,
      seedSampleId: p.seed.id,
      seedCalls: seed.calls.map((c) => c.name),
      promptVersion: EXPANSION_PROMPT_VERSION,
      finishReason: answered.finishReason,
    },
  };
}

/**
 * The label's call ids derived from the seed's id (as repairs derive theirs): a server's ids are
 * arbitrary (vLLM's are random), and they are part of the content a sample id hashes, so two
 * expansions asking and answering the same thing would otherwise be stored as two samples.
 */
export function withSeedCallIds(seedId: string, messages: readonly ChatMessage[]): ChatMessage[] {
  return messages.map((m) =>
    m.role === "assistant" && m.tool_calls && m.tool_calls.length > 0
      ? { ...m, tool_calls: m.tool_calls.map((c, i) => ({ ...c, id: `call_${sha256Hex(`${seedId}\u0000expanded\u0000${i}`).slice(0, 24)}` })) }
      : m,
  );
}

export const CALL_SHAPE_VERIFIER = "seed-shape";

/**
 * Whether an expansion keeps its error seed's call shape: its label calls the same tools as many
 * times as the seed's label (a parallel answer's calls in any order, as the matcher reads them); an
 * irrelevance seed's expansion calls none. The query writer is asked for that shape but a model may
 * write a request that needs other calls, and the tool agent answers the request it got: such a
 * sample is not about the policy's error, so it is rejected with the two shapes named.
 */
export function callShapeVerdict(seedMessages: readonly ChatMessage[], expandedMessages: readonly ChatMessage[]): Verdict {
  const seed = seedCase(seedMessages).calls.map((c) => c.name);
  const got = (labelOf(expandedMessages)?.tool_calls ?? []).map((c) => c.function.name);
  const key = (names: readonly string[]) => JSON.stringify([...names].sort());
  if (key(seed) === key(got)) return { verifier: CALL_SHAPE_VERIFIER, ok: true, reasons: [] };
  const show = (names: readonly string[]) => (names.length === 0 ? "no call" : `calls to ${names.join(", ")}`);
  return {
    verifier: CALL_SHAPE_VERIFIER,
    ok: false,
    reasons: [`the label makes ${show(got)}; its error seed makes ${show(seed)} (an expansion keeps the seed's tools and call count)`],
  };
}
