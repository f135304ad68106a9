/**
 * Dataset export: verified samples of the iteration as OpenAI chat JSONL plus a manifest; with
 * `wholeTrajectories`, a sample's stored trajectory (tool results, final answer) is appended to its row.
 * BFCL test items are left out (`decontaminate`, as export.verl), counted in the manifest.
 */
import path from "node:path";
import type { StageConfigOf } from "../../specs.js";
import { datasetExports } from "../../../db/schema.js";
import { exportDataset, type ExportRow } from "../../../export/dataset.js";
import { contaminationLogLine, excludedCount, loadDecontamination } from "../../../export/decontamination.js";
import type { StageHandler } from "../../../framework/stage.js";
import { storedTrajectory, wholeTrajectory } from "../../../synthesis/trajectory.js";

type ExportStage = StageConfigOf<"export.dataset">;

export const exportDatasetHandler: StageHandler<ExportStage, { rows: number }> = {
  name: "export.dataset",

  // Planned by the framework: one batch holding the selected samples (spec.ts).
  async runBatch(ctx, _batchIndex, progress) {
    const { db } = ctx.deps;
    const dir = ctx.outputDir();
    let appended = 0;
    // The trajectory's messages move into the row; its metadata keeps how it was made.
    const withTrajectory = (r: Pick<ExportRow, "id" | "kind" | "status" | "messages" | "tools"> & { metadata: Record<string, unknown> }): ExportRow => {
      const t = storedTrajectory(r.metadata);
      const whole = wholeTrajectory(r.messages, t);
      if (!whole || !t) return { id: r.id, kind: r.kind, status: r.status, messages: r.messages, tools: r.tools, metadata: r.metadata };
      appended++;
      const { messages: _moved, ...how } = t;
      return {
        id: r.id,
        kind: r.kind,
        status: r.status,
        messages: whole,
        tools: r.tools,
        metadata: { ...r.metadata, trajectory: { ...how, appended: true } },
        // The sample's own label; the trajectory after it is trained too.
        labelIndex: r.messages.length - 1,
      };
    };
    async function* rows(): AsyncIterable<ExportRow> {
      let afterId: string | undefined;
      for (;;) {
        if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error("cancelled");
        const page = await ctx.batchSamples(0, { afterId, limit: ctx.stage.batchSize });
        if (page.length === 0) return;
        for (const r of page)
          yield ctx.stage.wholeTrajectories
            ? withTrajectory(r)
            : { id: r.id, kind: r.kind, status: r.status, messages: r.messages, tools: r.tools, metadata: r.metadata };
        afterId = page[page.length - 1]?.id;
      }
    }
    // Frozen configs from before `decontaminate` existed have none: they export as they did.
    const decontaminate = ctx.stage.decontaminate as ExportStage["decontaminate"] | undefined;
    const decontamination = await loadDecontamination(decontaminate);
    const manifest = await exportDataset({
      rows: rows(),
      dir,
      baseName: "dataset",
      format: ctx.stage.format,
      ...(decontamination ? { decontamination } : {}),
      meta: {
        campaignId: ctx.campaignId,
        iteration: ctx.iteration,
        include: ctx.stage.include,
        from: ctx.stage.from,
        ...(ctx.stage.wholeTrajectories ? { wholeTrajectories: true } : {}),
        provenance: await ctx.exportProvenance(),
      },
      onProgress: (n) => progress.report({ rows: n }),
    });
    await db
      .insert(datasetExports)
      .values({ campaignId: ctx.campaignId, iteration: ctx.iteration, path: path.join(dir, manifest.file), manifest })
      .onConflictDoUpdate({ target: [datasetExports.campaignId, datasetExports.iteration], set: { path: path.join(dir, manifest.file), manifest } });
    const contaminatedLine = contaminationLogLine("export.dataset", ctx.campaignId, ctx.iteration, manifest.decontamination);
    if (contaminatedLine) ctx.deps.log(contaminatedLine);
    // Items are the samples read: those written and those left out.
    const contaminated = excludedCount(manifest.decontamination);
    return {
      items: manifest.rows + contaminated,
      rows: manifest.rows,
      ...(ctx.stage.wholeTrajectories ? { trajectoriesAppended: appended } : {}),
      ...(decontaminate ? { contaminated } : {}),
    };
  },

  async finalize(_ctx, batches) {
    const b = batches[0];
    const appended = b?.trajectoriesAppended;
    return {
      rows: b?.rows ?? 0,
      ...(appended !== undefined ? { trajectoriesAppended: appended } : {}),
      ...(b?.contaminated !== undefined ? { contaminated: b.contaminated } : {}),
    };
  },
};
