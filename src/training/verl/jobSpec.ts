/**
 * Job specs for one pinned verl release (VERL_VERSION): GRPO and SFT settings as campaign-config
 * schemas, the Hydra overrides they become, and the command lines for GRPO (verl.trainer.main_ppo),
 * SFT (verl.trainer.sft_trainer_ray), checkpoint merge to Hugging Face format (verl.model_merger)
 * and serving the merged model with vLLM. Every key was checked against the release's own config
 * files (verl/trainer/config/*.yaml in the wheel); test/unit/training/verlHydraCompose.test.ts composes
 * these overrides over those files with Hydra in strict mode, so a key verl renames fails the test.
 * Pure: no I/O.
 */
import { z } from "zod";
import { atMost, CONFIG_LIMITS, int, onceFieldsValid, positiveInt } from "../../config/fields.js";
import { EXTRA_OVERRIDE, mergeOverrides, type HydraValue } from "./hydra.js";

export const VERL_VERSION = "0.9.1";

/** The function name the generated reward shim defines (verl's reward.custom_reward_function.name). */
export const REWARD_FUNCTION_NAME = "compute_score";

const positiveNumber = (what: string) => z.number({ error: `expected ${what}` }).positive(`expected ${what}`);
const nonNegativeNumber = (what: string) => z.number({ error: `expected ${what}` }).min(0, `expected ${what}`);
const count = (max: number) => positiveInt.max(max, atMost(max));
/**
 * How many of a job's saved steps verl keeps on disk (null: every one, verl's own default). A step
 * holds the model's shards and the optimizer's state, several times the merged model's size, and a
 * job saves one every saveFreq steps; toolloop only ever reads the newest (resume, merge). verl frees
 * the oldest before it saves the next, so at most this many exist at once (2: a complete one while the
 * next is written). verl counts the steps its own process saved: a resumed job does not delete those
 * of the attempt before it.
 */
const checkpointsToKeep = z
  .union([positiveInt.max(1000, atMost(1000)), z.null()], { error: "expected a positive integer, or null to keep every saved step" })
  .default(2);
/** verl's "every N steps, or -1 for never" settings. */
const everyNSteps = int("a positive integer, or -1 for never").refine((n) => n === -1 || n > 0, "expected a positive integer, or -1 for never");

const extraOverrides = z
  .array(
    z
      .string({ error: "expected a Hydra override such as actor_rollout_ref.rollout.temperature=0.9" })
      .max(CONFIG_LIMITS.pathLength, atMost(CONFIG_LIMITS.pathLength, " characters"))
      .regex(EXTRA_OVERRIDE, "expected key=value (a dotted key such as trainer.val_before_train, optionally prefixed + or ++ to add a key; one line)"),
    { error: "expected a list of Hydra overrides (key=value)" },
  )
  .max(200, atMost(200, " overrides"))
  .default([]);

export const grpoSettingsSchema = z
  .strictObject({
    /** Responses sampled per prompt (the GRPO group). */
    rolloutN: count(1024).default(8),
    rolloutEngine: z.enum(["vllm", "sglang"], { error: 'expected "vllm" or "sglang"' }).default("vllm"),
    rolloutTensorParallelSize: count(64).default(1),
    /** Prompts per training step (data.train_batch_size). */
    trainBatchSize: count(1_000_000).default(256),
    /** Prompts per actor update (actor.ppo_mini_batch_size); at most trainBatchSize. */
    ppoMiniBatchSize: count(1_000_000).default(64),
    ppoMicroBatchSizePerGpu: count(4096).default(4),
    /** Micro batch for the rollout's and the reference model's log-prob passes. */
    logProbMicroBatchSizePerGpu: count(4096).default(8),
    maxPromptLength: count(1_048_576).default(4096),
    maxResponseLength: count(1_048_576).default(1024),
    learningRate: positiveNumber("a positive learning rate").max(1, atMost(1)).default(1e-6),
    useKlLoss: z.boolean({ error: "expected true or false" }).default(true),
    klLossCoef: nonNegativeNumber("a non-negative number").default(0.001),
    klLossType: z
      .enum(["kl", "k1", "abs", "mse", "k2", "low_var_kl", "k3", "full"], {
        error: 'expected one of "kl", "k1", "abs", "mse", "k2", "low_var_kl", "k3", "full"',
      })
      .default("low_var_kl"),
    entropyCoeff: nonNegativeNumber("a non-negative number").default(0),
    nnodes: count(4096).default(1),
    nGpusPerNode: count(64).default(8),
    /** Save a checkpoint every N steps (-1: only at the last step; see GRPO_SAVE_AT_LAST_STEP_ONLY). */
    saveFreq: everyNSteps.default(20),
    /** Saved steps kept on disk (trainer.max_actor_ckpt_to_keep); null keeps every one. */
    maxCheckpointsToKeep: checkpointsToKeep,
    /** Validate every N steps (-1: never). */
    testFreq: everyNSteps.default(10),
    totalEpochs: count(10_000).default(1),
    /** Stop after this many steps (overrides epochs). */
    totalTrainingSteps: count(100_000_000).optional(),
    /** Share of GPU memory the rollout engine may take. */
    gpuMemoryUtilization: positiveNumber("a number in (0, 1]").max(1, "expected a number in (0, 1]").default(0.6),
    /** Any other verl override, applied last (replaces one of ours with the same key). */
    extraOverrides,
  })
  .refine((s) => s.ppoMiniBatchSize <= s.trainBatchSize, { path: ["ppoMiniBatchSize"], message: "expected at most trainBatchSize", ...onceFieldsValid });
