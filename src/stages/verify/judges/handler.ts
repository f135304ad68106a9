/**
 * verify.judges: the judge committee (LoopTool's second verification pass) over the iteration's
 * samples that passed verify.rules, single-turn and multi-turn alike (logic in
 * src/judging/sampleCheck.ts). Every vote is stored as soon as its sample's committee has answered,
 * so a batch retried after a crash asks only the votes still missing; each sample's `judges` verdict
 * and status are then written like verify.rules writes its own (INCORRECT by consensus rejects; no
 * consensus keeps or rejects as configured). A sample longer than a judge model's context (vLLM's 400
 * "maximum context length": a long dialogue's cut, wrapped in the judges' case) can never be judged:
 * it is settled like a committee without consensus, its reason saying why, and counted in the
 * summary (`tooLongForJudges`); it does not fail the batch, which no retry could then get past.
 */
import pLimit from "p-limit";
import type { StageConfigOf } from "../../specs.js";
import { insertSampleCheckVotes, iterationSampleCheckVotes, sampleCheckVotesOf } from "../../../db/repos/sampleChecks.js";
import { setVerdicts, type SampleRow } from "../../../db/repos/samples.js";
import { usageTotals } from "../../../db/repos/usage.js";
import type { SampleStatus, Verdict } from "../../../domain/types.js";
import { committeeRoles, committeeSize, judgeId, judgeReliability, tally, type Vote } from "../../../judging/committee.js";
import { checkSample, decideSample, JUDGES_VERIFIER, NoLabelError, type SampleCheckVerdict } from "../../../judging/sampleCheck.js";
import type { LlmClient } from "../../../llm/client.js";
import { isContextLengthError } from "../../../llm/errors.js";
import { resolveRole } from "../../../llm/roles.js";
import { verificationVerdicts } from "../../../metrics/toolloopMetrics.js";
import { allBatchSamples, StageInputError, type BatchResult, type StageHandler } from "../../../framework/stage.js";
import { checkCommitteeRoles } from "../../../judging/committeeRoles.js";
import { BatchAbort } from "../../../framework/batchAbort.js";

type JudgesStage = StageConfigOf<"verify.judges">;

export interface JudgesProgress {
  done: number;
  total: number;
  votesAsked: number;
}

