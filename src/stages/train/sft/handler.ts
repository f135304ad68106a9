/**
 * InfTool's supervised warm-up as one cluster job: verl's SFT trainer on the iteration's SFT parquet,
 * then, in the same job, verl.model_merger on the step it saved last, so train.grpo starts from a
 * Hugging Face folder. A retry or a requeued job resumes the fine-tuning from its last checkpoint
 * (resume_mode=auto).
 */
import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { latestTrainingDataset } from "../../../db/repos/trainingDatasets.js";
import { checkpointsDeletedOf, getModelVersion, upsertModelVersion } from "../../../db/repos/modelVersions.js";
import { passedOverMessage, startingPolicy } from "../../../db/repos/continuation.js";
import type { ClusterJobHandler } from "../../../framework/clusterJob.js";
import { StageInputError } from "../../../framework/stage.js";
import { clusterOf } from "../../../training/clusterConfig.js";
import { slurmCpuMemory } from "../../../training/launchers/config.js";
import { headlineMetrics, lastMetricLine, latestCheckpointStep } from "../../../training/jobOutputs.js";
import { shellQuote } from "../../../training/launchers/slurmBatchScript.js";
import { installRoot, trainingPaths } from "../../../training/paths.js";
import { recordedStartModel, startModelEnv, type StartModel } from "../../../training/startModel.js";
import { mergeCommand, sftCommand } from "../../../training/verl/jobSpec.js";
import type { StageConfigOf } from "../../specs.js";
import { deleteCheckpointsAfterMerge } from "../checkpointsAfterMerge.js";
import { STANDIN_TRAINER } from "../standin.js";

type SftStage = StageConfigOf<"train.sft">;

/** verl's dataset class that trains only the SFT set's label turns (weight 1), in the installation. */
const SFT_DATASET_CLASS_FILE = "trainer/sft/toolloop_sft_dataset.py";

/** Stands for the saved step's folder in the merge command; the job's shell fills it in. */
const SAVED_STEP_DIR = "\u0000saved-step\u0000";

