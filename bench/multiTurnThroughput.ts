/**
 * Multi-turn synthesis throughput: synthesize.multiTurn's batches (run as the stage framework runs
 * them, `--batches-in-parallel` lanes) against the LLM simulator in its own process at a fixed
 * latency L and concurrency cap C, every role played by the simulator, dialogues stored in
 * PostgreSQL. Prints dialogues per minute, requests per dialogue (from the request ledger), the
 * endpoint's capacity in dialogues per minute, (C / L) / requests-per-dialogue, and the fraction
 * achieved. Target (issue 12): >= 0.85.
 *
 *   node dist/bench/multiTurnThroughput.js [--dialogues 160] [--latency-ms 200] [--concurrency 16]
 *     [--client-concurrency 32] [--batch-size 40] [--batches-in-parallel 4]
 *
 * Uses DATABASE_URL when set, else starts a private PostgreSQL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseCampaignConfig, type CampaignConfig } from "../src/config/campaignConfig.js";
import { migrateDatabase, openDatabase } from "../src/db/client.js";
import { iterationDialogues } from "../src/db/repos/dialogues.js";
import { upsertTools } from "../src/db/repos/tools.js";
import { usageTotals } from "../src/db/repos/usage.js";
import { RequestLedger } from "../src/framework/requestLedger.js";
import type { BatchResult } from "../src/framework/stage.js";
import { buildStageContext } from "../src/framework/stageContext.js";
import { createRoleClient } from "../src/llm/client.js";
import type { UsageSink } from "../src/llm/usage.js";
import { startPostgres } from "../src/services/postgres.js";
import { synthesizeMultiTurnHandler } from "../src/stages/synthesize/multiTurn/handler.js";
import type { StageConfigOf } from "../src/stages/specs.js";
import { EXAMPLE_TOOLS } from "../src/tools/examples.js";

const STAGE = "synthesize.multiTurn";
const SIMULATOR_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/llm/simulator/main.js");

const { values } = parseArgs({
  options: {
    dialogues: { type: "string", default: "160" },
    "latency-ms": { type: "string", default: "200" },
    concurrency: { type: "string", default: "16" },
    // Requests the client keeps open; above C so the server's queue never runs dry between a
    // response and the next request (as one configures a client in front of a vLLM server).
    "client-concurrency": { type: "string" },
    "batch-size": { type: "string", default: "40" },
    "batches-in-parallel": { type: "string", default: "4" },
  },
});
const dialogues = Number(values.dialogues);
const latencyMs = Number(values["latency-ms"]);
const cap = Number(values.concurrency);
const clientConcurrency = Number(values["client-concurrency"] ?? 2 * cap);
const batchSize = Number(values["batch-size"]);
const lanes = Number(values["batches-in-parallel"]);

/** The simulator as its own process; resolves with its URL once it listens. */
function startSimulatorProcess(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [SIMULATOR_MAIN, "--port", "0", "--seed", "1", "--latency-ms", String(latencyMs), "--max-concurrency", String(cap)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) resolve({ url: m[1], child });
    });
    child.once("exit", (code) => reject(new Error(`the simulator exited (code ${code}) before listening: ${out}`)));
  });
}

