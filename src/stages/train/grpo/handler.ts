/**
 * GRPO training as one cluster job: verl's main_ppo (or the stand-in trainer with the same
 * overrides) on the iteration's verl parquet, rewarded through the generated Python shim that calls
 * toolloop's reward service. Every job runs with resume_mode=auto over the iteration's checkpoint
 * folder, so a retry (a new job) and a requeued one (the same job started again) continue from the
 * last saved step.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { latestTrainingDataset } from "../../../db/repos/trainingDatasets.js";
import { getModelVersion, upsertModelVersion } from "../../../db/repos/modelVersions.js";
import { passedOverMessage, startingPolicy } from "../../../db/repos/continuation.js";
import type { ClusterJobHandler } from "../../../framework/clusterJob.js";
import { StageInputError } from "../../../framework/stage.js";
import { REWARD_URL_FILE, writeRewardShim } from "../../../reward/shim.js";
import { clusterOf } from "../../../training/clusterConfig.js";
import { slurmCpuMemory } from "../../../training/launchers/config.js";
import { checkpointActorDir, headlineMetrics, lastMetricLine, latestCheckpointStep } from "../../../training/jobOutputs.js";
import { installRoot, trainingPaths } from "../../../training/paths.js";
import { recordedStartModel, startModelEnv, type StartModel } from "../../../training/startModel.js";
import { grpoCommand } from "../../../training/verl/jobSpec.js";
import type { StageConfigOf } from "../../specs.js";
import { STANDIN_TRAINER } from "../standin.js";

type GrpoStage = StageConfigOf<"train.grpo">;

export const trainGrpoHandler: ClusterJobHandler<GrpoStage> = {
  kind: "clusterJob",
  name: "train.grpo",
  completion: "exit",

  async prepare(ctx) {
    const { db } = ctx.deps;
    const dataset = await latestTrainingDataset(db, ctx.campaignId, ctx.iteration);
    if (!dataset) throw new StageInputError(`no verl dataset for iteration ${ctx.iteration}: put export.verl before train.grpo`);
    if (dataset.iteration !== ctx.iteration)
      ctx.deps.log(`[train.grpo] iteration ${ctx.iteration} has no verl dataset of its own: training on iteration ${dataset.iteration}'s`);
    if (ctx.stage.trainer === "verl") assertVerlCanLoad(dataset, ctx.stage.grpo.trainBatchSize);
    const paths = trainingPaths(ctx.outputDir());
    await mkdir(paths.grpo.checkpoints, { recursive: true });
    const start = await startingModel(ctx, true);
    const cluster = clusterOf(ctx.config);
    const rewardUrl = await rewardServiceUrl(ctx);
    await writeRewardShim({ path: paths.grpo.rewardShim, url: rewardUrl, rewardConfig: ctx.stage.reward });
    const program = ctx.stage.trainer === "standin" ? [cluster.python, path.join(installRoot(), STANDIN_TRAINER.train)] : undefined;
    const command = grpoCommand(ctx.stage.grpo, {
      python: cluster.python,
      program,
      modelPath: start.path,
      trainFiles: dataset.paths.train,
      valFiles: dataset.paths.val,
      checkpointDir: paths.grpo.checkpoints,
      rewardFunctionPath: paths.grpo.rewardShim,
      projectName: `toolloop-${ctx.campaignId}`,
      experimentName: `iter-${ctx.iteration}`,
      // Always auto: verl trains from scratch when the folder holds no step, and a job that Slurm requeues
      // (preemption, node failure) runs this same command again, which must continue from its saved steps.
      resumeMode: "auto",
    });
    return {
      request: {
        command,
        // The model it starts from, kept with the request: collect registers that as the parent.
        env: { ...ctx.stage.env, ...startModelEnv(start) },
        workDir: paths.grpo.workDir,
        resources: {
          nodes: ctx.stage.grpo.nnodes,
          gpusPerNode: ctx.stage.trainer === "standin" ? 0 : ctx.stage.grpo.nGpusPerNode,
          ...(ctx.stage.timeLimitMinutes ? { timeLimitMinutes: ctx.stage.timeLimitMinutes } : {}),
          ...slurmCpuMemory(cluster.launcher, ctx.stage),
          // verl's main_ppo places its workers itself; the stand-in is one plain process.
          ...(ctx.stage.trainer === "standin" ? {} : { rayDriver: true }),
        },
      },
    };
  },

  // A config frozen before the setting existed has none: no limit, as then.
  stallTimeoutMs: (ctx) => (ctx.stage.stallTimeoutMinutes ? ctx.stage.stallTimeoutMinutes * 60_000 : undefined),

  async progress(ctx, _job, logTail) {
    const paths = trainingPaths(ctx.outputDir());
    // A restarted worker hosts the reward service at a new address: point the running job's shim at it.
    if (!clusterOf(ctx.config).rewardService.url) await rewardServiceUrl(ctx);
    const saved = await latestCheckpointStep(paths.grpo.checkpoints);
    const line = lastMetricLine(await logTail());
    const metrics = line ? { ...headlineMetrics(line.metrics), step: line.step } : undefined;
    const done = line?.step ?? saved ?? 0;
    const total = line?.metrics["training/total_steps"];
    return {
      done,
      ...(total !== undefined ? { total } : {}),
      ...(metrics ? { metrics: { ...metrics, ...(saved !== undefined ? { savedStep: saved } : {}) } } : {}),
    };
  },

  async collect(ctx, job) {
    const { db } = ctx.deps;
    const paths = trainingPaths(ctx.outputDir());
    const step = await latestCheckpointStep(paths.grpo.checkpoints);
    if (step === undefined) throw new StageInputError(`job ${job.name} succeeded but saved no checkpoint under ${paths.grpo.checkpoints}`);
    // As recorded when the job was prepared (the lineage may have moved on since); a job of an older build: looked up now.
    const start = recordedStartModel(job.request) ?? (await startingModel(ctx));
    const dataset = await latestTrainingDataset(db, ctx.campaignId, ctx.iteration);
    const actor = checkpointActorDir(paths.grpo.checkpoints, step);
    const id = await upsertModelVersion(db, {
      campaignId: ctx.campaignId,
      iteration: ctx.iteration,
      kind: "checkpoint",
      parentId: start.versionId ?? null,
      baseModel: start.baseModel,
      path: actor,
      jobName: job.name,
      dataset: dataset
        ? { iteration: dataset.iteration, manifestPath: dataset.paths.manifest, counts: dataset.manifest.counts, files: dataset.manifest.files }
        : null,
      simulated: ctx.stage.trainer === "standin" || start.simulated,
      details: { step, trainer: ctx.stage.trainer, startedFrom: start.path },
    });
    ctx.deps.log(
      `[train.grpo] ${ctx.campaignId} iteration ${ctx.iteration}: checkpoint step ${step} at ${actor}${ctx.stage.trainer === "standin" ? " (STAND-IN trainer: simulated, nothing was trained)" : ""}`,
    );
    return { step, modelVersion: id, simulated: ctx.stage.trainer === "standin" };
  },
};

/**
 * Sets verl 0.9.1 stops on as soon as it has loaded them (RayPPOTrainer._create_dataloader), after the
 * job's wait in the queue and its model load: the train loader drops an incomplete batch
 * ("Train dataloader is empty!" below trainBatchSize rows), and an empty validation set fails too.
 * Refused before the job is submitted, naming the setting. (The stand-in trains a partial batch.)
 */
