/**
 * Single-turn synthesis (InfTool): plan the kind of each slot, pick the slot's tools, then two
 * generator calls per sample: a user-query writer, and the tool-calling assistant answering it.
 * Every choice is a pure function of (seed, iteration, slot), so a re-run yields the same samples.
 */
import { z } from "zod";
import type { ChatMessage, McpTool, SingleTurnKind } from "../domain/types.js";
import { toOpenAiTool } from "../domain/types.js";
import type { LlmClient } from "../llm/client.js";
import { seedFrom } from "../util/ids.js";
import { SeededRandom } from "../util/random.js";
import {
  ASSISTANT_SYSTEM_PROMPT,
  buildUserQueryPrompt,
  PROMPT_VERSION,
  ToolRenderCache,
  USER_QUERY_RESPONSE_SCHEMA,
  USER_QUERY_SYSTEM_PROMPT,
} from "./prompts.js";

const KINDS: readonly SingleTurnKind[] = ["standard", "parallel", "irrelevance"];

/** Kinds for `count` slots in the mix's proportions (largest remainder), shuffled by seed and iteration. */
export function planSingleTurnKinds(p: {
  count: number;
  mix: { standard: number; parallel: number; irrelevance: number };
  seed: number;
  iteration: number;
}): SingleTurnKind[] {
  if (!Number.isInteger(p.count) || p.count < 0) throw new Error(`planSingleTurnKinds: count must be a non-negative integer (got ${p.count})`);
  const weights = KINDS.map((k) => p.mix[k]);
  weights.forEach((w, i) => {
    if (!Number.isFinite(w) || w < 0) throw new Error(`planSingleTurnKinds: mix.${KINDS[i]} must be a non-negative number (got ${w})`);
  });
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) throw new Error("planSingleTurnKinds: mix must have at least one proportion above 0");
  const exact = weights.map((w) => (p.count * w) / total);
  const counts = exact.map(Math.floor);
  let left = p.count - counts.reduce((a, b) => a + b, 0);
  // Ties go to the earlier kind, so the result never depends on sort stability.
  const order = [0, 1, 2].sort((a, b) => exact[b]! - counts[b]! - (exact[a]! - counts[a]!) || a - b);
  for (const i of order) {
    if (left <= 0) break;
    counts[i]!++;
    left--;
  }
  const kinds: SingleTurnKind[] = [];
  KINDS.forEach((k, i) => {
    for (let n = 0; n < counts[i]!; n++) kinds.push(k);
  });
  return new SeededRandom(seedFrom("single-turn-kinds", p.seed, p.iteration)).shuffle(kinds);
}

function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 1);
}

/** How "same-domain" a candidate looks next to the anchor: a shared first name word counts most. */
function affinity(words: readonly string[], anchorWords: readonly string[]): number {
  let score = 0;
  if (words[0] !== undefined && words[0] === anchorWords[0]) score += 2;
  for (const w of words) if (anchorWords.includes(w)) score++;
  return score;
}

function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** The `rank`-th `size`-subset of 0.. in colex order: low ranks use only the first (best-ranked) items. */
function colexSubset(rank: number, size: number): number[] {
  const out: number[] = [];
  let m = rank;
  for (let i = size; i >= 1; i--) {
    let c = i - 1;
    while (binomial(c + 1, i) <= m) c++;
    out.push(c);
    m -= binomial(c, i);
  }
  return out.reverse();
}

/** The `index`-th permutation (factorial number system) of `items`. */
function nthPermutation<T>(items: readonly T[], index: number): T[] {
  const pool = items.slice();
  const out: T[] = [];
  let q = index;
  for (let n = pool.length; n > 0; n--) {
    const i = q % n;
    q = Math.floor(q / n);
    out.push(pool.splice(i, 1)[0]!);
  }
  return out;
}

export interface ToolSelectionOptions {
  seed: number;
  iteration: number;
  toolsPerSample: number;
  maxParallelCalls: number;
}