const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/** User + system CPU seconds of a process (Linux /proc; 0 where unavailable). */
function processCpuSeconds(pid: number | undefined): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-bench-multiturn-"));
const stops: (() => Promise<void>)[] = [];
try {
  const sim = await startSimulatorProcess();
  stops.push(async () => {
    const exited = new Promise((r) => sim.child.once("exit", r));
    sim.child.kill("SIGTERM");
    await exited;
  });
  let url = process.env.DATABASE_URL;
  if (!url) {
    const pg = await startPostgres({ dataDir: path.join(workDir, "pg") });
    url = pg.url;
    stops.push(() => pg.stop());
  }
  const handle = await openDatabase(url, { poolSize: 20 });
  stops.push(() => handle.close());
  await migrateDatabase(handle);
  const db = handle.db;

  const role = (model: string) => ({ endpoint: "sim", model });
  const parsed = parseCampaignConfig({
    name: "bench-multi-turn",
    seed: 1,
    endpoints: { sim: { baseUrl: sim.url, maxConcurrency: clientConcurrency, timeoutMs: 120_000, maxRetries: 3 } },
    roles: {
      planner: role("toolloop-sim-generator"),
      user: role("toolloop-sim-generator"),
      assistant: role("toolloop-sim"),
      toolServer: role("toolloop-sim"),
      negotiator: role("toolloop-sim-judge"),
    },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: STAGE, dialogues, batchSize, voting: { negotiator: "negotiator" } }],
    concurrency: { batchesInParallel: lanes },
  });
  if (!parsed.ok) throw parsed.error;
  const config: CampaignConfig = parsed.config;
  const campaignId = `bench-mt-${Date.now().toString(36)}`;
  await upsertTools(
    db,
    campaignId,
    EXAMPLE_TOOLS.map(({ tool, domain }) => ({ tool, domain, source: "example", hash: tool.name })),
  );
  const ledger = new RequestLedger(db, { campaignId, iteration: 1, stage: STAGE, batchIndex: null });
  const { ctx } = buildStageContext({
    campaignId,
    iteration: 1,
    config,
    stage: config.stages[0] as unknown as StageConfigOf<"synthesize.multiTurn">,
    signal: new AbortController().signal,
    ledger,
    deps: {
      db,
      baseDir: workDir,
      log: () => undefined,
      createLlm: (c: CampaignConfig, r: string, usage: UsageSink) => createRoleClient(c, r, { usage }),
    },
  });

  const plan = await synthesizeMultiTurnHandler.plan!(ctx);
  const cpuBefore = { bench: process.cpuUsage(), sim: processCpuSeconds(sim.child.pid) };
  const queue = Array.from({ length: plan.batches }, (_, i) => i);
  const results: BatchResult[] = [];
  let settled = 0;
  const started = Date.now();
  const progress = setInterval(
    () => process.stderr.write(`\r${settled}/${dialogues} dialogues settled, ${((Date.now() - started) / 1000).toFixed(0)} s`),
    1000,
  );
  // Lanes like the workflow's (workflows/batchLanes.ts): each takes the next batch when its last one ends.
  await Promise.all(
    Array.from({ length: Math.min(lanes, queue.length) }, async () => {
      for (let b = queue.shift(); b !== undefined; b = queue.shift()) {
        let last = 0;
        results.push(
          await synthesizeMultiTurnHandler.runBatch(ctx, b, {
            resumeFrom: undefined,
            report: (d) => {
              settled += d.settled - last;
              last = d.settled;
            },
          }),
        );
      }
    }),
  );
  const wall = (Date.now() - started) / 1000;
  clearInterval(progress);
  const benchCpu = cpuSeconds(process.cpuUsage(cpuBefore.bench));
  const simCpu = processCpuSeconds(sim.child.pid) - cpuBefore.sim;
  await ledger.drain();

  const usage = await usageTotals(db, { campaignId, iteration: 1, stage: STAGE });
  const requests = usage.reduce((a, u) => a + Number(u.requests), 0);
  const byRole = Object.fromEntries(usage.map((u) => [u.role, Number(u.requests)]));
  const rows = await iterationDialogues(db, campaignId, 1);
  const kept = rows.filter((r) => r.status === "kept").length;
  const userTurns = rows.reduce((a, r) => a + (r.outcome?.userTurns ?? 0), 0);
  const samples = results.reduce((a, b) => a + (b.samples ?? 0), 0);

  const perDialogue = requests / dialogues;
  const capacityRps = cap / (latencyMs / 1000);
  const capacityPerMin = (capacityRps / perDialogue) * 60;
  const achievedPerMin = (dialogues / wall) * 60;
  const fraction = achievedPerMin / capacityPerMin;
  console.log("");
  console.log(
    `dialogues=${dialogues} (kept ${kept}, ${samples} samples, ${(userTurns / dialogues).toFixed(1)} user turns each) C=${cap} (client keeps ${clientConcurrency} open) L=${latencyMs}ms batchSize=${batchSize} lanes=${lanes}`,
  );
  console.log(
    `requests=${requests} (${perDialogue.toFixed(1)} per dialogue; by role ${JSON.stringify(byRole)}), achieved ${(requests / wall).toFixed(1)} req/s`,
  );
  console.log(`wall ${wall.toFixed(1)} s: ${achievedPerMin.toFixed(1)} dialogues/min`);
  // On a shared host the client and the simulator compete for CPU: a run whose processes were busy
  // most of the wall time measured the host, not the stage.
  console.log(
    `CPU: stage process ${benchCpu.toFixed(1)} s (${((benchCpu / requests) * 1000).toFixed(1)} ms per request), simulator ${simCpu.toFixed(1)} s, over ${wall.toFixed(1)} s wall on ${os.cpus().length} cores (load average ${os.loadavg()[0]?.toFixed(1)})`,
  );
  console.log(
    `capacity (C/L)/requests-per-dialogue = ${capacityRps.toFixed(1)}/${perDialogue.toFixed(1)} = ${capacityPerMin.toFixed(1)} dialogues/min; fraction = ${fraction.toFixed(3)} (target >= 0.85)`,
  );
} finally {
  for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
  fs.rmSync(workDir, { recursive: true, force: true });
}
