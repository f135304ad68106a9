/**
 * train.grpo and train.sft jobs run with trainer.resume_mode=auto from their first attempt. Slurm
 * requeues a job that is preempted or whose node fails (scontrol requeue; Requeue=1 by default) and
 * runs its batch script again: the command recorded at submit must continue from the steps it saved,
 * not train from scratch over them (verl with resume_mode=disable restarts at step 1 and overwrites
 * latest_checkpointed_iteration.txt). With no step saved, auto trains from scratch as disable did.
 *
 * The stage handlers run on a real database; the GRPO command is the stand-in trainer (SIMULATED)
 * rewarded through the generated shim and a live reward service.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { recordTrainingDataset } from "../../src/db/repos/trainingDatasets.js";
import { startRewardService, type RewardService } from "../../src/reward/service.js";
import { trainGrpoHandler } from "../../src/stages/train/grpo/handler.js";
import { trainSftHandler } from "../../src/stages/train/sft/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import type { JobRequest } from "../../src/training/launchers/launcher.js";
import { trainingPaths } from "../../src/training/paths.js";
import { verlDatasetPaths, type VerlManifest } from "../../src/training/verl/dataset.js";
import { rawCampaign, stageContext } from "../helpers/selfEvolution.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { runTrainPython, trainVenvPython } from "../helpers/trainVenv.js";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";

/** verl parquet rows (the export's schema) for 3 tools and irrelevance samples. */
const MAKE_PARQUET = `
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
names = ["get_weather", "get_stock_price", "book_taxi"]
tools = [{"type": "function", "function": {"name": n, "description": n, "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}} for n in names]
def rows(split, count):
    out = []
    for i in range(count):
        tool = (names + [None])[i % 4]
        calls = [] if tool is None else [{"name": tool, "arguments": {"city": "C%d" % i}}]
        out.append({"data_source": "toolloop", "prompt": [{"role": "user", "content": "request %d" % i}], "ability": "tool_use",
                    "reward_model": {"style": "rule", "ground_truth": json.dumps({"calls": calls})},
                    "extra_info": {"split": split, "index": i, "sample_id": "%s-%d" % (split, i), "tools": json.dumps(tools)}})
    return out
pq.write_table(pa.Table.from_pylist(rows("train", 16)), sys.argv[1])
pq.write_table(pa.Table.from_pylist(rows("val", 4)), sys.argv[2])
`;

let res: StageResources;
let reward: RewardService;
before(async () => {
  res = await startStageResources("train-resume-mode", 5);
  reward = await startRewardService({ port: 0 });
});
after(async () => {
  await reward?.close();
  await res?.close();
});

