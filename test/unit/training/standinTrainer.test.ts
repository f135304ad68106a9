/**
 * The stand-in trainer (trainer/standin/, SIMULATED) behaves like verl on disk and in its logs:
 * verl's checkpoint layout and latest file, metric lines the training stages parse, resume after a
 * kill from the latest saved step, failure on command (also only once), SIGTERM, the profile whose
 * scales fall for the trained tools, and the merge into an HF-style folder the simulator can serve.
 *
 * Runs the scripts with the training venv's Python (TOOLLOOP_TRAIN_PYTHON, default
 * .venv-train/bin/python: it needs pyarrow) and a tiny reward module that is a TEST DOUBLE, not the
 * generated shim (the shim and the live reward service have their own tests).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { checkpointProfileSchema, loadCheckpointProfile } from "../../../src/llm/simulator/checkpointProfile.js";
import { lastMetricLine, parseMetricLine, type MetricLine } from "../../../src/training/jobOutputs.js";
import { grpoOverrides, grpoSettingsSchema } from "../../../src/training/verl/jobSpec.js";
import { trainVenvPython } from "../../helpers/trainVenv.js";

const ROOT = path.resolve(import.meta.dirname, "../../../..");
const TRAINER = path.join(ROOT, "trainer", "standin", "standin_trainer.py");
const MERGE = path.join(ROOT, "trainer", "standin", "standin_merge.py");
// Fails (never skips) without the venv: the test command makes it.
const PYTHON = trainVenvPython();

const TOOLS = ["get_weather", "get_stock_price", "book_taxi"];

/** Writes the verl parquet (contracts.md schema) with pyarrow: 3 tools and irrelevance samples. */
const MAKE_PARQUET = `
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
names = ${JSON.stringify(TOOLS)}
tools = [{"type": "function", "function": {"name": n, "description": n.replace("_", " "),
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "count": {"type": "integer"}}}}} for n in names]
def rows(split, count):
    out = []
    for i in range(count):
        tool = (names + [None])[i % 4]
        calls = [] if tool is None else [{"name": tool, "arguments": {"city": "C%d" % i, "count": i % 7}}]
        out.append({"data_source": "toolloop",
                    "prompt": [{"role": "system", "content": "You can call tools."}, {"role": "user", "content": "request %d" % i}],
                    "ability": "tool_use",
                    "reward_model": {"style": "rule", "ground_truth": json.dumps({"calls": calls})},
                    "extra_info": {"split": split, "index": i, "sample_id": "%s-%d" % (split, i), "tools": json.dumps(tools)}})
    return out
pq.write_table(pa.Table.from_pylist(rows("train", 24)), sys.argv[1])
pq.write_table(pa.Table.from_pylist(rows("val", 8)), sys.argv[2])
`;

/** TEST DOUBLE of the reward shim: exact match of the Hermes <tool_call> blocks against the label. */
const REWARD_DOUBLE = `
"""TEST DOUBLE (not the generated toolloop shim): 1.0 for the label's calls exactly, 0.2 for parseable
but wrong calls, 0.0 for broken output. Records which form verl's caller used."""
import json, os, re

def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    want = json.loads(ground_truth)["calls"]
    blocks = re.findall(r"<tool_call>\\n(.*?)\\n</tool_call>", solution_str, re.S)
    if solution_str.count("<tool_call>") != len(blocks):
        return {"score": 0.0, "format": 0.0}
    try:
        got = [json.loads(b) for b in blocks]
    except ValueError:
        return {"score": 0.0, "format": 0.0}
    return {"score": 1.0 if got == want else 0.2, "format": 1.0}

def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos, **kwargs):
    log = os.environ.get("REWARD_DOUBLE_LOG")
    if log:
        with open(log, "a") as f:
            f.write("batch %d\\n" % len(solution_strs))
    return [compute_score(d, s, g, e) for d, s, g, e in zip(data_sources, solution_strs, ground_truths, extra_infos)]
`;