/**
 * The slots' target calls and offered tools. standard: one target; parallel: 2..maxParallelCalls
 * calls (one tool may repeat); irrelevance: none. Offered = an anchor tool plus same-domain-looking
 * distractors up to `toolsPerSample`, ordered.
 *
 * The simulator (like any greedy decoder) answers identical requests identically, so two slots with
 * the same tools would yield the same sample. Slots therefore map injectively onto (anchor,
 * distractor set, order): the anchor cycles through a seeded permutation of the library, and each
 * further round for an anchor takes the next distractor subset in colex order of affinity rank.
 *
 * Made once per batch: the library's order, the anchor permutation and each anchor's ranking depend
 * on the library, seed and iteration only, so they are computed once (rankings on first use) and
 * every slot of the batch reuses them.
 */
export class ToolSelector {
  private readonly tools: McpTool[];
  private readonly words = new Map<McpTool, string[]>();
  private readonly anchors: McpTool[];
  private readonly rankings = new Map<McpTool, McpTool[]>();
  private readonly cap: number;
  private readonly subsets: number;

  constructor(
    library: readonly McpTool[],
    private readonly p: ToolSelectionOptions,
  ) {
    if (!Number.isInteger(p.toolsPerSample) || p.toolsPerSample < 1)
      throw new Error(`selectToolsForSlot: toolsPerSample must be a positive integer (got ${p.toolsPerSample})`);
    if (!Number.isInteger(p.maxParallelCalls) || p.maxParallelCalls < 1)
      throw new Error(`selectToolsForSlot: maxParallelCalls must be a positive integer (got ${p.maxParallelCalls})`);
    // Sorted, de-duplicated by name: the result depends on the library's content, not its order.
    const byName = new Map<string, McpTool>();
    for (const t of library) if (!byName.has(t.name)) byName.set(t.name, t);
    this.tools = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (this.tools.length === 0) throw new Error("selectToolsForSlot: the tool library is empty");
    for (const t of this.tools) this.words.set(t, nameWords(t.name));
    this.cap = Math.min(p.toolsPerSample, this.tools.length);
    this.subsets = binomial(this.tools.length - 1, this.cap - 1);
    this.anchors = new SeededRandom(seedFrom("single-turn-anchors", p.seed, p.iteration)).shuffle(this.tools);
  }

  select(kind: SingleTurnKind, slotIndex: number): { targets: McpTool[]; offered: McpTool[] } {
    if (!Number.isInteger(slotIndex) || slotIndex < 0) throw new Error(`selectToolsForSlot: slotIndex must be a non-negative integer (got ${slotIndex})`);
    const { seed, iteration } = this.p;
    const n = this.tools.length;
    const cap = this.cap;
    const anchor = this.anchors[slotIndex % n]!;
    const round = Math.floor(slotIndex / n);
    const ranked = this.ranking(anchor);
    const subsets = this.subsets;
    const subset = colexSubset(round % subsets, cap - 1).map((i) => ranked[i]!);
    const baseOrder = new SeededRandom(seedFrom("single-turn-order", seed, iteration, anchor.name, round % subsets)).shuffle([anchor, ...subset]);
    const offered = nthPermutation(baseOrder, Math.floor(round / subsets));

    const rng = new SeededRandom(seedFrom("single-turn-targets", seed, iteration, slotIndex, kind));
    let targets: McpTool[] = [];
    if (kind === "standard") targets = [anchor];
    else if (kind === "parallel") {
      const calls = rng.int(2, Math.max(2, this.p.maxParallelCalls));
      const others = rng.shuffle(offered.filter((t) => t !== anchor));
      const distinct = cap === 1 || rng.chance(0.3) ? 1 : Math.min(calls, cap);
      const chosen = [anchor, ...others.slice(0, distinct - 1)];
      targets = Array.from({ length: calls }, (_, i) => chosen[i % chosen.length]!);
    }
    return { targets, offered };
  }

