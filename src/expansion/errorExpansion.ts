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
import type { ChatMessage, McpTool, SampleKind } from "../domain/types.js";
import { toOpenAiTool } from "../domain/types.js";
import type { LlmClient } from "../llm/client.js";
import { decodeToolCalls, labelOf } from "../matching/labelAgreement.js";
import { ASSISTANT_SYSTEM_PROMPT } from "../synthesis/prompts.js";
import { seedFrom } from "../util/ids.js";
import { SeededRandom } from "../util/random.js";
import { COMPLEXITIES, DEFAULT_PERSONAS, DEFAULT_STYLES, type Complexity } from "./variationChoices.js";

export const ERROR_EXPANSION_MARKER = "### task: error-expansion";
export const EXPANSION_PROMPT_VERSION = "error-expansion/v1";

// Re-exported: callers of the expansion module keep one import.
export { COMPLEXITIES, DEFAULT_PERSONAS, DEFAULT_STYLES, type Complexity };

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

/** The seed's user query and its label's calls (arguments as objects), as the protocol sends them. */
export function seedCase(messages: readonly ChatMessage[]): { query: string; calls: { name: string; arguments: Record<string, unknown> }[] } {
  const query = messages
    .filter((m) => m.role === "user")
    .map((m) => m.content)
    .join("\n");
  const label = labelOf(messages);
  if (!label) throw new ExpansionSeedError("the seed has no assistant answer (label)");
  const decoded = decodeToolCalls(label.tool_calls);
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
    { role: "user", content: "Seed and variation:\n```json\n" + JSON.stringify(block, null, 1) + "\n```" },
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
  const system: ChatMessage = { role: "system", content: ASSISTANT_SYSTEM_PROMPT };
  const user: ChatMessage = { role: "user", content: query.trim() };
  const res = await p.generator.chat({ messages: [system, user], tools: p.seed.tools.map(toOpenAiTool), toolChoice: "auto" }, { signal: p.signal });
  const calls = res.message.tool_calls ?? [];
  const assistant: ChatMessage =
    calls.length > 0
      ? {
          role: "assistant",
          content: res.message.content ?? null,
          tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.function.name, arguments: c.function.arguments } })),
        }
      : { role: "assistant", content: res.message.content ?? null };
  return {
    kind: p.seed.kind,
    messages: [system, user, assistant],
    tools: p.seed.tools,
    metadata: {
      variation: p.variation,
      seedSampleId: p.seed.id,
      seedCalls: seed.calls.map((c) => c.name),
      promptVersion: EXPANSION_PROMPT_VERSION,
      finishReason: res.finishReason,
    },
  };
}
