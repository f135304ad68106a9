/**
 * score.consistency (InfTool): k samples of the policy per item at the configured temperature, each
 * request with its own seed (0..k-1) so they are real samples, each checked against the label by the
 * strict matcher; the agreeing share and its easy/medium/hard class go to sample_scores. The batch
 * mechanics are in ../scoringBatch.ts.
 */
import type { StageConfigOf } from "../../specs.js";
import { consistencyClassCounts, scoreValues } from "../../../db/repos/scores.js";
import { toOpenAiTool } from "../../../domain/types.js";
import { failIfNothingSucceeded, stageFailurePolicy, type StageHandler } from "../../../framework/stage.js";
import { failureClassCounts } from "../../../framework/endpointFailureClass.js";
import { policyPromptOf } from "../../../export/trainingMessages.js";
import { labelOf } from "../../../matching/labelAgreement.js";
import { consistencyOfAnswers } from "../../../scoring/consistency.js";
import { UnscorableSampleError } from "../../../scoring/labelPerplexity.js";
import { distribution } from "../../../scoring/summary.js";
import { runScoringBatch, type MetricScorer, type ScoringProgress } from "../scoringBatch.js";

type ConsistencyStage = StageConfigOf<"score.consistency">;

export const scoreConsistencyHandler: StageHandler<ConsistencyStage, ScoringProgress> = {
  name: "score.consistency",

  // Planned by the framework: the selection in spec.ts, its batches fixed at planning.
  async runBatch(ctx, batchIndex, progress) {
    const policy = ctx.llm("policy");
    const { k, temperature, easyAtLeast, hardAtMost } = ctx.stage;
    const consistency: MetricScorer = async (sample, signal) => {
      const label = labelOf(sample.messages);
      if (!label) throw new UnscorableSampleError("the sample has no assistant message (label) to compare with");
      const prompt = policyPromptOf(sample.messages);
      const tools = sample.tools.length > 0 ? sample.tools.map(toOpenAiTool) : undefined;
      const answers = await Promise.all(
        Array.from({ length: k }, (_, seed) => policy.chat({ messages: prompt, ...(tools ? { tools } : {}), temperature, seed }, { signal })),
      );
      const r = consistencyOfAnswers(
        answers.map((a) => a.message),
        label,
        sample.tools,
        { easyAtLeast, hardAtMost },
      );
      return { value: r.consistency, details: { k: r.k, agree: r.agree, temperature, class: r.class } };
    };
    return runScoringBatch(ctx, batchIndex, progress, { consistency });
  },

  async finalize(ctx, batches, notes) {
    const key = { campaignId: ctx.campaignId, iteration: ctx.iteration };
    const sum = (name: string) => batches.reduce((s, b) => s + (b[name] ?? 0), 0);
    const classes = await consistencyClassCounts(ctx.deps.db, key);
    const values = await scoreValues(ctx.deps.db, key, "consistency");
    // Counted from the stored rows (each sample once, whichever attempt scored it), not from the last attempts' own counts.
    const items = sum("items");
    failIfNothingSucceeded(
      "score.consistency",
      {
        succeeded: values.size,
        failed: Math.max(0, items - values.size),
        failedByEndpoint: sum("failedByEndpoint"),
        firstFailures: notes?.firstFailures ?? [],
        ...(notes?.firstFailureByClass ? { firstFailureByClass: notes.firstFailureByClass } : {}),
        classes: failureClassCounts(batches),
        check: {
          any: "Check the policy endpoint: it must answer chat requests that carry the samples' tools (vLLM: start it with --enable-auto-tool-choice --tool-call-parser <the model's parser>)",
          refused:
            "The policy endpoint refuses what every sample sends, chat requests with the samples' tools and a seed: vLLM refuses tools with a 400 (start it with --enable-auto-tool-choice --tool-call-parser <the model's parser>); otherwise its reason above names the parameter it does not take",
        },
      },
      stageFailurePolicy(ctx),
    );
    return {
      items,
      scored: values.size,
      skipped: sum("skipped"),
      failed: Math.max(0, items - values.size),
      classes: { easy: classes.easy ?? 0, medium: classes.medium ?? 0, hard: classes.hard ?? 0 },
      consistency: distribution([...values.values()]),
    };
  },
};
