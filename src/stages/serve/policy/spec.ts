import { z } from "zod";
import { atMost, boundedString, fraction, jobWatch, model, nonNegativeInt, onceFieldsValid, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { cpusPerTask, memPerNode } from "../../../training/launchers/config.js";

/**
 * vLLM flags refused in extraArgs, with why: the ones serve.policy sets itself (and the field to use
 * instead), and --api-key. vLLM takes the last of a
 * repeated flag, so one of these in extraArgs would silently win: a `--port` there makes the
 * server listen where readiness never looks (the stage would wait forever), a `--served-model-name`
 * makes it answer to a name nothing asks for.
 */
const REFUSED_VLLM_FLAGS: Record<string, string> = {
  "--port": "is set by serve.policy itself: set `port` instead (0: picked on the node)",
  "--host": "is set by serve.policy itself: set `host` instead",
  "--served-model-name": "is set by serve.policy itself: set `servedModelName` instead",
  "--tensor-parallel-size": "is set by serve.policy itself: set `vllm.tensorParallelSize` instead",
  "-tp": "is set by serve.policy itself: set `vllm.tensorParallelSize` instead",
  "--max-model-len": "is set by serve.policy itself: set `vllm.maxModelLen` instead",
  "--gpu-memory-utilization": "is set by serve.policy itself: set `vllm.gpuMemoryUtilization` instead",
  "--tool-call-parser": "is set by serve.policy itself: set `vllm.toolCallParser` instead",
  "--enable-auto-tool-choice": "is set by serve.policy itself (always on)",
  "--api-key":
    "is not supported: toolloop calls the server serve.policy starts without a key (readiness and the policy role alike), so it would never be ready; keep the server on the cluster's network instead",
};

export const servePolicySpec = defineStage({
  name: "serve.policy",
  title: "serve the trained policy",
  latency: "cluster",
  batchTimeoutMinutes: 60,
  roles: [],
  needs: () => ["mergedPolicy"],
  reads: { kind: "job", describe: "the iteration's merged checkpoint (model_versions, kind merged)" },
  writes: "a running OpenAI-compatible server; a model_versions row (served) that later iterations use as roles.policy",
  schema: z.strictObject({
    name: z.literal("serve.policy"),
    runIn,
    batchSize: positiveInt.max(1, atMost(1)).default(1),
    /** vllm: `vllm serve` on the merged folder. simulator: toolloop's LLM simulator serving the stand-in checkpoint's profile (simulated; tests and the demo). */
    engine: z.enum(["vllm", "simulator"], { error: 'expected "vllm" or "simulator"' }).default("vllm"),
    /** Where the server listens and is reached; on Slurm the job's node replaces 127.0.0.1. */
    host: boundedString(255, "a host name or address").default("127.0.0.1"),
    /** 0: a free port, picked on the machine the server runs on (a cluster node) just before it starts. */
    port: nonNegativeInt.max(65535, atMost(65535)).default(0),
    /**
     * How long the server may run without serving (`/v1/models` listing it) before its job is cancelled
     * and the stage fails, in minutes from when it started running (queueing does not count); 0: no limit.
     */
    readyTimeoutMinutes: nonNegativeInt.max(7 * 24 * 60, atMost(7 * 24 * 60)).default(60),
    /** Slurm: CPUs per node for the job (`#SBATCH --cpus-per-task`); Ray: the CPUs its entrypoint asks for (none for verl's trainers, which place their own workers); default cluster.launcher.cpusPerTask, else the partition's default; local launcher: the job is pinned to that many CPUs (taskset). */
    cpusPerTask,
    /** Slurm: memory per node for the job (`#SBATCH --mem`, e.g. "64G"); Ray: the memory its entrypoint asks for (none for verl's trainers); default cluster.launcher.memPerNode, else the partition's default; local launcher: the job's processes are killed once their resident memory exceeds it. */
    memPerNode,
    /** How many earlier iterations' servers stay up once this one serves (0: only this iteration's; the older ones are stopped). */
    keepPrevious: nonNegativeInt.max(100, atMost(100)).default(0),
    /** Name the server answers to; default `<campaign>-iter-<n>`. */
    servedModelName: model.optional(),
    vllm: z
      .strictObject({
        tensorParallelSize: positiveInt.max(64, atMost(64)).default(1),
        maxModelLen: positiveInt.max(1_048_576, atMost(1_048_576)).default(8192),
        gpuMemoryUtilization: fraction.default(0.9),
        toolCallParser: z
          .enum(["hermes", "openai", "llama3_json", "mistral", "pythonic"], { error: "expected a vLLM tool-call parser name" })
          .default("hermes"),
        gpus: positiveInt.max(64, atMost(64)).default(1),
        extraArgs: z
          .array(boundedString(256, "an argument"))
          .max(64, atMost(64))
          .superRefine((args, issue) => {
            args.forEach((arg, i) => {
              const flag = arg.split("=")[0] as string;
              const why = Object.hasOwn(REFUSED_VLLM_FLAGS, flag) ? REFUSED_VLLM_FLAGS[flag] : undefined;
              if (why) issue.addIssue({ code: "custom", path: [i], message: `${flag} ${why}` });
            });
          }, onceFieldsValid)
          .default([]),
      })
      .default({ tensorParallelSize: 1, maxModelLen: 8192, gpuMemoryUtilization: 0.9, toolCallParser: "hermes", gpus: 1, extraArgs: [] }),
    simulator: z
      .strictObject({
        /** The untrained mistake rate; the checkpoint's profile scales it down on what it was trained on. */
        mistakeRate: fraction.default(0.3),
        seed: nonNegativeInt.max(2 ** 31, atMost(2 ** 31)).default(0),
        /** The simulated server stops by itself after this long without requests. */
        idleExitMinutes: positiveInt.max(24 * 60, atMost(24 * 60)).default(30),
      })
      .default({ mistakeRate: 0.3, seed: 0, idleExitMinutes: 30 }),
    watch: jobWatch,
  }),
});