let dir = "";
let trainFile = "";
let valFile = "";
let rewardFile = "";

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runPython(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, ...args], {
      cwd: dir,
      env: { ...process.env, TOOLLOOP_STANDIN_STEP_SECONDS: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout, (s) => child.kill(s));
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function overrides(ckpt: string, extra: string[] = []): string[] {
  return [
    `data.train_files=${trainFile}`,
    `data.val_files=${valFile}`,
    "data.train_batch_size=4",
    "actor_rollout_ref.rollout.n=4",
    "actor_rollout_ref.model.path=/models/base-model",
    `trainer.default_local_dir=${ckpt}`,
    "trainer.save_freq=2",
    "trainer.total_epochs=1",
    "trainer.total_training_steps=5",
    "trainer.project_name=toolloop-test",
    "trainer.experiment_name=iter-1",
    `reward.custom_reward_function.path=${rewardFile}`,
    "reward.custom_reward_function.name=compute_score",
    "algorithm.adv_estimator=grpo",
    ...extra,
  ];
}

function metricLines(stdout: string): MetricLine[] {
  return stdout
    .split("\n")
    .map((l) => parseMetricLine(l))
    .filter((m): m is MetricLine => m !== undefined);
}

const trainingLines = (stdout: string) => metricLines(stdout).filter((m) => m.metrics["training/global_step"] !== undefined);
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
const profileAt = (ckpt: string, step: number) => readJson(path.join(ckpt, `global_step_${step}`, "actor", "toolloop_profile.json"));
const latest = (ckpt: string) => fs.readFileSync(path.join(ckpt, "latest_checkpointed_iteration.txt"), "utf8");

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "standin-trainer-"));
  trainFile = path.join(dir, "train.parquet");
  valFile = path.join(dir, "val.parquet");
  rewardFile = path.join(dir, "reward_test_double.py");
  fs.writeFileSync(rewardFile, REWARD_DOUBLE);
  const made = await new Promise<Run>((resolve) => {
    const child = spawn(PYTHON, ["-c", MAKE_PARQUET, trainFile, valFile], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("close", (code, signal) => resolve({ code, signal, stdout: "", stderr }));
  });
  assert.equal(made.code, 0, made.stderr);
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("a run: verl's checkpoint layout, parseable metric lines, a profile whose scales fall for the trained tools", async () => {
  const ckpt = path.join(dir, "run-fresh");
  const log = path.join(dir, "reward-calls.log");
  const r = await runPython(TRAINER, overrides(ckpt), { REWARD_DOUBLE_LOG: log });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /SIMULATED: this is the toolloop stand-in trainer, not verl; nothing is trained/);
  assert.match(r.stdout, /ignoring override algorithm\.adv_estimator='grpo'/);
  assert.match(r.stdout, /Training from scratch/);
  // The batch form was used: one call per step (4 prompts x 4 rollouts) plus validation.
  const batches = fs.readFileSync(log, "utf8").trim().split("\n");
  assert.equal(batches.filter((l) => l === "batch 16").length, 5);

  // Layout exactly as verl: global_step_N/actor for every save_freq step and the last one, and the latest file.
  assert.deepEqual(fs.readdirSync(ckpt).sort(), ["global_step_2", "global_step_4", "global_step_5", "latest_checkpointed_iteration.txt"]);
  assert.equal(latest(ckpt), "5");
  for (const step of [2, 4, 5]) {
    const actor = path.join(ckpt, `global_step_${step}`, "actor");
    assert.deepEqual(fs.readdirSync(actor).sort(), ["huggingface", "model_world_size_1_rank_0.pt", "toolloop_profile.json"]);
    assert.equal(readJson(path.join(actor, "model_world_size_1_rank_0.pt")).simulated, true);
    assert.equal(readJson(path.join(actor, "huggingface", "config.json")).simulated, true);
  }

  // Metric lines: one per step, in order, read by the training stages' parser.
  const lines = trainingLines(r.stdout);
  assert.deepEqual(
    lines.map((l) => l.step),
    [1, 2, 3, 4, 5],
  );
  for (const l of lines) {
    assert.equal(l.metrics["training/global_step"], l.step);
    assert.equal(l.metrics["training/total_steps"], 5);
    assert.equal(l.metrics["training/epoch"], 0);
    assert.equal(l.metrics["actor/lr"], 1e-6);
    assert.equal(l.metrics["standin/simulated"], 1);
    const mean = l.metrics["critic/score/mean"]!;
    assert.ok(mean >= l.metrics["critic/score/min"]! && mean <= l.metrics["critic/score/max"]!, JSON.stringify(l.metrics));
  }
  const last = lastMetricLine(r.stdout)!;
  assert.equal(last.step, 5);
  assert.equal(typeof last.metrics["val-core/toolloop/reward/mean@1"], "number");
  const before0 = metricLines(r.stdout).find((m) => m.step === 0);
  assert.equal(typeof before0?.metrics["val-core/toolloop/reward/mean@1"], "number", "validation before training at step 0");
  // The simulated policy corrupts less as steps go on.
  const corrupted = lines.map((l) => l.metrics["standin/corrupted_fraction"]!);
  assert.ok(corrupted[4]! < corrupted[0]!, `corrupted fraction ${corrupted.join(", ")}`);

  // The profile: the contract's shape (checked by the simulator's own schema), scales below 1 for trained tools.
  const profile = checkpointProfileSchema.parse(profileAt(ckpt, 5));
  assert.equal(profile.steps, 5);
  assert.deepEqual(Object.keys(profile.trainedTools).sort(), [...TOOLS].sort());
  // 5 steps x 4 prompts, each counted once: under its tool, or as an irrelevance sample (no tool).
  const state = readJson(path.join(ckpt, "global_step_5", "standin_state.json")) as { seen: Record<string, number> };
  for (const t of TOOLS) assert.equal(profile.trainedTools[t], state.seen[t]);
  assert.equal(Object.values(profile.trainedTools).reduce((a, b) => a + b, 0) + (state.seen.__irrelevance__ ?? 0), 20);
  for (const t of TOOLS) assert.ok(profile.mistakeRateScale[t]! < 1 && profile.mistakeRateScale[t]! >= 0.05, `${t}: ${profile.mistakeRateScale[t]}`);
  // Simulated transfer: untrained tools improve with the mean reward, less than the trained ones.
  assert.ok(
    profile.defaultMistakeRateScale < 1 && profile.defaultMistakeRateScale >= 1 - 0.5 * profile.meanReward - 1e-4,
    String(profile.defaultMistakeRateScale),
  );
  // More samples seen, lower scale: step 2's profile is above step 5's for every tool.
  const early = checkpointProfileSchema.parse(profileAt(ckpt, 2));
  for (const t of Object.keys(early.mistakeRateScale)) assert.ok(profile.mistakeRateScale[t]! < early.mistakeRateScale[t]!, t);
});

