/**
 * The stand-in SFT trainer (SIMULATED) on our SFT parquet: verl's SFT checkpoint layout, metric
 * lines our parser reads, a profile that lowers the taught tools' mistake rates, resume, and the
 * stand-in merge over its saved step. Needs .venv-train (pyarrow).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import type { McpTool } from "../../../src/domain/types.js";
import { lastMetricLine, latestCheckpointStep, parseMetricLine } from "../../../src/training/jobOutputs.js";
import { writeVerlDataset } from "../../../src/training/verl/dataset.js";
import { sftCommand, sftSettingsSchema } from "../../../src/training/verl/jobSpec.js";
import { REPO_ROOT, trainVenvPython } from "../../helpers/trainVenv.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "standin-sft-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const tools: McpTool[] = ["get_weather", "get_time"].map((name) => ({
  name,
  description: name,
  inputSchema: { type: "object", properties: { city: { type: "string" } } },
}));

function run(argv: string[]) {
  return spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...process.env, TOOLLOOP_STANDIN_STEP_SECONDS: "0" }, timeout: 60_000 });
}

/** 24 one-call SFT conversations (get_weather) written as the iteration's SFT parquet under `name`; returns its path. */
async function weatherSftSet(name: string): Promise<string> {
  const samples = Array.from({ length: 24 }, (_, i) => ({
    id: `s${String(i).padStart(2, "0")}`,
    tools,
    messages: [
      { role: "user" as const, content: `Weather in city ${i}?` },
      {
        role: "assistant" as const,
        content: null,
        tool_calls: [{ id: "c", type: "function" as const, function: { name: "get_weather", arguments: JSON.stringify({ city: `c${i}` }) } }],
      },
    ],
  }));
  const data = path.join(dir, name);
  await writeVerlDataset({ samples, dir: data, valFraction: 0, seed: 1, sft: true, provenance: { campaignId: "c", iteration: 1 } });
  return path.join(data, "sft.parquet");
}

/** sftCommand's options for the stand-in SFT trainer on `trainFiles`, saving under `ckpt`. */
function standinSftOptions(trainFiles: string, ckpt: string) {
  const python = trainVenvPython();
  return {
    python,
    program: [python, path.join(REPO_ROOT, "trainer/standin/standin_sft.py")],
    modelPath: "base-model",
    trainFiles,
    checkpointDir: ckpt,
    projectName: "p",
    experimentName: "e",
    resumeMode: "auto" as const,
  };
}

test("stand-in SFT: verl's SFT checkpoint layout, falling loss, a profile for the taught tools, resume, merge", async () => {
  const ckpt = path.join(dir, "ckpt");
  const python = trainVenvPython();
  const opts = standinSftOptions(await weatherSftSet("data"), ckpt);
  const first = run(sftCommand(sftSettingsSchema.parse({ trainBatchSize: 8, microBatchSizePerGpu: 1, totalEpochs: 1 }), opts));
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /SIMULATED/);
  const lines = first.stdout.split("\n").flatMap((l) => parseMetricLine(l) ?? []);
  assert.deepEqual(
    lines.map((l) => l.step),
    [1, 2, 3],
  );
  assert.ok(lines[2]!.metrics["train/loss"]! < lines[0]!.metrics["train/loss"]!);
  assert.equal(await latestCheckpointStep(ckpt), 3);
  const stepDir = path.join(ckpt, "global_step_3");
  const profile = JSON.parse(fs.readFileSync(path.join(stepDir, "toolloop_profile.json"), "utf8")) as {
    simulated: boolean;
    trainedTools: Record<string, number>;
    mistakeRateScale: Record<string, number>;
  };
  assert.equal(profile.simulated, true);
  assert.deepEqual(profile.trainedTools, { get_weather: 24 });
  assert.ok(profile.mistakeRateScale.get_weather! < 1 && profile.mistakeRateScale.get_weather! > 0.5, String(profile.mistakeRateScale.get_weather));

  // Resume: two more steps continue from step 3.
  const more = run(sftCommand(sftSettingsSchema.parse({ trainBatchSize: 8, microBatchSizePerGpu: 1, totalTrainingSteps: 5 }), opts));
  assert.equal(more.status, 0, more.stderr);
  assert.match(more.stdout, /resuming from global_step_3/);
  assert.equal(lastMetricLine(more.stdout)?.step, 5);
  assert.equal(await latestCheckpointStep(ckpt), 5);

  // The stand-in merge reads the SFT layout (no actor/ folder) and carries the profile over.
  const merged = path.join(dir, "merged");
  const merge = run([
    python,
    path.join(REPO_ROOT, "trainer/standin/standin_merge.py"),
    "merge",
    "--backend",
    "fsdp",
    "--local_dir",
    path.join(ckpt, "global_step_5"),
    "--target_dir",
    merged,
  ]);
  assert.equal(merge.status, 0, merge.stderr);
  assert.ok(fs.existsSync(path.join(merged, "toolloop_profile.json")));
});

