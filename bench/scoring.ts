/**
 * Scoring throughput of the score.perplexity handler path against the simulator in its own process
 * with latency L and concurrency cap C: label-PPL chat requests per second (one per scored sample,
 * beside its two /tokenize calls) as a fraction of the endpoint's capacity C/L. Target (issue #10):
 * >= 0.9 at C=32, L=200 ms, 5,000 samples. /tokenize must not take an engine slot for that (vLLM
 * serves it from the API server process); a simulator where it does shows the cost in the figures.
 *
 *   node dist/bench/scoring.js [--samples 5000] [--latency-ms 200] [--concurrency 32] [--client-concurrency 64]
 *     [--batch-size <the stage's default, 1000>] [--batches-in-parallel 4] [--own-output]
 *
 * Samples are synthesized first by an in-process simulator (not timed), put in iteration 1's pool,
 * planned as the framework plans a selection, and scored batch by batch, `batches-in-parallel` at a
 * time, the way the iteration workflow runs a stage's batch activities. Uses DATABASE_URL when set,
 * else a private PostgreSQL.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import pLimit from "p-limit";
import { parseCampaignConfig, type CampaignConfig } from "../src/config/campaignConfig.js";
import { insertPoolMembers } from "../src/db/repos/pools.js";
import { insertSamples, type NewSample } from "../src/db/repos/samples.js";
import { planSelection } from "../src/db/repos/stageBatchItems.js";
import type { SingleTurnKind } from "../src/domain/types.js";
import type { BatchResult } from "../src/framework/stage.js";
import { buildStageContext } from "../src/framework/stageContext.js";
import { createRoleClient, type LlmClient } from "../src/llm/client.js";
import type { UsageSink } from "../src/llm/usage.js";
import { scorePerplexityHandler } from "../src/stages/score/perplexity/handler.js";
import type { StageConfigOf } from "../src/stages/specs.js";
import { planSingleTurnKinds, selectToolsForSlot, synthesizeSingleTurn } from "../src/synthesis/singleTurn.js";
import { EXAMPLE_TOOLS } from "../src/tools/examples.js";
import { startStageResources } from "../test/helpers/stageResources.js";
import { loadSettings, parseBenchArgs } from "./loadOptions.js";

const USAGE = `usage: node dist/bench/scoring.js [--samples 5000] [--latency-ms 200] [--concurrency 32] [--client-concurrency 64]
  [--batch-size N] [--batches-in-parallel 4] [--own-output]`;
const values = parseBenchArgs(USAGE, { "own-output": { type: "boolean", default: false } });
const { samples, latencyMs, cap, clientConcurrency, batchSize, batchesInParallel } = loadSettings(values, USAGE);

/** The simulator in its own process, as a vLLM server would be: its URL from its first log line. */
async function spawnSimulator(): Promise<{ url: string; cpuSeconds(): number | undefined; stop(): Promise<void> }> {
  const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/llm/simulator/main.js");
  const child = spawn(process.execPath, [main, "--port", "0", "--seed", "1", "--latency-ms", String(latencyMs), "--max-concurrency", String(cap)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on("line", (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`the simulator exited (${code}) before listening`)));
  });
  return {
    url,
    cpuSeconds: () => processCpuSeconds(child.pid),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/** User + system CPU seconds of a process from /proc (Linux), or undefined elsewhere. */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the command; in clock ticks (100 Hz on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

const resources = await startStageResources("bench-scoring", 1);
const sim = await spawnSimulator();
try {
  const campaignId = `bench-scoring-${Date.now().toString(36)}`;
  const raw = {
    name: "bench-scoring",
    seed: 1,
    endpoints: {
      scorer: { baseUrl: sim.url, maxConcurrency: clientConcurrency, timeoutMs: 120_000, maxRetries: 3 },
      writer: { baseUrl: resources.sim.url, maxConcurrency: 64 },
    },
    roles: { generator: { endpoint: "writer", model: "toolloop-sim-generator" }, policy: { endpoint: "scorer", model: "toolloop-sim-policy" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "score.perplexity", ...(batchSize === undefined ? {} : { batchSize }), ownOutput: values["own-output"] }],
  };
  const parsed = parseCampaignConfig(raw);
  if (!parsed.ok) throw parsed.error;
  const config: CampaignConfig = parsed.config;

  // Samples, not timed: the in-process simulator writes them (zero-ish latency).
  const synthStart = Date.now();
  const generator = createRoleClient(config, "generator");
  const library = EXAMPLE_TOOLS.map((e) => e.tool);
  const kinds = planSingleTurnKinds({ count: samples, mix: { standard: 0.6, parallel: 0.25, irrelevance: 0.15 }, seed: 1, iteration: 1 });
  const limit = pLimit(64);
  const rows: NewSample[] = await Promise.all(
    Array.from({ length: samples }, (_, slot) =>
      limit(async () => {
        const kind = kinds[slot] as SingleTurnKind;
        const { targets, offered } = selectToolsForSlot(library, { kind, seed: 1, iteration: 1, slotIndex: slot, toolsPerSample: 4, maxParallelCalls: 3 });
        const s = await synthesizeSingleTurn({ kind, targets, offered, generator });
        return {
          id: `${campaignId}-${String(slot).padStart(5, "0")}`,
          campaignId,
          iteration: 1,
          kind,
          origin: "synthesized",
          status: "verified",
          messages: s.messages,
          tools: s.tools,
        } satisfies NewSample;
      }),
    ),
  );
  await insertSamples(resources.db.db, rows);
  await insertPoolMembers(
    resources.db.db,
    rows.map((r) => ({ campaignId, iteration: 1, sampleId: r.id as string, reason: "seed" as const, weight: 1 })),
  );
  console.log(`${samples} samples synthesized and pooled in ${((Date.now() - synthStart) / 1000).toFixed(1)} s (not timed)`);

  // The stage's clients, counting requests by kind and the window they were in flight.
  const counts = { chat: 0, tokenize: 0 };
  let firstSent: number | undefined;
  let lastDone = 0;
  const timed = async <T>(kind: keyof typeof counts, f: () => Promise<T>): Promise<T> => {
    firstSent ??= Date.now();
    try {
      return await f();
    } finally {
      counts[kind]++;
      lastDone = Date.now();
    }
  };
  const deps = {
    db: resources.db.db,
    baseDir: resources.workDir,
    log: () => undefined,
    createLlm: (cfg: CampaignConfig, role: string, usage: UsageSink): LlmClient => {
      const client = createRoleClient(cfg, role, { usage });
      const chat = client.chat.bind(client);
      const tokenizeChat = client.tokenizeChat.bind(client);
      client.chat = (req, opts) => timed("chat", () => chat(req, opts));
      client.tokenizeChat = (req, opts) => timed("tokenize", () => tokenizeChat(req, opts));
      return client;
    },
  };
  type PplStage = StageConfigOf<"score.perplexity">;
  const stage = config.stages[0] as PplStage;
  const key = { campaignId, iteration: 1, stage: stage.name };
  const plan = await planSelection(resources.db.db, key, { scope: "pool", statuses: stage.statuses }, stage.batchSize, false);

  const started = Date.now();
  const cpuBefore = { bench: process.cpuUsage(), sim: sim.cpuSeconds() };
  const batchLimit = pLimit(batchesInParallel);
  const results: BatchResult[] = await Promise.all(
    Array.from({ length: plan.batches }, (_, b) =>
      batchLimit(() => {
        const { ctx } = buildStageContext({ campaignId, iteration: 1, config, stage, deps, signal: new AbortController().signal });
        return scorePerplexityHandler.runBatch(ctx, b, { resumeFrom: undefined, report: () => undefined });
      }),
    ),
  );
  const wall = (Date.now() - started) / 1000;
  const benchCpu = process.cpuUsage(cpuBefore.bench);
  const simCpuAfter = sim.cpuSeconds();
  const simCpu = simCpuAfter !== undefined && cpuBefore.sim !== undefined ? simCpuAfter - cpuBefore.sim : undefined;
  const { ctx } = buildStageContext({ campaignId, iteration: 1, config, stage, deps, signal: new AbortController().signal });
  const summary = await scorePerplexityHandler.finalize!(ctx, results);

  const active = (lastDone - (firstSent ?? lastDone)) / 1000;
  const capacity = cap / (latencyMs / 1000);
  const labelChats = counts.chat - (stage.ownOutput ? Number((summary.ownPpl as { n: number } | undefined)?.n ?? 0) : 0);
  const labelRate = labelChats / active;
  const chatRate = counts.chat / active;
  console.log(
    `samples=${samples} C=${cap} (client keeps ${clientConcurrency} open) L=${latencyMs}ms batches=${plan.batches}x${stage.batchSize} (${batchesInParallel} at once) ownOutput=${stage.ownOutput}`,
  );
  console.log(
    `requests: ${counts.chat} chat (${labelChats} label-PPL), ${counts.tokenize} /tokenize; wall ${wall.toFixed(1)} s, requests in flight over ${active.toFixed(1)} s`,
  );
  console.log(
    `scored ${String(summary.scored)}, failed ${String(summary.failed)}; label PPL ${JSON.stringify(summary.labelPpl)}${stage.ownOutput ? `; own PPL ${JSON.stringify(summary.ownPpl)}` : ""}`,
  );
  console.log(
    `label-PPL chat ${labelRate.toFixed(1)} req/s; capacity C/L = ${capacity.toFixed(1)} req/s; ratio = ${(labelRate / capacity).toFixed(3)} (target >= 0.9)`,
  );
  if (stage.ownOutput) console.log(`all chat ${chatRate.toFixed(1)} req/s; ratio = ${(chatRate / capacity).toFixed(3)}`);
  // What the engine served when /tokenize takes a slot as the simulator's chat does (vLLM's does not).
  const allRate = (counts.chat + counts.tokenize) / active;
  console.log(
    `all requests (chat + /tokenize) ${allRate.toFixed(1)} req/s; ratio = ${(allRate / capacity).toFixed(3)} (the slots kept busy when /tokenize costs one)`,
  );
  // The client and the simulator share this machine's cores (a real vLLM server would not): when
  // they keep the cores busy, the ratio measures the machine, not the stage's fan-out.
  const benchCpuSeconds = (benchCpu.user + benchCpu.system) / 1e6;
  console.log(
    `CPU over the timed ${wall.toFixed(1)} s: bench process ${benchCpuSeconds.toFixed(1)} s, simulator ${simCpu === undefined ? "n/a" : `${simCpu.toFixed(1)} s`}; ${os.availableParallelism()} cores; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  if (Number(summary.failed) > 0)
    console.log(`note: ${String(summary.failed)} samples failed; scoring never reached the chat request for a sample whose label span could not be found`);
} finally {
  await sim.stop();
  await resources.close();
}
