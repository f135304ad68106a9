import { z } from "zod";
import { atMost, boundedString, fraction, jobWatch, model, nonNegativeInt, positiveInt, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";

export const servePolicySpec = defineStage({
  name: "serve.policy",
  title: "serve the trained policy",
  latency: "cluster",
  batchTimeoutMinutes: 60,
  roles: [],
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
        extraArgs: z.array(boundedString(256, "an argument")).max(64, atMost(64)).default([]),
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
