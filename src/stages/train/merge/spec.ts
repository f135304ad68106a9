import { z } from "zod";
import { atMost, jobWatch, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { trainerKind } from "../trainerKind.js";
import { cpusPerTask, memPerNode } from "../../../training/launchers/config.js";

export const trainMergeSpec = defineStage({
  name: "train.merge",
  title: "checkpoint merge to Hugging Face format",
  latency: "cluster",
  batchTimeoutMinutes: 60,
  roles: [],
  needs: () => ["grpoCheckpoint"],
  makes: () => ["mergedPolicy"],
  reads: { kind: "job", describe: "the iteration's GRPO checkpoint (model_versions, kind checkpoint)" },
  writes: "a Hugging Face model folder under <output>/train/merged; a model_versions row (merged)",
  schema: z.strictObject({
    name: z.literal("train.merge"),
    runIn,
    batchSize: positiveInt.max(1, atMost(1)).default(1),
    trainer: trainerKind,
    backend: z.enum(["fsdp", "megatron"], { error: 'expected "fsdp" or "megatron"' }).default("fsdp"),
    /**
     * Delete the iteration's GRPO checkpoints (global_step_N: shards and optimizer state) once the merged model is in place
     * and recorded: nothing in the loop reads them again. Off by default; see README "Disk".
     */
    deleteCheckpointsAfterMerge: z.boolean({ error: "expected true or false" }).default(false),
    /** Slurm: CPUs per node for the job (`#SBATCH --cpus-per-task`); Ray: the CPUs its entrypoint asks for (none for verl's trainers, which place their own workers); default cluster.launcher.cpusPerTask, else the partition's default; local launcher: the job is pinned to that many CPUs (taskset). */
    cpusPerTask,
    /** Slurm: memory per node for the job (`#SBATCH --mem`, e.g. "64G"); Ray: the memory its entrypoint asks for (none for verl's trainers); default cluster.launcher.memPerNode, else the partition's default; local launcher: the job's processes are killed once their resident memory exceeds it. */
    memPerNode,
    watch: jobWatch,
  }),
});