export type GrpoSettings = z.infer<typeof grpoSettingsSchema>;

export interface GrpoCommandOptions {
  python: string;
  /** A stand-in for `python -m verl.trainer.main_ppo` taking the same overrides (tests). */
  program?: string[];
  modelPath: string;
  trainFiles: string;
  valFiles: string;
  checkpointDir: string;
  rewardFunctionPath: string;
  projectName: string;
  experimentName: string;
  resumeMode: "auto" | "disable";
}

/** The `trainer.*` section GRPO and SFT share: logging, names, output folder, resume, placement, schedule. */
function trainerOverrides(
  s: { nnodes: number; nGpusPerNode: number; saveFreq: number; testFreq: number; totalEpochs: number; totalTrainingSteps?: number | undefined },
  opts: { projectName: string; experimentName: string; checkpointDir: string; resumeMode: "auto" | "disable" },
  keep: [string, HydraValue | undefined],
): [string, HydraValue][] {
  return [
    ["trainer.logger", ["console"]],
    ["trainer.project_name", opts.projectName],
    ["trainer.experiment_name", opts.experimentName],
    ["trainer.default_local_dir", opts.checkpointDir],
    ["trainer.resume_mode", opts.resumeMode],
    ["trainer.nnodes", s.nnodes],
    ["trainer.n_gpus_per_node", s.nGpusPerNode],
    ["trainer.save_freq", s.saveFreq],
    // Absent from a config frozen before the setting existed: verl's own default (every step kept), as that campaign was registered.
    ...(keep[1] !== undefined ? [keep as [string, HydraValue]] : []),
    ["trainer.test_freq", s.testFreq],
    ["trainer.total_epochs", s.totalEpochs],
    ...(s.totalTrainingSteps !== undefined ? ([["trainer.total_training_steps", s.totalTrainingSteps]] as [string, HydraValue][]) : []),
  ];
}

/**
 * trainer.save_freq for GRPO's saveFreq -1. verl 0.9.1's PPO trainer saves only while save_freq > 0
 * (ray_trainer.py: `save_freq > 0 and (is_last_step or step % save_freq == 0)`), so save_freq=-1
 * saves nothing, not even the last step, and train.grpo then has no checkpoint to collect after days
 * of training. A frequency no run reaches saves the last step only. (verl's SFT trainer saves its last
 * step whatever save_freq says: SFT passes -1 as it is.)
 */
export const GRPO_SAVE_AT_LAST_STEP_ONLY = 1_000_000_000;

