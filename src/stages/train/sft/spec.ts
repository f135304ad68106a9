import { z } from "zod";
import { atMost, nonNegativeInt, jobEnv, jobWatch, model, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { sftSettingsSchema } from "../../../training/verl/jobSpec.js";
import { trainerKind } from "../trainerKind.js";
import { cpusPerTask, memPerNode } from "../../../training/launchers/config.js";

export const trainSftSpec = defineStage({
  name: "train.sft",
  title: "supervised warm-up (verl SFT) and merge",
  latency: "cluster",
  batchTimeoutMinutes: 60,
  roles: [],
  needs: () => ["sftDataset"],
  reads: { kind: "job", describe: "the iteration's SFT parquet (export.verl with sft: true); the last merged policy, else baseModel" },
  writes:
    "SFT checkpoints under <output>/train/sft/checkpoints, the merged model under <output>/train/sft/merged; a model_versions row (sft) that train.grpo starts from",
  schema: z.strictObject({
    name: z.literal("train.sft"),
    runIn,
    batchSize: positiveInt.max(1, atMost(1)).default(1),
    /** The model the first iteration fine-tunes; later iterations continue from the last merged policy. */
    baseModel: model,
    trainer: trainerKind,
    sft: sftSettingsSchema.default(sftSettingsSchema.parse({})),
    /** Backend of the merge that follows the fine-tuning in the same job. */
    backend: z.enum(["fsdp", "megatron"], { error: 'expected "fsdp" or "megatron"' }).default("fsdp"),
    env: jobEnv,
    /** Slurm: CPUs per node for the job (`#SBATCH --cpus-per-task`); Ray: the CPUs its entrypoint asks for (none for verl's trainers, which place their own workers); default cluster.launcher.cpusPerTask, else the partition's default; local launcher: the job is pinned to that many CPUs (taskset). */
    cpusPerTask,
    /** Slurm: memory per node for the job (`#SBATCH --mem`, e.g. "64G"); Ray: the memory its entrypoint asks for (none for verl's trainers); default cluster.launcher.memPerNode, else the partition's default; local launcher: the job's processes are killed once their resident memory exceeds it. */
    memPerNode,
    timeLimitMinutes: positiveInt.max(60 * 24 * 30, atMost(60 * 24 * 30, " (30 days)")).optional(),
    /**
     * How long the job may run with neither a new training step nor new output (the wait for the first
     * step counted from when it starts running, model loading included) before it is cancelled as hung and the stage fails; 0: no limit.
     */
    stallTimeoutMinutes: nonNegativeInt.max(60 * 24 * 30, atMost(60 * 24 * 30, " (30 days)")).default(240),
    /**
     * Delete the SFT job's checkpoints (global_step_N: shards and optimizer state) once the merged model is in place
     * and recorded: nothing in the loop reads them again. Off by default; see README "Disk".
     */
    deleteCheckpointsAfterMerge: z.boolean({ error: "expected true or false" }).default(false),
    watch: jobWatch,
  }),
});
