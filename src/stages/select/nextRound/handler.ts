/**
 * select.nextRound: loads the candidates of the iteration's pool from the database (the seeds in the
 * first round; the previous round's scores, judgements and expansions later), selects with the plain
 * logic of src/selection/nextRound.ts and replaces the iteration's pool and exclusions in one
 * transaction, so a re-run writes the same rows again. One batch: the selection is global (quotas,
 * dedupe against everything kept), and cheap next to the LLM stages around it.
 */
import type { PoolReason } from "../../../db/schema.js";
import { poolComposition } from "../../../db/repos/pools.js";
import { countSamples } from "../../../db/repos/samples.js";
import { poolLineage, previousPoolRound, type PoolLineage, type PoolRound } from "../../../db/repos/continuation.js";
import {
  earlierPoolPage,
  exclusionCounts,
  expansionsOf,
  judgementsWith,
  replaceSelection,
  retiredLabels,
  scoredPool,
  unusedSeedIds,
  verifiedContent,
  type ContentRow,
  type EarlierPoolRow,
  type PoolRounds,
} from "../../../db/repos/selection.js";
import { StageInputError, type BatchResult, type StageContext, type StageHandler } from "../../../framework/stage.js";
import { loadContaminationIndex } from "../../../selection/contamination.js";
import {
  EarlierNearDuplicates,
  EarlierQueryCache,
  type EarlierNearMatch,
  type EarlierPoolPosition,
  type EarlierQuery,
} from "../../../selection/earlierNearDuplicates.js";
import { userQueryOf } from "../../../selection/signature.js";
import { poolShortfallWarning, unscoredPoolWarning } from "../../../selection/poolShortfall.js";
import {
  EarlierPoolIndex,
  rankIds,
  selectNextRound,
  type Candidate,
  type ConsistencyClass,
  type RetiredLabel,
  type SelectionInput,
  type SelectionResult,
  type SelectionSource,
  type SourceCandidates,
} from "../../../selection/nextRound.js";
import type { StageConfigOf } from "../../specs.js";

type SelectStage = StageConfigOf<"select.nextRound">;

export interface SelectionProgress {
  phase: "loading" | "earlier pools" | "decontamination index" | "selecting" | "writing" | "done";
  candidates: number;
  selected: number;
  excluded: number;
}

/** Seeds loaded beyond the budget before the selection asks for more (exclusions eat into a prefix). */
const SEED_SLACK = 256;

const classOf = (c: string | null | undefined): ConsistencyClass | undefined => (c === "easy" || c === "medium" || c === "hard" ? c : undefined);

