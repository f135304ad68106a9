/**
 * One batch of a scoring stage (score.perplexity, score.consistency): the batch's planned samples,
 * the metrics each still lacks in this iteration under the policy in force (a rerun or retried batch
 * scores only those; scores of another model, or of a retrain served under the same name, are
 * removed and redone, so a sample that fails now has no score rather than the old weights'), the
 * policy's requests fanned out at the endpoint's concurrency, and the scores written in small
 * buffered groups with an idempotent upsert. A sample the model cannot score (its own request
 * refused or its answer unusable: isItemFailure; no label) is counted failed with its reason and gets
 * no row; a transport failure stops the whole batch so the activity is retried, and an endpoint that
 * refuses every request (a wrong key, path or model) stops it for an operator. A failure that is not
 * the sample's own (isOwnSampleFailure) is also counted as `failedByEndpoint`, and the first one is
 * noted for finalize: a stage in which no sample was scored and such failures occurred fails
 * (failIfNothingSucceeded), instead of succeeding with nothing for the next round to select by.
 */
import { BatchAbort } from "../../framework/batchAbort.js";
import { WriteBuffer } from "../../framework/writeBuffer.js";
import pLimit from "p-limit";
import { deleteSupersededScores, scoredMetrics, upsertSampleScores, type NewSampleScore } from "../../db/repos/scores.js";
import type { SampleRow } from "../../db/repos/samples.js";
import type { ScoreMetric } from "../../db/schema.js";
import { StageInputError, type BatchProgress, type BatchResult, type StageContext, type StageEntry } from "../../framework/stage.js";
import { endpointFailureClass, failureClassKey } from "../../framework/endpointFailureClass.js";
import { isContextLengthError, isItemFailure } from "../../llm/errors.js";
import { resolveRole } from "../../llm/roles.js";
import { UnscorableSampleError } from "../../scoring/labelPerplexity.js";
import { sameServedCheckpoint, servedCheckpointFor, servedCheckpointIn } from "../../training/servedCheckpoint.js";

/** Heartbeat details (for operators; the database decides what is left to do). */
export interface ScoringProgress {
  /** Samples of the batch settled so far (scored, skipped as already scored, or failed). */
  done: number;
  total: number;
  scored: number;
  skipped: number;
  failed: number;
  /** The latest failures with their reasons (at most MAX_FAILURES_SHOWN). */
  failures: { sampleId: string; reason: string }[];
}

/** Computes one metric of one sample: its value and details. */
export type MetricScorer = (sample: SampleRow, signal: AbortSignal) => Promise<{ value: number; details: Record<string, unknown> }>;

/** A finished sample waits at most this long (or for this many others) before it is written. */
const FLUSH_EVERY = 50;
const FLUSH_AFTER_MS = 200;
const PAGE = 1000;
const MAX_FAILURES_SHOWN = 20;

/** Whether an error is the sample's own (count it failed, go on) rather than the endpoint's or the batch's. */
export function isSampleFailure(err: unknown): boolean {
  return isItemFailure(err) || err instanceof UnscorableSampleError;
}

/**
 * Whether a sample's failure is its own (no label, a label token of -inf logprob, a prompt too long
 * for the context): another endpoint would fail it too. Everything else a sample fails on (a 400 for
 * an unsupported parameter, a response without prompt_logprobs, a chat template whose generation
 * prompt differs from its assistant turn) is the endpoint's, and would fail every sample alike.
 */
export function isOwnSampleFailure(err: unknown): boolean {
  return err instanceof UnscorableSampleError || isContextLengthError(err);
}

