/**
 * Where the worker's CPU per LLM request goes, layer by layer (issue 13; docs/worker-throughput.md).
 * bench/synthesisThroughput.ts compares the whole worker with a plain keep-alive `node:http` client;
 * this bench runs the layers between the two, each alone in a process of its own against the same
 * simulator process (latency L, concurrency cap C) at the same client concurrency:
 *
 *   plain             bench/plainHttpClient.ts on the recorded request bodies
 *   llmClient         toolloop's LLM client on the same bodies (bench/synthesisLayerClient.ts)
 *   synthesis         single-turn synthesis with that client, no database, no Temporal
 *   synthesisLoaded   the same in a process that has imported the worker's modules
 *
 * The bodies are recorded from one synthesis run first (which also warms the simulator). Then the
 * layers run in turn, `--rounds` times, so that a drift of this shared machine's speed reaches every
 * layer; each figure is ms of CPU per request from the layer's own process.cpuUsage() in steady state
 * (the requests after the first quarter of its run), printed per round, then the median and range
 * of each layer and its ratio to the plain client's median. What the layers leave of the worker's
 * figure (bench/synthesisThroughput.ts, same machine, same day) is the database, the stage framework
 * and Temporal.
 *
 *   node dist/bench/synthesisLayers.js [--samples 2000] [--rounds 3] [--latency-ms 200] [--concurrency 32]
 *     [--client-concurrency 2C] [--layers plain,llmClient,synthesis,synthesisLoaded] [--json out.json]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { forkHelper } from "./forkHelper.js";

const USAGE = `usage: node dist/bench/synthesisLayers.js [--samples 2000] [--rounds 3] [--latency-ms 200] [--concurrency 32]
  [--client-concurrency 2C] [--layers plain,llmClient,synthesis,synthesisLoaded] [--json out.json]`;
const LAYERS = ["plain", "llmClient", "synthesis", "synthesisLoaded"] as const;
type Layer = (typeof LAYERS)[number];
const WARM_UP_SHARE = 0.25;

function exitWithUsage(problem: string): never {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  values = parseArgs({
    options: {
      help: { type: "boolean" },
      samples: { type: "string", default: "2000" },
      rounds: { type: "string", default: "3" },
      "latency-ms": { type: "string", default: "200" },
      concurrency: { type: "string", default: "32" },
      "client-concurrency": { type: "string" },
      layers: { type: "string", default: LAYERS.join(",") },
      json: { type: "string" },
    },
  }).values;
} catch (err) {
  exitWithUsage((err as Error).message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const positive = (name: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) exitWithUsage(`--${name} must be a positive integer, got ${String(raw)}`);
  return n;
};
const samples = positive("samples", values.samples);
const rounds = positive("rounds", values.rounds);
const latencyMs = positive("latency-ms", values["latency-ms"]);
const cap = positive("concurrency", values.concurrency);
const clientConcurrency = positive("client-concurrency", values["client-concurrency"] ?? String(2 * cap));
const layers = values.layers.split(",").map((l) => l.trim()) as Layer[];
for (const l of layers) if (!LAYERS.includes(l)) exitWithUsage(`--layers: unknown layer "${l}" (expected some of ${LAYERS.join(", ")})`);
const requests = 2 * samples;

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-layers-"));
const bodiesFile = path.join(workDir, "bodies.jsonl");

interface Done {
  requests: number;
  failures: number;
  cpuMs: number;
  wallMs: number;
  steady: { requests: number; cpuMs: number };
}

const sim = forkHelper("simulatorProcess.js", { seed: 1, latencyMs, maxConcurrency: cap });
const { url } = await sim.next<{ url: string }>("ready");
// As in bench/synthesisThroughput.ts: the simulator stands in for servers of their own, so it gets the CPU first.
try {
  if (sim.child.pid !== undefined) os.setPriority(sim.child.pid, -10);
} catch {
  // Not permitted here: it runs at normal priority.
}

async function runLayer(layer: Layer): Promise<Done> {
  const arg = { url, bodiesFile, concurrency: clientConcurrency, requests, warmUpShare: WARM_UP_SHARE };
  const c = layer === "plain" ? forkHelper("plainHttpClient.js", arg) : forkHelper("synthesisLayerClient.js", { ...arg, layer });
  const done = await c.next<Done>("done");
  if (done.failures > 0) throw new Error(`layer ${layer}: ${done.failures} of ${done.requests} requests failed`);
  return done;
}

try {
  console.log(
    `samples=${samples} (${requests} requests a run) C=${cap} (client keeps ${clientConcurrency} open) L=${latencyMs}ms rounds=${rounds} cores=${os.cpus().length}`,
  );
  const reset = sim.next("reset");
  sim.child.send({ type: "resetStats" });
  await reset;
  const recording = await runLayer("synthesis");
  const dumped = sim.next<{ count: number }>("dumped");
  sim.child.send({ type: "dumpBodies", file: bodiesFile });
  console.log(
    `recorded ${(await dumped).count} request bodies from one synthesis run (${(recording.steady.cpuMs / recording.steady.requests).toFixed(3)} ms a request in steady state; not counted)`,
  );

  const perRequest = new Map<Layer, number[]>(layers.map((l) => [l, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const layer of layers) {
      const done = await runLayer(layer);
      const ms = done.steady.cpuMs / done.steady.requests;
      perRequest.get(layer)!.push(ms);
      console.log(
        `round ${round} ${layer.padEnd(16)} ${ms.toFixed(3)} ms CPU a request in steady state (whole run ${(done.cpuMs / done.requests).toFixed(3)}), ${((done.requests / done.wallMs) * 1000).toFixed(1)} req/s`,
      );
    }
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  };
  const plain = perRequest.has("plain") ? median(perRequest.get("plain")!) : undefined;
  const summary = layers.map((layer) => {
    const xs = perRequest.get(layer)!;
    return { layer, medianMs: median(xs), minMs: Math.min(...xs), maxMs: Math.max(...xs), ratioToPlain: plain ? median(xs) / plain : undefined };
  });
  console.log("steady state, ms of CPU a request (median, range over the rounds):");
  for (const s of summary) {
    const ratio = s.ratioToPlain === undefined ? "" : `  ${s.ratioToPlain.toFixed(2)}x the plain client`;
    console.log(`  ${s.layer.padEnd(16)} ${s.medianMs.toFixed(3)} (${s.minMs.toFixed(3)}-${s.maxMs.toFixed(3)})${ratio}`);
  }
  if (values.json) {
    fs.writeFileSync(
      values.json,
      JSON.stringify({ samples, requests, latencyMs, cap, clientConcurrency, rounds, perRound: Object.fromEntries(perRequest), summary }, null, 2),
    );
  }
} finally {
  sim.child.send({ type: "close" });
  fs.rmSync(workDir, { recursive: true, force: true });
}
