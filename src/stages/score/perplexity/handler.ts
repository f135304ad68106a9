/**
 * score.perplexity: the label's perplexity under the served policy for every selected sample (and,
 * unless turned off, LoopTool's own-output perplexity beside it), written to sample_scores. The
 * batch mechanics (resume, fan-out, buffered upserts, failures) are in ../scoringBatch.ts.
 */
import type { StageConfigOf } from "../../specs.js";
import { labelPplWithoutEndOfTurn, scoreValues } from "../../../db/repos/scores.js";
import { afterConfigChangeAdvice, afterFixAdvice } from "../../../framework/stageFailureAdvice.js";
import { EveryItemFailedError, failIfNothingSucceeded, stageFailurePolicy, type StageHandler } from "../../../framework/stage.js";
import { failureClassCounts } from "../../../framework/endpointFailureClass.js";
import {
  configuredEndOfTurn,
  endOfTurnField,
  labelPerplexity,
  noEndOfTurnWarning,
  ownOutputPerplexity,
  sameEndOfTurnTokens,
} from "../../../scoring/labelPerplexity.js";
import { distribution, halfDisagreement } from "../../../scoring/summary.js";
import { runScoringBatch, type MetricScorer, type ScoringProgress } from "../scoringBatch.js";

type PerplexityStage = StageConfigOf<"score.perplexity">;

