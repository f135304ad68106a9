/**
 * Our verl overrides against verl itself: trainer/tools/compose_verl_config.py composes the pinned
 * release's own ppo_trainer / sft_trainer_engine configs (from the wheel in .venv-train) with the
 * overrides grpoOverrides / sftOverrides produce, in Hydra's strict mode. Every value must land where
 * we meant it, typed as we meant it; a renamed key must make composition fail.
 * Needs the venv: `bash scripts/ensure-train-venv.sh` (the test fails, saying so, without it).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import {
  grpoOverrides,
  grpoSettingsSchema,
  sftOverrides,
  sftSettingsSchema,
  VERL_VERSION,
  type GrpoCommandOptions,
} from "../../../src/training/verl/jobSpec.js";
import { REPO_ROOT, runTrainPython } from "../../helpers/trainVenv.js";

const COMPOSE = path.join(REPO_ROOT, "trainer", "tools", "compose_verl_config.py");

function compose(config: string, overrides: string[]): { ok: true; values: Record<string, unknown>; configDir: string } | { ok: false; error: string } {
  const r = runTrainPython([COMPOSE, config, "--", ...overrides]);
  if (r.status === 0) {
    const out = JSON.parse(r.stdout) as { values: Record<string, unknown>; config_dir: string };
    return { ok: true, values: out.values, configDir: out.config_dir };
  }
  assert.equal(r.status, 2, `compose_verl_config.py crashed: ${r.stderr}`);
  return { ok: false, error: r.stderr };
}

/** Paths with everything Hydra's grammar treats specially: spaces, commas, quotes, backslashes, ~, ${...}. */
const opts: GrpoCommandOptions = {
  python: "python3",
  modelPath: "/models/Qwen2.5 7B, it's \\ ${not_interpolated}",
  trainFiles: "/data/c 1/iter-1/verl/train.parquet",
  valFiles: "~/iter-1/verl/val.parquet",
  checkpointDir: "/data/[c1]/checkpoints\\",
  rewardFunctionPath: "/data/c1/toolloop_reward.py",
  projectName: "toolloop-c1",
  experimentName: "true",
  resumeMode: "auto",
};

test(`GRPO overrides compose over verl ${VERL_VERSION}'s ppo_trainer config in strict mode, each value where and as we meant it`, () => {
  const settings = grpoSettingsSchema.parse({
    rolloutN: 16,
    rolloutEngine: "sglang",
    rolloutTensorParallelSize: 4,
    trainBatchSize: 512,
    ppoMiniBatchSize: 128,
    ppoMicroBatchSizePerGpu: 2,
    logProbMicroBatchSizePerGpu: 16,
    maxPromptLength: 4096,
    maxResponseLength: 2048,
    learningRate: 1e-7,
    useKlLoss: true,
    klLossCoef: 0.002,
    klLossType: "low_var_kl",
    entropyCoeff: 0.001,
    nnodes: 4,
    nGpusPerNode: 8,
    saveFreq: 150,
    maxCheckpointsToKeep: 3,
    testFreq: -1,
    totalEpochs: 5,
    totalTrainingSteps: 1000,
    gpuMemoryUtilization: 0.7,
    extraOverrides: ["trainer.val_before_train=false", "+actor_rollout_ref.rollout.engine_kwargs.sglang.attention_backend=fa3"],
  });
  const r = compose("ppo_trainer", grpoOverrides(settings, opts));
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.match(r.configDir, /site-packages\/verl\/trainer\/config$/);
  assert.deepEqual(r.values, {
    "algorithm.adv_estimator": "grpo",
    "algorithm.use_kl_in_reward": false,
    "data.train_files": opts.trainFiles,
    "data.val_files": opts.valFiles,
    "data.train_batch_size": 512,
    "data.max_prompt_length": 4096,
    "data.max_response_length": 2048,
    "data.filter_overlong_prompts": true,
    "data.truncation": "error",
    "actor_rollout_ref.model.path": opts.modelPath,
    "actor_rollout_ref.actor.optim.lr": 1e-7,
    "actor_rollout_ref.actor.ppo_mini_batch_size": 128,
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": 2,
    "actor_rollout_ref.actor.use_kl_loss": true,
    "actor_rollout_ref.actor.kl_loss_coef": 0.002,
    "actor_rollout_ref.actor.kl_loss_type": "low_var_kl",
    "actor_rollout_ref.actor.entropy_coeff": 0.001,
    "actor_rollout_ref.rollout.name": "sglang",
    "actor_rollout_ref.rollout.n": 16,
    "actor_rollout_ref.rollout.tensor_model_parallel_size": 4,
    "actor_rollout_ref.rollout.gpu_memory_utilization": 0.7,
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": 16,
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": 16,
    "reward.custom_reward_function.path": opts.rewardFunctionPath,
    "reward.custom_reward_function.name": "compute_score",
    "trainer.logger": ["console"],
    "trainer.project_name": "toolloop-c1",
    "trainer.experiment_name": "true",
    "trainer.default_local_dir": opts.checkpointDir,
    "trainer.resume_mode": "auto",
    "trainer.nnodes": 4,
    "trainer.n_gpus_per_node": 8,
    "trainer.save_freq": 150,
    "trainer.max_actor_ckpt_to_keep": 3,
    "trainer.test_freq": -1,
    "trainer.total_epochs": 5,
    "trainer.total_training_steps": 1000,
    "trainer.val_before_train": false,
    "actor_rollout_ref.rollout.engine_kwargs.sglang.attention_backend": "fa3",
  });
});

