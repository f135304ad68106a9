/** Rule verification over an iteration's samples; each batch is a page of samples in id order. */
import type { StageConfigOf } from "../../specs.js";
import { setVerdicts } from "../../../db/repos/samples.js";
import type { SampleKind, SampleStatus, Verdict } from "../../../domain/types.js";
import { verifyRules } from "../../../verification/rules.js";
import { verificationVerdicts } from "../../../metrics/toolloopMetrics.js";
import { allBatchSamples, type BatchResult, type StageHandler } from "../../../framework/stage.js";

type VerifyStage = StageConfigOf<"verify.rules">;

export const verifyRulesHandler: StageHandler<VerifyStage, { verified: number }> = {
  name: "verify.rules",

  // Planned by the framework: the iteration's samples, their batches fixed at planning (spec.ts).
  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    const rows = await allBatchSamples(ctx, batchIndex);
    let verified = 0;
    let rejected = 0;
    const fresh: Verdict[] = [];
    const updates = rows.map((r) => {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error("cancelled");
      const verdict = verifyRules({ kind: r.kind as SampleKind, messages: r.messages, tools: r.tools });
      fresh.push(verdict);
      const verdicts: Verdict[] = [...r.verdicts.filter((v) => v.verifier !== verdict.verifier), verdict];
      const ok = verdicts.every((v) => v.ok);
      if (ok) verified++;
      else rejected++;
      const status: SampleStatus = ok ? "verified" : "rejected";
      return { id: r.id, status, verdicts };
    });
    for (let i = 0; i < updates.length; i += 500) {
      await setVerdicts(ctx.deps.db, updates.slice(i, i + 500));
      for (const v of fresh.slice(i, i + 500)) verificationVerdicts.inc({ campaign: ctx.campaignId, verifier: v.verifier, verdict: v.ok ? "pass" : "fail" });
      progress.report({ verified: Math.min(updates.length, i + 500) });
    }
    return { items: rows.length, verified, rejected };
  },
};
