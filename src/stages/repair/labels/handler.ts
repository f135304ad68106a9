/**
 * Judgement-guided label repair (LoopTool JGLV) over the iteration's probed mismatches. Each mismatch
 * goes to the committee with the label and the policy's greedy prediction; every vote is stored as it
 * comes (a re-run asks only judges whose vote is missing), the consensus decides, and the decision is
 * acted on (decisions in src/repair/labelRepair.ts). Write order makes a crash harmless: votes, then
 * the new sample (deterministic id), then the judgement row, each written once.
 */
import pLimit from "p-limit";
import type { StageConfigOf } from "../../specs.js";
import {
  insertJudgeVotes,
  insertLabelJudgement,
  judgedCases,
  judgementsOf,
  judgementSummary,
  storedLabelPerplexities,
  votesOf,
  type NewLabelJudgement,
} from "../../../db/repos/judgements.js";
import { probeResultsOf, type ProbeResultRow } from "../../../db/repos/probes.js";
import { insertSamples, type SampleRow } from "../../../db/repos/samples.js";
import type { JudgeVerdict, LabelAction } from "../../../db/schema.js";
import { simulatedByRole } from "../../../db/repos/usage.js";
import { storedSimulated } from "../../../provenance/provenance.js";
import { probeGreedySpec } from "../../probe/greedy/spec.js";
import { committeeRoles, committeeSize, convene, judgeId, judgeReliability, tally, type Vote } from "../../../judging/committee.js";
import { JUDGEMENT_RESPONSE_FORMAT, judgedAnswer, judgementAnswerSchema, labelJudgementMessages } from "../../../judging/protocol.js";
import { LlmError, type LlmClient } from "../../../llm/client.js";
import { isContextLengthError } from "../../../llm/errors.js";
import { resolveRole } from "../../../llm/roles.js";
import { policyPromptOf } from "../../../export/trainingMessages.js";
import { labelOf, type AssistantAnswer } from "../../../matching/labelAgreement.js";
import { keepHigherPerplexity, REPAIR_STAGE, repairedSample, stepFor } from "../../../repair/labelRepair.js";
import {
  configuredEndOfTurn,
  endOfTurnField,
  noEndOfTurnWarning,
  perplexityOfAnswer,
  sameEndOfTurnTokens,
  UnscorableSampleError,
} from "../../../scoring/labelPerplexity.js";
import { StageInputError, type BatchResult, type StageHandler, allBatchSamples } from "../../../framework/stage.js";

import { checkCommitteeRoles } from "../../../judging/committeeRoles.js";
import { BatchAbort } from "../../../framework/batchAbort.js";
import { sameServedCheckpoint, servedCheckpointFor, servedCheckpointIn } from "../../../training/servedCheckpoint.js";

type RepairStage = StageConfigOf<"repair.labels">;

export interface RepairProgress {
  done: number;
  total: number;
  votesAsked: number;
}

interface Outcome {
  action: LabelAction;
  verdict: JudgeVerdict | null;
  votesAsked: number;
  /** The judges' case did not fit a judge model's context: no decision could be made. */
  tooLongForJudges?: boolean;
}

