/** Merges the iteration's GRPO checkpoint into a Hugging Face folder (verl.model_merger) that vLLM can serve. */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { getModelVersion, upsertModelVersion } from "../../../db/repos/modelVersions.js";
import type { ClusterJobHandler } from "../../../framework/clusterJob.js";
import { StageInputError } from "../../../framework/stage.js";
import { clusterOf } from "../../../training/clusterConfig.js";
import { installRoot, trainingPaths } from "../../../training/paths.js";
import { mergeCommand } from "../../../training/verl/jobSpec.js";
import type { StageConfigOf } from "../../specs.js";
import { STANDIN_TRAINER } from "../standin.js";

type MergeStage = StageConfigOf<"train.merge">;

export const trainMergeHandler: ClusterJobHandler<MergeStage> = {
  kind: "clusterJob",
  name: "train.merge",
  completion: "exit",

  async prepare(ctx) {
    const checkpoint = await getModelVersion(ctx.deps.db, ctx.campaignId, ctx.iteration, "checkpoint");
    if (!checkpoint?.path) throw new StageInputError(`no GRPO checkpoint for iteration ${ctx.iteration}: put train.grpo before train.merge`);
    const paths = trainingPaths(ctx.outputDir());
    await mkdir(paths.merge.workDir, { recursive: true });
    const cluster = clusterOf(ctx.config);
    const program = ctx.stage.trainer === "standin" ? [cluster.python, path.join(installRoot(), STANDIN_TRAINER.merge)] : undefined;
    const command = mergeCommand({ python: cluster.python, program, backend: ctx.stage.backend, localDir: checkpoint.path, targetDir: paths.merge.target });
    return { request: { command, env: {}, workDir: paths.merge.workDir, resources: { nodes: 1, gpusPerNode: 0 } } };
  },

  async collect(ctx, job) {
    const { db } = ctx.deps;
    const checkpoint = await getModelVersion(db, ctx.campaignId, ctx.iteration, "checkpoint");
    if (!checkpoint) throw new StageInputError(`the checkpoint of iteration ${ctx.iteration} is gone from model_versions`);
    const target = trainingPaths(ctx.outputDir()).merge.target;
    const id = await upsertModelVersion(db, {
      campaignId: ctx.campaignId,
      iteration: ctx.iteration,
      kind: "merged",
      parentId: checkpoint.id,
      baseModel: checkpoint.baseModel,
      path: target,
      jobName: job.name,
      dataset: checkpoint.dataset,
      simulated: checkpoint.simulated || ctx.stage.trainer === "standin",
      details: { backend: ctx.stage.backend, from: checkpoint.path },
    });
    return { modelVersion: id };
  },
};
