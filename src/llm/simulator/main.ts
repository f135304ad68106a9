#!/usr/bin/env node
/**
 * Runs the toolloop LLM simulator standalone, e.g. for `bfcl` or manual checks:
 *   node dist/src/llm/simulator/main.js --port 8000 --seed 1 --latency-ms 50 --max-concurrency 64
 */
import { Command, InvalidArgumentError } from "commander";
import { startSimulator } from "./server.js";

function intArg(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min} (got "${v}")`);
    return n;
  };
}

function rateArg(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be a number between 0 and 1 (got "${v}")`);
    return n;
  };
}

const program = new Command()
  .name("toolloop-simulator")
  .description("Scripted LLM server with vLLM's OpenAI-compatible API (for tests and demos; not a model)")
  .option("--port <n>", "port on 127.0.0.1 (0 picks a free one)", intArg("--port", 0), 8000)
  .option("--seed <n>", "content seed", intArg("--seed", 0), 0)
  .option("--latency-ms <n>", "latency per request", intArg("--latency-ms", 0), 0)
  .option("--latency-jitter-ms <n>", "extra random latency up to this", intArg("--latency-jitter-ms", 0), 0)
  .option("--max-concurrency <n>", "requests served at once; the rest queue", intArg("--max-concurrency", 1), 64)
  .option("--mistake-rate <p>", "fraction of tool-agent answers with a deliberate mistake", rateArg("--mistake-rate"), 0)
  .option("--model <name...>", "served model names (default: the toolloop-sim family)")
  .option("--rate-429 <p>", "fraction of requests answered 429", rateArg("--rate-429"), 0)
  .option("--rate-500 <p>", "fraction of requests answered 500", rateArg("--rate-500"), 0)
  .option("--rate-hang <p>", "fraction of requests never answered", rateArg("--rate-hang"), 0)
  .option("--rate-malformed-json <p>", "fraction of responses cut short", rateArg("--rate-malformed-json"), 0)
  .option("--rate-truncated-tool-calls <p>", "fraction of tool-call answers with cut arguments", rateArg("--rate-truncated-tool-calls"), 0);

program.parse();
const o = program.opts<{
  port: number;
  seed: number;
  latencyMs: number;
  latencyJitterMs: number;
  maxConcurrency: number;
  mistakeRate: number;
  model?: string[];
  rate429: number;
  rate500: number;
  rateHang: number;
  rateMalformedJson: number;
  rateTruncatedToolCalls: number;
}>();

// Handlers go in before the server starts, so a signal during start-up is not fatal.
let stopping = false;
const running: { sim?: Awaited<ReturnType<typeof startSimulator>> } = {};
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  const sim = running.sim;
  if (!sim) return; // start-up sees `stopping` and closes
  console.log(`[toolloop-simulator] ${signal}: stopping (${sim.stats().requests} requests received)`);
  // Let the event loop drain once the server is closed; no process.exit in a signal handler.
  sim.close().catch((err: unknown) => {
    console.error("[toolloop-simulator] close failed:", err);
    process.exitCode = 1;
  });
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));

const sim = await startSimulator({
  port: o.port,
  seed: o.seed,
  latencyMs: o.latencyMs,
  latencyJitterMs: o.latencyJitterMs,
  maxConcurrency: o.maxConcurrency,
  mistakeRate: o.mistakeRate,
  ...(o.model ? { models: o.model } : {}),
  faults: {
    rate429: o.rate429,
    rate500: o.rate500,
    rateHang: o.rateHang,
    rateMalformedJson: o.rateMalformedJson,
    rateTruncatedToolCalls: o.rateTruncatedToolCalls,
  },
});

running.sim = sim;
if (stopping) {
  console.log("[toolloop-simulator] stopping");
  await sim.close();
}