export async function runScoringBatch<S extends StageEntry>(
  ctx: StageContext<S>,
  batchIndex: number,
  progress: BatchProgress<ScoringProgress>,
  scorers: Partial<Record<ScoreMetric, MetricScorer>>,
  /**
   * Whether a stored score of the policy in force was computed the way this run computes it (e.g.
   * with the same endOfTurnTokens); one that was not is scored again, the new score replacing it.
   */
  computedAlike: (row: { metric: ScoreMetric; details: unknown }) => boolean = () => true,
): Promise<BatchResult> {
  const { db } = ctx.deps;
  const { campaignId, iteration, config } = ctx;
  const policy = Object.hasOwn(config.roles, "policy") ? config.roles.policy : undefined;
  if (!policy) throw new StageInputError(`${ctx.stage.name} scores with the policy role; roles.policy is not configured`);
  const metrics = Object.keys(scorers) as ScoreMetric[];

  const samples: SampleRow[] = [];
  for (let afterId: string | undefined; ;) {
    const page = await ctx.batchSamples(batchIndex, { afterId, limit: PAGE });
    samples.push(...page);
    if (page.length < PAGE) break;
    afterId = page[page.length - 1]?.id;
  }
  const served = await servedCheckpointFor(db, ctx.policyVersionId);
  const { accepted: stored, superseded } = await scoredMetrics(
    db,
    { campaignId, iteration },
    samples.map((s) => s.id),
    metrics,
    (row) => row.model === policy.model && sameServedCheckpoint(servedCheckpointIn(row.details), served) && computedAlike(row),
  );
  // Another model's scores go before the policy in force is asked: one it cannot score now (a
  // failure) would otherwise keep the old weights' score, which the next round's selection reads.
  if (superseded.length > 0) await deleteSupersededScores(db, { campaignId, iteration }, superseded, { model: policy.model, servedCheckpoint: served });
  const missingOf = (s: SampleRow) => metrics.filter((m) => !stored.get(s.id)?.has(m));
  const todo = samples.filter((s) => missingOf(s).length > 0);

  const state: ScoringProgress = { done: 0, total: samples.length, scored: 0, skipped: samples.length - todo.length, failed: 0, failures: [] };
  state.done = state.skipped;
  progress.report(snapshot(state));

  const batch = new BatchAbort(ctx.signal);
  const fail = batch.fail;

  // Scored samples are written in small groups, one write at a time, in order.
  type Settled = { rows: NewSampleScore[]; failure?: { sampleId: string; reason: string; byEndpoint: boolean; classKey?: string } };
  let failedByEndpoint = 0;
  // Per class (endpointFailureClass.ts), so that a stage in which nothing succeeded names what happened.
  const byClass: Record<string, number> = {};
  const write = async (chunk: Settled[]) => {
    await upsertSampleScores(
      db,
      chunk.flatMap((c) => c.rows),
    );
    for (const c of chunk) {
      state.done++;
      if (c.failure) {
        state.failed++;
        state.failures = [...state.failures, { sampleId: c.failure.sampleId, reason: c.failure.reason }].slice(-MAX_FAILURES_SHOWN);
        if (c.failure.byEndpoint) {
          failedByEndpoint++;
          if (c.failure.classKey) byClass[c.failure.classKey] = (byClass[c.failure.classKey] ?? 0) + 1;
        }
        ctx.deps.log(`${ctx.stage.name}: sample ${c.failure.sampleId} not scored: ${c.failure.reason}`);
      } else state.scored++;
    }
    progress.report(snapshot(state));
  };
  const writes = new WriteBuffer<Settled>(write, fail, { every: FLUSH_EVERY, afterMs: FLUSH_AFTER_MS });
  const settle = (item: Settled) => writes.push(item);
  const flush = () => writes.flush();

  const limit = pLimit(resolveRole(config, "policy").endpoint.maxConcurrency);
  await Promise.all(
    todo.map((sample) =>
      limit(async () => {
        if (batch.signal.aborted) return;
        const rows: NewSampleScore[] = [];
        const reasons: string[] = [];
        let byEndpoint = false;
        let classKey: string | undefined;
        await Promise.all(
          missingOf(sample).map(async (metric) => {
            try {
              const { value, details } = await (scorers[metric] as MetricScorer)(sample, batch.signal);
              rows.push({
                campaignId,
                iteration,
                sampleId: sample.id,
                metric,
                model: policy.model,
                modelVersionId: ctx.policyVersionId,
                value,
                details: { ...details, model: policy.model, servedCheckpoint: served },
              });
            } catch (err) {
              if (batch.signal.aborted) return;
              if (!isSampleFailure(err)) return fail(err);
              const reason = `${metric}: ${(err as Error).message.slice(0, 1000)}`;
              reasons.push(reason);
              if (!isOwnSampleFailure(err)) {
                byEndpoint = true;
                classKey ??= failureClassKey(err);
                progress.noteFailure?.(`sample ${sample.id}: ${reason}`, endpointFailureClass(err));
              }
            }
          }),
        );
        if (batch.signal.aborted) return;
        // What could be scored is kept even when another metric of the sample failed.
        settle(
          reasons.length > 0 ? { rows, failure: { sampleId: sample.id, reason: reasons.join("; "), byEndpoint, ...(classKey ? { classKey } : {}) } } : { rows },
        );
      }),
    ),
  );
  await flush();
  batch.close();
  progress.report(snapshot(state));
  return { items: samples.length, scored: state.scored, skipped: state.skipped, failed: state.failed, failedByEndpoint, ...byClass };
}

function snapshot(s: ScoringProgress): ScoringProgress {
  return { ...s, failures: [...s.failures] };
}