export const trainSftHandler: ClusterJobHandler<SftStage> = {
  kind: "clusterJob",
  name: "train.sft",
  completion: "exit",

  async prepare(ctx) {
    const dataset = await latestTrainingDataset(ctx.deps.db, ctx.campaignId, ctx.iteration);
    if (!dataset || dataset.iteration !== ctx.iteration || !dataset.paths.sftParquet)
      throw new StageInputError(`no SFT set for iteration ${ctx.iteration}: put export.verl with "sft": true before train.sft`);
    const paths = trainingPaths(ctx.outputDir());
    await mkdir(paths.sft.checkpoints, { recursive: true });
    const cluster = clusterOf(ctx.config);
    const standin = ctx.stage.trainer === "standin";
    const start = await startingModel(ctx, true);
    // On the shared filesystem beside the job, as the GRPO reward shim: the cluster need not have toolloop installed.
    await copyFile(path.join(installRoot(), SFT_DATASET_CLASS_FILE), paths.sft.datasetClass);
    const sft = sftCommand(ctx.stage.sft, {
      python: cluster.python,
      program: standin ? [cluster.python, path.join(installRoot(), STANDIN_TRAINER.sft)] : undefined,
      modelPath: start.path,
      trainFiles: dataset.paths.sftParquet,
      checkpointDir: paths.sft.checkpoints,
      projectName: `toolloop-${ctx.campaignId}`,
      experimentName: `iter-${ctx.iteration}-sft`,
      // Always auto (as train.grpo): a retry or a requeued job continues from the saved steps; none saved: from scratch.
      resumeMode: "auto",
      datasetClassPath: paths.sft.datasetClass,
    });
    const merge = mergeCommand({
      python: cluster.python,
      program: standin ? [cluster.python, path.join(installRoot(), STANDIN_TRAINER.merge)] : undefined,
      backend: ctx.stage.backend,
      localDir: SAVED_STEP_DIR,
      targetDir: paths.sft.merged,
    });
    const latestFile = path.join(paths.sft.checkpoints, "latest_checkpointed_iteration.txt");
    const savedStepDir = `${shellQuote(paths.sft.checkpoints)}/global_step_"$step"`;
    const script = [
      "set -e",
      sft.map(shellQuote).join(" "),
      `step=$(cat ${shellQuote(latestFile)})`,
      merge.map((a) => (a === SAVED_STEP_DIR ? savedStepDir : shellQuote(a))).join(" "),
    ].join("\n");
    return {
      request: {
        command: ["/bin/sh", "-c", script],
        // The model it starts from, kept with the request: collect registers that as the parent.
        env: { ...ctx.stage.env, ...startModelEnv(start) },
        workDir: paths.sft.workDir,
        resources: {
          nodes: ctx.stage.sft.nnodes,
          gpusPerNode: standin ? 0 : ctx.stage.sft.nGpusPerNode,
          ...(ctx.stage.timeLimitMinutes ? { timeLimitMinutes: ctx.stage.timeLimitMinutes } : {}),
          ...slurmCpuMemory(cluster.launcher, ctx.stage),
          // verl's sft_trainer_ray places its workers itself (the merge after it runs in the driver's process); the stand-in is plain processes.
          ...(standin ? {} : { rayDriver: true }),
        },
      },
    };
  },

  // A config frozen before the setting existed has none: no limit, as then.
  stallTimeoutMs: (ctx) => (ctx.stage.stallTimeoutMinutes ? ctx.stage.stallTimeoutMinutes * 60_000 : undefined),

  async progress(ctx, _job, logTail) {
    const paths = trainingPaths(ctx.outputDir());
    const saved = await latestCheckpointStep(paths.sft.checkpoints);
    const line = lastMetricLine(await logTail());
    const done = line?.step ?? saved ?? 0;
    const total = line?.metrics["training/total_steps"];
    const loss = line?.metrics["train/loss"];
    const metrics = line ? { ...headlineMetrics(line.metrics), ...(loss !== undefined ? { "train/loss": loss } : {}), step: line.step } : undefined;
    return { done, ...(total !== undefined ? { total } : {}), ...(metrics ? { metrics } : {}) };
  },

  async collect(ctx, job) {
    const { db } = ctx.deps;
    const paths = trainingPaths(ctx.outputDir());
    const step = await latestCheckpointStep(paths.sft.checkpoints);
    if (step === undefined) {
      // A re-run of this collect after the checkpoints were deleted (deleteCheckpointsAfterMerge): its row says what it did.
      const recorded = await getModelVersion(db, ctx.campaignId, ctx.iteration, "sft");
      const deleted = recorded && recorded.jobName === job.name ? checkpointsDeletedOf(recorded) : undefined;
      if (recorded && deleted) {
        const savedStep = (recorded.details as { step?: number } | null)?.step ?? deleted.steps.at(-1) ?? 0;
        return {
          step: savedStep,
          modelVersion: recorded.id,
          simulated: ctx.stage.trainer === "standin",
          checkpointsDeleted: { steps: deleted.steps, bytes: deleted.bytes },
        };
      }
      throw new StageInputError(`job ${job.name} succeeded but saved no SFT checkpoint under ${paths.sft.checkpoints}`);
    }
    // As recorded when the job was prepared (the lineage may have moved on since); a job of an older build: looked up now.
    const start = recordedStartModel(job.request) ?? (await startingModel(ctx));
    const dataset = await latestTrainingDataset(db, ctx.campaignId, ctx.iteration);
    const id = await upsertModelVersion(db, {
      campaignId: ctx.campaignId,
      iteration: ctx.iteration,
      kind: "sft",
      parentId: start.versionId ?? null,
      baseModel: start.baseModel,
      path: paths.sft.merged,
      jobName: job.name,
      dataset: dataset
        ? { iteration: dataset.iteration, manifestPath: dataset.paths.manifest, counts: dataset.manifest.counts, files: dataset.manifest.files }
        : null,
      simulated: ctx.stage.trainer === "standin" || start.simulated,
      details: { step, checkpoint: path.join(paths.sft.checkpoints, `global_step_${step}`), trainer: ctx.stage.trainer, startedFrom: start.path },
    });
    ctx.deps.log(
      `[train.sft] ${ctx.campaignId} iteration ${ctx.iteration}: step ${step}, merged at ${paths.sft.merged}${ctx.stage.trainer === "standin" ? " (STAND-IN: simulated)" : ""}`,
    );
    if (!ctx.stage.deleteCheckpointsAfterMerge) return { step, modelVersion: id, simulated: ctx.stage.trainer === "standin" };
    const version = await getModelVersion(db, ctx.campaignId, ctx.iteration, "sft");
    if (!version) throw new StageInputError(`the SFT model of iteration ${ctx.iteration} is gone from model_versions`);
    const freed = await deleteCheckpointsAfterMerge(
      ctx.deps,
      { stage: "train.sft", campaignId: ctx.campaignId, iteration: ctx.iteration },
      version,
      paths.sft.checkpoints,
      paths.sft.merged,
    );
    return { step, modelVersion: id, simulated: ctx.stage.trainer === "standin", checkpointsDeleted: freed };
  },
};

/**
 * The policy the last iteration merged (in iteration 1 of a continuing campaign: the one its
 * predecessor merged last, when trained from this stage's baseModel), else the configured base
 * model. `say`: log a predecessor's policy passed over.
 */
async function startingModel(ctx: Parameters<typeof trainSftHandler.prepare>[0], say = false): Promise<StartModel> {
  const policy = await startingPolicy(ctx.deps.db, ctx.campaignId, ctx.iteration, ctx.stage.baseModel);
  if (say && policy.passedOver) ctx.deps.log(passedOverMessage("train.sft", ctx.campaignId, policy.passedOver, ctx.stage.baseModel));
  const prior = policy.version;
  if (prior?.path) return { path: prior.path, versionId: prior.id, baseModel: prior.baseModel, simulated: prior.simulated };
  return { path: ctx.stage.baseModel, baseModel: ctx.stage.baseModel, simulated: false };
}