export function grpoOverrides(settings: GrpoSettings, opts: GrpoCommandOptions): string[] {
  const s = { ...settings, saveFreq: settings.saveFreq === -1 ? GRPO_SAVE_AT_LAST_STEP_ONLY : settings.saveFreq };
  const base: [string, HydraValue][] = [
    ["algorithm.adv_estimator", "grpo"],
    // GRPO regularises with the KL loss on the actor (useKlLoss), not a KL penalty in the reward.
    ["algorithm.use_kl_in_reward", false],
    ["data.train_files", opts.trainFiles],
    ["data.val_files", opts.valFiles],
    ["data.train_batch_size", s.trainBatchSize],
    ["data.max_prompt_length", s.maxPromptLength],
    ["data.max_response_length", s.maxResponseLength],
    // A prompt longer than maxPromptLength is dropped at load time instead of failing a step.
    ["data.filter_overlong_prompts", true],
    ["data.truncation", "error"],
    ["actor_rollout_ref.model.path", opts.modelPath],
    ["actor_rollout_ref.actor.optim.lr", s.learningRate],
    ["actor_rollout_ref.actor.ppo_mini_batch_size", s.ppoMiniBatchSize],
    ["actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", s.ppoMicroBatchSizePerGpu],
    ["actor_rollout_ref.actor.use_kl_loss", s.useKlLoss],
    ["actor_rollout_ref.actor.kl_loss_coef", s.klLossCoef],
    ["actor_rollout_ref.actor.kl_loss_type", s.klLossType],
    ["actor_rollout_ref.actor.entropy_coeff", s.entropyCoeff],
    ["actor_rollout_ref.rollout.name", s.rolloutEngine],
    ["actor_rollout_ref.rollout.n", s.rolloutN],
    ["actor_rollout_ref.rollout.tensor_model_parallel_size", s.rolloutTensorParallelSize],
    ["actor_rollout_ref.rollout.gpu_memory_utilization", s.gpuMemoryUtilization],
    ["actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu", s.logProbMicroBatchSizePerGpu],
    ["actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", s.logProbMicroBatchSizePerGpu],
    ["reward.custom_reward_function.path", opts.rewardFunctionPath],
    ["reward.custom_reward_function.name", REWARD_FUNCTION_NAME],
    // GRPO has no critic: only the actor's saves are kept to a number.
    ...trainerOverrides(s, opts, ["trainer.max_actor_ckpt_to_keep", s.maxCheckpointsToKeep]),
  ];
  return mergeOverrides(base, s.extraOverrides);
}

/** argv of the GRPO job: `python -m verl.trainer.main_ppo <overrides>` (or the stand-in program with the same overrides). */
export function grpoCommand(settings: GrpoSettings, opts: GrpoCommandOptions): string[] {
  const program = opts.program ?? [opts.python, "-m", "verl.trainer.main_ppo"];
  return [...program, ...grpoOverrides(settings, opts)];
}

export const sftSettingsSchema = z
  .strictObject({
    /** Samples per optimizer step (data.train_batch_size). */
    trainBatchSize: count(1_000_000).default(64),
    microBatchSizePerGpu: count(4096).default(4),
    /** Longest tokenised conversation; longer ones are handled per `truncation`. */
    maxLength: count(1_048_576).default(4096),
    truncation: z.enum(["error", "left", "right"], { error: 'expected "error", "left" or "right"' }).default("error"),
    learningRate: positiveNumber("a positive learning rate").max(1, atMost(1)).default(1e-5),
    totalEpochs: count(10_000).default(2),
    totalTrainingSteps: count(100_000_000).optional(),
    saveFreq: everyNSteps.default(-1),
    /** Saved steps kept on disk (trainer.max_ckpt_to_keep); null keeps every one. */
    maxCheckpointsToKeep: checkpointsToKeep,
    testFreq: everyNSteps.default(-1),
    nnodes: count(4096).default(1),
    nGpusPerNode: count(64).default(8),
    extraOverrides,
  })
  .refine((s) => s.microBatchSizePerGpu <= s.trainBatchSize, {
    path: ["microBatchSizePerGpu"],
    message: "expected at most trainBatchSize",
    ...onceFieldsValid,
  });
export type SftSettings = z.infer<typeof sftSettingsSchema>;

export interface SftCommandOptions {
  python: string;
  /** A stand-in for `python -m verl.trainer.sft_trainer_ray` taking the same overrides (tests). */
  program?: string[];
  modelPath: string;
  trainFiles: string;
  /** Without validation files verl's SFT trainer skips validation. */
  valFiles?: string;
  checkpointDir: string;
  projectName: string;
  experimentName: string;
  resumeMode: "auto" | "disable";
  /**
   * The dataset class file the job reads the SFT set with (trainer/sft/toolloop_sft_dataset.py,
   * copied beside the job): it trains only the messages with weight 1. Without it verl's own
   * MultiTurnSFTDataset trains every assistant message.
   */
  datasetClassPath?: string;
}

