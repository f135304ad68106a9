/**
 * A scheduled run's training continues its predecessor's policy only when that policy descends from
 * the base model its training stage names. A schedule whose config moved to a new base model (say a
 * newer model family) kept training every run from the old lineage's checkpoint: the new baseModel was
 * in the config and never used. And the parent a job's version names is the model the job was
 * submitted with, recorded then, not looked up again when it ends. The handlers run on a real
 * database; the jobs are only prepared (and collected over a saved step).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { insertCampaign, upsertIteration } from "../../src/db/repos/campaigns.js";
import { getModelVersion, upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import { recordTrainingDataset } from "../../src/db/repos/trainingDatasets.js";
import type { StageJob } from "../../src/framework/clusterJob.js";
import { trainGrpoHandler } from "../../src/stages/train/grpo/handler.js";
import { trainSftHandler } from "../../src/stages/train/sft/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import type { JobRequest } from "../../src/training/launchers/launcher.js";
import { trainingPaths } from "../../src/training/paths.js";
import { recordedStartModel, START_MODEL_ENV, startModelEnv } from "../../src/training/startModel.js";
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

/** verl's layout of one saved step under `root`. */
function saveStep(root: string, step: number): void {
  fs.mkdirSync(path.join(root, `global_step_${step}`, "actor"), { recursive: true });
  fs.writeFileSync(path.join(root, "latest_checkpointed_iteration.txt"), String(step));
}

test("the parent registered when a training job ends is the model it was submitted with, though the predecessor merged another iteration meanwhile", async () => {
  const db = res.db.db;
  // Ids of their own: a database kept between runs (DATABASE_URL) still holds an earlier run's versions.
  const tag = `lineage-${Date.now().toString(36)}`;
  const { run, predecessorPath } = await continuing(tag, "new-base");
  const predecessor = `wk-${tag}-a`;
  const cfg = config();
  const grpo = stageContext<StageConfigOf<"train.grpo">>(db, res.workDir, run, cfg, "train.grpo", 1);
  const sft = stageContext<StageConfigOf<"train.sft">>(db, res.workDir, run, cfg, "train.sft", 1);
  const jobOf = (name: string, request: Omit<JobRequest, "name">): StageJob => ({
    name,
    attempt: 1,
    ref: { launcher: "local", name, externalId: "1" },
    request: { ...request, name },
  });
  const grpoJob = jobOf(`${tag}-grpo`, (await trainGrpoHandler.prepare(grpo, 1)).request);
  const sftJob = jobOf(`${tag}-sft`, (await trainSftHandler.prepare(sft, 1)).request);

  // While the jobs run, the predecessor is run again by hand and completes a second iteration with a new policy.
  const laterPath = path.join(res.workDir, predecessor, "iter-2", "train", "merged");
  await upsertModelVersion(db, { campaignId: predecessor, iteration: 2, kind: "merged", path: laterPath, baseModel: "new-base", parentId: null });
  await upsertIteration(db, { campaignId: predecessor, iteration: 2, status: "completed" });

  saveStep(trainingPaths(grpo.outputDir()).grpo.checkpoints, 4);
  saveStep(trainingPaths(sft.outputDir()).sft.checkpoints, 2);
  await trainGrpoHandler.collect(grpo, grpoJob);
  await trainSftHandler.collect(sft, sftJob);
  for (const kind of ["checkpoint", "sft"] as const) {
    const v = await getModelVersion(db, run, 1, kind);
    assert.equal(v?.parentId, `${predecessor}:1:merged`, `${kind}: the job trained from iteration 1's policy, not ${laterPath}`);
    assert.equal((v?.details as { startedFrom?: string }).startedFrom, predecessorPath);
  }

  // A job prepared by an older build recorded nothing: its start model is looked up at its end, as before.
  const { [START_MODEL_ENV]: recorded, ...olderEnv } = sftJob.request.env;
  assert.ok(recorded, "the request records the start model");
  await trainSftHandler.collect(sft, { ...sftJob, request: { ...sftJob.request, env: olderEnv } });
  assert.equal((await getModelVersion(db, run, 1, "sft"))?.parentId, `${predecessor}:2:merged`);
});

test("a start-model record that cannot be read is an error naming the job and the field", () => {
  const request = (value: string) => ({ name: "j1", env: { [START_MODEL_ENV]: value } });
  assert.throws(() => recordedStartModel(request("{")), /job j1: env TOOLLOOP_START_MODEL is not JSON/);
  assert.throws(() => recordedStartModel(request('{"path":"m","simulated":false}')), /job j1: env TOOLLOOP_START_MODEL has no baseModel/);
  assert.equal(recordedStartModel({ name: "j1", env: {} }), undefined);
  const start = { path: "/ckpt", versionId: "c:1:merged", baseModel: "b", simulated: true };
  assert.deepEqual(recordedStartModel({ name: "j1", env: startModelEnv(start) }), start);
});
