/**
 * What one worker process costs per LLM request, and whether it keeps an endpoint busy. Runs a
 * single-turn synthesis campaign through Temporal against the LLM simulator, which runs in a process
 * of its own (bench/simulatorProcess.ts) with latency L and concurrency cap C, then replays the same
 * request bodies with a plain keep-alive `node:http` client (bench/plainHttpClient.ts, also its own
 * process) at the same client concurrency. Prints, for both: requests/s (and its ratio to the
 * endpoint's capacity C/L; with the share of engine slots the client left idle while the server was
 * busy, and the mean service time, L plus the simulator's own delays: on this shared machine the
 * two tell a client that does not keep the engine full from a simulator slowed by its neighbours),
 * ms of CPU per request from the process's own accounting
 * (process.cpuUsage, every thread: for the worker that includes the Temporal SDK's core and the
 * database writes), over the whole run and in steady state (the requests after the first quarter of
 * each run: the same window for both clients), the worker's split by thread in both windows; the
 * worker's main-thread event-loop utilisation; and
 * Temporal history events per 1,000 samples (campaign and iteration workflows, read back through the
 * client).
 *
 * Each trial then runs the plain client once more in a process that has first imported the worker's
 * modules (workers/createWorkers.js and its imports; nothing of them is run): the same HTTP work in
 * a process the size of a worker. It often costs more, mostly because loading that much code arms
 * V8's memory reducer, whose full collections mid-run deoptimise node:http's hot code
 * (docs/worker-throughput.md); the worker, whose old generation grows to twice its live size, made
 * none in a 4,000-sample campaign under --trace-gc. Printed beside the worker's ratio to it as a control, not
 * as the worker's baseline.
 *
 * Targets (issue 13): worker CPU per request <= 2x the (bare) plain client's; at C=32, L=200 ms a ratio
 * >= 0.97 of capacity; <= 20 history events per 1,000 samples at the default batch size.
 *
 *   node dist/bench/synthesisThroughput.js [--samples 5000] [--latency-ms 200] [--concurrency 32]
 *     [--client-concurrency 64] [--batch-size <default of the stage>] [--batches-in-parallel 4]
 *     [--trials 1] [--json out.json]
 *
 * `--trials N` repeats the pair (a fresh campaign through the same worker, then the plain client on
 * that campaign's bodies) N times and prints the median of each figure with its range: on a shared
 * machine one pair's ratio moves by 10-15% from run to run, and alternating the two clients lets a
 * drift of the machine's speed reach both sides of every pair. Trial 1 is the worker's first
 * campaign (its code not yet compiled, as for a worker just started); the later ones show a worker
 * that has been running. `--json` writes every trial and the medians.
 *
 * Uses TEMPORAL_ADDRESS / DATABASE_URL when set, else starts private servers. Profile the worker
 * with `node --cpu-prof --cpu-prof-dir=prof dist/bench/synthesisThroughput.js ...`. Node flags given
 * to the bench (`node --max-semi-space-size=64 ...`, or NODE_OPTIONS) reach the forked plain client
 * and simulator too, so both clients run under the same V8 settings; the bench prints them, and the
 * worker's peak RSS.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import v8 from "node:v8";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { SimulatorStats } from "../src/llm/simulator/server.js";
import { taskQueues } from "../src/taskQueues.js";
import { sql } from "drizzle-orm";
import { campaignWorkflowId, iterationWorkflowId } from "../workflows/definitions.js";
import { createTestEnv } from "../test/helpers/testEnv.js";
import { loadSettings, parseBenchArgs } from "./loadOptions.js";
import { applyWorkerHeapGrowth } from "../src/util/heapGrowth.js";
import { forkHelper } from "./forkHelper.js";

const USAGE = `usage: node dist/bench/synthesisThroughput.js [--samples 5000] [--latency-ms 200] [--concurrency 32]
  [--client-concurrency 64] [--batch-size N] [--batches-in-parallel 4] [--trials 1] [--json out.json]`;
const values = parseBenchArgs(USAGE, { json: { type: "string" }, trials: { type: "string", default: "1" } });
const { samples, latencyMs, cap, clientConcurrency, batchSize, batchesInParallel } = loadSettings(values, USAGE);
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) {
  console.error(`--trials must be a positive integer, got ${String(values.trials)}\n${USAGE}`);
  process.exit(2);
}
/**
 * CPU seconds of each of this process's threads, by kind (Linux /proc; empty elsewhere): the main
 * thread, V8's and libuv's helpers ("node"-named threads: GC, compiler, file and DNS work), the
 * Temporal SDK's core (tokio) and the workflow sandbox threads. Shows which side of the worker a
 * change moved.
 */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = fs.readdirSync("/proc/self/task");
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime, fields 14 and 15 of stat(5) (11 and 12 after the name), in clock ticks.
      const ticks = Number(fields[11]) + Number(fields[12]);
      const kind =
        Number(tid) === process.pid
          ? "main"
          : /^tokio|^temporal/.test(name)
            ? "temporal core"
            : /^workflow/.test(name)
              ? "workflow threads"
              : "node helpers (GC, compiler, libuv)";
      out.set(kind, (out.get(kind) ?? 0) + ticks / 100);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Each kind of thread's CPU between two readings, in ms per request, largest first. */