export const selectNextRoundHandler: StageHandler<SelectStage, SelectionProgress> = {
  name: "select.nextRound",

  async plan(ctx) {
    const firstRound = !(await previousPoolRound(ctx.deps.db, ctx.campaignId, ctx.iteration));
    return { batches: 1, items: firstRound ? ctx.stage.seedBudget : ctx.stage.budget };
  },

  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    if (batchIndex !== 0) throw new StageInputError(`batch ${batchIndex} is outside the plan (select.nextRound runs one batch)`);
    const { db } = ctx.deps;
    const { stage, campaignId, iteration } = ctx;
    const state: SelectionProgress = { phase: "loading", candidates: 0, selected: 0, excluded: 0 };
    progress.report({ ...state });

    // The previous round: this campaign's last iteration, or (iteration 1 of a scheduled run) the latest pool of the campaign it continues.
    const previous = await previousPoolRound(db, campaignId, iteration);
    const firstRound = !previous;
    const budget = firstRound ? stage.seedBudget : stage.budget;
    const seedSource: SelectionSource = firstRound ? "seed" : "unused_seed";
    const base: Omit<SelectionInput, "sources" | "mix" | "budget"> = {
      iteration,
      seed: ctx.config.seed,
      highPplTopFraction: stage.highPpl.topFraction,
      weights: { hard: stage.hardWeight, easy: stage.easyWeight },
      nearDuplicate: { threshold: stage.nearDuplicate.threshold, shingleSize: stage.nearDuplicate.shingleSize },
    };
    const mix: SelectionInput["mix"] = firstRound ? { seed: 1 } : { ...stage.mix };
    const judgedRound = previous ? await loadJudgedSources(ctx, mix, previous) : undefined;
    const sources: SelectionInput["sources"] = judgedRound?.sources ?? {};
    // The runs whose pools this selection comes after (the campaign's own and its lineage's): their
    // members' copies stay out, and so do the labels their judges retired.
    const lineage = await poolLineage(db, campaignId, iteration);
    if (lineage.stoppedAt) ctx.deps.log(lineageStoppedLine(campaignId, lineage));
    const retired = await lineageRetiredLabels(ctx, lineage);
    ctx.signal.throwIfAborted();

    // Seeds can be many: rank their ids by the seeded order and load only a prefix, more if asked.
    const seedIds = (mix[seedSource] ?? 0) > 0 ? rankIds(await unusedSeedIds(db, campaignId, iteration), ctx.config.seed, iteration, seedSource) : [];
    let seedPrefix = Math.min(seedIds.length, budget + SEED_SLACK);
    const seedRows: ContentRow[] = [];
    let loadedSeeds = 0;
    const loadSeedsUpTo = async (n: number): Promise<ContentRow[]> => {
      const rows = await verifiedContent(db, seedIds.slice(loadedSeeds, n));
      seedRows.push(...rows);
      loadedSeeds = n;
      return rows;
    };
    const firstSeeds = await loadSeedsUpTo(seedPrefix);
    state.candidates = Object.values(sources).reduce((n, s) => n + (s?.candidates.length ?? 0), 0) + seedIds.length;
    progress.report({ ...state });

    // Earlier pools: the exact keys of all their members, and which loaded seeds paraphrase one (streamed past the seeds).
    state.phase = "earlier pools";
    progress.report({ ...state });
    const earlierIndex = new EarlierPoolIndex();
    const earlierNearDuplicates = new Map<string, EarlierNearMatch>();
    const nearOptions = { threshold: stage.nearDuplicate.threshold, shingleSize: stage.nearDuplicate.shingleSize };
    const paraphrases = (rows: ContentRow[]) => {
      const check = new EarlierNearDuplicates(nearOptions);
      check.addCandidates(rows.map((r) => ({ id: r.id, messages: r.messages, ...(r.dialogueId !== null ? { dialogueId: r.dialogueId } : {}) })));
      return check;
    };
    const queryOf = (row: EarlierPoolRow): EarlierQuery => ({
      id: row.id,
      query: userQueryOf(row.messages),
      dialogueId: row.dialogueId,
      campaignId: row.poolCampaignId,
      iteration: row.poolIteration,
    });
    const firstCheck = paraphrases(firstSeeds);
    // More seeds may be loaded later: keep what their paraphrase check needs, so the earlier pools are read once (up to the cache's size).
    const earlierQueries = seedPrefix < seedIds.length ? new EarlierQueryCache() : undefined;
    let earlierPoolPages = await scanEarlierPools(ctx, lineage, { round: 0 }, (row, round) => {
      const pool = { campaignId: row.poolCampaignId, iteration: row.poolIteration };
      earlierIndex.add(row, pool);
      if (!earlierQueries && firstCheck.size === 0) return; // nothing to check, now or later: spare the query
      const query = queryOf(row);
      firstCheck.scanQuery(query, query);
      earlierQueries?.add(query, round);
    });
    for (const [id, m] of firstCheck.matches) earlierNearDuplicates.set(id, m);
    const earlierPools = earlierIndex.byKey;

    let contamination: SelectionInput["contamination"];
    if (stage.decontaminate.enabled) {
      state.phase = "decontamination index";
      progress.report({ ...state });
      contamination = await loadContaminationIndex(stage.decontaminate.categories, {
        threshold: stage.nearDuplicate.threshold,
        shingleSize: stage.nearDuplicate.shingleSize,
      });
    }

    state.phase = "selecting";
    progress.report({ ...state });
    let result: SelectionResult;
    for (;;) {
      ctx.signal.throwIfAborted();
      const seeds: SourceCandidates = {
        candidates: seedRows.map((r) => ({
          id: r.id,
          kind: r.kind,
          messages: r.messages,
          tools: r.tools,
          ...(r.dialogueId !== null ? { dialogueId: r.dialogueId } : {}),
        })),
        truncated: seedPrefix < seedIds.length,
      };
      result = selectNextRound({
        ...base,
        budget,
        mix,
        retired,
        earlierPools,
        earlierNearDuplicates,
        contamination,
        sources: { ...sources, [seedSource]: seeds },
      });
      if (result.needsMore !== seedSource) break;
      seedPrefix = Math.min(seedIds.length, seedPrefix * 2);
      // Only the seeds just loaded are checked for paraphrases: against the earlier members kept from the first
      // pass, then (past the cache's size) those streamed from the database once more, in the same order.
      const check = paraphrases(await loadSeedsUpTo(seedPrefix));
      for (const q of earlierQueries?.members ?? []) check.scanQuery(q, q);
      const rest = earlierQueries ? earlierQueries.resumeAt : { round: 0 };
      if (rest)
        earlierPoolPages += await scanEarlierPools(ctx, lineage, rest, (row) => {
          const query = queryOf(row);
          check.scanQuery(query, query);
        });
      for (const [id, m] of check.matches) earlierNearDuplicates.set(id, m);
    }

    state.phase = "writing";
    state.selected = result.members.length;
    state.excluded = result.exclusions.length;
    progress.report({ ...state });
    await replaceSelection(
      db,
      campaignId,
      iteration,
      result.members.map((m) => ({ ...m, reason: m.reason as PoolReason })),
      result.exclusions,
    );
    state.phase = "done";
    progress.report({ ...state });
    // Nothing to train on: every later stage of the iteration would fail or do nothing (train.sft on
    // an empty set). Stop here, saying why, with the exclusions stored for the operator to read.
    if (result.members.length === 0) throw new StageInputError(await emptyPoolMessage(ctx, firstRound, result));

    // Items are the budget's places, filled or not: the stage is done when all are decided.
    const counters: BatchResult = {
      items: budget,
      selected: result.members.length,
      unfilled: budget - result.members.length,
      excluded: result.exclusions.length,
      budget,
      earlier_pool_runs: new Set(lineage.pools.map((p) => p.campaignId)).size,
      earlier_pool_pages: earlierPoolPages,
      ...(lineage.stoppedAt?.why === "bound" ? { earlier_pool_lineage_cut: 1 } : {}),
    };
    for (const [source, s] of Object.entries(result.sources)) {
      counters[`quota_${source}`] = s.quota;
      counters[`candidates_${source}`] = s.candidates;
    }
    if (judgedRound) {
      counters.previous_pool = judgedRound.previousPool;
      counters.previous_pool_scored = judgedRound.previousScored;
    }
    return counters;
  },

  async finalize(ctx, batches) {
    const { db } = ctx.deps;
    const composition = await poolComposition(db, ctx.campaignId, ctx.iteration);
    const exclusions = await exclusionCounts(db, ctx.campaignId, ctx.iteration);
    const used = Object.values(composition).reduce((n, c) => n + c.n, 0);
    const b = batches[0] ?? { items: 0 };
    const budget = b.budget ?? 0;
    const sources: Record<string, { quota: number; candidates: number; selected: number }> = {};
    for (const [k, v] of Object.entries(b)) {
      const m = /^(quota|candidates)_(.+)$/.exec(k);
      if (!m) continue;
      const s = (sources[m[2] as string] ??= { quota: 0, candidates: 0, selected: composition[m[2] as PoolReason]?.n ?? 0 });
      s[m[1] as "quota" | "candidates"] = v;
    }
    // A pool short of its budget says so (campaign status shows it under the stage), with the pool before it.
    const previous = await previousPoolRound(db, ctx.campaignId, ctx.iteration);
    const previousPool = previous ? Object.values(await poolComposition(db, previous.campaignId, previous.iteration)).reduce((n, c) => n + c.n, 0) : undefined;
    const shortfall = poolShortfallWarning({
      budget,
      used,
      sources,
      exclusions,
      ...(previousPool !== undefined ? { previousPool } : {}),
      ...(previous ? { highPplTopFraction: ctx.stage.highPpl.topFraction } : {}),
    });
    // Said even when the other sources filled the budget: the round's high-PPL selection did not happen.
    const unscored = previous
      ? unscoredPoolWarning({
          highPplQuota: sources.high_ppl?.quota ?? 0,
          previousPool: b.previous_pool ?? 0,
          previousScored: b.previous_pool_scored ?? 0,
          previousRound:
            previous.campaignId === ctx.campaignId ? `iteration ${previous.iteration}` : `iteration ${previous.iteration} of campaign ${previous.campaignId}`,
        })
      : undefined;
    const lineageCut = b.earlier_pool_lineage_cut
      ? `copies of earlier pool members and labels the judges retired were looked for in ${b.earlier_pool_runs ?? 0} runs of this lineage only, not back to its first run (the bound; the worker log names the run where the walk stopped)`
      : undefined;
    const warning = [shortfall, unscored, lineageCut].filter((w) => w !== undefined).join("; ");
    return { composition, exclusions, budget: { budget, used, share: budget > 0 ? used / budget : 0 }, sources, ...(warning ? { warning } : {}) };
  },
};