function assertVerlCanLoad(dataset: { iteration: number; manifest: { counts: { train: number; val: number } } }, trainBatchSize: number): void {
  const { train, val } = dataset.manifest.counts;
  if (train === 0)
    throw new StageInputError(
      `iteration ${dataset.iteration}'s verl dataset has no training rows: nothing to train on (export.verl wrote an empty set; check what the stages before it kept)`,
    );
  if (train < trainBatchSize)
    throw new StageInputError(
      `iteration ${dataset.iteration}'s verl dataset has ${train} training row(s), fewer than grpo.trainBatchSize (${trainBatchSize}): verl drops the incomplete batch and stops with "Train dataloader is empty!". Lower grpo.trainBatchSize (and ppoMiniBatchSize) to ${train} or less, or export more samples`,
    );
  if (val === 0)
    throw new StageInputError(
      `iteration ${dataset.iteration}'s verl dataset has no validation rows: verl stops with "Validation dataloader is empty!". Raise export.verl's valFraction (or export more samples) so that at least one sample is held out`,
    );
}

/**
 * This iteration's SFT model, else the policy the last iteration merged (in iteration 1 of a
 * continuing campaign: the one its predecessor merged last, when trained from this stage's
 * baseModel), else the configured base model. `say`: log a predecessor's policy passed over.
 */
async function startingModel(ctx: Parameters<typeof trainGrpoHandler.prepare>[0], say = false): Promise<StartModel> {
  const { db } = ctx.deps;
  const sft = await getModelVersion(db, ctx.campaignId, ctx.iteration, "sft");
  const policy = sft ? undefined : await startingPolicy(db, ctx.campaignId, ctx.iteration, ctx.stage.baseModel);
  if (say && policy?.passedOver) ctx.deps.log(passedOverMessage("train.grpo", ctx.campaignId, policy.passedOver, ctx.stage.baseModel));
  const prior = sft ?? policy?.version;
  if (prior?.path) return { path: prior.path, versionId: prior.id, baseModel: prior.baseModel, simulated: prior.simulated };
  return { path: ctx.stage.baseModel, baseModel: ctx.stage.baseModel, simulated: false };
}

/**
 * The reward service the job's shim calls: the configured one, else the one this worker hosts. The
 * hosted one's address is also written to the file next to the shim that the shim re-reads on
 * every retry, so a job outlives the worker that started it.
 */
async function rewardServiceUrl(ctx: Parameters<typeof trainGrpoHandler.prepare>[0]): Promise<string> {
  const cluster = clusterOf(ctx.config);
  if (cluster.rewardService.url) return cluster.rewardService.url;
  const url = await ctx.deps.rewardService?.(ctx.stage.reward, cluster.rewardService);
  if (!url) throw new StageInputError("no reward service: set cluster.rewardService.url, or run the worker with the cluster role (it hosts one)");
  const file = path.join(path.dirname(trainingPaths(ctx.outputDir()).grpo.rewardShim), REWARD_URL_FILE);
  const current = await readFile(file, "utf8").catch(() => "");
  if (current.trim() !== url) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, `${url}\n`);
    await rename(`${file}.tmp`, file);
  }
  return url;
}