test("GRPO defaults compose too, and the values that derive from ours follow them", () => {
  const overrides = grpoOverrides(grpoSettingsSchema.parse({}), { ...opts, modelPath: "Qwen/Qwen2.5-0.5B-Instruct" });
  const r = runTrainPython([
    COMPOSE,
    "ppo_trainer",
    "--select",
    "actor_rollout_ref.rollout.prompt_length",
    "--select",
    "actor_rollout_ref.actor.rollout_n",
    "--",
    ...overrides,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const values = (JSON.parse(r.stdout) as { values: Record<string, unknown> }).values;
  assert.equal(values["actor_rollout_ref.rollout.prompt_length"], 4096);
  assert.equal(values["actor_rollout_ref.actor.rollout_n"], 8);
  assert.equal(values["actor_rollout_ref.model.path"], "Qwen/Qwen2.5-0.5B-Instruct");
});

test("a renamed or misspelt key fails composition (strict mode), naming the key", () => {
  for (const bad of ["trainer.n_gpus_per_nod=8", "actor_rollout_ref.rollout.tensor_parallel_size=2", "custom_reward.path=/x.py"]) {
    const settings = grpoSettingsSchema.parse({ extraOverrides: [bad] });
    const r = compose("ppo_trainer", grpoOverrides(settings, opts));
    assert.equal(r.ok, false, `${bad} was accepted`);
    if (!r.ok) assert.match(r.error, new RegExp(`Could not override '${bad.slice(0, bad.indexOf("=")).replace(/\./g, "\\.")}'`));
  }
});

test(`SFT overrides compose over verl ${VERL_VERSION}'s sft_trainer_engine config; a renamed key fails`, () => {
  const settings = sftSettingsSchema.parse({
    trainBatchSize: 32,
    microBatchSizePerGpu: 2,
    maxLength: 8192,
    truncation: "left",
    learningRate: 2e-5,
    totalEpochs: 3,
    nnodes: 2,
    nGpusPerNode: 4,
    saveFreq: 50,
    maxCheckpointsToKeep: null,
  });
  const sftOpts = {
    python: "python3",
    modelPath: opts.modelPath,
    trainFiles: "/d/sft train.parquet",
    checkpointDir: "/c/sft",
    projectName: "p",
    experimentName: "iter-2-sft",
    resumeMode: "disable" as const,
    datasetClassPath: "/out/iter 2/train/sft/toolloop_sft_dataset.py",
  };
  const r = compose("sft_trainer_engine", sftOverrides(settings, sftOpts));
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.deepEqual(r.values, {
    "model.path": opts.modelPath,
    "data.train_files": "/d/sft train.parquet",
    "data.val_files": null,
    "data.custom_cls.path": "/out/iter 2/train/sft/toolloop_sft_dataset.py",
    "data.custom_cls.name": "LabelTurnsSFTDataset",
    "data.train_batch_size": 32,
    "data.micro_batch_size_per_gpu": 2,
    "data.max_length": 8192,
    "data.truncation": "left",
    "optim.lr": 2e-5,
    "trainer.logger": ["console"],
    "trainer.project_name": "p",
    "trainer.experiment_name": "iter-2-sft",
    "trainer.default_local_dir": "/c/sft",
    "trainer.resume_mode": "disable",
    "trainer.nnodes": 2,
    "trainer.n_gpus_per_node": 4,
    "trainer.save_freq": 50,
    "trainer.max_ckpt_to_keep": null,
    "trainer.test_freq": -1,
    "trainer.total_epochs": 3,
  });
  const renamed = compose("sft_trainer_engine", sftOverrides(sftSettingsSchema.parse({ extraOverrides: ["optim.learning_rate=1e-5"] }), sftOpts));
  assert.equal(renamed.ok, false);
  if (!renamed.ok) assert.match(renamed.error, /Could not override 'optim\.learning_rate'/);
});