/** Why a pool came out empty: what each source offered, what was excluded, and the samples' statuses. */
export async function emptyPoolMessage(ctx: StageContext<SelectStage>, firstRound: boolean, result: SelectionResult): Promise<string> {
  const { db } = ctx.deps;
  const offered = Object.entries(result.sources)
    .map(([source, s]) => `${source} ${s?.candidates ?? 0}`)
    .join(", ");
  const excluded = new Map<string, number>();
  for (const e of result.exclusions) excluded.set(e.reason, (excluded.get(e.reason) ?? 0) + 1);
  const exclusions = [...excluded].map(([reason, n]) => `${n} ${reason}`).join(", ");
  const statuses = Object.entries(await countSamples(db, ctx.campaignId))
    .map(([status, n]) => `${n} ${status}`)
    .join(", ");
  return [
    `select.nextRound: the pool of iteration ${ctx.iteration} is empty (budget ${result.budget}), so there is nothing to train on.`,
    `Candidates: ${offered || "none"}${exclusions ? `; excluded: ${exclusions} (selection_exclusions)` : ""}.`,
    `The campaign's samples: ${statuses || "none"}.`,
    firstRound
      ? "The first pool takes verified synthesized samples and none is left: see why synthesis and verification rejected them (toolloop sample lineage ID), fix the generator, tools or rules and start again; campaign abort ends this campaign."
      : "A later pool takes the previous round's scored pool, repairs, error seeds and expansions and the unused seeds, and none is usable: check that the previous round's scoring, probe and repair stages ran (campaign status), or end the campaign with campaign abort.",
  ].join(" ");
}

