/**
 * Greedy capability probing (LoopTool GCP): the policy answers each verified pool sample's prompt at
 * temperature 0 with the sample's tools; the matcher (strict mode, duplicates counted) says whether
 * the answer agrees with the label. Results are written as they finish and a re-run skips samples
 * already probed in the iteration by the same model and served checkpoint, so a retried batch asks
 * the policy only about what is left, and a retrained iteration served again under the same name is
 * asked again (the old answers removed first: a sample it cannot answer has none).
 */
import pLimit from "p-limit";
import type { StageConfigOf } from "../../specs.js";
import { deleteSupersededProbeResults, insertProbeResults, probeResultsOf, probeSummary, type NewProbeResult } from "../../../db/repos/probes.js";
import { toOpenAiTool } from "../../../domain/types.js";
import { isContextLengthError, isItemFailure } from "../../../llm/errors.js";
import { resolveRole } from "../../../llm/roles.js";
import { policyPromptOf } from "../../../export/trainingMessages.js";
import { compareToLabel, labelOf } from "../../../matching/labelAgreement.js";
import { allBatchSamples, failIfNothingSucceeded, stageFailurePolicy, type BatchResult, type StageHandler } from "../../../framework/stage.js";
import { BatchAbort } from "../../../framework/batchAbort.js";
import { countFailureClass, endpointFailureClass, failureClassCounts } from "../../../framework/endpointFailureClass.js";
import type { SampleRow } from "../../../db/repos/samples.js";
import { sameServedCheckpoint, servedCheckpointFor } from "../../../training/servedCheckpoint.js";

type ProbeStage = StageConfigOf<"probe.greedy">;

export interface GreedyProbeProgress {
  done: number;
  total: number;
  mismatched: number;
}

/** How many mismatch reason codes the summary lists. */
const TOP_REASONS = 10;