function config() {
  const raw = rawCampaign({
    simUrl: res.sim.url,
    stages: [
      { name: "export.verl", sft: true },
      { name: "train.sft", trainer: "standin", baseModel: "base-model" },
      { name: "train.grpo", trainer: "standin", baseModel: "base-model", grpo: { trainBatchSize: 4, ppoMiniBatchSize: 4, rolloutN: 2, saveFreq: 2 } },
    ],
  });
  const parsed = parseCampaignConfig({ ...raw, cluster: { python: trainVenvPython(), rewardService: { url: reward.url } } });
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

/** A dataset row as export.verl records it, over parquet files written here. */
async function recordDataset(campaignId: string, dir: string): Promise<void> {
  const paths = verlDatasetPaths(dir);
  fs.mkdirSync(dir, { recursive: true });
  const made = runTrainPython(["-c", MAKE_PARQUET, paths.train, paths.val]);
  assert.equal(made.status, 0, made.stderr);
  fs.copyFileSync(paths.train, paths.sftParquet);
  const entry = { path: "x", sha256: "0", bytes: 1 };
  const manifest = {
    counts: { train: 16, val: 4, sft: 16 },
    files: { train: entry, val: entry, sftParquet: entry, sampleIds: entry },
  } as unknown as VerlManifest;
  await recordTrainingDataset(res.db.db, { campaignId, iteration: 1, dir, manifest });
}

/** Runs a job request as its launcher would: its argv in its work folder with its env. */
function runJob(request: Omit<JobRequest, "name">, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  fs.mkdirSync(request.workDir, { recursive: true });
  return new Promise((resolve, reject) => {
    const [program, ...args] = request.command;
    const child = spawn(program!, args, { cwd: request.workDir, env: { ...process.env, ...request.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const latestStep = (dir: string) => fs.readFileSync(path.join(dir, "latest_checkpointed_iteration.txt"), "utf8").trim();

test("train.grpo: attempt 1's job, started again after it saved steps (a Slurm requeue), continues from its latest step", async () => {
  const campaignId = `resume-grpo-${Date.now().toString(36)}`;
  const cfg = config();
  const ctx = stageContext<StageConfigOf<"train.grpo">>(res.db.db, res.workDir, campaignId, cfg, "train.grpo", 1);
  await recordDataset(campaignId, path.join(ctx.outputDir(), "verl"));
  const checkpoints = trainingPaths(ctx.outputDir()).grpo.checkpoints;

  // Prepared before any step is saved: what a first attempt records and submits.
  const { request } = await trainGrpoHandler.prepare(ctx, 1);

  // The first run is stopped after it saved step 2 (preempted at step 3).
  const env = { TOOLLOOP_STANDIN_STEP_SECONDS: "0", TOOLLOOP_STANDIN_FAIL_AT_STEP: "3", TOOLLOOP_STANDIN_FAIL_ONCE: "1" };
  const first = await runJob(request, env);
  assert.equal(first.code, 1, first.output);
  assert.match(first.output, /training from scratch/i);
  assert.equal(latestStep(checkpoints), "2");

  // Slurm runs the same batch script again: it resumes, and ends at the run's last step.
  const again = await runJob(request, env);
  assert.equal(again.code, 0, again.output);
  assert.match(again.output, /resuming from global_step_2/);
  assert.doesNotMatch(again.output, /training from scratch/i);
  assert.equal(latestStep(checkpoints), "4");
  assert.ok(request.command.includes("trainer.resume_mode=auto"), request.command.join(" "));
});

test("train.sft: attempt 1's job runs with resume_mode=auto, so a requeued job resumes (the stand-in and verl start from scratch when none is saved)", async () => {
  const campaignId = `resume-sft-${Date.now().toString(36)}`;
  const cfg = config();
  const ctx = stageContext<StageConfigOf<"train.sft">>(res.db.db, res.workDir, campaignId, cfg, "train.sft", 1);
  await recordDataset(campaignId, path.join(ctx.outputDir(), "verl"));
  const { request } = await trainSftHandler.prepare(ctx, 1);
  const script = request.command.at(-1) ?? "";
  assert.match(script, /trainer\.resume_mode=auto/);
  assert.doesNotMatch(script, /resume_mode=disable/);
});

test("verl's trainers are Ray drivers (on Ray their entrypoint asks for none of their GPUs and CPUs); the stand-in is not", async () => {
  const campaignId = `ray-driver-${Date.now().toString(36)}`;
  const standin = config();
  const verl = { ...standin, stages: standin.stages.map((s) => (s.name === "train.sft" || s.name === "train.grpo" ? { ...s, trainer: "verl" as const } : s)) };
  for (const [cfg, expected] of [
    [standin, undefined],
    [verl, true],
  ] as const) {
    const sft = stageContext<StageConfigOf<"train.sft">>(res.db.db, res.workDir, campaignId, cfg, "train.sft", 1);
    await recordDataset(campaignId, path.join(sft.outputDir(), "verl"));
    assert.equal((await trainSftHandler.prepare(sft, 1)).request.resources.rayDriver, expected, `train.sft, trainer ${String(expected)}`);
    const grpo = stageContext<StageConfigOf<"train.grpo">>(res.db.db, res.workDir, campaignId, cfg, "train.grpo", 1);
    assert.equal((await trainGrpoHandler.prepare(grpo, 1)).request.resources.rayDriver, expected, `train.grpo, trainer ${String(expected)}`);
  }
});