test("resume: killed mid-run, resume_mode=auto continues from the latest saved step and ends as an unbroken run", async () => {
  const ckpt = path.join(dir, "run-killed");
  const args = overrides(ckpt, ["trainer.total_training_steps=8"]);
  let killedAt = 0;
  const killed = await runPython(TRAINER, args, { TOOLLOOP_STANDIN_STEP_SECONDS: "0.3" }, (out, kill) => {
    if (killedAt === 0 && /step:5 - /.test(out)) {
      killedAt = 5;
      kill("SIGKILL");
    }
  });
  assert.equal(killed.signal, "SIGKILL");
  assert.equal(latest(ckpt), "4");
  assert.ok(!fs.existsSync(path.join(ckpt, "global_step_6")));

  const resumed = await runPython(TRAINER, args);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming from global_step_4/);
  assert.match(resumed.stdout, /Load from checkpoint folder: .*global_step_4/);
  assert.deepEqual(
    trainingLines(resumed.stdout).map((l) => l.step),
    [5, 6, 7, 8],
  );
  assert.equal(latest(ckpt), "8");

  // Same batches, same rollouts, same state: the final profile equals an uninterrupted run's.
  const straight = path.join(dir, "run-straight");
  const whole = await runPython(TRAINER, overrides(straight, ["trainer.total_training_steps=8"]));
  assert.equal(whole.code, 0, whole.stderr);
  assert.deepEqual(profileAt(ckpt, 8), profileAt(straight, 8));
  assert.deepEqual(trainingLines(resumed.stdout).at(-1)?.metrics["critic/score/mean"], trainingLines(whole.stdout).at(-1)?.metrics["critic/score/mean"]);

  // resume_mode=disable starts over.
  const fresh = await runPython(TRAINER, [...args, "trainer.resume_mode=disable", "trainer.total_training_steps=2"]);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.equal(trainingLines(fresh.stdout)[0]?.step, 1);
  assert.equal(latest(ckpt), "2");
});

