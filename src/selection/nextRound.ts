/**
 * The next round's training pool (LoopTool's next-round mix), as plain logic over in-memory rows.
 *
 * Sources of iteration k > 1 (all status verified): high_ppl = pool k-1 members scored `label_ppl` in
 * k-1, the top `topFraction` by PPL; repaired = the result samples of k-1's `repaired` and
 * `kept_prediction` judgements; error_seed = k-1's error seeds; expanded = their verified expansions
 * made in k-1; unused_seed = synthesized samples no earlier pool held (the caller loads these).
 *
 * Iteration 1: the pool is up to `seedBudget` of the iteration's seed samples (reason `seed`); the
 * rest stay available as unused seeds for later rounds. Iteration k > 1 draws from what iteration
 * k-1 learned, one source per pool reason, walked in this PRIORITY order:
 *   repaired, error_seed, expanded, high_ppl, unused_seed
 * (corrected labels and the policy's own errors are the scarcest signal; high-PPL samples next;
 * unused seeds fill). The budget is split over the sources by `mix` (largest remainder, ties in the
 * priority order). A source short of its quota leaves room that is then offered to the sources in
 * the same priority order (only those with a mix share above 0), each taking what it has left until
 * the budget is used.
 *
 * Every candidate walked is, in this order: skipped when an earlier source already decided it (a
 * sample is in the pool once, under its first source); excluded when the judges retired its label
 * (`label_retired`: dropped, replaced by a repair or by the kept prediction, or found wrong without a
 * usable repair); excluded when it asks a BFCL question or offers a BFCL function
 * (`contaminated_query`, `contaminated_signature`); excluded when it duplicates a sample already
 * kept, exactly (`duplicate`, same exact key) or by its user query (`near_duplicate`); excluded when
 * an earlier pool held another sample with its exact key (`earlier_pool_duplicate`: the same question
 * and answer under another id, e.g. a later round's synthesis or an expansion that came out as a copy;
 * the earlier member itself is no copy of itself, so high_ppl and error_seed carry it over); excluded,
 * when offered as a new sample (seed, unused_seed), if its user query is a near duplicate of an earlier
 * pool member's (`earlier_pool_near_duplicate`: a paraphrase of a request the campaign trained on;
 * see src/selection/earlierNearDuplicates.ts; repairs share their original's query and expansions are
 * meant as variations of their error seed, so the judged sources are checked exactly only); else kept.
 * Exact keys are dedupe.exact's (src/dedupe/exactKey.ts, by sample kind), so a pool never holds what
 * dedupe.exact would call one sample twice, and a campaign never trains one sample under two ids.
 * A multi_turn sample's user query is all its user turns; samples cut from the same dialogue are never
 * near-duplicates of each other (they share the dialogue's opening turns but teach different turns:
 * a call, the answer after its result, the next request), only of other dialogues' samples.
 * So of duplicates the one kept is the first by source priority, then by the source's rank (label
 * PPL descending for high_ppl, a seeded random order for the others; id breaks ties). Candidates of
 * the judged sources (repaired, error_seed, expanded, high_ppl) never reached are recorded as
 * `over_budget`; seed samples never reached are not excluded: they stay unused seeds.
 *
 * Deterministic: the same rows, config seed and iteration give the same pool.
 */
import type { ChatMessage, McpTool } from "../domain/types.js";
import { exactDuplicateKey } from "../dedupe/exactKey.js";
import { NearDuplicateIndex } from "../dedupe/nearDuplicate.js";
import { seedFrom } from "../util/ids.js";
import type { ContaminationIndex } from "./contamination.js";
import type { EarlierNearMatch } from "./earlierNearDuplicates.js";
import { userQueryOf } from "./signature.js";

/** Pool reasons in walking (and shortfall redistribution) priority. */
export const SOURCE_PRIORITY = ["seed", "repaired", "error_seed", "expanded", "high_ppl", "unused_seed"] as const;
export type SelectionSource = (typeof SOURCE_PRIORITY)[number];
/** The sources of iteration k > 1 (their `mix` shares). */
export const LATER_SOURCES = ["repaired", "error_seed", "expanded", "high_ppl", "unused_seed"] as const satisfies readonly SelectionSource[];
export type LaterSource = (typeof LATER_SOURCES)[number];
/** Sources whose unreached candidates stay available instead of being excluded. */
const RESERVOIR_SOURCES: ReadonlySet<SelectionSource> = new Set(["seed", "unused_seed"]);
/** Sources of samples new to the campaign's pools: checked against earlier pools for near duplicates too. */
export const NEW_SAMPLE_SOURCES: ReadonlySet<SelectionSource> = new Set(["seed", "unused_seed"]);