function byThread(from: Map<string, number>, to: Map<string, number>, requests: number): [string, number][] {
  return [...to.entries()].map(([kind, s]): [string, number] => [kind, ((s - (from.get(kind) ?? 0)) * 1000) / requests]).sort((a, b) => b[1] - a[1]);
}
const showThreads = (split: [string, number][]): string => split.map(([kind, ms]) => `${kind} ${ms.toFixed(3)}`).join(", ");

const here = path.dirname(fileURLToPath(import.meta.url));
/** The share of a run's requests counted as warm-up by the steady-state figures. */
const WARM_UP_SHARE = 0.25;
/** The worker's code as a worker process loads it: the worker set and, through it, the activities and the Temporal SDK. */
const WORKER_MODULES = pathToFileURL(path.resolve(here, "../workers/createWorkers.js")).href;
const cpuMs = (end: NodeJS.CpuUsage, start: NodeJS.CpuUsage): number => (end.user - start.user + end.system - start.system) / 1000;

/** The Node options this process runs with (command line, then NODE_OPTIONS), e.g. the worker's --max-semi-space-size. */
function nodeFlags(): string {
  // As given, values included (`--require x`, `--cpu-prof-dir=prof`).
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ""].filter((a) => a !== "").join(" ");
}

/** An event's kind: the attributes field it carries, without the "EventAttributes" suffix. */
function eventKind(e: object): string {
  const field = Object.keys(e).find((k) => k.endsWith("EventAttributes") && (e as Record<string, unknown>)[k] != null);
  return field ? field.replace(/EventAttributes$/, "") : "unknown";
}

const sim = forkHelper("simulatorProcess.js", { seed: 1, latencyMs, maxConcurrency: cap });
const { url } = await sim.next<{ url: string }>("ready");
// The simulator stands in for an inference server on machines of its own: here it shares the cores
// with the client, Temporal and PostgreSQL, so it gets the CPU first (when the OS lets us), and the
// latency it serves stays the configured L for both clients measured against it.
let simulatorPriority = "normal";
try {
  os.setPriority(sim.child.pid as number, -10);
  simulatorPriority = "raised (nice -10)";
} catch {
  // Not permitted (no CAP_SYS_NICE): measured at normal priority, said in the output.
}
const simStats = async (): Promise<SimulatorStats> => {
  const reply = sim.next<{ stats: SimulatorStats }>("stats");
  sim.child.send({ type: "stats" });
  return (await reply).stats;
};

/** What one trial measured: a campaign through the worker, then the plain client on its bodies. */
interface Trial {
  trial: number;
  requests: number;
  wallS: number;
  endpointBusyS: number;
  worker: {
    rps: number;
    ratio: number;
    idleSlotShare: number;
    serviceMs: number;
    /** The most requests the simulator had in flight at once (at most C: the client keeps the engine full). */
    maxInFlight: number;
    cpuMsPerRequest: number;
    kernelShare: number;
    cpuMsPerRequestByThread: Record<string, number>;
    eventLoopUtilization: number;
    peakRssMiB: number;
    youngGenerationMiB: number;
  };
  plain: {
    rps: number;
    ratio: number;
    idleSlotShare: number;
    serviceMs: number;
    cpuMsPerRequest: number;
    kernelShare: number;
    failures: number;
    bodies: number;
  };
  cpuRatio: number;
  /** The plain client once more, in a process that has imported the worker's modules (bench/plainHttpClient.ts). */
  plainWithWorkerModules: {
    cpuMsPerRequest: number;
    steadyCpuMsPerRequest: number;
    failures: number;
    versusPlain: number;
    steadyVersusPlain: number;
    workerRatio: number;
    steadyWorkerRatio: number;
  };
  steadyState: {
    warmUpShare: number;
    workerRequests: number;
    workerCpuMsPerRequest: number;
    workerCpuMsPerRequestByThread: Record<string, number>;
    plainRequests: number;
    plainCpuMsPerRequest: number;
    cpuRatio: number;
  };
  dbTransactions: number;
  dbTransactionsPerRequest: number;
  historyEventsPer1000: number;
  historyEvents: { campaign: number; iteration: number; batches: number; byKind: Record<string, number> };
}