test("save_freq: nothing is saved unless it is positive (verl 0.9.1); GRPO's saveFreq -1 still saves the last step", async () => {
  // verl's PPO trainer: `save_freq > 0 and (is_last_step or step % save_freq == 0)`.
  const never = path.join(dir, "run-save-never");
  const raw = await runPython(TRAINER, overrides(never, ["trainer.save_freq=-1", "trainer.total_training_steps=3"]));
  assert.equal(raw.code, 0, raw.stderr);
  assert.ok(!fs.existsSync(path.join(never, "latest_checkpointed_iteration.txt")), "save_freq=-1 saves nothing");

  // train.grpo's overrides for saveFreq -1 ("only at the end"): the job leaves its last step for train.grpo to collect.
  const atEnd = path.join(dir, "run-save-at-end");
  const settings = grpoSettingsSchema.parse({ saveFreq: -1, trainBatchSize: 4, ppoMiniBatchSize: 4, rolloutN: 4, totalTrainingSteps: 3 });
  const grpo = grpoOverrides(settings, {
    python: PYTHON,
    modelPath: "/models/base-model",
    trainFiles: trainFile,
    valFiles: valFile,
    checkpointDir: atEnd,
    rewardFunctionPath: rewardFile,
    projectName: "toolloop-test",
    experimentName: "iter-1",
    resumeMode: "auto",
  });
  const run = await runPython(TRAINER, grpo);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(latest(atEnd), "3");
  assert.ok(fs.existsSync(path.join(atEnd, "global_step_3", "actor")));
  assert.ok(!fs.existsSync(path.join(atEnd, "global_step_2")), "only the last step");
});

test("max_actor_ckpt_to_keep: only the newest N saved steps stay, as verl's checkpoint manager keeps them", async () => {
  const stepDirs = (ckpt: string) =>
    fs
      .readdirSync(ckpt)
      .filter((n) => n.startsWith("global_step_"))
      .sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  // save_freq=2 over 9 steps saves 2, 4, 6, 8 and 9.
  const two = path.join(dir, "keep-two");
  const r = await runPython(TRAINER, overrides(two, ["trainer.total_training_steps=9", "trainer.max_actor_ckpt_to_keep=2"]));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(stepDirs(two), ["global_step_8", "global_step_9"]);
  assert.equal(latest(two), "9");
  assert.equal((r.stdout.match(/Checkpoint manager remove previous save local path: .*global_step_\d+/g) ?? []).length, 3);
  assert.ok(!r.stdout.includes("ignoring override trainer.max_actor_ckpt_to_keep"), "the key is read, not ignored");

  const one = path.join(dir, "keep-one");
  const r1 = await runPython(TRAINER, overrides(one, ["trainer.total_training_steps=9", "trainer.max_actor_ckpt_to_keep=1"]));
  assert.equal(r1.code, 0, r1.stderr);
  assert.deepEqual(stepDirs(one), ["global_step_9"]);

  // null (verl's default) keeps every saved step.
  const all = path.join(dir, "keep-all");
  const rn = await runPython(TRAINER, overrides(all, ["trainer.total_training_steps=9", "trainer.max_actor_ckpt_to_keep=null"]));
  assert.equal(rn.code, 0, rn.stderr);
  assert.deepEqual(stepDirs(all), ["global_step_2", "global_step_4", "global_step_6", "global_step_8", "global_step_9"]);

  const bad = await runPython(TRAINER, overrides(path.join(dir, "keep-bad"), ["trainer.max_actor_ckpt_to_keep=0"]));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /trainer\.max_actor_ckpt_to_keep must be >= 1 \(got 0\)/);
});