export const repairLabelsHandler: StageHandler<RepairStage, RepairProgress> = {
  name: "repair.labels",

  // Planned by the framework: the iteration's probe mismatches (spec.ts).
  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    checkCommitteeRoles(ctx);
    const { db } = ctx.deps;
    const { campaignId, iteration } = ctx;
    const committee = ctx.stage.committee;
    const rows = await allBatchSamples(ctx, batchIndex);
    const ids = rows.map((r) => r.id);
    const [probes, decided, stored, storedPpl, served] = await Promise.all([
      probeResultsOf(db, campaignId, iteration, ids),
      judgementsOf(db, campaignId, iteration, ids),
      votesOf(db, campaignId, iteration, ids),
      storedLabelPerplexities(db, campaignId, iteration, ids),
      servedCheckpointFor(db, ctx.policyVersionId),
    ]);
    const endOfTurn = configuredEndOfTurn(ctx.config.stages, ctx.stage);
    // Perplexities this batch computed whose label turn held no end-of-turn token (scored over the whole turn).
    let perplexityWithoutEndOfTurn = 0;
    let perplexitiesComputed = 0;
    const todo = rows.filter((r) => !decided.has(r.id));
    const state: RepairProgress = { done: rows.length - todo.length, total: rows.length, votesAsked: 0 };
    progress.report({ ...state });
    // The first fatal error stops the judge and policy requests in flight and the mismatches still
    // waiting: a failed batch's other mismatches would otherwise go on beside the retried attempt.
    const batch = new BatchAbort(ctx.signal);

    const clients = new Map<string, LlmClient>();
    const clientFor = (role: string): LlmClient => {
      let c = clients.get(role);
      if (!c) clients.set(role, (c = ctx.llm(role)));
      return c;
    };
    const policyModel = ctx.config.roles.policy?.model ?? clientFor("policy").model;
    // Whether the predictions this stage may adopt as labels came from the simulator (probe.greedy's policy requests).
    let probeSimulatedOnce: Promise<boolean> | undefined;
    const probeSimulated = () =>
      (probeSimulatedOnce ??= simulatedByRole(db, campaignId, { iteration, stage: probeGreedySpec.name }).then((roles) => Object.values(roles).some(Boolean)));
    const judges = new Set(committee.members.flatMap((m) => Array.from({ length: m.samples }, (_, s) => judgeId(m.role, s))));

    const judgeOne = async (sample: SampleRow, probe: ProbeResultRow): Promise<Outcome> => {
      const label = labelOf(sample.messages);
      if (!label) throw new StageInputError(`sample ${sample.id} has no label (assistant message) to judge`);
      const prediction = probe.prediction;
      // What the policy was asked (probe.greedy): the prediction is judged against the prompt it answered.
      const prompt = policyPromptOf(sample.messages);

      // Votes already stored (an earlier attempt) are not asked again.
      const before: Vote<JudgeVerdict>[] = (stored.get(sample.id) ?? [])
        .filter((v) => judges.has(v.judge))
        .map((v) => ({ judge: v.judge, model: v.model, verdict: v.verdict, analysis: v.analysis }));
      let fresh: Vote<JudgeVerdict>[];
      try {
        fresh = await convene(
          committee,
          clientFor,
          {
            messages: labelJudgementMessages({ prompt, tools: sample.tools, label: judgedAnswer(label), prediction: judgedAnswer(prediction) }),
            responseFormat: JUDGEMENT_RESPONSE_FORMAT,
            schema: judgementAnswerSchema,
          },
          batch.signal,
          new Set(before.map((v) => v.judge)),
        );
      } catch (err) {
        if (!isContextLengthError(err)) throw err;
        // Longer than a judge model's context (a long dialogue's cut, with both answers and the tools):
        // no retry gets past it, so it is not a reason to fail the batch. No decision: the label stays,
        // as when the committee does not agree, and the row says why.
        await insertLabelJudgement(db, {
          campaignId,
          iteration,
          sampleId: sample.id,
          verdict: null,
          action: "no_consensus",
          votes: before.length,
          resultSampleId: null,
          details: {
            consensus: committee.consensus,
            committeeSize: committeeSize(committee),
            probeModel: probe.model,
            notJudged: `the case does not fit the judge model's context: ${err.message.slice(0, 500)}`,
          },
        });
        return { action: "no_consensus", verdict: null, votesAsked: 0, tooLongForJudges: true };
      }
      await insertJudgeVotes(
        db,
        fresh.map((v) => ({ campaignId, iteration, sampleId: sample.id, judge: v.judge, model: v.model, verdict: v.verdict, analysis: v.analysis })),
      );
      state.votesAsked += fresh.length;
      const votes = [...before, ...fresh];
      const { verdict, counts } = tally(votes, committee.consensus);
      const details: Record<string, unknown> = { counts, consensus: committee.consensus, committeeSize: committeeSize(committee), probeModel: probe.model };
      const judgement = (action: LabelAction, resultSampleId: string | null = null): NewLabelJudgement => ({
        campaignId,
        iteration,
        sampleId: sample.id,
        verdict,
        action,
        votes: votes.length,
        resultSampleId,
        details,
      });

      // Writes the prediction as a new sample (before the judgement row that names it).
      const writeRepaired = async (): Promise<{ id: string; ok: boolean; reasons: string[] }> => {
        const r = repairedSample(campaignId, sample, prediction);
        // The label is the policy's prediction (probe.greedy), accepted by the committee; the rest is the parent's.
        const provenance = await ctx.sampleProvenance(["policy", ...committeeRoles(committee)], {
          alsoSimulated: storedSimulated(sample.metadata) || (await probeSimulated()),
        });
        await insertSamples(db, [
          {
            id: r.id,
            campaignId,
            iteration,
            kind: r.kind,
            origin: "repaired",
            parentId: sample.id,
            stage: REPAIR_STAGE,
            messages: r.messages,
            tools: r.tools,
            status: r.status,
            verdicts: [r.verdict],
            metadata: {
              repairedFrom: sample.id,
              verdict,
              probeModel: probe.model,
              probeModelVersionId: probe.modelVersionId,
              provenance,
              // A dialogue turn's repair is the same turn of the same dialogue (reports and selection group by it).
              ...(sample.metadata.dialogue !== undefined ? { dialogue: sample.metadata.dialogue } : {}),
            },
          },
        ]);
        return { id: r.id, ok: r.status === "verified", reasons: r.verdict.reasons };
      };

      let row: NewLabelJudgement;
      switch (stepFor(verdict)) {
        case "take_prediction": {
          const r = await writeRepaired();
          if (!r.ok) details.rulesReasons = r.reasons;
          row = judgement(r.ok ? "repaired" : "repair_rejected", r.id);
          break;
        }
        case "compare_perplexity": {
          const policy = clientFor("policy");
          const opts = { signal: batch.signal };
          const known = storedPpl.get(sample.id);
          // The version id alone does not tell a retrain served again under it: the served checkpoint must match too.
          const reuse =
            known &&
            known.model === policyModel &&
            known.modelVersionId === ctx.policyVersionId &&
            sameServedCheckpoint(servedCheckpointIn(known.details), served) &&
            // Both perplexities compared must end their span by one rule.
            sameEndOfTurnTokens(known.details, endOfTurn);
          // A span that cannot be found is the endpoint's template, not a passing fault: no retry fixes it.
          const ppl = (answer: AssistantAnswer, what: string) =>
            perplexityOfAnswer(policy, { prompt, label: answer, tools: sample.tools, endOfTurn }, opts).then(
              (p) => {
                perplexitiesComputed++;
                if (p.endOfTurn === null) perplexityWithoutEndOfTurn++;
                return p.perplexity;
              },
              (err: unknown) => {
                if (err instanceof LlmError) throw err;
                // A token the policy gives no probability: the perplexity is infinite, the answer the harder one.
                if (err instanceof UnscorableSampleError) return Number.POSITIVE_INFINITY;
                throw new StageInputError(
                  `repair.labels: the ${what} perplexity of ${sample.id} under ${policyModel}: ${err instanceof Error ? err.message : String(err)}`,
                );
              },
            );
          let labelPpl: number;
          let predictionPpl: number;
          try {
            [labelPpl, predictionPpl] = await Promise.all([reuse ? Promise.resolve(known.value) : ppl(label, "label"), ppl(prediction, "prediction")]);
          } catch (err) {
            if (!isContextLengthError(err)) throw err;
            // The prompt and an answer do not fit the policy's context: nothing to compare, so the label stays.
            details.perplexity = { notComputed: `does not fit the policy model's context: ${err.message.slice(0, 500)}`, model: policyModel };
            row = judgement("kept_label");
            break;
          }
          // JSON has no Infinity (it would be stored as null): written out as text.
          const shown = (v: number) => (Number.isFinite(v) ? v : String(v));
          details.perplexity = {
            label: shown(labelPpl),
            prediction: shown(predictionPpl),
            labelFrom: reuse ? "sample_scores" : "computed",
            model: policyModel,
          };
          if (keepHigherPerplexity({ label: labelPpl, prediction: predictionPpl }) === "label") {
            row = judgement("kept_label");
            break;
          }
          const r = await writeRepaired();
          if (r.ok) row = judgement("kept_prediction", r.id);
          else {
            // Both answers are right by the judges, but the prediction fails the rules: the label stays.
            details.predictionRejected = { sampleId: r.id, rulesReasons: r.reasons };
            row = judgement("kept_label");
          }
          break;
        }
        case "dropped":
          row = judgement("dropped");
          break;
        case "error_seed":
          row = judgement("error_seed");
          break;
        case "no_consensus":
          row = judgement("no_consensus");
          break;
      }
      await insertLabelJudgement(db, row);
      return { action: row.action, verdict, votesAsked: fresh.length };
    };

    const concurrency = Math.max(...committeeRoles(committee).map((role) => resolveRole(ctx.config, role).endpoint.maxConcurrency));
    const limit = pLimit(concurrency);
    const counters: Record<string, number> = {};
    const bump = (k: string) => (counters[k] = (counters[k] ?? 0) + 1);
    let missingProbe = 0;
    await Promise.all(
      todo.map((sample) =>
        limit(async () => {
          if (batch.signal.aborted) return;
          const probe = probes.get(sample.id);
          if (!probe) {
            missingProbe++;
            return;
          }
          try {
            const o = await judgeOne(sample, probe);
            bump(o.action);
            if (o.tooLongForJudges) bump("tooLongForJudges");
            bump(`verdict_${o.verdict ?? "none"}`);
            state.done++;
            progress.report({ ...state });
          } catch (err) {
            if (!batch.signal.aborted) batch.fail(err);
          }
        }),
      ),
    );
    batch.close();
    if (perplexityWithoutEndOfTurn > 0)
      ctx.deps.log(
        `repair.labels: warning: ${campaignId} iteration ${iteration} batch ${batchIndex}: ${perplexityWithoutEndOfTurn} perplexities found no end-of-turn token in the rendered turn; set ${endOfTurnField(ctx.config.stages, ctx.stage.name)} to the policy's`,
      );
    return {
      items: rows.length,
      perplexitiesComputed,
      perplexityWithoutEndOfTurn,
      judged: todo.length - missingProbe,
      resumed: rows.length - todo.length,
      votesAsked: state.votesAsked,
      missingProbe,
      ...counters,
    };
  },

  async finalize(ctx, batches) {
    const { db } = ctx.deps;
    // From the stored rows, so every decision counts once whichever attempt made it.
    const s = await judgementSummary(db, ctx.campaignId, ctx.iteration);
    const reliability = judgeReliability(await judgedCases(db, ctx.campaignId, ctx.iteration));
    // The batches' last attempts: what the comparisons of this run found, as a count to act on.
    const withoutEndOfTurn = batches.reduce((n, b) => n + (b.perplexityWithoutEndOfTurn ?? 0), 0);
    const computed = batches.reduce((n, b) => n + (b.perplexitiesComputed ?? 0), 0);
    const warning =
      withoutEndOfTurn > 0
        ? noEndOfTurnWarning({
            count: withoutEndOfTurn,
            of: computed,
            what: "perplexities compared for both-correct verdicts",
            field: endOfTurnField(ctx.config.stages, ctx.stage.name),
          })
        : undefined;
    if (warning) ctx.deps.log(`repair.labels: warning: ${ctx.campaignId} iteration ${ctx.iteration}: ${warning}`);
    return {
      ...(warning ? { warning, perplexityWithoutEndOfTurn: withoutEndOfTurn } : {}),
      committee: ctx.stage.committee,
      judged: s.judged,
      verdicts: s.verdicts,
      actions: s.actions,
      /** Mismatches no judge could read (longer than a judge model's context): left undecided, the label kept. */
      tooLongForJudges: s.tooLongForJudges,
      votes: s.votes,
      judgeCallsPerMismatch: s.judged === 0 ? null : s.votes / s.judged,
      judgeReliability: reliability,
    };
  },
};
