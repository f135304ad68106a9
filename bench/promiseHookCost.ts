/**
 * What async-context tracking costs per promise in this Node: the Temporal SDK runs every activity
 * inside an AsyncLocalStorage, and on Node 20 an enabled AsyncLocalStorage installs a promise hook
 * that runs on every promise the process creates, in any context. Measures the CPU of the same chain
 * of awaited async calls in two fresh processes, one plain and one inside a running
 * AsyncLocalStorage (as an activity is), and prints ns per promise for both, their difference, and
 * what that difference comes to per LLM request at the given number of promises per request (the
 * worker's hot path creates ~22; docs/worker-throughput.md).
 *
 *   node dist/bench/promiseHookCost.js [--iterations 2000000] [--promises-per-request 22] [--rounds 3]
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Promises one iteration of `chain` creates: three async calls, each with its result promise, and one await of a non-promise value. */
const PROMISES_PER_ITERATION = 4;

async function leaf(i: number): Promise<number> {
  return i;
}
async function middle(i: number): Promise<number> {
  return (await leaf(i)) + 1;
}
async function chain(n: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await middle(i);
  return sum;
}

/** CPU ns per promise for `iterations` iterations, after a warm-up of a tenth as many. */
async function measure(iterations: number): Promise<number> {
  await chain(Math.ceil(iterations / 10));
  const start = process.cpuUsage();
  await chain(iterations);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / (iterations * PROMISES_PER_ITERATION);
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: expected a positive number, got ${process.argv[i + 1]}`);
  return v;
}

const child = process.argv[2] === "--child" ? process.argv[3] : undefined;
if (child !== undefined) {
  const iterations = Number(process.argv[4]);
  const ns =
    child === "context" ? await new AsyncLocalStorage<{ activity: string }>().run({ activity: "bench" }, () => measure(iterations)) : await measure(iterations);
  process.stdout.write(`${ns}\n`);
} else {
  const iterations = flag("--iterations", 2_000_000);
  const perRequest = flag("--promises-per-request", 22);
  const rounds = flag("--rounds", 3);
  const self = fileURLToPath(import.meta.url);
  const run = (mode: "plain" | "context") => Number(execFileSync(process.execPath, [self, "--child", mode, String(iterations)], { encoding: "utf8" }).trim());
  const plain: number[] = [];
  const context: number[] = [];
  // Alternated, so a drift of the machine's speed reaches both.
  for (let r = 0; r < rounds; r++) {
    plain.push(run("plain"));
    context.push(run("context"));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
  const extra = median(context) - median(plain);
  console.log(`node ${process.version}, ${iterations} iterations x ${PROMISES_PER_ITERATION} promises, ${rounds} rounds each (fresh processes, alternated)`);
  console.log(`plain: median ${median(plain).toFixed(1)} ns CPU per promise (${range(plain)})`);
  console.log(`inside an AsyncLocalStorage: median ${median(context).toFixed(1)} ns CPU per promise (${range(context)})`);
  console.log(
    `the context costs ${extra.toFixed(1)} ns per promise: ${((extra * perRequest) / 1000).toFixed(2)} µs per LLM request at ${perRequest} promises per request`,
  );
}