/**
 * Streams the members of every earlier pool of the lineage (poolLineage: the campaign's own and each
 * predecessor's, back to the first run) to `visit` with the index of their round in `lineage.pools`,
 * oldest run first, by sample id within a run, one page at a time, from `from` on. Returns the pages read.
 */
async function scanEarlierPools(
  ctx: StageContext<SelectStage>,
  lineage: PoolLineage,
  from: EarlierPoolPosition,
  visit: (row: EarlierPoolRow, round: number) => void,
): Promise<number> {
  let pages = 0;
  for (let round = from.round; round < lineage.pools.length; round++)
    for (let afterId = round === from.round ? from.afterId : undefined; ;) {
      ctx.signal.throwIfAborted();
      const page = await earlierPoolPage(ctx.deps.db, lineage.pools[round] as PoolRounds, { afterId, limit: ctx.stage.batchSize });
      pages++;
      for (const row of page) visit(row, round);
      if (page.length < ctx.stage.batchSize) break;
      afterId = page[page.length - 1]?.id;
    }
  return pages;
}

/**
 * The labels the judges of the lineage's runs retired (RETIRING_ACTIONS), each run's up to the round
 * its successor continued from (the campaign's own before its iteration): A -> B -> C, a label A's
 * judges retired stays retired in C though B never held it. Of several judgements of one sample the
 * oldest run's first is named, with the run and iteration that retired it.
 */
async function lineageRetiredLabels(ctx: StageContext<SelectStage>, lineage: PoolLineage): Promise<Map<string, RetiredLabel>> {
  const retired = new Map<string, RetiredLabel>();
  for (const r of lineage.pools) {
    ctx.signal.throwIfAborted();
    for (const j of await retiredLabels(ctx.deps.db, r.campaignId, "before" in r ? r.before : r.upTo + 1))
      if (!retired.has(j.sampleId))
        retired.set(j.sampleId, { action: j.action, campaignId: j.campaignId, iteration: j.iteration, resultSampleId: j.resultSampleId });
  }
  return retired;
}

