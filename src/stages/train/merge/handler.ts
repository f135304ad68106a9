/** Merges the iteration's GRPO checkpoint into a Hugging Face folder (verl.model_merger) that vLLM can serve. */
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { checkpointsDeletedOf, getModelVersion, upsertModelVersion } from "../../../db/repos/modelVersions.js";
import type { ClusterJobHandler } from "../../../framework/clusterJob.js";
import { StageInputError } from "../../../framework/stage.js";
import { clusterOf } from "../../../training/clusterConfig.js";
import { slurmCpuMemory } from "../../../training/launchers/config.js";
import { installRoot, trainingPaths } from "../../../training/paths.js";
import { mergeCommand } from "../../../training/verl/jobSpec.js";
import type { StageConfigOf } from "../../specs.js";
import { deleteCheckpointsAfterMerge } from "../checkpointsAfterMerge.js";
import { STANDIN_TRAINER } from "../standin.js";

type MergeStage = StageConfigOf<"train.merge">;

export const trainMergeHandler: ClusterJobHandler<MergeStage> = {
  kind: "clusterJob",
  name: "train.merge",
  completion: "exit",

  async prepare(ctx) {
    const checkpoint = await getModelVersion(ctx.deps.db, ctx.campaignId, ctx.iteration, "checkpoint");
    if (!checkpoint?.path) throw new StageInputError(`no GRPO checkpoint for iteration ${ctx.iteration}: put train.grpo before train.merge`);
    if (!(await isDirectory(checkpoint.path))) {
      const deleted = checkpointsDeletedOf(checkpoint);
      throw new StageInputError(
        deleted
          ? `the GRPO checkpoint of iteration ${ctx.iteration} (${checkpoint.path}) was deleted on ${deleted.at} after it was merged into ${deleted.mergedModel} ` +
              `(deleteCheckpointsAfterMerge); to merge again, run train.grpo again first (campaign retry-stage <campaign> train.grpo)`
          : `the GRPO checkpoint of iteration ${ctx.iteration} is gone from disk: ${checkpoint.path} is not a folder; run train.grpo again first`,
      );
    }
    const paths = trainingPaths(ctx.outputDir());
    await mkdir(paths.merge.workDir, { recursive: true });
    const cluster = clusterOf(ctx.config);
    const program = ctx.stage.trainer === "standin" ? [cluster.python, path.join(installRoot(), STANDIN_TRAINER.merge)] : undefined;
    const command = mergeCommand({ python: cluster.python, program, backend: ctx.stage.backend, localDir: checkpoint.path, targetDir: paths.merge.target });
    return {
      request: { command, env: {}, workDir: paths.merge.workDir, resources: { nodes: 1, gpusPerNode: 0, ...slurmCpuMemory(cluster.launcher, ctx.stage) } },
    };
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
    if (!ctx.stage.deleteCheckpointsAfterMerge || !checkpoint.path) return { modelVersion: id };
    // The checkpoint folder is the one verl saved into: <dir>/global_step_N/actor.
    const checkpointDir = path.dirname(path.dirname(checkpoint.path));
    const freed = await deleteCheckpointsAfterMerge(
      ctx.deps,
      { stage: "train.merge", campaignId: ctx.campaignId, iteration: ctx.iteration },
      checkpoint,
      checkpointDir,
      target,
    );
    return { modelVersion: id, checkpointsDeleted: freed };
  },
};

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