/** The class in trainer/sft/toolloop_sft_dataset.py (verl's data.custom_cls.name). */
export const SFT_DATASET_CLASS = "LabelTurnsSFTDataset";

export function sftOverrides(settings: SftSettings, opts: SftCommandOptions): string[] {
  const s = settings;
  const base: [string, HydraValue][] = [
    ["model.path", opts.modelPath],
    ["data.train_files", opts.trainFiles],
    ["data.val_files", opts.valFiles ?? null],
    ...(opts.datasetClassPath
      ? ([
          ["data.custom_cls.path", opts.datasetClassPath],
          ["data.custom_cls.name", SFT_DATASET_CLASS],
        ] as [string, HydraValue][])
      : []),
    ["data.train_batch_size", s.trainBatchSize],
    ["data.micro_batch_size_per_gpu", s.microBatchSizePerGpu],
    ["data.max_length", s.maxLength],
    ["data.truncation", s.truncation],
    ["optim.lr", s.learningRate],
    ...trainerOverrides(s, opts, ["trainer.max_ckpt_to_keep", s.maxCheckpointsToKeep]),
  ];
  return mergeOverrides(base, s.extraOverrides);
}

/**
 * argv of the SFT job: verl's Ray-based SFT trainer (config sft_trainer_engine), which places itself
 * on trainer.nnodes x trainer.n_gpus_per_node of the Ray cluster the launcher provides, like GRPO.
 */
export function sftCommand(settings: SftSettings, opts: SftCommandOptions): string[] {
  const program = opts.program ?? [opts.python, "-m", "verl.trainer.sft_trainer_ray"];
  return [...program, ...sftOverrides(settings, opts)];
}

/** argv merging a checkpoint's actor shards (global_step_N/actor) into a Hugging Face model folder. */
export function mergeCommand(opts: { python: string; program?: string[]; backend: "fsdp" | "megatron"; localDir: string; targetDir: string }): string[] {
  const program = opts.program ?? [opts.python, "-m", "verl.model_merger"];
  return [...program, "merge", "--backend", opts.backend, "--local_dir", opts.localDir, "--target_dir", opts.targetDir];
}

export interface VllmServeOptions {
  model: string;
  host: string;
  /** A number, or "{port}" for serve_on_node_port.py to fill in on the node. */
  port: number | string;
  servedModelName: string;
  tensorParallelSize: number;
  maxModelLen: number;
  gpuMemoryUtilization: number;
  /** vLLM's parser for the model's tool-call format (hermes for Qwen2.5/Qwen3, llama3_json, mistral, ...). */
  toolCallParser: string;
  extraArgs: string[];
}

/**
 * The flag that turns vLLM's automatic prefix caching off. The policy server is where score.perplexity
 * and repair.labels read label perplexities (`prompt_logprobs`), and with prefix caching vLLM has
 * returned stale prompt logprobs for cached prefix positions (FORMATS.md: score on a server started
 * with --no-enable-prefix-caching). extraArgs come after it, so `--enable-prefix-caching` there turns
 * caching back on for a server nothing scores on.
 */
export const VLLM_NO_PREFIX_CACHING = "--no-enable-prefix-caching";

/** argv serving a merged checkpoint with vLLM's OpenAI-compatible server, tool calling on, prefix caching off. */
export function vllmServeCommand(opts: VllmServeOptions): string[] {
  return [
    "vllm",
    "serve",
    opts.model,
    "--host",
    opts.host,
    "--port",
    String(opts.port),
    "--served-model-name",
    opts.servedModelName,
    "--tensor-parallel-size",
    String(opts.tensorParallelSize),
    "--max-model-len",
    String(opts.maxModelLen),
    "--gpu-memory-utilization",
    String(opts.gpuMemoryUtilization),
    "--enable-auto-tool-choice",
    "--tool-call-parser",
    opts.toolCallParser,
    VLLM_NO_PREFIX_CACHING,
    ...opts.extraArgs,
  ];
}