export type ConsistencyClass = "easy" | "medium" | "hard";

export interface Candidate {
  id: string;
  /** The sample kind (multi_turn samples have their own exact-key form). */
  kind?: string;
  messages: ChatMessage[];
  tools: McpTool[];
  /** high_ppl: the label's perplexity under iteration k-1's policy (ranks the source). */
  labelPpl?: number;
  /** The sample's execution-consistency class in iteration k-1, when scored. */
  consistencyClass?: ConsistencyClass;
  /** Why it is a candidate (the judgement, the parent seed, ...): copied into the member's details. */
  details?: Record<string, unknown>;
  /** The dialogue a multi_turn sample was cut from: its siblings are not its near-duplicates. */
  dialogueId?: string;
}

export interface SourceCandidates {
  candidates: Candidate[];
  /**
   * True when `candidates` is only a prefix of the source in its rank order (see `rankCandidates`):
   * the selection then reports `needsMore` if it walks past the end instead of assuming the source is empty.
   */
  truncated?: boolean;
}

export interface RetiredLabel {
  action: string;
  /** The run whose judges retired it (a continuing campaign's predecessors' retirements count too). */
  campaignId?: string;
  iteration: number;
  resultSampleId?: string | null;
}

export interface SelectionInput {
  iteration: number;
  seed: number;
  budget: number;
  /** Shares per source (need not sum to 1); sources without a share (or 0) get no quota. */
  mix: Partial<Record<SelectionSource, number>>;
  sources: Partial<Record<SelectionSource, SourceCandidates>>;
  /** high_ppl: the top share of scored candidates (by label PPL) that are candidates at all. */
  highPplTopFraction?: number;
  /** Samples whose labels the judges retired in earlier iterations (of the campaign's lineage); never selected again. */
  retired?: ReadonlyMap<string, RetiredLabel>;
  weights: { hard: number; easy: number };
  /** Exact keys of the samples earlier pools held (see `EarlierPoolIndex`); absent: none. */
  earlierPools?: ReadonlyMap<string, EarlierPoolMember>;
  /** New-sample candidates (NEW_SAMPLE_SOURCES) by id -> the earlier pool member they paraphrase (EarlierNearDuplicates). */
  earlierNearDuplicates?: ReadonlyMap<string, EarlierNearMatch>;
  /** Near-duplicate removal of user queries; absent: exact duplicates only. */
  nearDuplicate?: { threshold: number; shingleSize?: number };
  contamination?: ContaminationIndex;
}

export interface PoolMemberChoice {
  sampleId: string;
  reason: SelectionSource;
  weight: number;
  details: Record<string, unknown>;
}

export interface Exclusion {
  sampleId: string;
  reason:
    | "label_retired"
    | "contaminated_query"
    | "contaminated_signature"
    | "earlier_pool_duplicate"
    | "earlier_pool_near_duplicate"
    | "duplicate"
    | "near_duplicate"
    | "over_budget";
  details: Record<string, unknown>;
}

export interface SourceStats {
  /** Candidates the source offered (for high_ppl: after the top-fraction cut). */
  candidates: number;
  quota: number;
  selected: number;
  /** Of `selected`, members taken from room other sources left. */
  redistributed: number;
}

export interface SelectionResult {
  members: PoolMemberChoice[];
  exclusions: Exclusion[];
  sources: Partial<Record<SelectionSource, SourceStats>>;
  budget: number;
  /** A truncated source was walked to its end: load more of it and select again. */
  needsMore?: SelectionSource;
}

/** A sample an earlier pool held, and the first pool that held it. */
export interface EarlierPoolMember {
  sampleId: string;
  campaignId: string;
  iteration: number;
}

/**
 * Exact key -> the earlier pool member that has it. Feed the pools oldest campaign first (a
 * predecessor's before the campaign's own); of two members with one key (pools built before this
 * check) the one fed first, else the earlier pool, else the smaller id is named, so the index does
 * not depend on page order.
 */
export class EarlierPoolIndex {
  readonly byKey = new Map<string, EarlierPoolMember>();
  add(sample: { id: string; kind?: string; messages: ChatMessage[]; tools: McpTool[] }, pool: { campaignId: string; iteration: number }): void {
    const key = exactDuplicateKey(sample);
    const had = this.byKey.get(key);
    const member = { sampleId: sample.id, campaignId: pool.campaignId, iteration: pool.iteration };
    if (
      !had ||
      (had.campaignId === member.campaignId && (member.iteration < had.iteration || (member.iteration === had.iteration && member.sampleId < had.sampleId)))
    )
      this.byKey.set(key, member);
  }
}

