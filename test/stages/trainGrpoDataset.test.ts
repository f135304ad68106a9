/**
 * train.grpo refuses, before it submits anything, a verl dataset that verl 0.9.1 stops on once loaded
 * (after the job's wait in the queue and its model load): fewer training rows than
 * grpo.trainBatchSize ("Train dataloader is empty!": verl drops the incomplete batch), no training
 * rows, or no validation rows. The message names the setting. Real database; nothing is run.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { recordTrainingDataset } from "../../src/db/repos/trainingDatasets.js";
import { StageInputError } from "../../src/framework/stage.js";
import { trainGrpoHandler } from "../../src/stages/train/grpo/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import type { VerlManifest } from "../../src/training/verl/dataset.js";
import { rawCampaign, stageContext } from "../helpers/selfEvolution.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

let res: StageResources;
before(async () => {
  res = await startStageResources("train-grpo-dataset", 6);
});
after(async () => res?.close());

async function prepareWith(counts: { train: number; val: number }, trainer: "verl" | "standin" = "verl") {
  const campaignId = `grpo-data-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const raw = rawCampaign({
    simUrl: res.sim.url,
    stages: [{ name: "train.grpo", trainer, baseModel: "Qwen/Qwen2.5-7B-Instruct", grpo: { trainBatchSize: 256, ppoMiniBatchSize: 64 } }],
  });
  const parsed = parseCampaignConfig({ ...raw, cluster: { rewardService: { url: "http://127.0.0.1:8900" } } });
  if (!parsed.ok) throw parsed.error;
  const ctx = stageContext<StageConfigOf<"train.grpo">>(res.db.db, res.workDir, campaignId, parsed.config, "train.grpo", 1);
  const entry = { name: "x", sha256: "0", bytes: 1 };
  const manifest = { counts: { ...counts, sft: 0 }, files: { train: entry, val: entry, sampleIds: entry } } as unknown as VerlManifest;
  await recordTrainingDataset(res.db.db, { campaignId, iteration: 1, dir: path.join(ctx.outputDir(), "verl"), manifest });
  return trainGrpoHandler.prepare(ctx, 1);
}

const refused = (what: RegExp) => (err: unknown) => {
  assert.ok(err instanceof StageInputError, String(err));
  assert.match(err.message, what);
  return true;
};

test("fewer training rows than grpo.trainBatchSize: refused naming it, before any job", async () => {
  await assert.rejects(
    prepareWith({ train: 120, val: 6 }),
    refused(/120 training row\(s\), fewer than grpo\.trainBatchSize \(256\).*Train dataloader is empty.*to 120 or less/),
  );
});

test("no training rows, or no validation rows: refused naming what to change", async () => {
  await assert.rejects(prepareWith({ train: 0, val: 0 }), refused(/has no training rows/));
  await assert.rejects(prepareWith({ train: 512, val: 0 }), refused(/no validation rows.*Validation dataloader is empty.*valFraction/));
});

test("a dataset verl can load is prepared; the stand-in trains a partial batch and is not refused", async () => {
  const { request } = await prepareWith({ train: 512, val: 20 });
  assert.ok(request.command.includes("data.train_batch_size=256"));
  await prepareWith({ train: 120, val: 6 }, "standin");
});