export const scorePerplexityHandler: StageHandler<PerplexityStage, ScoringProgress> = {
  name: "score.perplexity",

  // Planned by the framework: the selection in spec.ts, its batches fixed at planning.
  async runBatch(ctx, batchIndex, progress) {
    const policy = ctx.llm("policy");
    const endOfTurn = configuredEndOfTurn(ctx.config.stages, ctx.stage);
    const labelPpl: MetricScorer = async (sample, signal) => {
      const r = await labelPerplexity(policy, sample, { signal }, endOfTurn);
      return {
        value: r.perplexity,
        details: {
          tokens: r.tokens,
          meanLogprob: r.meanLogprob,
          span: r.span,
          ...(r.spans ? { spans: r.spans } : {}),
          endOfTurn: r.endOfTurn,
          ...(r.turnEnd ? { turnEnd: r.turnEnd } : {}),
          // Which rule made the span: a row made under another is scored again.
          ...(endOfTurn ? { endOfTurnTokens: endOfTurn.tokens } : {}),
        },
      };
    };
    const ownPpl: MetricScorer = async (sample, signal) => {
      const r = await ownOutputPerplexity(policy, sample, { signal });
      return { value: r.perplexity, details: { tokens: r.tokens, meanLogprob: r.meanLogprob, answer: r.answer } };
    };
    return runScoringBatch(
      ctx,
      batchIndex,
      progress,
      ctx.stage.ownOutput ? { label_ppl: labelPpl, own_ppl: ownPpl } : { label_ppl: labelPpl },
      (row) => row.metric !== "label_ppl" || sameEndOfTurnTokens(row.details, endOfTurn),
    );
  },

  async finalize(ctx, batches, notes) {
    const key = { campaignId: ctx.campaignId, iteration: ctx.iteration };
    const sum = (k: string) => batches.reduce((s, b) => s + (b[k] ?? 0), 0);
    const label = await scoreValues(ctx.deps.db, key, "label_ppl");
    const own = ctx.stage.ownOutput ? await scoreValues(ctx.deps.db, key, "own_ppl") : undefined;
    // Counted from the stored rows, so a sample an earlier (failed or killed) attempt scored counts once,
    // as scored: a batch's own `scored` is only what its last attempt added (the rest it `skipped`).
    const scored = own ? [...label.keys()].filter((id) => own.has(id)).length : label.size;
    const items = sum("items");
    const failedByEndpoint = sum("failedByEndpoint");
    if (own && scored === 0 && label.size > 0 && failedByEndpoint > 0) {
      // The labels were scored: "no sample succeeded" and a check of prompt_logprobs and /tokenize would send the operator to what works.
      throw new EveryItemFailedError(
        `score.perplexity: own-output scoring (own_ppl, ownOutput: true) failed for every sample, ${failedByEndpoint} of them for a reason that is not the sample's own, ` +
          `while the label perplexity (label_ppl) was scored for ${label.size}. The first: ${notes?.firstFailures[0] ?? "(not recorded)"}. ` +
          "own_ppl needs the policy endpoint to return the logprobs of the tokens it generates (chat completions with `logprobs: true`, read from choices[0].logprobs.content). " +
          `Fix the endpoint, ${afterFixAdvice(ctx.config.onStageFailure, ctx.campaignId)}${ctx.config.onStageFailure === "skip" ? "" : " (only own_ppl is asked again)"}; ` +
          `or, to score label_ppl alone, set \`ownOutput: false\` on this stage, a config change: ${afterConfigChangeAdvice(ctx.config.onStageFailure, ctx.campaignId)}; the stored label_ppl scores are kept`,
      );
    }
    failIfNothingSucceeded(
      "score.perplexity",
      {
        succeeded: scored,
        failed: Math.max(0, items - scored),
        failedByEndpoint,
        firstFailures: notes?.firstFailures ?? [],
        ...(notes?.firstFailureByClass ? { firstFailureByClass: notes.firstFailureByClass } : {}),
        classes: failureClassCounts(batches),
        check: {
          any:
            "Check the policy endpoint: it must support vLLM's prompt_logprobs and /tokenize (with return_token_strs, vLLM 0.9.1 or later), and its chat template must render the generation prompt as the start of the assistant turn (gpt-oss: chat return_token_ids, vLLM 0.10.2 or later, and /completions with prompt_logprobs)" +
            (ctx.stage.ownOutput ? " (own_ppl also needs chat logprobs; ownOutput: false leaves it out)" : ""),
          refused:
            "The policy endpoint refuses the scoring requests themselves: a server that is not vLLM (or a vLLM older than 0.9.1) refuses prompt_logprobs, /tokenize's messages or return_token_strs with a 400; serve the policy with vLLM 0.9.1 or later (its reason above names what it refused)",
          unusable:
            "The policy endpoint answers the scoring requests without what scoring reads: a prompt_logprobs list (vLLM), token_strs from /tokenize (vLLM 0.9.1 or later), or a chat template that renders the generation prompt as the start of the assistant turn; gpt-oss: prompt_token_ids from chat with return_token_ids, vLLM 0.10.2 or later (the reason above says which)" +
            (ctx.stage.ownOutput ? "; own_ppl also needs chat logprobs (ownOutput: false leaves it out)" : ""),
        },
      },
      stageFailurePolicy(ctx),
    );
    // Per-row details alone would hide it: a model whose end-of-turn token is not recognised has every label scored over its whole turn.
    const noEnd = await labelPplWithoutEndOfTurn(ctx.deps.db, key);
    const warning =
      noEnd.count > 0
        ? noEndOfTurnWarning({
            count: noEnd.count,
            of: label.size,
            what: "label_ppl scores",
            field: endOfTurnField(ctx.config.stages, ctx.stage.name),
            ...(noEnd.example ? { example: { id: `sample ${noEnd.example.sampleId}`, turnEnd: noEnd.example.turnEnd } } : {}),
          })
        : undefined;
    if (warning) ctx.deps.log(`score.perplexity: warning: ${ctx.campaignId} iteration ${ctx.iteration}: ${warning}`);
    return {
      items,
      scored,
      skipped: sum("skipped"),
      failed: Math.max(0, items - scored),
      withoutEndOfTurn: noEnd.count,
      ...(warning ? { warning } : {}),
      labelPpl: distribution([...label.values()]),
      ...(own ? { ownPpl: distribution([...own.values()]), halfDisagreement: halfDisagreement(label, own) } : {}),
    };
  },
};
