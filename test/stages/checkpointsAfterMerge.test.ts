/**
 * deleteCheckpointsAfterMerge on train.merge and train.sft, run through the handlers on a real
 * database: the steps go only once the merged model is complete, the deletion is recorded on the
 * version they were saved for, a re-run of collect reports the same, and a merge asked for again
 * afterwards says where the checkpoint went and how to get one back.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { checkpointsDeletedOf, getModelVersion, upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import type { StageJob } from "../../src/framework/clusterJob.js";
import { StageInputError } from "../../src/framework/stage.js";
import { trainMergeHandler } from "../../src/stages/train/merge/handler.js";
import { trainSftHandler } from "../../src/stages/train/sft/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { trainingPaths } from "../../src/training/paths.js";
import { campaignConfig, stageContext } from "../helpers/selfEvolution.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

let res: StageResources;
before(async () => {
  res = await startStageResources("ckpt-after-merge", 3);
});
after(async () => res?.close());

function config(deleteCheckpointsAfterMerge: boolean) {
  return campaignConfig({
    simUrl: res.sim.url,
    stages: [
      { name: "train.sft", trainer: "standin", baseModel: "base-model", deleteCheckpointsAfterMerge },
      { name: "train.grpo", trainer: "standin", baseModel: "base-model" },
      { name: "train.merge", trainer: "standin", deleteCheckpointsAfterMerge },
    ],
  });
}

/** verl's layout with `bytes` of shards per step and the latest-step file. */
function saveSteps(root: string, steps: number[], bytes: number): void {
  for (const step of steps) {
    const actor = path.join(root, `global_step_${step}`, "actor");
    fs.mkdirSync(actor, { recursive: true });
    fs.writeFileSync(path.join(actor, "model_world_size_1_rank_0.pt"), Buffer.alloc(bytes));
  }
  fs.writeFileSync(path.join(root, "latest_checkpointed_iteration.txt"), String(steps.at(-1)));
}

const job = (name: string): StageJob => ({
  name,
  attempt: 1,
  ref: { launcher: "local", id: name } as never,
  request: { command: ["true"], env: {}, workDir: "/" } as never,
});

test("train.merge: the GRPO steps are deleted once the merged model is complete, recorded, and a later merge says where they went", async () => {
  const campaignId = `merge-del-${Date.now().toString(36)}`;
  const ctx = stageContext<StageConfigOf<"train.merge">>(res.db.db, res.workDir, campaignId, config(true), "train.merge", 2);
  const paths = trainingPaths(ctx.outputDir());
  saveSteps(paths.grpo.checkpoints, [8, 12], 4096);
  await upsertModelVersion(res.db.db, {
    campaignId,
    iteration: 2,
    kind: "checkpoint",
    baseModel: "base-model",
    path: path.join(paths.grpo.checkpoints, "global_step_12", "actor"),
    jobName: "grpo-job",
    simulated: true,
    details: { step: 12, trainer: "standin" },
  });

  // The merge job "succeeded" but left no config.json: nothing is deleted.
  fs.mkdirSync(paths.merge.target, { recursive: true });
  await assert.rejects(trainMergeHandler.collect(ctx, job("merge-job")), (err: Error) => {
    assert.ok(err instanceof StageInputError);
    assert.match(err.message, /the checkpoints under .*grpo[/\\]checkpoints were kept: the merged model .*merged has no config\.json/);
    return true;
  });
  assert.ok(fs.existsSync(path.join(paths.grpo.checkpoints, "global_step_12", "actor")));

  fs.writeFileSync(path.join(paths.merge.target, "config.json"), "{}");
  const result = await trainMergeHandler.collect(ctx, job("merge-job"));
  assert.deepEqual(result, { modelVersion: `${campaignId}:2:merged`, checkpointsDeleted: { steps: [8, 12], bytes: 8192 } });
  assert.deepEqual(fs.readdirSync(paths.grpo.checkpoints), ["CHECKPOINTS_DELETED.txt"]);
  const checkpoint = await getModelVersion(res.db.db, campaignId, 2, "checkpoint");
  assert.equal((checkpoint?.details as { step: number }).step, 12, "the version's other details are kept");
  const recorded = checkpointsDeletedOf(checkpoint!);
  assert.deepEqual(
    { ...recorded, at: undefined },
    { dir: paths.grpo.checkpoints, steps: [8, 12], bytes: 8192, at: undefined, mergedModel: paths.merge.target },
  );
  assert.ok((await getModelVersion(res.db.db, campaignId, 2, "merged"))?.path, "the merged version is recorded");

  // A retried collect (the activity ran twice) reports the same and keeps the first record.
  assert.deepEqual(await trainMergeHandler.collect(ctx, job("merge-job")), result);
  assert.deepEqual(checkpointsDeletedOf((await getModelVersion(res.db.db, campaignId, 2, "checkpoint"))!), recorded);

  // Merging again needs the checkpoint back: the message says when it went and what to run.
  await assert.rejects(trainMergeHandler.prepare(ctx, 1), (err: Error) => {
    assert.ok(err instanceof StageInputError);
    assert.match(
      err.message,
      new RegExp(
        `the GRPO checkpoint of iteration 2 \\(.*global_step_12[/\\\\]actor\\) was deleted on ${recorded!.at.replace(/\./g, "\\.")} after it was merged into .*merged \\(deleteCheckpointsAfterMerge\\); ` +
          `to merge again, run train\\.grpo again first \\(campaign retry-stage <campaign> train\\.grpo\\)`,
      ),
    );
    return true;
  });
});

