/**
 * A scheduled run's training continues its predecessor's policy only when that policy descends from
 * the base model its training stage names. A schedule whose config moved to a new base model (say a
 * newer model family) kept training every run from the old lineage's checkpoint: the new baseModel was
 * in the config and never used. The handlers run on a real database; the jobs are only prepared.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { insertCampaign, upsertIteration } from "../../src/db/repos/campaigns.js";
import { upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import { recordTrainingDataset } from "../../src/db/repos/trainingDatasets.js";
import { trainGrpoHandler } from "../../src/stages/train/grpo/handler.js";
import { trainSftHandler } from "../../src/stages/train/sft/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { verlDatasetPaths, type VerlManifest } from "../../src/training/verl/dataset.js";
import { rawCampaign, stageContext } from "../helpers/selfEvolution.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { trainVenvPython } from "../helpers/trainVenv.js";

let res: StageResources;
before(async () => {
  res = await startStageResources("train-continuation", 5);
});
after(async () => {
  await res?.close();
});

function config() {
  const raw = rawCampaign({
    simUrl: res.sim.url,
    stages: [
      { name: "export.verl", sft: true },
      { name: "train.sft", trainer: "standin", baseModel: "new-base" },
      { name: "train.grpo", trainer: "standin", baseModel: "new-base", grpo: { trainBatchSize: 4, ppoMiniBatchSize: 4, rolloutN: 2, saveFreq: 2 } },
    ],
  });
  const parsed = parseCampaignConfig({ ...raw, cluster: { python: trainVenvPython(), rewardService: { url: "http://127.0.0.1:9/" } } });
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

/** A predecessor that completed iteration 1 with a merged policy trained from `baseModel`, and a run continuing it with a dataset of its own. */
async function continuing(tag: string, baseModel: string): Promise<{ run: string; predecessorPath: string }> {
  const db = res.db.db;
  const predecessor = `wk-${tag}-a`;
  const run = `wk-${tag}-b`;
  const predecessorPath = path.join(res.workDir, predecessor, "iter-1", "train", "merged");
  await insertCampaign(db, { id: predecessor, name: "wk", config: {}, scheduleId: `wk-${tag}`, scheduledAt: new Date("2026-11-30T06:00:00Z") });
  await upsertModelVersion(db, { campaignId: predecessor, iteration: 1, kind: "merged", path: predecessorPath, baseModel, parentId: null });
  await upsertIteration(db, { campaignId: predecessor, iteration: 1, status: "completed" });
  await insertCampaign(db, {
    id: run,
    name: "wk",
    config: {},
    scheduleId: `wk-${tag}`,
    scheduledAt: new Date("2026-12-07T06:00:00Z"),
    continuesFrom: predecessor,
  });
  const dir = path.join(res.workDir, run, "iter-1", "verl");
  const paths = verlDatasetPaths(dir);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of [paths.train, paths.val, paths.sftParquet]) fs.writeFileSync(f, "");
  const entry = { path: "x", sha256: "0", bytes: 1 };
  const manifest = {
    counts: { train: 16, val: 4, sft: 16 },
    files: { train: entry, val: entry, sftParquet: entry, sampleIds: entry },
  } as unknown as VerlManifest;
  await recordTrainingDataset(db, { campaignId: run, iteration: 1, dir, manifest });
  return { run, predecessorPath };
}

async function modelPaths(run: string): Promise<{ grpo: string; sft: string }> {
  const cfg = config();
  const grpo = stageContext<StageConfigOf<"train.grpo">>(res.db.db, res.workDir, run, cfg, "train.grpo", 1);
  const sft = stageContext<StageConfigOf<"train.sft">>(res.db.db, res.workDir, run, cfg, "train.sft", 1);
  const pathIn = (command: string[]) => /model\.path=(\S+)/.exec(command.join(" "))?.[1] ?? "";
  return { grpo: pathIn((await trainGrpoHandler.prepare(grpo, 1)).request.command), sft: pathIn((await trainSftHandler.prepare(sft, 1)).request.command) };
}

test("a run continues its predecessor's policy when that was trained from the configured base model", async () => {
  const { run, predecessorPath } = await continuing("same", "new-base");
  assert.deepEqual(await modelPaths(run), { grpo: predecessorPath, sft: predecessorPath });
});

test("a run whose config names another base model than its predecessor's policy trains from that base model", async () => {
  const { run, predecessorPath } = await continuing("moved", "old-base");
  const paths = await modelPaths(run);
  assert.deepEqual(paths, { grpo: "new-base", sft: "new-base" }, `not ${predecessorPath}`);
});