const env = await createTestEnv("bench");
const workers = await env.startWorkers({ heartbeatIntervalMs: 5000 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-bench-"));
const capacity = cap / (latencyMs / 1000);
const batch = batchSize ?? "default";

const transactions = async (): Promise<number> => {
  const r = await env.db.db.execute(sql`SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = current_database()`);
  const rows = (r as { rows?: { n: string | number }[] }).rows ?? (r as unknown as { n: string | number }[]);
  return Number(rows[0]?.n ?? 0);
};

async function resetSimulatorStats(): Promise<void> {
  const reset = sim.next("reset");
  sim.child.send({ type: "resetStats" });
  await reset;
}

async function runTrial(trial: number): Promise<Trial> {
  await resetSimulatorStats();
  const campaignId = `bench-${Date.now().toString(36)}-t${trial}`;
  const config = {
    name: "bench",
    seed: 1,
    endpoints: { sim: { baseUrl: url, maxConcurrency: clientConcurrency, timeoutMs: 60_000, maxRetries: 3 } },
    roles: { generator: { endpoint: "sim", model: "toolloop-sim" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "synthesize.singleTurn", count: samples, ...(batchSize === undefined ? {} : { batchSize }) }],
    concurrency: { batchesInParallel },
  };
  const wfId = campaignWorkflowId(campaignId);
  const started = Date.now();
  const xact0 = await transactions();
  const cpu0 = process.cpuUsage();
  const threads0 = threadCpu();
  const elu0 = performance.eventLoopUtilization();
  // Steady state: CPU from the moment a quarter of the requests had completed (JIT compilation and
  // the first batches' set-up behind it) to the end, per request completed in that window. The plain
  // client measures the same window of its own run (bench/plainHttpClient.ts).
  const expectedRequests = 2 * samples;
  let warm: { completed: number; cpu: NodeJS.CpuUsage; threads: Map<string, number> } | undefined;
  let polling = true;
  const poller = (async () => {
    while (polling && !warm) {
      await new Promise((r) => setTimeout(r, 250));
      const cpu = process.cpuUsage();
      const { completed } = await simStats();
      if (completed >= expectedRequests * WARM_UP_SHARE) warm = { completed, cpu, threads: threadCpu() };
    }
  })();
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: wfId,
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  await handle.result();
  const workerCpu = process.cpuUsage(cpu0);
  const workerCpuEnd = process.cpuUsage();
  polling = false;
  await poller;
  const threads1 = threadCpu();
  const elu = performance.eventLoopUtilization(elu0);
  // Before the plain client runs (its own process): the peak is the worker's (and this harness's).
  const workerPeakRssMiB = process.resourceUsage().maxRSS / 1024;
  const youngGenerationMiB = (v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0) / 1048576;
  const wallS = (Date.now() - started) / 1000;
  // Postgres counts its statistics asynchronously (every ~0.5 s); wait for them to settle.
  await new Promise((r) => setTimeout(r, 1500));
  const dbTransactions = (await transactions()) - xact0;
  const st = await simStats();
  const active = ((st.lastResponseAt ?? 0) - (st.firstRequestAt ?? 0)) / 1000;
  const rps = st.completed / active;
  const workerCpuMs = (workerCpu.user + workerCpu.system) / 1000;
  const workerMsPerRequest = workerCpuMs / st.completed;
  const workerSteadyMsPerRequest = warm ? cpuMs(workerCpuEnd, warm.cpu) / (st.completed - warm.completed) : Number.NaN;
  let events = 0;
  const perWorkflow: number[] = [];
  let batches = 0;
  // Which kinds of event the histories hold: where a change to the workflows would save events.
  const byKind = new Map<string, number>();
  for (const id of [wfId, iterationWorkflowId(wfId, 1)]) {
    const h = await env.client.workflow.getHandle(id).fetchHistory();
    perWorkflow.push(h.events?.length ?? 0);
    events += h.events?.length ?? 0;
    for (const e of h.events ?? []) {
      const kind = eventKind(e);
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    batches += (h.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === "runStageBatch").length;
  }

  // The same request bodies, the same number of requests, the same client concurrency, plain http.
  const bodiesFile = path.join(tmp, `bodies-${trial}.jsonl`);
  const dumped = sim.next<{ count: number }>("dumped");
  sim.child.send({ type: "dumpBodies", file: bodiesFile });
  const { count: bodyCount } = await dumped;
  const runPlain = async (loadModules: string[] = []) => {
    await resetSimulatorStats();
    const plain = forkHelper("plainHttpClient.js", {
      url,
      bodiesFile,
      concurrency: clientConcurrency,
      requests: st.completed,
      warmUpShare: WARM_UP_SHARE,
      loadModules,
    });
    const run = await plain.next<{
      requests: number;
      failures: number;
      cpuMs: number;
      systemCpuMs: number;
      wallMs: number;
      steady: { requests: number; cpuMs: number };
    }>("done");
    return { run, stats: await simStats() };
  };
  const { run: p, stats: pst } = await runPlain();
  // The same client again, in a process that has imported the worker's code (nothing of it run).
  const { run: pl } = await runPlain([WORKER_MODULES]);
  fs.rmSync(bodiesFile, { force: true });
  const plainActive = ((pst.lastResponseAt ?? 0) - (pst.firstRequestAt ?? 0)) / 1000;
  const plainRps = pst.completed / plainActive;
  const plainMsPerRequest = p.cpuMs / p.requests;
  const plainSteadyMsPerRequest = p.steady.cpuMs / p.steady.requests;
  const loadedMsPerRequest = pl.cpuMs / pl.requests;
  const loadedSteadyMsPerRequest = pl.steady.cpuMs / pl.steady.requests;
  return {
    trial,
    requests: st.completed,
    wallS,
    endpointBusyS: active,
    worker: {
      rps,
      ratio: rps / capacity,
      // The share of the engine's slots nobody asked for while it was busy: the client did not keep it full.
      idleSlotShare: st.idleSlotMs / (cap * active * 1000),
      // L plus the simulator's own delays (its CPU work, timers firing late on a shared machine).
      serviceMs: st.servedMs / st.completed,
      maxInFlight: st.maxInFlight,
      cpuMsPerRequest: workerMsPerRequest,
      kernelShare: workerCpu.system / (workerCpu.user + workerCpu.system),
      cpuMsPerRequestByThread: Object.fromEntries(byThread(threads0, threads1, st.completed)),
      eventLoopUtilization: elu.utilization,
      peakRssMiB: workerPeakRssMiB,
      youngGenerationMiB,
    },
    plain: {
      rps: plainRps,
      ratio: plainRps / capacity,
      idleSlotShare: pst.idleSlotMs / (cap * plainActive * 1000),
      serviceMs: pst.servedMs / pst.completed,
      cpuMsPerRequest: plainMsPerRequest,
      kernelShare: p.systemCpuMs / p.cpuMs,
      failures: p.failures,
      bodies: bodyCount,
    },
    cpuRatio: workerMsPerRequest / plainMsPerRequest,
    plainWithWorkerModules: {
      cpuMsPerRequest: loadedMsPerRequest,
      steadyCpuMsPerRequest: loadedSteadyMsPerRequest,
      failures: pl.failures,
      // What the process's size alone costs the same HTTP work, and the worker against that client.
      versusPlain: loadedMsPerRequest / plainMsPerRequest,
      steadyVersusPlain: loadedSteadyMsPerRequest / plainSteadyMsPerRequest,
      workerRatio: workerMsPerRequest / loadedMsPerRequest,
      steadyWorkerRatio: workerSteadyMsPerRequest / loadedSteadyMsPerRequest,
    },
    steadyState: {
      warmUpShare: WARM_UP_SHARE,
      workerRequests: warm ? st.completed - warm.completed : 0,
      workerCpuMsPerRequest: workerSteadyMsPerRequest,
      workerCpuMsPerRequestByThread: warm ? Object.fromEntries(byThread(warm.threads, threads1, st.completed - warm.completed)) : {},
      plainRequests: p.steady.requests,
      plainCpuMsPerRequest: plainSteadyMsPerRequest,
      cpuRatio: workerSteadyMsPerRequest / plainSteadyMsPerRequest,
    },
    dbTransactions,
    dbTransactionsPerRequest: dbTransactions / st.completed,
    historyEventsPer1000: events / (samples / 1000),
    historyEvents: { campaign: perWorkflow[0] ?? 0, iteration: perWorkflow[1] ?? 0, batches, byKind: Object.fromEntries(byKind) },
  };
}

const showSplit = (split: Record<string, number>): string => showThreads(Object.entries(split));
const pct = (share: number): string => (share * 100).toFixed(1);

function printTrial(t: Trial): void {
  if (trials > 1) console.log(`--- trial ${t.trial} of ${trials}${t.trial === 1 ? " (the worker's first campaign: its code not yet compiled)" : ""}`);
  console.log(`wall ${t.wallS.toFixed(1)} s (campaign start to result), endpoint busy ${t.endpointBusyS.toFixed(1)} s`);
  const w = t.worker;
  console.log(
    `worker: ${w.rps.toFixed(1)} req/s = ${w.ratio.toFixed(3)} of capacity C/L ${capacity.toFixed(1)} req/s (target >= 0.97 at C=32, L=200); engine slots left idle ${pct(w.idleSlotShare)}%, at most ${w.maxInFlight} in flight, mean service time ${w.serviceMs.toFixed(1)} ms`,
  );
  console.log(
    `worker: ${w.cpuMsPerRequest.toFixed(3)} ms CPU per request (${(w.cpuMsPerRequest * t.requests).toFixed(0)} ms over ${t.requests}; in the kernel ${(w.kernelShare * 100).toFixed(0)}%), main-thread event loop ${pct(w.eventLoopUtilization)}% busy`,
  );
  if (Object.keys(w.cpuMsPerRequestByThread).length > 0) {
    console.log(`worker CPU per request by thread (ms; threads that ended in between are not counted): ${showSplit(w.cpuMsPerRequestByThread)}`);
    if (t.steadyState.workerRequests > 0) console.log(`  in steady state (the window below): ${showSplit(t.steadyState.workerCpuMsPerRequestByThread)}`);
  }
  console.log(
    `worker memory: peak RSS ${w.peakRssMiB.toFixed(0)} MiB (worker and this harness), V8 young generation ${w.youngGenerationMiB.toFixed(0)} MiB at the end`,
  );
  const p = t.plain;
  console.log(
    `plain keep-alive node:http on the same ${p.bodies} bodies: ${p.rps.toFixed(1)} req/s = ${p.ratio.toFixed(3)} of capacity (engine slots left idle ${pct(p.idleSlotShare)}%, mean service time ${p.serviceMs.toFixed(1)} ms), ${p.cpuMsPerRequest.toFixed(3)} ms CPU per request (in the kernel ${(p.kernelShare * 100).toFixed(0)}%), ${p.failures} failures`,
  );
  console.log(`database: ${t.dbTransactions} transactions (all clients of the database) = ${t.dbTransactionsPerRequest.toFixed(2)} per LLM request`);
  console.log(`worker / plain CPU per request = ${t.cpuRatio.toFixed(2)}x (target <= 2), whole run`);
  const s = t.steadyState;
  console.log(
    `steady state (the requests after the first ${s.warmUpShare * 100}% of each run): worker ${s.workerCpuMsPerRequest.toFixed(3)} ms over ${s.workerRequests} requests, plain ${s.plainCpuMsPerRequest.toFixed(3)} ms over ${s.plainRequests} = ${s.cpuRatio.toFixed(2)}x`,
  );
  const l = t.plainWithWorkerModules;
  console.log(
    `the plain client with the worker's modules imported (nothing of them run): ${l.cpuMsPerRequest.toFixed(3)} ms CPU per request, steady ${l.steadyCpuMsPerRequest.toFixed(3)} ms = ${l.versusPlain.toFixed(2)}x the bare client (steady ${l.steadyVersusPlain.toFixed(2)}x), ${l.failures} failures; worker / it = ${l.workerRatio.toFixed(2)}x (steady ${l.steadyWorkerRatio.toFixed(2)}x)`,
  );
  const h = t.historyEvents;
  console.log(
    `history events: ${h.campaign + h.iteration} (campaign ${h.campaign} + iteration ${h.iteration}, ${h.batches} batches) = ${t.historyEventsPer1000.toFixed(1)} per 1,000 samples (target <= 20)`,
  );
  console.log(
    `  by kind: ${Object.entries(h.byKind)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
  );
}

/** The median of a figure over the trials, with its range. */
function spread(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? (sorted[Math.floor(mid)] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

try {
  console.log(
    `samples=${samples} C=${cap} (client keeps ${clientConcurrency} open) L=${latencyMs}ms batchSize=${batch} trials=${trials} cores=${os.availableParallelism()}`,
  );
  console.log(`simulator process priority: ${simulatorPriority}`);
  // Forked helpers inherit this process's Node flags: the plain client runs under the same V8 settings as the worker.
  console.log(`node flags (the worker's, inherited by the plain client and the simulator): ${nodeFlags() || "(none)"}`);
  // Set by createWorkers in this process only (the forked plain client runs with V8's defaults).
  const heap = applyWorkerHeapGrowth();
  console.log(`worker's V8 heap growth: ${heap.apply ? heap.flag : heap.reason} (src/util/heapGrowth.ts)`);
  const results: Trial[] = [];
  for (let trial = 1; trial <= trials; trial++) {
    const t = await runTrial(trial);
    results.push(t);
    printTrial(t);
  }
  const summary = {
    cpuRatio: spread(results.map((t) => t.cpuRatio)),
    steadyStateCpuRatio: spread(results.map((t) => t.steadyState.cpuRatio)),
    workerCpuMsPerRequest: spread(results.map((t) => t.worker.cpuMsPerRequest)),
    plainCpuMsPerRequest: spread(results.map((t) => t.plain.cpuMsPerRequest)),
    workerSteadyCpuMsPerRequest: spread(results.map((t) => t.steadyState.workerCpuMsPerRequest)),
    plainSteadyCpuMsPerRequest: spread(results.map((t) => t.steadyState.plainCpuMsPerRequest)),
    plainWithWorkerModulesVersusPlain: spread(results.map((t) => t.plainWithWorkerModules.versusPlain)),
    workerVersusPlainWithWorkerModules: spread(results.map((t) => t.plainWithWorkerModules.workerRatio)),
    steadyWorkerVersusPlainWithWorkerModules: spread(results.map((t) => t.plainWithWorkerModules.steadyWorkerRatio)),
    capacityRatio: spread(results.map((t) => t.worker.ratio)),
    historyEventsPer1000: spread(results.map((t) => t.historyEventsPer1000)),
  };
  if (trials > 1) {
    // Worker and plain client alternate, so a drift of the shared machine's speed reaches both sides
    // of each trial's ratio; the median reads through the run-to-run spread of a single trial.
    const show = (s: { median: number; min: number; max: number }, digits: number, unit = ""): string =>
      `median ${s.median.toFixed(digits)}${unit} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
    console.log(
      `=== over ${trials} trials (each: a campaign through the worker, then the plain client on its bodies, bare and with the worker's modules imported)`,
    );
    console.log(`worker / plain CPU per request, whole run: ${show(summary.cpuRatio, 2, "x")} (target <= 2)`);
    console.log(`  steady state: ${show(summary.steadyStateCpuRatio, 2, "x")}`);
    console.log(`worker ms CPU per request: whole run ${show(summary.workerCpuMsPerRequest, 3)}, steady state ${show(summary.workerSteadyCpuMsPerRequest, 3)}`);
    console.log(`plain ms CPU per request: whole run ${show(summary.plainCpuMsPerRequest, 3)}, steady state ${show(summary.plainSteadyCpuMsPerRequest, 3)}`);
    console.log(
      `the plain client with the worker's modules imported: ${show(summary.plainWithWorkerModulesVersusPlain, 2, "x")} the bare client; worker / it ${show(summary.workerVersusPlainWithWorkerModules, 2, "x")}, steady state ${show(summary.steadyWorkerVersusPlainWithWorkerModules, 2, "x")}`,
    );
    console.log(
      `worker share of capacity: ${show(summary.capacityRatio, 3)} (target >= 0.97); history events per 1,000 samples: ${show(summary.historyEventsPer1000, 1)} (target <= 20)`,
    );
  }
  if (values.json) {
    fs.writeFileSync(
      values.json,
      JSON.stringify({
        samples,
        concurrency: cap,
        clientConcurrency,
        latencyMs,
        batchSize: batch,
        nodeFlags: nodeFlags(),
        workerHeapGrowth: heap.apply ? heap.flag : heap.reason,
        simulatorPriority,
        trials: results,
        summary,
      }),
    );
  }
} finally {
  await workers.stop();
  sim.child.send({ type: "close" });
  await env.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
