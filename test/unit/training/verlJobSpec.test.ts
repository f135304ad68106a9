import assert from "node:assert/strict";
import { test } from "node:test";
import { hydraString, hydraValue } from "../../../src/training/verl/hydra.js";
import {
  grpoCommand,
  grpoOverrides,
  grpoSettingsSchema,
  mergeCommand,
  sftCommand,
  sftSettingsSchema,
  sftOverrides,
  VERL_VERSION,
  vllmServeCommand,
  type GrpoCommandOptions,
} from "../../../src/training/verl/jobSpec.js";

const opts: GrpoCommandOptions = {
  python: "/opt/venv/bin/python",
  modelPath: "Qwen/Qwen2.5-7B-Instruct",
  trainFiles: "/data/c1/iter-1/verl/train.parquet",
  valFiles: "/data/c1/iter-1/verl/val.parquet",
  checkpointDir: "/data/c1/iter-1/train/grpo/checkpoints",
  rewardFunctionPath: "/data/c1/iter-1/train/grpo/toolloop_reward.py",
  projectName: "toolloop-c1",
  experimentName: "iter-1",
  resumeMode: "disable",
};

function issues(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }, v: unknown): string[] {
  const r = schema.safeParse(v);
  assert.equal(r.success, false, `expected ${JSON.stringify(v)} to be rejected`);
  return r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

test("grpoSettingsSchema: every field defaulted; bad values named by field", () => {
  const s = grpoSettingsSchema.parse({});
  assert.equal(VERL_VERSION, "0.9.1");
  assert.equal(s.rolloutEngine, "vllm");
  assert.equal(s.totalTrainingSteps, undefined);
  assert.deepEqual(s.extraOverrides, []);
  assert.deepEqual(issues(grpoSettingsSchema, { rolloutEngine: "trtllm" }), ['rolloutEngine: expected "vllm" or "sglang"']);
  assert.deepEqual(issues(grpoSettingsSchema, { trainBatchSize: 32, ppoMiniBatchSize: 64 }), ["ppoMiniBatchSize: expected at most trainBatchSize"]);
  assert.deepEqual(issues(grpoSettingsSchema, { rolloutN: 0 }), ["rolloutN: expected a positive integer"]);
  assert.deepEqual(issues(grpoSettingsSchema, { saveFreq: 0 }), ["saveFreq: expected a positive integer, or -1 for never"]);
  // verl keeps every saved step unless told: two by default (the newest complete one while the next is written).
  assert.equal(s.maxCheckpointsToKeep, 2);
  assert.equal(grpoSettingsSchema.parse({ maxCheckpointsToKeep: null }).maxCheckpointsToKeep, null);
  assert.deepEqual(issues(grpoSettingsSchema, { maxCheckpointsToKeep: 0 }), ["maxCheckpointsToKeep: expected a positive integer"]);
  assert.deepEqual(issues(grpoSettingsSchema, { maxCheckpointsToKeep: "all" }), [
    "maxCheckpointsToKeep: expected a positive integer, or null to keep every saved step",
  ]);
  assert.deepEqual(issues(grpoSettingsSchema, { gpuMemoryUtilization: 1.5 }), ["gpuMemoryUtilization: expected a number in (0, 1]"]);
  assert.match(issues(grpoSettingsSchema, { extraOverrides: ["trainer.val_before_train"] })[0]!, /^extraOverrides\.0: expected key=value/);
  assert.match(issues(grpoSettingsSchema, { extraOverrides: ["a=1\nb=2"] })[0]!, /^extraOverrides\.0: expected key=value/);
  assert.match(issues(grpoSettingsSchema, { extraOverrides: ["-rm=1"] })[0]!, /^extraOverrides\.0: expected key=value/);
  assert.match(issues(grpoSettingsSchema, { n_gpus: 8 })[0]!, /Unrecognized key/);
  assert.ok(grpoSettingsSchema.safeParse({ extraOverrides: ["trainer.val_before_train=false", "+actor_rollout_ref.rollout.engine_kwargs.vllm.x=1"] }).success);
});

test("grpoCommand: verl's main_ppo with GRPO, our paths, the reward shim and resume mode; program replaces python -m", () => {
  const s = grpoSettingsSchema.parse({ rolloutN: 16, nnodes: 4, totalTrainingSteps: 300, learningRate: 1e-7 });
  const argv = grpoCommand(s, opts);
  assert.deepEqual(argv.slice(0, 3), ["/opt/venv/bin/python", "-m", "verl.trainer.main_ppo"]);
  const overrides = argv.slice(3);
  assert.deepEqual(overrides, grpoOverrides(s, opts));
  for (const o of [
    "algorithm.adv_estimator=grpo",
    "actor_rollout_ref.model.path=Qwen/Qwen2.5-7B-Instruct",
    "actor_rollout_ref.rollout.n=16",
    "actor_rollout_ref.rollout.name=vllm",
    "actor_rollout_ref.actor.optim.lr=1e-7",
    "reward.custom_reward_function.path=/data/c1/iter-1/train/grpo/toolloop_reward.py",
    "reward.custom_reward_function.name=compute_score",
    "trainer.default_local_dir=/data/c1/iter-1/train/grpo/checkpoints",
    "trainer.resume_mode=disable",
    "trainer.logger=[console]",
    "trainer.nnodes=4",
    "trainer.n_gpus_per_node=8",
    "trainer.total_training_steps=300",
    "trainer.max_actor_ckpt_to_keep=2",
    "data.train_files=/data/c1/iter-1/verl/train.parquet",
    "data.val_files=/data/c1/iter-1/verl/val.parquet",
  ])
    assert.ok(overrides.includes(o), o);
  assert.ok(!grpoOverrides(grpoSettingsSchema.parse({}), opts).some((o) => o.startsWith("trainer.total_training_steps=")));
  const keys = overrides.map((o) => o.slice(0, o.indexOf("=")));
  assert.equal(new Set(keys).size, keys.length, "each key once");

  const standin = grpoCommand(s, { ...opts, program: ["python3", "/app/trainer/standin/standin_trainer.py"], resumeMode: "auto" });
  assert.deepEqual(standin.slice(0, 2), ["python3", "/app/trainer/standin/standin_trainer.py"]);
  assert.deepEqual(standin.slice(2), grpoOverrides(s, { ...opts, resumeMode: "auto" }));
});

test("settings frozen before maxCheckpointsToKeep existed (a campaign registered earlier) send no retention override: verl keeps every step, as before", () => {
  const { maxCheckpointsToKeep: _g, ...oldGrpo } = grpoSettingsSchema.parse({});
  const grpo = grpoOverrides(oldGrpo as never, opts);
  assert.ok(!grpo.some((o) => o.startsWith("trainer.max_actor_ckpt_to_keep=")), grpo.join(" "));
  assert.ok(grpoOverrides(grpoSettingsSchema.parse({}), opts).includes("trainer.max_actor_ckpt_to_keep=2"));
  const { maxCheckpointsToKeep: _s, ...oldSft } = sftSettingsSchema.parse({});
  const sftOpts = {
    python: "python3",
    modelPath: "m",
    trainFiles: "/t.parquet",
    checkpointDir: "/c",
    projectName: "p",
    experimentName: "e",
    resumeMode: "auto" as const,
  };
  assert.ok(!sftOverrides(oldSft as never, sftOpts).some((o) => o.startsWith("trainer.max_ckpt_to_keep=")));
  assert.ok(sftOverrides(sftSettingsSchema.parse({ maxCheckpointsToKeep: null }), sftOpts).includes("trainer.max_ckpt_to_keep=null"));
});

test("grpoOverrides: an extra override replaces ours in place; new keys come last", () => {
  const s = grpoSettingsSchema.parse({ extraOverrides: ["trainer.nnodes=2", "trainer.val_before_train=false"] });
  const o = grpoOverrides(s, opts);
  const base = grpoOverrides(grpoSettingsSchema.parse({}), opts);
  assert.equal(o.indexOf("trainer.nnodes=2"), base.indexOf("trainer.nnodes=1"));
  assert.ok(!o.includes("trainer.nnodes=1"));
  assert.equal(o.at(-1), "trainer.val_before_train=false");
});

test("hydra values: strings quoted exactly when Hydra would read them as something else", () => {
  assert.equal(hydraString("/plain/path.parquet"), "/plain/path.parquet");
  assert.equal(hydraString("Qwen/Qwen2.5-7B"), "Qwen/Qwen2.5-7B");
  assert.equal(hydraString("true"), "'true'");
  assert.equal(hydraString("null"), "'null'");
  assert.equal(hydraString("123"), "'123'");
  assert.equal(hydraString("~/ckpt"), "'~/ckpt'");
  assert.equal(hydraString("/a b,c"), "'/a b,c'");
  assert.equal(hydraString("it's"), "'it\\'s'");
  assert.equal(hydraString("${x}"), "'\\${x}'");
  assert.equal(hydraString("a\\b"), "'a\\b'");
  assert.equal(hydraString("end\\"), "'end\\\\'");
  assert.equal(hydraValue(["console", "wandb"]), "[console,wandb]");
  assert.equal(hydraValue(null), "null");
  assert.equal(hydraValue(1e-6), "0.000001");
  assert.throws(() => hydraValue(Number.NaN), /not a finite number/);
});

test("sftCommand, mergeCommand, vllmServeCommand: the argv each tool takes", () => {
  const sft = sftCommand(sftSettingsSchema.parse({ nGpusPerNode: 4 }), {
    python: "python3",
    modelPath: "/m",
    trainFiles: "/d/sft.parquet",
    checkpointDir: "/c",
    projectName: "p",
    experimentName: "e",
    resumeMode: "auto",
  });
  assert.deepEqual(sft.slice(0, 3), ["python3", "-m", "verl.trainer.sft_trainer_ray"]);
  for (const o of [
    "model.path=/m",
    "data.train_files=/d/sft.parquet",
    "data.val_files=null",
    "trainer.n_gpus_per_node=4",
    "trainer.resume_mode=auto",
    "trainer.default_local_dir=/c",
  ])
    assert.ok(sft.includes(o), o);
  assert.deepEqual(issues(sftSettingsSchema, { trainBatchSize: 2, microBatchSizePerGpu: 4 }), ["microBatchSizePerGpu: expected at most trainBatchSize"]);

  assert.deepEqual(mergeCommand({ python: "python3", backend: "fsdp", localDir: "/c/global_step_9/actor", targetDir: "/out" }), [
    "python3",
    "-m",
    "verl.model_merger",
    "merge",
    "--backend",
    "fsdp",
    "--local_dir",
    "/c/global_step_9/actor",
    "--target_dir",
    "/out",
  ]);
  assert.deepEqual(mergeCommand({ python: "python3", program: ["python3", "standin_merge.py"], backend: "megatron", localDir: "/a", targetDir: "/b" }), [
    "python3",
    "standin_merge.py",
    "merge",
    "--backend",
    "megatron",
    "--local_dir",
    "/a",
    "--target_dir",
    "/b",
  ]);
  assert.deepEqual(
    vllmServeCommand({
      model: "/out",
      host: "0.0.0.0",
      port: 8100,
      servedModelName: "policy-iter-1",
      tensorParallelSize: 2,
      maxModelLen: 8192,
      gpuMemoryUtilization: 0.9,
      toolCallParser: "hermes",
      extraArgs: ["--max-num-seqs", "64"],
    }),
    [
      "vllm",
      "serve",
      "/out",
      "--host",
      "0.0.0.0",
      "--port",
      "8100",
      "--served-model-name",
      "policy-iter-1",
      "--tensor-parallel-size",
      "2",
      "--max-model-len",
      "8192",
      "--gpu-memory-utilization",
      "0.9",
      "--enable-auto-tool-choice",
      "--tool-call-parser",
      "hermes",
      "--no-enable-prefix-caching",
      "--max-num-seqs",
      "64",
    ],
  );
});

test("vllmServeCommand: prefix caching is off (label perplexities come from the served policy's prompt_logprobs); extraArgs can turn it back on", () => {
  // score.perplexity and repair.labels read prompt_logprobs from this server; with prefix caching vLLM
  // has returned stale logprobs for the cached positions (FORMATS.md). Before, the command left vLLM's
  // default (caching on) and nothing said so.
  const base = {
    model: "/m",
    host: "0.0.0.0",
    port: 8000,
    servedModelName: "p",
    tensorParallelSize: 1,
    maxModelLen: 8192,
    gpuMemoryUtilization: 0.9,
    toolCallParser: "hermes",
  };
  const argv = vllmServeCommand({ ...base, extraArgs: [] });
  assert.ok(argv.includes("--no-enable-prefix-caching"), argv.join(" "));
  assert.ok(!argv.includes("--enable-prefix-caching"));
  // vLLM takes the last of a repeated boolean flag: an operator's --enable-prefix-caching comes after ours.
  const on = vllmServeCommand({ ...base, extraArgs: ["--enable-prefix-caching"] });
  assert.ok(on.indexOf("--enable-prefix-caching") > on.indexOf("--no-enable-prefix-caching"));
});
