/**
 * evaluate.probe: the fast BFCL probe. The policy endpoint answers the non-multi-turn BFCL
 * categories and our matcher scores the tool calls in process, so a check takes minutes instead of
 * a full bfcl-eval run. Its rows carry evaluator "toolloop-matcher" and are never the official
 * score. A batch owns `batchSize` categories and stores each one as soon as it is scored, so a
 * retried batch only probes the categories that are missing.
 */
import { setMaxListeners } from "node:events";
import type { CampaignConfig } from "../../../config/campaignConfig.js";
import type { StageConfigOf } from "../../specs.js";
import { loadBfclCategory } from "../../../bfcl/data.js";
import { runFastProbe, type ProbeChatClient } from "../../../bfcl/fastProbe.js";
import { listBfclScores, upsertBfclScores, type BfclScoreRow } from "../../../db/repos/bfclScores.js";
import { type LlmClient } from "../../../llm/client.js";
import { isItemFailure } from "../../../llm/errors.js";
import { SIMULATED_SCORE_NOTE } from "../../../evaluation/simulatedScore.js";
import { resolveRole, RoleResolutionError } from "../../../llm/roles.js";
import { StageInputError, type BatchResult, type StageHandler } from "../../../framework/stage.js";
import { sameServedCheckpoint, servedCheckpointFor, type ServedCheckpoint } from "../../../training/servedCheckpoint.js";

type ProbeStage = StageConfigOf<"evaluate.bfclFast">;

export const PROBE_EVALUATOR = "toolloop-matcher" as const;
/** The group row finalize writes; named so nobody mistakes it for BFCL's "overall". */
export const OVERALL_PROBE = "overall_probe";
export const OVERALL_PROBE_NOTE =
  "entry-weighted mean accuracy over the probed categories (toolloop matcher, fast probe); NOT the BFCL leaderboard formula — see the evaluate.bfcl rows for the official score";

/** Heartbeat details: entries probed in this batch so far, and the categories already stored. */
export interface ProbeProgress {
  done: number;
  total: number;
  finished: string[];
  category?: string;
}

function batchCategories(stage: ProbeStage, batchIndex: number): string[] {
  return stage.categories.slice(batchIndex * stage.batchSize, (batchIndex + 1) * stage.batchSize);
}

function requirePolicy(config: CampaignConfig): { maxConcurrency: number; model: string; endpoint: string } {
  try {
    const policy = resolveRole(config, "policy");
    return { maxConcurrency: policy.endpoint.maxConcurrency, model: policy.roleConfig.model, endpoint: policy.endpoint.baseUrl };
  } catch (err) {
    if (err instanceof RoleResolutionError) throw new StageInputError(`${err.message} (evaluate.bfclFast checks the policy model)`);
    throw err;
  }
}

async function categorySize(category: string, limit: number | undefined): Promise<number> {
  let size: number;
  try {
    size = (await loadBfclCategory(category)).length;
  } catch (err) {
    // Missing or unreadable data is a setup problem a retry will not fix.
    throw new StageInputError(`evaluate.bfclFast: cannot load BFCL category "${category}": ${err instanceof Error ? err.message : String(err)}`);
  }
  return limit === undefined ? size : Math.min(size, limit);
}

/**
 * A stored row is reusable only if it was produced with the same mode and limit as this run asks for,
 * of the same model (a new config version naming another policy re-runs the iteration; rows stored
 * before the model was recorded name none) and, in the loop, of the same served checkpoint (a
 * retrained iteration is served again under the same name).
 */
function reusable(row: BfclScoreRow | undefined, stage: ProbeStage, model: string, served: ServedCheckpoint | null): row is BfclScoreRow {
  return (
    row !== undefined &&
    row.details?.mode === stage.mode &&
    row.details.limitPerCategory === (stage.limitPerCategory ?? null) &&
    (row.details.model === undefined || row.details.model === model) &&
    sameServedCheckpoint(row.details.servedCheckpoint, served)
  );
}

/**
 * The policy client as the probe sees it. A request the model cannot answer usably (HTTP 4xx, an
 * unreadable response) is a wrong answer for that entry, as in BFCL; transport failures that
 * outlived the client's retries and aborts still fail the batch.
 */
export function probeClient(policy: LlmClient, counters: { failedRequests: number; simulatedResponses?: number }): ProbeChatClient {
  return {
    async chat(req, opts) {
      try {
        const res = await policy.chat(req as Parameters<LlmClient["chat"]>[0], opts);
        if (res.simulated && counters.simulatedResponses !== undefined) counters.simulatedResponses++;
        return res;
      } catch (err) {
        if (isItemFailure(err)) {
          counters.failedRequests++;
          return { message: { content: null } };
        }
        throw err;
      }
    },
  };
}

