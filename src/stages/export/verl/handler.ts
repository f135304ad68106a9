/** verl dataset export: the iteration's samples as verl parquet (train/val), an optional SFT set and a manifest. */
import path from "node:path";
import { listPoolMembers } from "../../../db/repos/pools.js";
import { configForIteration } from "../../../db/repos/campaignConfigs.js";
import { recordTrainingDataset } from "../../../db/repos/trainingDatasets.js";
import type { StageHandler } from "../../../framework/stage.js";
import { contaminationLogLine, excludedCount, loadDecontamination } from "../../../export/decontamination.js";
import { poolWeightRepeats } from "../../../selection/poolWeight.js";
import { writeVerlDataset } from "../../../training/verl/dataset.js";
import type { VerlSourceSample } from "../../../training/verl/rows.js";
import type { StageConfigOf } from "../../specs.js";
import { batchShortfallWarning, type TrainStageLike } from "./batchFit.js";

type ExportVerlStage = StageConfigOf<"export.verl">;

export const exportVerlHandler: StageHandler<ExportVerlStage, { samples: number }> = {
  name: "export.verl",

  // Planned by the framework: one batch holding the selected samples (spec.ts).
  async runBatch(ctx, _batchIndex, progress) {
    const { db } = ctx.deps;
    const dir = path.join(ctx.outputDir(), "verl");
    // A pool's weights (hard items count more) become repeated train rows.
    const weights =
      ctx.stage.from === "pool" ? new Map((await listPoolMembers(db, ctx.campaignId, ctx.iteration)).map((m) => [m.sampleId, m.weight])) : undefined;
    // The samples read (the planned items); the rows written count a hard item's repeats too.
    let read = 0;
    async function* samples(): AsyncIterable<VerlSourceSample> {
      let afterId: string | undefined;
      for (;;) {
        if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error("cancelled");
        const page = await ctx.batchSamples(0, { afterId, limit: ctx.stage.batchSize });
        if (page.length === 0) return;
        for (const r of page) {
          const group = dialogueOf(r.metadata);
          read++;
          yield { id: r.id, messages: r.messages, tools: r.tools, repeats: poolWeightRepeats(weights?.get(r.id) ?? 1), ...(group ? { group } : {}) };
        }
        afterId = page[page.length - 1]?.id;
      }
    }
    // Frozen configs from before `decontaminate` existed have none: they export as they did.
    const decontamination = await loadDecontamination(ctx.stage.decontaminate as ExportVerlStage["decontaminate"] | undefined);
    const config = await configForIteration(db, ctx.campaignId, ctx.iteration);
    const prov = await ctx.exportProvenance();
    const models = Object.fromEntries(Object.entries(ctx.config.roles).map(([role, r]) => [role, r.model]));
    const manifest = await writeVerlDataset({
      samples: samples(),
      dir,
      valFraction: ctx.stage.valFraction,
      seed: ctx.stage.seed ?? ctx.config.seed,
      sft: ctx.stage.sft,
      toolsInPrompt: ctx.stage.toolsInPrompt,
      ...(decontamination ? { decontamination } : {}),
      provenance: {
        campaignId: ctx.campaignId,
        iteration: ctx.iteration,
        ...(config ? { configHash: config.sha256, configVersion: config.version } : {}),
        models,
        simulated: prov.simulated,
        campaignSeed: prov.seed,
        code: prov.code,
        roles: prov.roles,
        simulatedRoles: prov.simulatedRoles,
      },
      signal: ctx.signal,
      onProgress: (n) => progress.report({ samples: n }),
    });
    await recordTrainingDataset(db, { campaignId: ctx.campaignId, iteration: ctx.iteration, dir, manifest });
    if (manifest.skipped.count > 0) {
      const first = manifest.skipped.examples[0];
      ctx.deps.log(
        `[export.verl] ${ctx.campaignId} iteration ${ctx.iteration}: skipped ${manifest.skipped.count} sample(s) that cannot be verl rows (first: ${first?.sampleId}: ${first?.reason})`,
      );
    }
    const contaminated = contaminationLogLine("export.verl", ctx.campaignId, ctx.iteration, manifest.decontamination);
    if (contaminated) ctx.deps.log(contaminated);
    return {
      items: read,
      train: manifest.counts.train,
      val: manifest.counts.val,
      sft: manifest.counts.sft,
      skipped: manifest.skipped.count,
      contaminated: excludedCount(manifest.decontamination),
    };
  },

  async finalize(ctx, batches) {
    const b = batches[0];
    const counts = { train: b?.train ?? 0, val: b?.val ?? 0, sft: b?.sft ?? 0, skipped: b?.skipped ?? 0, contaminated: b?.contaminated ?? 0 };
    // A set smaller than one training batch: verl would have no batch at all (a pool that shrank over a long loop).
    const stages = ctx.config.stages as readonly TrainStageLike[];
    const warning = batchShortfallWarning(ctx.stage.sft ? stages : stages.filter((s) => s.name !== "train.sft"), ctx.iteration, counts);
    return { ...counts, ...(warning ? { warning } : {}) };
  },
};

/** The dialogue a multi-turn sample was cut from (metadata.dialogue.id): its cuts share one side of the split. */
function dialogueOf(metadata: Record<string, unknown> | null | undefined): string | undefined {
  const d = metadata?.dialogue;
  const id = typeof d === "object" && d !== null ? (d as { id?: unknown }).id : undefined;
  return typeof id === "string" && id !== "" ? `dialogue:${id}` : undefined;
}