/** The worker log's line when the earlier-pool check did not follow the whole lineage. */
export function lineageStoppedLine(campaignId: string, lineage: PoolLineage): string {
  const at = lineage.stoppedAt;
  if (!at) return "";
  const read = new Set(lineage.pools.map((p) => p.campaignId)).size;
  return at.why === "cycle"
    ? `[select.nextRound] ${campaignId}: the lineage of continued runs meets ${at.campaignId} twice (campaigns.continues_from forms a cycle); the earlier pools and retired labels of the ${read} runs reached are checked`
    : `[select.nextRound] ${campaignId}: the lineage of continued runs is longer than ${read} runs; earlier pools and retired labels are checked back to that bound, not in ${at.campaignId} and the runs before it`;
}

/**
 * The previous round's sources: high_ppl, repaired, error_seed, expanded (those with a share); and
 * the previous pool's size and how many of its members that round scored (label_ppl).
 */
async function loadJudgedSources(
  ctx: StageContext<SelectStage>,
  mix: SelectionInput["mix"],
  previous: PoolRound,
): Promise<{ sources: SelectionInput["sources"]; previousPool: number; previousScored: number }> {
  const { db } = ctx.deps;
  const { campaignId, iteration: prev } = previous;
  const sources: SelectionInput["sources"] = {};
  const wanted = (s: SelectionSource) => (mix[s] ?? 0) > 0;
  const toCandidates = (rows: ContentRow[], extra: (r: ContentRow) => Partial<Candidate>): Candidate[] =>
    rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      messages: r.messages,
      tools: r.tools,
      ...(r.dialogueId !== null ? { dialogueId: r.dialogueId } : {}),
      ...extra(r),
    }));

  const pool = await scoredPool(db, campaignId, prev);
  const poolById = new Map(pool.map((p) => [p.sampleId, p]));
  if (wanted("high_ppl")) {
    const scored = pool.filter((p) => p.labelPpl !== null);
    const rows = await verifiedContent(
      db,
      scored.map((p) => p.sampleId),
    );
    sources.high_ppl = {
      candidates: toCandidates(rows, (r) => {
        const p = poolById.get(r.id);
        return { labelPpl: p?.labelPpl ?? undefined, consistencyClass: classOf(p?.consistencyClass), details: { previousReason: p?.reason } };
      }),
    };
  }
  if (wanted("repaired")) {
    // Corrected labels: a repair (LABEL_WRONG), or the prediction kept over the label (BOTH_CORRECT).
    const judged = await judgementsWith(db, campaignId, prev, ["repaired", "kept_prediction"]);
    const byResult = new Map(judged.filter((j) => j.resultSampleId).map((j) => [j.resultSampleId as string, j]));
    const rows = await verifiedContent(db, [...byResult.keys()]);
    sources.repaired = {
      candidates: toCandidates(rows, (r) => {
        const j = byResult.get(r.id);
        return { details: { originalSampleId: j?.sampleId, verdict: j?.verdict, action: j?.action } };
      }),
    };
  }
  const errorSeeds = wanted("error_seed") || wanted("expanded") ? await judgementsWith(db, campaignId, prev, ["error_seed"]) : [];
  const seedIds = errorSeeds.map((j) => j.sampleId);
  if (wanted("error_seed")) {
    const rows = await verifiedContent(db, seedIds);
    sources.error_seed = {
      candidates: toCandidates(rows, (r) => ({ consistencyClass: classOf(poolById.get(r.id)?.consistencyClass), details: { verdict: "PRED_WRONG" } })),
    };
  }
  if (wanted("expanded")) {
    // Expansions are made after the round's scoring: they have no consistency class yet (weight 1).
    const rows = await expansionsOf(db, campaignId, prev, seedIds);
    sources.expanded = { candidates: toCandidates(rows, (r) => ({ details: { parentId: r.parentId } })) };
  }
  return { sources, previousPool: pool.length, previousScored: pool.filter((p) => p.labelPpl !== null).length };
}