/** The position of a sample in a source's seeded random order (then id). */
export function rankKey(seed: number, iteration: number, source: SelectionSource, id: string): number {
  return seedFrom(seed, iteration, source, id);
}

/** Sorts ids by the source's seeded order, so a caller can load just a prefix of a large source. */
export function rankIds(ids: readonly string[], seed: number, iteration: number, source: SelectionSource): string[] {
  return ids
    .map((id) => ({ id, k: rankKey(seed, iteration, source, id) }))
    .sort((a, b) => a.k - b.k || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((x) => x.id);
}

/**
 * How many of `n` candidates are the top `fraction`: rounded up, but a product that binary floating
 * point puts a hair above a whole number (100 x 0.07 = 7.000000000000001) is that number, not one more.
 */
export function topCount(n: number, fraction: number): number {
  const exact = n * fraction;
  return Math.max(0, Math.min(n, Math.ceil(exact - 1e-9 * Math.max(1, exact))));
}

/** A source's candidates in rank order (high_ppl: the top fraction by label PPL). */
export function rankCandidates(
  source: SelectionSource,
  candidates: readonly Candidate[],
  input: Pick<SelectionInput, "seed" | "iteration" | "highPplTopFraction">,
): Candidate[] {
  if (source === "high_ppl") {
    const scored = candidates.filter((c) => typeof c.labelPpl === "number" && Number.isFinite(c.labelPpl));
    scored.sort((a, b) => (b.labelPpl as number) - (a.labelPpl as number) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return scored.slice(0, topCount(scored.length, input.highPplTopFraction ?? 1));
  }
  const order = new Map(
    rankIds(
      candidates.map((c) => c.id),
      input.seed,
      input.iteration,
      source,
    ).map((id, i) => [id, i]),
  );
  return [...candidates].sort((a, b) => (order.get(a.id) as number) - (order.get(b.id) as number));
}

/** The budget split by shares: largest remainder, ties broken by source priority; sum = budget when any share > 0. */
export function quotas(budget: number, mix: Partial<Record<SelectionSource, number>>): Partial<Record<SelectionSource, number>> {
  const active = SOURCE_PRIORITY.filter((s) => (mix[s] ?? 0) > 0);
  const total = active.reduce((n, s) => n + (mix[s] as number), 0);
  const out: Partial<Record<SelectionSource, number>> = {};
  if (total <= 0) return out;
  const parts = active.map((s, i) => {
    const exact = (budget * (mix[s] as number)) / total;
    return { s, i, floor: Math.floor(exact), rest: exact - Math.floor(exact) };
  });
  let left = budget - parts.reduce((n, p) => n + p.floor, 0);
  for (const p of [...parts].sort((a, b) => b.rest - a.rest || a.i - b.i)) {
    if (left <= 0) break;
    p.floor++;
    left--;
  }
  for (const p of parts) out[p.s] = p.floor;
  return out;
}

export function selectNextRound(input: SelectionInput): SelectionResult {
  const quota = quotas(input.budget, input.mix);
  const active = SOURCE_PRIORITY.filter((s) => (input.mix[s] ?? 0) > 0);
  const ranked = new Map<SelectionSource, Candidate[]>();
  const cursor = new Map<SelectionSource, number>();
  const stats: Partial<Record<SelectionSource, SourceStats>> = {};
  for (const s of SOURCE_PRIORITY) {
    const src = input.sources[s];
    if (!src) continue;
    const list = rankCandidates(s, src.candidates, input);
    ranked.set(s, list);
    cursor.set(s, 0);
    stats[s] = { candidates: list.length, quota: quota[s] ?? 0, selected: 0, redistributed: 0 };
  }

  const members: PoolMemberChoice[] = [];
  const exclusions: Exclusion[] = [];
  const decided = new Set<string>();
  const keptExact = new Map<string, string>();
  const keptNear = input.nearDuplicate ? new NearDuplicateIndex<string>(input.nearDuplicate.threshold, input.nearDuplicate.shingleSize) : undefined;
  /** Dialogue of each kept multi_turn sample, by sample id. */
  const keptDialogue = new Map<string, string>();
  let needsMore: SelectionSource | undefined;

  const exclude = (c: Candidate, source: SelectionSource, reason: Exclusion["reason"], details: Record<string, unknown>) => {
    decided.add(c.id);
    exclusions.push({ sampleId: c.id, reason, details: { source, ...details } });
  };

  /** Walks `source` until it has taken `want` more members or runs out; returns how many it took. */
  const take = (source: SelectionSource, want: number, redistributed: boolean): number => {
    const list = ranked.get(source) ?? [];
    let i = cursor.get(source) ?? 0;
    let took = 0;
    while (took < want && i < list.length) {
      const c = list[i++] as Candidate;
      if (decided.has(c.id)) continue;
      const retired = input.retired?.get(c.id);
      if (retired) {
        exclude(c, source, "label_retired", { ...retired });
        continue;
      }
      const contaminated = input.contamination?.check(c);
      if (contaminated) {
        const { reason, ...details } = contaminated;
        exclude(c, source, reason, details);
        continue;
      }
      const key = exactDuplicateKey(c);
      const earlier = input.earlierPools?.get(key);
      if (earlier !== undefined && earlier.sampleId !== c.id) {
        // A copy of a label the judges retired would bring that label back: say so.
        const retiredEarlier = input.retired?.get(earlier.sampleId);
        exclude(c, source, "earlier_pool_duplicate", {
          earlierSampleId: earlier.sampleId,
          earlierCampaignId: earlier.campaignId,
          earlierIteration: earlier.iteration,
          ...(retiredEarlier ? { earlierLabelRetired: retiredEarlier.action } : {}),
        });
        continue;
      }
      const paraphrased = NEW_SAMPLE_SOURCES.has(source) ? input.earlierNearDuplicates?.get(c.id) : undefined;
      if (paraphrased !== undefined) {
        const retiredEarlier = input.retired?.get(paraphrased.sampleId);
        exclude(c, source, "earlier_pool_near_duplicate", {
          earlierSampleId: paraphrased.sampleId,
          earlierCampaignId: paraphrased.campaignId,
          earlierIteration: paraphrased.iteration,
          similarity: paraphrased.similarity,
          ...(retiredEarlier ? { earlierLabelRetired: retiredEarlier.action } : {}),
        });
        continue;
      }
      const sameAs = keptExact.get(key);
      if (sameAs !== undefined) {
        exclude(c, source, "duplicate", { keptSampleId: sameAs });
        continue;
      }
      const query = userQueryOf(c.messages);
      const near = keptNear?.find(query, c.dialogueId === undefined ? undefined : (keptId) => keptDialogue.get(keptId) !== c.dialogueId);
      if (near) {
        exclude(c, source, "near_duplicate", { keptSampleId: near.key, similarity: near.similarity });
        continue;
      }
      decided.add(c.id);
      keptExact.set(key, c.id);
      keptNear?.add(c.id, query);
      if (c.dialogueId !== undefined) keptDialogue.set(c.id, c.dialogueId);
      const weight = c.consistencyClass === "hard" ? input.weights.hard : c.consistencyClass === "easy" ? input.weights.easy : 1;
      members.push({
        sampleId: c.id,
        reason: source,
        weight,
        details: {
          ...(c.details ?? {}),
          ...(c.labelPpl !== undefined ? { labelPpl: c.labelPpl } : {}),
          ...(c.consistencyClass ? { consistency: c.consistencyClass } : {}),
          ...(redistributed ? { redistributed: true } : {}),
        },
      });
      took++;
    }
    cursor.set(source, i);
    if (took < want && input.sources[source]?.truncated) needsMore ??= source;
    const st = stats[source];
    if (st) {
      st.selected += took;
      if (redistributed) st.redistributed += took;
    }
    return took;
  };

  let used = 0;
  for (const s of active) used += take(s, quota[s] ?? 0, false);
  for (const s of active) {
    if (used >= input.budget) break;
    used += take(s, input.budget - used, true);
  }

  // Candidates of judged sources that never fit in the budget are recorded; seeds stay available.
  for (const s of SOURCE_PRIORITY) {
    if (RESERVOIR_SOURCES.has(s)) continue;
    const list = ranked.get(s) ?? [];
    for (let i = cursor.get(s) ?? 0; i < list.length; i++) {
      const c = list[i] as Candidate;
      if (!decided.has(c.id)) exclude(c, s, "over_budget", { quota: quota[s] ?? 0 });
    }
  }

  return { members, exclusions, sources: stats, budget: input.budget, ...(needsMore ? { needsMore } : {}) };
}