test("train.merge without deleteCheckpointsAfterMerge keeps the steps; a checkpoint gone from disk is named before a job is run", async () => {
  const campaignId = `merge-keep-${Date.now().toString(36)}`;
  const ctx = stageContext<StageConfigOf<"train.merge">>(res.db.db, res.workDir, campaignId, config(false), "train.merge", 1);
  const paths = trainingPaths(ctx.outputDir());
  saveSteps(paths.grpo.checkpoints, [4], 100);
  const actor = path.join(paths.grpo.checkpoints, "global_step_4", "actor");
  await upsertModelVersion(res.db.db, {
    campaignId,
    iteration: 1,
    kind: "checkpoint",
    baseModel: "b",
    path: actor,
    jobName: "g",
    simulated: true,
    details: { step: 4 },
  });
  fs.mkdirSync(paths.merge.target, { recursive: true });
  fs.writeFileSync(path.join(paths.merge.target, "config.json"), "{}");
  assert.deepEqual(await trainMergeHandler.collect(ctx, job("m")), { modelVersion: `${campaignId}:1:merged` });
  assert.ok(fs.existsSync(actor));
  assert.ok((await trainMergeHandler.prepare(ctx, 1)).request.command.includes(actor));

  fs.rmSync(paths.grpo.checkpoints, { recursive: true });
  await assert.rejects(
    trainMergeHandler.prepare(ctx, 1),
    /the GRPO checkpoint of iteration 1 is gone from disk: .*global_step_4[/\\]actor is not a folder; run train\.grpo again first/,
  );
});

test("train.sft: the SFT steps are deleted after the job's own merge; a retried collect answers from the recorded version", async () => {
  const campaignId = `sft-del-${Date.now().toString(36)}`;
  const ctx = stageContext<StageConfigOf<"train.sft">>(res.db.db, res.workDir, campaignId, config(true), "train.sft", 1);
  const paths = trainingPaths(ctx.outputDir());
  saveSteps(paths.sft.checkpoints, [5, 6], 1000);
  fs.mkdirSync(paths.sft.merged, { recursive: true });
  fs.writeFileSync(path.join(paths.sft.merged, "config.json"), "{}");

  const first = await trainSftHandler.collect(ctx, job("sft-job"));
  assert.deepEqual(first, { step: 6, modelVersion: `${campaignId}:1:sft`, simulated: true, checkpointsDeleted: { steps: [5, 6], bytes: 2000 } });
  assert.deepEqual(fs.readdirSync(paths.sft.checkpoints), ["CHECKPOINTS_DELETED.txt"]);
  const sft = await getModelVersion(res.db.db, campaignId, 1, "sft");
  assert.equal(sft?.path, paths.sft.merged, "the SFT version is the merged folder, which stays");
  assert.deepEqual(checkpointsDeletedOf(sft!)?.steps, [5, 6]);

  // The latest-step file is gone with the steps; the retried collect reads the version instead of failing.
  assert.deepEqual(await trainSftHandler.collect(ctx, job("sft-job")), first);
  // Another job's collect with no steps saved is still an error.
  await assert.rejects(trainSftHandler.collect(ctx, job("other-job")), /job other-job succeeded but saved no SFT checkpoint/);
});