  /** Same-domain tools first; ties broken by a shuffle fixed per anchor (not per slot), so rounds enumerate one ranking. */
  private ranking(anchor: McpTool): McpTool[] {
    let ranked = this.rankings.get(anchor);
    if (!ranked) {
      const anchorWords = this.words.get(anchor)!;
      ranked = new SeededRandom(seedFrom("single-turn-ranking", this.p.seed, this.p.iteration, anchor.name))
        .shuffle(this.tools.filter((t) => t !== anchor))
        .map((t) => ({ t, score: affinity(this.words.get(t)!, anchorWords) }))
        .sort((a, b) => b.score - a.score)
        .map((x) => x.t);
      this.rankings.set(anchor, ranked);
    }
    return ranked;
  }
}

/** One slot's selection; a batch makes one ToolSelector and asks it for each of its slots. */
export function selectToolsForSlot(
  library: McpTool[],
  p: { kind: SingleTurnKind; seed: number; iteration: number; slotIndex: number; toolsPerSample: number; maxParallelCalls: number },
): { targets: McpTool[]; offered: McpTool[] } {
  return new ToolSelector(library, p).select(p.kind, p.slotIndex);
}

const userQuerySchema = z.object({ query: z.string().trim().min(1, "query must be a non-empty string") });

export interface SingleTurnSample {
  kind: SingleTurnKind;
  messages: ChatMessage[];
  tools: McpTool[];
  metadata: Record<string, unknown>;
}

/** Exactly two generator requests: the query writer (structured), then the assistant (chat with tools). */
export async function synthesizeSingleTurn(p: {
  kind: SingleTurnKind;
  targets: McpTool[];
  offered: McpTool[];
  generator: LlmClient;
  signal?: AbortSignal;
  /** Shared by a batch's slots (their tools come from one library); a fresh one otherwise. */
  toolRender?: ToolRenderCache;
}): Promise<SingleTurnSample> {
  const toolRender = p.toolRender ?? new ToolRenderCache();
  if (p.offered.length === 0) throw new Error("synthesizeSingleTurn: offered must hold at least one tool");
  if (p.kind !== "irrelevance" && p.targets.length === 0) throw new Error(`synthesizeSingleTurn: a ${p.kind} sample needs at least one target tool`);
  const { query } = await p.generator.structured(
    {
      messages: [
        { role: "system", content: USER_QUERY_SYSTEM_PROMPT },
        { role: "user", content: buildUserQueryPrompt(p.kind, p.targets, p.offered, toolRender) },
      ],
      responseFormat: { name: "user_query", schema: USER_QUERY_RESPONSE_SCHEMA },
    },
    userQuerySchema,
    { signal: p.signal },
  );
  const { messages, finishReason } = await answerAsToolAgent(p.generator, query, p.offered, p.signal, toolRender);
  return {
    kind: p.kind,
    messages,
    tools: p.offered,
    metadata: { targets: p.targets.map((t) => t.name), promptVersion: PROMPT_VERSION, finishReason },
  };
}

/**
 * The label of a user request: the generator, as the tool-calling assistant, answers it with the
 * offered tools (tool_choice auto). Returns the sample's three messages.
 */
export async function answerAsToolAgent(
  generator: LlmClient,
  query: string,
  offered: readonly McpTool[],
  signal?: AbortSignal,
  toolRender?: ToolRenderCache,
): Promise<{ messages: ChatMessage[]; finishReason: string }> {
  const system: ChatMessage = { role: "system", content: ASSISTANT_SYSTEM_PROMPT };
  const user: ChatMessage = { role: "user", content: query.trim() };
  const res = await generator.chat(
    { messages: [system, user], tools: offered.map((t) => (toolRender ? toolRender.openAiTool(t) : toOpenAiTool(t))), toolChoice: "auto" },
    { signal },
  );
  const calls = res.message.tool_calls ?? [];
  const assistant: ChatMessage =
    calls.length > 0
      ? {
          role: "assistant",
          content: res.message.content ?? null,
          tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.function.name, arguments: c.function.arguments } })),
        }
      : { role: "assistant", content: res.message.content ?? null };
  return { messages: [system, user, assistant], finishReason: res.finishReason };
}
