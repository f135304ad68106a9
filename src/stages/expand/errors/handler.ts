/**
 * expand.errors: for each error seed of the iteration, `perSeed` new samples (src/expansion/
 * errorExpansion.ts), each in its own work slot `<campaign>/<iter>/expand.errors/<seedId>/<n>`, so a
 * retried batch generates only the slots still open. Each new sample is checked by the rules, then
 * for its seed's call shape (callShapeVerdict: the same tools as many times), and when both pass by
 * the judge committee's label check; it is stored verified or rejected with every
 * verdict (origin expanded, parent the seed). A model failure or a duplicate settles the slot as an
 * outcome row instead.
 *
 * A multi_turn error seed (a dialogue turn the policy got wrong) is not expanded: it is counted as
 * skipped with MULTI_TURN_SKIP_REASON. Expansion rewrites one user request and its answer, but a
 * dialogue turn's right answer depends on the whole history (earlier tool results, what the user
 * already gave), so a varied last user turn over the same history would teach answers the history
 * does not support; the seed itself still reaches the next round's pool as an error_seed.
 */
import pLimit from "p-limit";
import { expansionStatusCounts } from "../../../db/repos/expansions.js";
import { exactDuplicateKey } from "../../../dedupe/exactKey.js";
import { insertSamples, type NewSample, type SampleRow } from "../../../db/repos/samples.js";
import { insertSlotOutcomes, settledSlots, type SlotOutcomeRow } from "../../../db/repos/slotOutcomes.js";
import type { SampleKind, Verdict } from "../../../domain/types.js";
import { callShapeVerdict, drawVariation, expandErrorSeed, ExpansionSeedError } from "../../../expansion/errorExpansion.js";
import type { BatchResult, StageHandler } from "../../../framework/stage.js";
import { BatchAbort } from "../../../framework/batchAbort.js";
import { checkAnswerSchema, CHECK_RESPONSE_FORMAT, judgedAnswer, labelCheckMessages } from "../../../judging/protocol.js";
import { committeeRoles, committeeSize, convene, tally } from "../../../judging/committee.js";
import { COMMITTEE_VERIFIER } from "../../../judging/committeeConfig.js";
import { storedSimulated } from "../../../provenance/provenance.js";
import { isItemFailure } from "../../../llm/errors.js";
import { resolveRole } from "../../../llm/roles.js";
import { judgeVotesCounted } from "../../../metrics/toolloopMetrics.js";
import { labelOf, promptOf } from "../../../matching/labelAgreement.js";
import { sampleId } from "../../../util/ids.js";
import { verifyRules } from "../../../verification/rules.js";
import type { StageConfigOf } from "../../specs.js";

type ExpandStage = StageConfigOf<"expand.errors">;

export interface ExpansionProgress {
  seeds: number;
  /**
   * Seeds of the batch done (every slot of theirs settled, or skipped as multi-turn): the stage's
   * items are its planned seeds, so this is what status views count.
   */
  done: number;
  /** Slots of the batch (perSeed per expanded seed) settled so far (this attempt and earlier ones). */
  settled: number;
  total: number;
}

export const expansionSlotKey = (campaignId: string, iteration: number, seedId: string, n: number) => `${campaignId}/${iteration}/expand.errors/${seedId}/${n}`;

export const MULTI_TURN_SKIP_REASON =
  "multi_turn error seeds are not expanded: a dialogue turn's answer depends on its whole history, which a varied request would not match";
const PAGE = 200;
const KINDS: readonly SampleKind[] = ["standard", "parallel", "irrelevance"];

