/**
 * Exact-duplicate removal: each batch stores its samples' exact keys (src/dedupe/exactKey.ts); the
 * finalize step keeps the first sample (by id) of each key in the iteration and marks the others
 * `duplicate`, so exports and later stages see each question-and-answer once.
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
    const duplicates = await markExactDuplicates(ctx.deps.db, ctx.campaignId, ctx.iteration);
    const keyed = batches.reduce((n, b) => n + (b.keyed ?? 0), 0);
    return { keyed, duplicates, kept: keyed - duplicates };
  },
};
