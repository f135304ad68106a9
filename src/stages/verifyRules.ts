/** Rule verification over an iteration's samples; each batch is a page of samples in id order. */
import type { StageConfig } from "../config/campaignConfig.js";
import { countIterationSamples, samplesByOffset, setVerdicts } from "../db/repos/samples.js";
import type { SampleKind, SampleStatus, Verdict } from "../domain/types.js";
import { verifyRules } from "../verification/rules.js";
import type { BatchResult, StageHandler } from "./types.js";

type VerifyStage = Extract<StageConfig, { name: "verify.rules" }>;

export const verifyRulesStage: StageHandler<VerifyStage, { verified: number }> = {
  name: "verify.rules",

  async plan(ctx) {
    const items = await countIterationSamples(ctx.deps.db, ctx.campaignId, ctx.iteration);
    return { batches: Math.max(1, Math.ceil(items / ctx.stage.batchSize)), items };
  },

  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    const rows = await samplesByOffset(ctx.deps.db, {
      campaignId: ctx.campaignId,
      iteration: ctx.iteration,
      offset: batchIndex * ctx.stage.batchSize,
      limit: ctx.stage.batchSize,
    });
    let verified = 0;
    let rejected = 0;
    const updates = rows.map((r) => {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error("cancelled");
      const verdict = verifyRules({ kind: r.kind as SampleKind, messages: r.messages, tools: r.tools });
      const verdicts: Verdict[] = [...r.verdicts.filter((v) => v.verifier !== verdict.verifier), verdict];
      const ok = verdicts.every((v) => v.ok);
      if (ok) verified++;
      else rejected++;
      const status: SampleStatus = ok ? "verified" : "rejected";
      return { id: r.id, status, verdicts };
    });
    for (let i = 0; i < updates.length; i += 500) {
      await setVerdicts(ctx.deps.db, updates.slice(i, i + 500));
      progress.report({ verified: Math.min(updates.length, i + 500) });
    }
    return { items: rows.length, verified, rejected };
  },
};