test("failure on command: exit 1 with a traceback at step k; with FAIL_ONCE the retry resumes and succeeds", async () => {
  const ckpt = path.join(dir, "run-fail");
  const env = { TOOLLOOP_STANDIN_FAIL_AT_STEP: "3", TOOLLOOP_STANDIN_FAIL_ONCE: "1" };
  const failed = await runPython(TRAINER, overrides(ckpt), env);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /Traceback \(most recent call last\):/);
  assert.match(failed.stderr, /TOOLLOOP_STANDIN_FAIL_AT_STEP=3: simulated failure of the stand-in trainer at step 3/);
  assert.equal(lastMetricLine(failed.stdout)?.step, 2);
  assert.equal(latest(ckpt), "2");
  assert.ok(fs.existsSync(path.join(ckpt, ".standin_failed_once")));

  const retried = await runPython(TRAINER, overrides(ckpt), env);
  assert.equal(retried.code, 0, retried.stderr);
  assert.match(retried.stdout, /resuming from global_step_2/);
  assert.match(retried.stdout, /does not fail again/);
  assert.equal(latest(ckpt), "5");

  // Without FAIL_ONCE it fails every time.
  const always = path.join(dir, "run-fail-always");
  for (let i = 0; i < 2; i++) assert.equal((await runPython(TRAINER, overrides(always), { TOOLLOOP_STANDIN_FAIL_AT_STEP: "1" })).code, 1);
  assert.ok(!fs.existsSync(path.join(always, "latest_checkpointed_iteration.txt")));
});

test("SIGTERM stops it at once; bad overrides exit 1 naming the key", async () => {
  const ckpt = path.join(dir, "run-term");
  let sentAt = 0;
  const r = await runPython(TRAINER, overrides(ckpt), { TOOLLOOP_STANDIN_STEP_SECONDS: "30" }, (out, kill) => {
    if (sentAt === 0 && /step:1 - /.test(out)) {
      sentAt = Date.now();
      kill("SIGTERM");
    }
  });
  assert.equal(r.code, 143);
  assert.ok(Date.now() - sentAt < 5000, "stopped promptly");
  assert.match(r.stdout, /signal 15: stopping now/);

  const bad = await runPython(TRAINER, overrides(path.join(dir, "run-bad"), ["data.train_batch_size=many"]));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /data\.train_batch_size must be an integer \(got 'many'\)/);
  const noReward = await runPython(TRAINER, overrides(path.join(dir, "run-bad"), [`reward.custom_reward_function.path=${path.join(dir, "nope.py")}`]));
  assert.equal(noReward.code, 1);
  assert.match(noReward.stderr, /reward\.custom_reward_function\.path: no such file/);
});

test("merge: an HF-style folder with the profile; training from it starts where the last iteration ended", async () => {
  const ckpt = path.join(dir, "run-iter1");
  assert.equal((await runPython(TRAINER, overrides(ckpt))).code, 0);
  const merged = path.join(dir, "merged-iter1");
  const m = await runPython(MERGE, ["merge", "--backend", "fsdp", "--local_dir", path.join(ckpt, "global_step_5", "actor"), "--target_dir", merged]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /SIMULATED/);
  assert.deepEqual(fs.readdirSync(merged).sort(), ["config.json", "standin_model.json", "toolloop_profile.json"]);
  const config = readJson(path.join(merged, "config.json"));
  assert.equal(config.simulated, true);
  assert.equal(config.step, 5);
  assert.equal(
    fs.readFileSync(path.join(merged, "toolloop_profile.json"), "utf8"),
    fs.readFileSync(path.join(ckpt, "global_step_5", "actor", "toolloop_profile.json"), "utf8"),
  );
  const loaded = await loadCheckpointProfile(path.join(merged, "toolloop_profile.json"));

  // Iteration 2 trains from the merged folder: its scales start from iteration 1's and fall further.
  const ckpt2 = path.join(dir, "run-iter2");
  const r2 = await runPython(TRAINER, overrides(ckpt2, [`actor_rollout_ref.model.path=${merged}`, "trainer.experiment_name=iter-2"]));
  assert.equal(r2.code, 0, r2.stderr);
  const p2 = checkpointProfileSchema.parse(profileAt(ckpt2, 5));
  for (const t of TOOLS) {
    assert.ok(p2.mistakeRateScale[t]! < loaded.profile.mistakeRateScale[t]!, `${t}: ${p2.mistakeRateScale[t]} after ${loaded.profile.mistakeRateScale[t]}`);
    assert.equal(p2.trainedTools[t], 2 * loaded.profile.trainedTools[t]!);
  }

  const notCkpt = await runPython(MERGE, ["merge", "--backend", "fsdp", "--local_dir", dir, "--target_dir", path.join(dir, "m2")]);
  assert.equal(notCkpt.code, 1);
  assert.match(notCkpt.stderr, /is not a stand-in checkpoint/);
});