export const evaluateBfclFastHandler: StageHandler<ProbeStage, ProbeProgress> = {
  name: "evaluate.bfclFast",

  async plan(ctx) {
    requirePolicy(ctx.config);
    let items = 0;
    for (const category of ctx.stage.categories) items += await categorySize(category, ctx.stage.limitPerCategory);
    return { batches: Math.ceil(ctx.stage.categories.length / ctx.stage.batchSize), items };
  },

  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    const { stage, campaignId, iteration, config } = ctx;
    const { db } = ctx.deps;
    const categories = batchCategories(stage, batchIndex);
    if (categories.length === 0)
      throw new StageInputError(`batch ${batchIndex} is outside the plan (${stage.categories.length} categories, batchSize ${stage.batchSize})`);
    const { maxConcurrency, model, endpoint } = requirePolicy(config);
    const served = await servedCheckpointFor(db, ctx.policyVersionId);

    const sizes = new Map<string, number>();
    for (const c of categories) sizes.set(c, await categorySize(c, stage.limitPerCategory));
    const state: ProbeProgress = { done: 0, total: [...sizes.values()].reduce((a, b) => a + b, 0), finished: [] };
    const totals = { items: 0, correct: 0, probed: 0, reused: 0, categories: 0, failedRequests: 0 };

    const stored = new Map((await listBfclScores(db, campaignId, iteration, PROBE_EVALUATOR)).map((r) => [r.category, r]));
    const todo: string[] = [];
    for (const category of categories) {
      const row = stored.get(category);
      if (reusable(row, stage, model, served)) {
        totals.items += row.total;
        totals.correct += row.correct;
        totals.reused += row.total;
        totals.categories++;
        state.done += sizes.get(category) ?? 0;
        state.finished.push(category);
      } else {
        todo.push(category);
      }
    }
    progress.report({ ...state, finished: [...state.finished] });
    if (todo.length === 0) return totals;

    const counters = { failedRequests: 0, simulatedResponses: 0 };
    const client = probeClient(ctx.llm("policy"), counters);
    // Up to maxConcurrency requests listen on the stage signal at once.
    setMaxListeners(0, ctx.signal);
    {
      for (const category of todo) {
        ctx.signal.throwIfAborted();
        const failedBefore = counters.failedRequests;
        const simulatedBefore = counters.simulatedResponses;
        const base = state.done;
        state.category = category;
        const result = await runFastProbe({
          client,
          categories: [category],
          limitPerCategory: stage.limitPerCategory,
          concurrency: maxConcurrency,
          mode: stage.mode,
          signal: ctx.signal,
          onProgress: (done) => {
            state.done = base + done;
            progress.report({ ...state, finished: [...state.finished] });
          },
        });
        const score = result.categories[category];
        if (!score) throw new Error(`fast probe returned no score for category "${category}"`);
        const failedRequests = counters.failedRequests - failedBefore;
        const simulatedResponses = counters.simulatedResponses - simulatedBefore;
        await upsertBfclScores(db, [
          {
            campaignId,
            iteration,
            evaluator: PROBE_EVALUATOR,
            category,
            correct: score.correct,
            total: score.total,
            accuracy: score.accuracy,
            details: {
              mode: result.mode,
              limitPerCategory: stage.limitPerCategory ?? null,
              failedRequests,
              simulatedResponses,
              note: "fast probe (toolloop matcher), not bfcl-eval",
              model,
              endpoint,
              servedCheckpoint: served,
            },
            simulated: simulatedResponses > 0,
          },
        ]);
        totals.items += score.total;
        totals.correct += score.correct;
        totals.probed += score.total;
        totals.categories++;
        totals.failedRequests += failedRequests;
        state.done = base + (sizes.get(category) ?? score.total);
        state.finished.push(category);
        delete state.category;
        progress.report({ ...state, finished: [...state.finished] });
      }
    }
    return totals;
  },

  async finalize(ctx) {
    const { stage, campaignId, iteration } = ctx;
    const { model, endpoint } = requirePolicy(ctx.config);
    const served = await servedCheckpointFor(ctx.deps.db, ctx.policyVersionId);
    const stored = new Map((await listBfclScores(ctx.deps.db, campaignId, iteration, PROBE_EVALUATOR)).map((r) => [r.category, r]));
    const categories: Record<string, { accuracy: number; correct: number; total: number }> = {};
    let correct = 0;
    let total = 0;
    let simulated = false;
    for (const category of stage.categories) {
      const row = stored.get(category);
      if (!reusable(row, stage, model, served)) {
        throw new StageInputError(
          `evaluate.bfclFast: no ${PROBE_EVALUATOR} score (mode ${stage.mode}) of model "${model}"${served ? ` (served checkpoint ${served.modelVersionId}, ${served.fingerprint})` : ""} stored for category "${category}" in iteration ${iteration}; re-run the stage's batches`,
        );
      }
      categories[category] = { accuracy: row.accuracy, correct: row.correct, total: row.total };
      correct += row.correct;
      total += row.total;
      simulated ||= row.simulated === true;
    }
    const overallProbe = total === 0 ? 0 : correct / total;
    await upsertBfclScores(ctx.deps.db, [
      {
        campaignId,
        iteration,
        evaluator: PROBE_EVALUATOR,
        category: OVERALL_PROBE,
        correct,
        total,
        accuracy: overallProbe,
        details: {
          note: OVERALL_PROBE_NOTE,
          mode: stage.mode,
          limitPerCategory: stage.limitPerCategory ?? null,
          categories: stage.categories,
          model,
          endpoint,
          servedCheckpoint: served,
        },
        simulated,
      },
    ]);
    return {
      evaluator: PROBE_EVALUATOR,
      model,
      servedCheckpoint: served,
      mode: stage.mode,
      limitPerCategory: stage.limitPerCategory ?? null,
      overallProbe,
      note: OVERALL_PROBE_NOTE,
      correct,
      total,
      categories,
      ...(simulated ? { simulated: true, simulatedNote: SIMULATED_SCORE_NOTE } : {}),
    };
  },
};
