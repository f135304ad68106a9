import { z } from "zod";
import { atMost, nonNegativeInt, jobEnv, jobWatch, model, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { rewardConfigSchema } from "../../../reward/config.js";
import { grpoSettingsSchema } from "../../../training/verl/jobSpec.js";
import { trainerKind } from "../trainerKind.js";
import { cpusPerTask, memPerNode } from "../../../training/launchers/config.js";

export const trainGrpoSpec = defineStage({
  name: "train.grpo",
  title: "GRPO training (verl)",
  latency: "cluster",
  batchTimeoutMinutes: 60,
  roles: [],
  needs: () => ["verlDataset"],
  makes: () => ["grpoCheckpoint"],
  reads: {
    kind: "job",
    describe: "the iteration's verl parquet (export.verl); the policy to start from (SFT of this iteration, else the last merged policy, else baseModel)",
  },
  writes: "checkpoints under <output>/train/grpo/checkpoints (global_step_N/actor); a model_versions row (checkpoint)",
  schema: z.strictObject({
    name: z.literal("train.grpo"),
    runIn,
    /** Unused (one job); kept so every stage entry has it. */
    batchSize: positiveInt.max(1, atMost(1)).default(1),
    /** The model the first iteration trains (HF name or path as the cluster sees it); later iterations continue from the last merged policy. */
    baseModel: model,
    trainer: trainerKind,
    grpo: grpoSettingsSchema.default(grpoSettingsSchema.parse({})),
    reward: rewardConfigSchema.default(rewardConfigSchema.parse({})),
    /** Extra environment for the job (no secrets: they would be stored with the job). */
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
    watch: jobWatch,
  }),
});