export const verifyJudgesHandler: StageHandler<JudgesStage, JudgesProgress> = {
  name: "verify.judges",

  // Planned by the framework: the iteration's verified samples, their batches fixed at planning (spec.ts).
  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    checkCommitteeRoles(ctx);
    const { db } = ctx.deps;
    const { campaignId, iteration } = ctx;
    const { committee, noConsensus } = ctx.stage;
    const n = committeeSize(committee);
    const rows = await allBatchSamples(ctx, batchIndex);
    const stored = await sampleCheckVotesOf(
      db,
      campaignId,
      iteration,
      rows.map((r) => r.id),
    );
    const judges = new Set(committee.members.flatMap((m) => Array.from({ length: m.samples }, (_, s) => judgeId(m.role, s))));

    const clients = new Map<string, LlmClient>();
    const clientFor = (role: string): LlmClient => {
      let c = clients.get(role);
      if (!c) clients.set(role, (c = ctx.llm(role)));
      return c;
    };

    const state: JudgesProgress = { done: 0, total: rows.length, votesAsked: 0 };
    progress.report({ ...state });
    const updates: { id: string; status: SampleStatus; verdicts: Verdict[] }[] = [];
    const fresh: Verdict[] = [];
    const counters = { correct: 0, incorrect: 0, noConsensus: 0, resumedVotes: 0, tooLongForJudges: 0 };

    // The first failure (a judge endpoint down) stops every committee still asking; settled votes stay stored.
    const batch = new BatchAbort(ctx.signal);
    const judgeSample = async (sample: SampleRow): Promise<void> => {
      // Votes already stored (an earlier attempt) are not asked again.
      const before: Vote<SampleCheckVerdict>[] = (stored.get(sample.id) ?? [])
        .filter((v) => judges.has(v.judge))
        .map((v) => ({ judge: v.judge, model: v.model, verdict: v.verdict, analysis: v.analysis }));
      counters.resumedVotes += before.length;
      let check;
      try {
        check = await checkSample({ committee, clientFor, sample, before, signal: batch.signal });
      } catch (err) {
        if (!isContextLengthError(err)) throw err;
        // No judge can read it, now or on any retry: settled as a committee without consensus is, saying why.
        const verdict: Verdict = {
          verifier: JUDGES_VERIFIER,
          ok: noConsensus === "keep",
          reasons: [
            `not judged (${noConsensus === "keep" ? "kept" : "rejected"}, noConsensus ${noConsensus}): the sample does not fit the judge model's context: ${err.message.slice(0, 500)}`,
          ],
        };
        const verdicts = [...sample.verdicts.filter((v) => v.verifier !== JUDGES_VERIFIER), verdict];
        counters.tooLongForJudges++;
        fresh.push(verdict);
        updates.push({ id: sample.id, status: verdicts.every((v) => v.ok) ? "verified" : "rejected", verdicts });
        state.done++;
        progress.report({ ...state });
        return;
      }
      await insertSampleCheckVotes(
        db,
        check.fresh.map((v) => ({ campaignId, iteration, sampleId: sample.id, judge: v.judge, model: v.model, verdict: v.verdict, analysis: v.analysis })),
      );
      state.votesAsked += check.fresh.length;
      const d = decideSample({
        verdict: check.verdict,
        counts: check.counts,
        consensus: committee.consensus,
        committeeSize: n,
        noConsensus,
        otherVerdicts: sample.verdicts,
      });
      if (check.verdict === "CORRECT") counters.correct++;
      else if (check.verdict === "INCORRECT") counters.incorrect++;
      else counters.noConsensus++;
      fresh.push(d.verdict);
      updates.push({ id: sample.id, status: d.status, verdicts: [...sample.verdicts.filter((v) => v.verifier !== d.verdict.verifier), d.verdict] });
      state.done++;
      progress.report({ ...state });
    };

    const concurrency = Math.max(...committeeRoles(committee).map((role) => resolveRole(ctx.config, role).endpoint.maxConcurrency));
    const limit = pLimit(concurrency);
    await Promise.all(
      rows.map((sample) =>
        limit(async () => {
          if (batch.signal.aborted) return;
          try {
            await judgeSample(sample);
          } catch (err) {
            if (!batch.signal.aborted) batch.fail(err instanceof NoLabelError ? new StageInputError(err.message) : err);
          }
        }),
      ),
    );
    batch.close();
    for (let i = 0; i < updates.length; i += 500) await setVerdicts(db, updates.slice(i, i + 500));
    for (const v of fresh) verificationVerdicts.inc({ campaign: ctx.campaignId, verifier: v.verifier, verdict: v.ok ? "pass" : "fail" });
    const verified = updates.filter((u) => u.status === "verified").length;
    return {
      items: rows.length,
      verified,
      rejected: updates.length - verified,
      votesAsked: state.votesAsked,
      ...counters,
    };
  },

  async finalize(ctx, batches) {
    const { db } = ctx.deps;
    const { committee } = ctx.stage;
    // From the stored votes, so every vote counts once whichever attempt cast it.
    const bySample = await iterationSampleCheckVotes(db, ctx.campaignId, ctx.iteration);
    const verdicts = { CORRECT: 0, INCORRECT: 0, noConsensus: 0 };
    const cases: { votes: { judge: string; verdict: string | null }[]; verdict: string | null }[] = [];
    let votes = 0;
    let unreadable = 0;
    for (const list of bySample.values()) {
      const asVotes = list.map((v) => ({ judge: v.judge, model: "", verdict: v.verdict, analysis: "" }));
      const { verdict } = tally(asVotes, committee.consensus);
      if (verdict === null) verdicts.noConsensus++;
      else verdicts[verdict]++;
      votes += list.length;
      unreadable += list.filter((v) => v.verdict === null).length;
      cases.push({ votes: list, verdict });
    }
    const usage = await usageTotals(db, { campaignId: ctx.campaignId, iteration: ctx.iteration, stage: ctx.stage.name });
    const tokens: Record<string, { requests: number; promptTokens: number; completionTokens: number }> = {};
    for (const u of usage) {
      const t = (tokens[`${u.role}/${u.model}`] ??= { requests: 0, promptTokens: 0, completionTokens: 0 });
      t.requests += Number(u.requests);
      t.promptTokens += Number(u.promptTokens);
      t.completionTokens += Number(u.completionTokens);
    }
    return {
      committee,
      noConsensus: ctx.stage.noConsensus,
      judged: bySample.size,
      /** Samples no judge could read (longer than a judge model's context): settled by noConsensus, with no votes. */
      tooLongForJudges: batches.reduce((a, b) => a + (b.tooLongForJudges ?? 0), 0),
      verdicts,
      votes,
      unreadableVotes: unreadable,
      judgeAgreement: judgeReliability(cases),
      tokens,
    };
  },
};
