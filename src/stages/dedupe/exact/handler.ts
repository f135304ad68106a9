/**
 * Exact-duplicate removal: each batch stores its samples' exact keys (src/dedupe/exactKey.ts); the
 * finalize step keeps one sample of each key in the iteration (the first verified by id, else the
 * first pending) and marks the other pending or verified ones `duplicate`, so exports and later
 * stages see each question-and-answer once. Rejected samples keep their status (markExactDuplicates
 * in src/db/repos/samples.ts has the rule). Within the iteration only: a copy of an earlier
 * iteration's sample stays verified, and select.nextRound keeps it out of every pool
 * (earlier_pool_duplicate), keying samples as this stage does.
 */
import { markExactDuplicates, setExactKeys } from "../../../db/repos/samples.js";
import { exactDuplicateKey } from "../../../dedupe/exactKey.js";
import type { BatchResult, StageHandler } from "../../../framework/stage.js";
import type { StageConfigOf } from "../../specs.js";

type DedupeStage = StageConfigOf<"dedupe.exact">;

const PAGE = 1000;

export const dedupeExactHandler: StageHandler<DedupeStage, { keyed: number }> = {
  name: "dedupe.exact",

  // Planned by the framework: the selection in spec.ts, batches fixed at planning.
  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    let keyed = 0;
    for (let afterId: string | undefined; ;) {
      ctx.signal.throwIfAborted();
      const page = await ctx.batchSamples(batchIndex, { afterId, limit: PAGE });
      await setExactKeys(
        ctx.deps.db,
        page.map((s) => ({ id: s.id, exactKey: exactDuplicateKey(s) })),
      );
      keyed += page.length;
      progress.report({ keyed });
      if (page.length < PAGE) break;
      afterId = page[page.length - 1]?.id;
    }
    return { items: keyed, keyed };
  },

  async finalize(ctx, batches) {
    const { duplicates, kept, rejected } = await markExactDuplicates(ctx.deps.db, ctx.campaignId, ctx.iteration);
    const keyed = batches.reduce((n, b) => n + (b.keyed ?? 0), 0);
    // Counted over the iteration's keyed samples, not this run's batches: a rerun keys only the
    // samples not yet duplicate, and rejected samples are neither kept nor duplicates.
    return { keyed, duplicates, kept, rejected };
  },
};
