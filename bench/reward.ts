/**
 * Reward service throughput: parallel-call samples scored through the generated Python shim's
 * batch form end to end (batches of 1,024: Python serialises, HTTP keep-alive to the service in
 * this process, the gated composite reward computed there, Python parses the results), and the same
 * samples scored in-process by a Python function equivalent to LoopTool's 0/1 reward (an exact
 * multiset compare of the parsed calls), both in one run, interleaved pass by pass. Target (issue
 * #9): >= 50,000 samples/s through the shim, and not slower than the in-process 0/1 reward.
 *
 *   node dist/bench/reward.js [--samples 65536] [--batch 1024] [--passes 5] [--group 16] [--python python3]
 *
 * Samples come in GRPO groups (--group responses per prompt, as verl's rollout.n): each group shares
 * its prompt's tools and ground truth, and its responses vary (right calls in order or shuffled, a
 * wrong argument, a missing or extra call, broken JSON, a text answer). Also printed: the scorer
 * alone in this process (no HTTP, no Python), to show where the shim's time goes.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { rewardConfigSchema } from "../src/reward/config.js";
import { createRewardScorer, type RewardItem } from "../src/reward/score.js";
import { startRewardService } from "../src/reward/service.js";
import { writeRewardShim } from "../src/reward/shim.js";

const { values } = parseArgs({
  options: {
    samples: { type: "string", default: "65536" },
    batch: { type: "string", default: "1024" },
    passes: { type: "string", default: "5" },
    group: { type: "string", default: "16" },
    python: { type: "string", default: "python3" },
  },
});
const sampleCount = Number(values.samples);
const batchSize = Number(values.batch);
const passes = Number(values.passes);
const groupSize = Number(values.group);

/** A small deterministic PRNG (mulberry32), so every run scores the same samples. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(9);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const CITIES = ["Paris", "Berlin", "Tokyo", "Lima", "Nairobi", "Oslo", "Quito", "Hanoi"];
const UNITS = ["metric", "imperial"];

interface Tool {
  name: string;
  params: Record<string, { type: string; items?: { type: string }; enum?: string[] }>;
}
function toolSet(k: number): Tool[] {
  return ["get_weather", "book_hotel", "convert_currency", "find_flights"].map((base) => ({
    name: `${base}_${k}`,
    params: {
      city: { type: "string" },
      days: { type: "integer" },
      units: { type: "string", enum: UNITS },
      ratio: { type: "number" },
      tags: { type: "array", items: { type: "string" } },
    },
  }));
}
const TOOL_SETS = Array.from({ length: 40 }, (_, k) => toolSet(k));
const toolsJson = (set: Tool[]) =>
  JSON.stringify(
    set.map((t) => ({
      type: "function",
      function: {
        name: t.name,
        description: `${t.name.replace(/_/g, " ")} for a city`,
        parameters: { type: "object", properties: t.params, required: ["city"] },
      },
    })),
  );

type Call = { name: string; arguments: Record<string, unknown> };
const block = (c: Call) => `<tool_call>\n${JSON.stringify(c)}\n</tool_call>`;
const randomCall = (set: Tool[]): Call => {
  const args: Record<string, unknown> = { city: pick(CITIES), days: 1 + Math.floor(rand() * 9) };
  if (rand() < 0.5) args.units = pick(UNITS);
  if (rand() < 0.3) args.ratio = Math.round(rand() * 1000) / 100 + 0.01;
  if (rand() < 0.3) args.tags = [pick(CITIES).toLowerCase(), "trip"];
  return { name: pick(set).name, arguments: args };
};

function makeSamples(n: number): RewardItem[] {
  const out: RewardItem[] = [];
  for (let g = 0; out.length < n; g++) {
    const set = TOOL_SETS[g % TOOL_SETS.length]!;
    const irrelevance = rand() < 0.05;
    const expected = irrelevance ? [] : Array.from({ length: 2 + Math.floor(rand() * 3) }, () => randomCall(set));
    const extra_info = { split: "train", index: g, sample_id: `bench-${g}`, tools: toolsJson(set) };
    const ground_truth = JSON.stringify({ calls: expected });
    const reasoning = expected.length
      ? `The user asks for ${expected.length} things, so I call ${expected.map((c) => `${c.name} for ${String(c.arguments.city)}`).join(" and ")}.\n`
      : "";
    for (let r = 0; r < groupSize && out.length < n; r++) {
      const kind = rand();
      let text: string;
      if (irrelevance) text = kind < 0.7 ? "None of the available tools can do that, sorry." : block(randomCall(set));
      else if (kind < 0.3) text = reasoning + expected.map(block).join("\n");
      else if (kind < 0.55) text = reasoning + [...expected].reverse().map(block).join("\n");
      else if (kind < 0.75) {
        const wrong = expected.map((c, i) => (i === 0 ? { ...c, arguments: { ...c.arguments, days: Number(c.arguments.days) + 1 } } : c));
        text = reasoning + wrong.map(block).join("\n");
      } else if (kind < 0.85) text = expected.slice(1).map(block).join("\n");
      else if (kind < 0.92) text = [...expected, randomCall(set)].map(block).join("\n");
      else if (kind < 0.96) text = block(expected[0]!).slice(0, -20);
      else text = "I think it will be sunny.";
      out.push({ data_source: "toolloop", solution_str: text, ground_truth, extra_info });
    }
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString("en-US")} samples/s`;

const samples = makeSamples(sampleCount);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-reward-bench-"));
const samplesPath = path.join(dir, "samples.json");
fs.writeFileSync(samplesPath, JSON.stringify(samples));
const config = rewardConfigSchema.parse({});
const service = await startRewardService();
try {
  // The scorer alone, in this process (a fresh scorer per batch, as the service makes per request).
  const inProcess = () => {
    const t = performance.now();
    for (let i = 0; i < samples.length; i += batchSize) {
      const score = createRewardScorer(config);
      for (let j = i; j < Math.min(i + batchSize, samples.length); j++) score(samples[j]!);
    }
    return (performance.now() - t) / 1000;
  };
  for (let i = 0; i < 3; i++) inProcess();
  const inProcessRuns = Array.from({ length: passes }, inProcess);

  const shimPath = path.join(dir, "toolloop_reward.py");
  await writeRewardShim({ path: shimPath, url: service.url, rewardConfig: config });
  const driver = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bench/reward_driver.py");
  const py = await new Promise<string>((resolve, reject) => {
    const child = spawn(values.python, [driver, shimPath, samplesPath, String(batchSize), String(passes)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`python driver exited ${code}`))));
  });
  const r = JSON.parse(py) as {
    python: string;
    samples: number;
    batches: number;
    shim_runs_s: number[];
    looptool_runs_s: number[];
    execution_correct: number;
    looptool_ones: number;
    verdict_agreement: number;
    mean_reward: number;
    failed_results: number;
  };
  const shim = median(r.shim_runs_s);
  const loop = median(r.looptool_runs_s);
  console.log(
    `samples: ${r.samples} parallel-call samples in GRPO groups of ${groupSize} (${r.batches} batches of ${batchSize}); CPython ${r.python}; ${os.cpus().length} CPUs; ${passes} passes each`,
  );
  console.log(
    `python shim -> reward service (gated composite): median ${rate(r.samples, shim)}; best ${rate(r.samples, Math.min(...r.shim_runs_s))} (runs: ${r.shim_runs_s.map((s) => (s * 1000).toFixed(0)).join(", ")} ms)`,
  );
  console.log(
    `in-process python LoopTool 0/1 reward: median ${rate(r.samples, loop)}; best ${rate(r.samples, Math.min(...r.looptool_runs_s))} (runs: ${r.looptool_runs_s.map((s) => (s * 1000).toFixed(0)).join(", ")} ms)`,
  );
  console.log(`  shim / in-process 0/1 speed: ${(loop / shim).toFixed(2)}x (target >= 1.0x, and >= 50,000 samples/s through the shim)`);
  console.log(`  TypeScript scorer alone in this process (no HTTP, no Python): median ${rate(samples.length, median(inProcessRuns))}`);
  console.log(
    `  verdicts: ${r.execution_correct} execution-correct, ${r.looptool_ones} LoopTool 1s, agreement ${(100 * r.verdict_agreement).toFixed(2)}%; mean gated reward ${r.mean_reward.toFixed(4)}; service failures ${r.failed_results}`,
  );
} finally {
  await service.close();
  if (!process.env.KEEP_BENCH_SAMPLES) fs.rmSync(dir, { recursive: true, force: true });
  else console.log(`samples kept in ${samplesPath}`);
}