export const expandErrorsHandler: StageHandler<ExpandStage, ExpansionProgress> = {
  name: "expand.errors",

  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    const { db } = ctx.deps;
    const { stage, campaignId, iteration, config } = ctx;
    const seeds: SampleRow[] = [];
    for (let afterId: string | undefined; ;) {
      const page = await ctx.batchSamples(batchIndex, { afterId, limit: PAGE });
      seeds.push(...page);
      if (page.length < PAGE) break;
      afterId = page[page.length - 1]?.id;
    }
    const skippedMultiTurnSeeds = seeds.filter((s) => s.kind === "multi_turn").length;
    if (skippedMultiTurnSeeds > 0) ctx.deps.log(`expand.errors: batch ${batchIndex}: ${skippedMultiTurnSeeds} seeds skipped; ${MULTI_TURN_SKIP_REASON}`);
    const slots = seeds
      .filter((seed) => seed.kind !== "multi_turn")
      .flatMap((seed) => Array.from({ length: stage.perSeed }, (_, n) => ({ seed, n, key: expansionSlotKey(campaignId, iteration, seed.id, n) })));
    const keys = slots.map((s) => s.key);
    const before = await settledSlots(db, keys);
    // Slots still open per seed: a seed is done when its last one settles.
    const open = new Map<string, number>();
    for (const s of slots) if (!before.has(s.key)) open.set(s.seed.id, (open.get(s.seed.id) ?? 0) + 1);
    const state: ExpansionProgress = { seeds: seeds.length, done: seeds.length - open.size, settled: before.size, total: slots.length };
    progress.report({ ...state });
    const settleSlot = (seedId: string) => {
      state.settled++;
      const left = (open.get(seedId) ?? 1) - 1;
      if (left > 0) open.set(seedId, left);
      else if (open.delete(seedId)) state.done++;
      progress.report({ ...state });
    };

    const generator = ctx.llm("generator");
    const limit = pLimit(resolveRole(config, "generator").endpoint.maxConcurrency);
    const judgeVotes = committeeSize(stage.committee);
    // The first fatal error stops the generator and judge requests in flight and the slots still
    // waiting: a failed batch's other slots would otherwise go on beside the retried attempt.
    const batch = new BatchAbort(ctx.signal);
    const signal = batch.signal;
    const settleOpenSlot = async ({ seed, n, key }: (typeof slots)[number]) => {
      const outcome = (detail: string): SlotOutcomeRow => ({
        slotKey: key,
        campaignId,
        iteration,
        stage: stage.name,
        slot: n,
        outcome: "failed",
        detail: detail.slice(0, 2000),
      });
      const variation = drawVariation({ seed: config.seed, iteration, seedSampleId: seed.id, index: n, ...stage.variation });
      const kind = (KINDS as readonly string[]).includes(seed.kind) ? (seed.kind as SampleKind) : "standard";
      let expanded;
      try {
        expanded = await expandErrorSeed({
          seed: { id: seed.id, kind, messages: seed.messages, tools: seed.tools },
          variation,
          generator,
          signal,
        });
      } catch (err) {
        // The model could not produce a usable request or answer, or the seed cannot be read: record it and move on.
        if (isItemFailure(err) || err instanceof ExpansionSeedError) {
          await insertSlotOutcomes(db, [outcome((err as Error).message)]);
          settleSlot(seed.id);
          return;
        }
        throw err;
      }
      // A restatement of the seed teaches nothing the seed does not (the seed itself goes to the next round).
      if (exactDuplicateKey(expanded) === exactDuplicateKey(seed)) {
        await insertSlotOutcomes(db, [{ ...outcome(`the same question and answer as its seed ${seed.id}`), outcome: "duplicate" }]);
        settleSlot(seed.id);
        return;
      }
      const rules = verifyRules({ kind: expanded.kind, messages: expanded.messages, tools: expanded.tools });
      const verdicts: Verdict[] = [rules];
      // Around the error or not at all: a sample needing other calls than its seed is rejected before any judge is asked.
      if (rules.ok) verdicts.push(callShapeVerdict(seed.messages, expanded.messages));
      let committee: Record<string, unknown> | undefined;
      let votesCast: { verdict: string | null }[] = [];
      if (verdicts.every((v) => v.ok)) {
        const label = labelOf(expanded.messages);
        const votes = await convene(
          stage.committee,
          (role) => ctx.llm(role),
          {
            messages: labelCheckMessages({ prompt: promptOf(expanded.messages), tools: expanded.tools, label: judgedAnswer(label ?? { content: null }) }),
            responseFormat: CHECK_RESPONSE_FORMAT,
            schema: checkAnswerSchema,
          },
          signal,
        );
        votesCast = votes;
        const t = tally(votes, stage.committee.consensus);
        committee = {
          verdict: t.verdict,
          counts: t.counts,
          votes: votes.map((v) => ({ judge: v.judge, model: v.model, verdict: v.verdict, analysis: v.analysis })),
        };
        verdicts.push({
          verifier: COMMITTEE_VERIFIER,
          ok: t.verdict === "CORRECT",
          reasons:
            t.verdict === "CORRECT"
              ? []
              : t.verdict === "INCORRECT"
                ? votes.filter((v) => v.verdict === "INCORRECT").map((v) => `${v.judge}: ${v.analysis}`)
                : [`no consensus: ${JSON.stringify(t.counts)} of ${judgeVotes} votes, ${stage.committee.consensus} needed`],
        });
      }
      const judgeRoles = committee ? committeeRoles(stage.committee) : [];
      const provenance = await ctx.sampleProvenance(["generator", ...judgeRoles], { alsoSimulated: storedSimulated(seed.metadata) });
      const row: NewSample = {
        id: sampleId(campaignId, { messages: expanded.messages, tools: expanded.tools }),
        campaignId,
        iteration,
        kind: expanded.kind,
        origin: "expanded",
        parentId: seed.id,
        stage: stage.name,
        slotKey: key,
        messages: expanded.messages,
        tools: expanded.tools,
        status: verdicts.every((v) => v.ok) ? "verified" : "rejected",
        verdicts,
        metadata: { ...expanded.metadata, slot: n, ...(committee ? { committee } : {}), provenance },
      };
      const written = await insertSamples(db, [row]);
      if (written.has(row.id as string)) {
        // The committee's votes count once, with the sample that stores them (in its metadata).
        for (const v of votesCast) judgeVotesCounted.inc({ campaign: campaignId, verdict: v.verdict ?? "unreadable" });
      } else {
        // Not written: the same content is already stored, or another attempt settled this slot meanwhile.
        const now = await settledSlots(db, [key]);
        if (!now.has(key))
          await insertSlotOutcomes(db, [{ slotKey: key, campaignId, iteration, stage: stage.name, slot: n, outcome: "duplicate", detail: row.id as string }]);
      }
      settleSlot(seed.id);
    };
    await Promise.all(
      slots
        .filter((s) => !before.has(s.key))
        .map((slot) =>
          limit(async () => {
            if (signal.aborted) return;
            try {
              await settleOpenSlot(slot);
            } catch (err) {
              if (!signal.aborted) batch.fail(err);
            }
          }),
        ),
    );
    batch.close();
    // Counters from the database: each slot once, whichever attempt settled it.
    const after = await settledSlots(db, keys);
    if (after.size !== keys.length) throw new Error(`batch ${batchIndex}: ${keys.length - after.size} slots left unsettled after all work finished`);
    const counts = { written: 0, failed: 0, duplicates: 0 };
    for (const o of after.values()) {
      if (o === "written") counts.written++;
      else if (o === "failed") counts.failed++;
      else counts.duplicates++;
    }
    // Items are the planned seeds (what the plan's total counts), the samples made are its slots.
    return { items: seeds.length, slots: keys.length, seeds: seeds.length, skippedMultiTurnSeeds, ...counts };
  },

  async finalize(ctx, batches) {
    const sum: Record<string, number> = {};
    for (const b of batches) for (const [k, v] of Object.entries(b)) sum[k] = (sum[k] ?? 0) + v;
    return {
      ...sum,
      ...((sum.skippedMultiTurnSeeds ?? 0) > 0 ? { skippedReason: MULTI_TURN_SKIP_REASON } : {}),
      byStatus: await expansionStatusCounts(ctx.deps.db, ctx.campaignId, ctx.iteration),
    };
  },
};