test("stand-in SFT keeps the newest maxCheckpointsToKeep saved steps (trainer.max_ckpt_to_keep), as verl's SFT trainer", async () => {
  const trainFiles = await weatherSftSet("keep-data");
  const opts = (ckpt: string) => standinSftOptions(trainFiles, ckpt);
  const steps = (ckpt: string) =>
    fs
      .readdirSync(ckpt)
      .filter((n) => n.startsWith("global_step_"))
      .sort();
  // 24 conversations at 4 a step over the default 2 epochs, saved every step: 12 saves.
  const kept = path.join(dir, "keep-default");
  const r = run(sftCommand(sftSettingsSchema.parse({ trainBatchSize: 4, microBatchSizePerGpu: 1, saveFreq: 1 }), opts(kept)));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(steps(kept), ["global_step_11", "global_step_12"], "the default keeps two");
  assert.equal(await latestCheckpointStep(kept), 12);
  const every = path.join(dir, "keep-every");
  const all = run(sftCommand(sftSettingsSchema.parse({ trainBatchSize: 4, microBatchSizePerGpu: 1, saveFreq: 1, maxCheckpointsToKeep: null }), opts(every)));
  assert.equal(all.status, 0, all.stderr);
  assert.equal(steps(every).length, 12);
});

test("stand-in SFT: loads the dataset class verl would (data.custom_cls), and learns only from turns with weight 1", async () => {
  // A two-turn cut: get_time answered first (an earlier turn, weight 0), then the get_weather label.
  const samples = Array.from({ length: 24 }, (_, i) => ({
    id: `w${String(i).padStart(2, "0")}`,
    tools,
    messages: [
      { role: "user" as const, content: `Time in city ${i}?` },
      { role: "assistant" as const, content: null, tool_calls: [{ id: "t", type: "function" as const, function: { name: "get_time", arguments: "{}" } }] },
      { role: "tool" as const, tool_call_id: "t", content: "noon" },
      { role: "assistant" as const, content: "It is noon." },
      { role: "user" as const, content: `And the weather in city ${i}?` },
      {
        role: "assistant" as const,
        content: null,
        tool_calls: [{ id: "w", type: "function" as const, function: { name: "get_weather", arguments: JSON.stringify({ city: `c${i}` }) } }],
      },
    ],
  }));
  const data = path.join(dir, "cuts");
  await writeVerlDataset({ samples, dir: data, valFraction: 0, seed: 1, sft: true, provenance: { campaignId: "c", iteration: 1 } });
  const classFile = path.join(REPO_ROOT, "trainer/sft/toolloop_sft_dataset.py");
  const settings = sftSettingsSchema.parse({ trainBatchSize: 8, microBatchSizePerGpu: 1, totalEpochs: 1 });
  const ckpt = path.join(dir, "cuts-ckpt");
  const ok = run(sftCommand(settings, { ...standinSftOptions(path.join(data, "sft.parquet"), ckpt), datasetClassPath: classFile }));
  assert.equal(ok.status, 0, ok.stderr);
  const profile = JSON.parse(fs.readFileSync(path.join(ckpt, "global_step_3", "toolloop_profile.json"), "utf8")) as { trainedTools: Record<string, number> };
  assert.deepEqual(profile.trainedTools, { get_weather: 24 }, "the earlier get_time turns (weight 0) teach nothing");

  const missing = run(
    sftCommand(settings, { ...standinSftOptions(path.join(data, "sft.parquet"), path.join(dir, "cuts-x")), datasetClassPath: path.join(dir, "nope.py") }),
  );
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr + missing.stdout, /data\.custom_cls\.path: no such file/);
});