export const probeGreedyHandler: StageHandler<ProbeStage, GreedyProbeProgress> = {
  name: "probe.greedy",

  // Planned by the framework: the iteration's verified pool samples (spec.ts).
  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    const { db } = ctx.deps;
    const rows = await allBatchSamples(ctx, batchIndex);
    const policy = ctx.llm("policy");
    const model = ctx.config.roles.policy?.model ?? policy.model;
    const served = await servedCheckpointFor(db, ctx.policyVersionId);
    const stored = await probeResultsOf(
      db,
      ctx.campaignId,
      ctx.iteration,
      rows.map((r) => r.id),
    );
    // Answers of another model, or of other weights under the same served name, are not this policy's: asked again and replaced.
    const probed = new Map([...stored].filter(([, p]) => p.model === model && sameServedCheckpoint(p.servedCheckpoint, served)));
    const todo = rows.filter((r) => !probed.has(r.id));
    // The old answers go before the policy in force is asked: a sample it cannot answer now would
    // otherwise keep the old weights' answer, a mismatch that repair.labels would judge as this policy's.
    const superseded = [...stored.keys()].filter((id) => !probed.has(id));
    if (superseded.length > 0) await deleteSupersededProbeResults(db, ctx.campaignId, ctx.iteration, superseded, { model, servedCheckpoint: served });
    // Counted from the stored rows too: a retried attempt's heartbeat shows the batch's mismatches, not only its own.
    const storedMismatches = [...probed.values()].filter((p) => !p.match).length;
    const state: GreedyProbeProgress = { done: rows.length - todo.length, total: rows.length, mismatched: storedMismatches };
    progress.report({ ...state });

    const limit = pLimit(resolveRole(ctx.config, "policy").endpoint.maxConcurrency);
    let matched = 0;
    let mismatched = 0;
    let unlabelled = 0;
    let failed = 0;
    // Failures that are not the sample's own (its prompt too long for the context is): the endpoint refusing what every probe asks.
    let failedByEndpoint = 0;
    const byClass: Record<string, number> = {};
    // Results are written in small groups as they finish, one write at a time.
    let pending: NewProbeResult[] = [];
    let writing: Promise<unknown> = Promise.resolve();
    const flush = () => {
      const chunk = pending;
      pending = [];
      // Replacing: a stored row of these samples is another model's answer (kept ones are not asked again).
      if (chunk.length > 0) writing = writing.then(() => insertProbeResults(db, chunk, { replace: true }));
      return writing;
    };

    // Every sample of the batch counts as done once settled: probed, without a label, or without a usable answer.
    const settled = () => {
      state.done++;
      progress.report({ ...state });
    };
    // The first fatal error stops the samples still waiting and the requests in flight: a failed batch's
    // other samples would otherwise go on asking the policy beside the retried attempt.
    const batch = new BatchAbort(ctx.signal);
    const probeOne = async (sample: SampleRow) => {
      const label = labelOf(sample.messages);
      if (!label) {
        unlabelled++;
        settled();
        return;
      }
      let answer;
      try {
        const res = await policy.chat(
          {
            messages: policyPromptOf(sample.messages),
            ...(sample.tools.length > 0 ? { tools: sample.tools.map(toOpenAiTool), toolChoice: "auto" as const } : {}),
            temperature: 0,
          },
          { signal: batch.signal },
        );
        answer = res.message;
      } catch (err) {
        // An answer the client cannot use (after its own retries) leaves the sample unprobed; a
        // later run asks again. Transport failures and a misconfigured endpoint fail the batch.
        if (isItemFailure(err)) {
          failed++;
          const message = err.message;
          if (!isContextLengthError(err)) {
            failedByEndpoint++;
            countFailureClass(byClass, err);
            progress.noteFailure?.(`sample ${sample.id}: ${message}`, endpointFailureClass(err));
          }
          ctx.deps.log(`probe.greedy: no answer for ${sample.id}: ${message}`);
          settled();
          return;
        }
        throw err;
      }
      const agreement = compareToLabel(answer, label, sample.tools);
      if (agreement.agrees) matched++;
      else mismatched++;
      pending.push({
        campaignId: ctx.campaignId,
        iteration: ctx.iteration,
        sampleId: sample.id,
        model,
        modelVersionId: ctx.policyVersionId,
        servedCheckpoint: served,
        match: agreement.agrees,
        prediction: { content: answer.content, ...(answer.tool_calls ? { tool_calls: answer.tool_calls } : {}) },
        reasons: agreement.reasons,
      });
      state.mismatched = storedMismatches + mismatched;
      if (pending.length >= 50) await flush();
      settled();
    };
    const run = (sample: SampleRow) =>
      limit(async () => {
        if (batch.signal.aborted) return;
        try {
          await probeOne(sample);
        } catch (err) {
          if (!batch.signal.aborted) batch.fail(err);
        }
      });
    await Promise.all(todo.map(run));
    // What was answered before a failure is kept; then the cancellation or the first fatal error is thrown.
    await flush();
    batch.close();
    progress.report({ ...state });
    return {
      items: rows.length,
      probed: matched + mismatched,
      matched,
      mismatched,
      reused: rows.length - todo.length,
      unlabelled,
      failed,
      failedByEndpoint,
      ...byClass,
    };
  },

  async finalize(ctx, batches, notes) {
    // Counted from the stored rows: every result once, whichever attempt wrote it.
    const s = await probeSummary(ctx.deps.db, ctx.campaignId, ctx.iteration);
    const total = s.matched + s.mismatched;
    const failed = batches.reduce((a, b) => a + (b.failed ?? 0), 0);
    // No answer at all: repair.labels and expand.errors would have no mismatch to work on, silently.
    failIfNothingSucceeded(
      "probe.greedy",
      {
        succeeded: total,
        failed,
        failedByEndpoint: batches.reduce((a, b) => a + (b.failedByEndpoint ?? 0), 0),
        firstFailures: notes?.firstFailures ?? [],
        ...(notes?.firstFailureByClass ? { firstFailureByClass: notes.firstFailureByClass } : {}),
        classes: failureClassCounts(batches),
        check: {
          any: 'Check the policy endpoint: it must answer chat requests with tools and tool_choice "auto" (vLLM: start it with --enable-auto-tool-choice --tool-call-parser <the model\'s parser>)',
          refused:
            "The policy endpoint refuses what every probe sends, chat requests with the samples' tools and tool_choice \"auto\": vLLM refuses these with a 400 (start it with --enable-auto-tool-choice --tool-call-parser <the model's parser>); otherwise its reason above names the parameter it does not take",
        },
      },
      stageFailurePolicy(ctx),
    );
    const topReasons = Object.fromEntries(Object.entries(s.reasonCodes).slice(0, TOP_REASONS));
    return {
      model: ctx.config.roles.policy?.model ?? null,
      modelVersionId: ctx.policyVersionId,
      probed: total,
      matched: s.matched,
      mismatched: s.mismatched,
      matchRate: total === 0 ? null : s.matched / total,
      topMismatchReasons: topReasons,
      unlabelled: batches.reduce((a, b) => a + (b.unlabelled ?? 0), 0),
      failed,
    };
  },
};
