/**
 * The old generation's growth for a long-running worker process. After each full garbage collection
 * V8 sets the next collection's trigger at the live size times a factor it picks from how fast the
 * program allocates: a worker waiting on LLM responses allocates slowly, so V8 keeps its heap tight
 * (measured: ~53 MB live, the next full collection ~8 MB later, one every ~4 s at 160 requests/s)
 * and their marking kept V8's helper threads busy. A fixed factor of 2 (the trigger at twice the
 * live size) halved the helper threads' CPU in a 20,000-sample campaign (0.051 ms per request in
 * steady state against 0.104-0.108), for no higher peak RSS (311 MiB against 317):
 * bench/synthesisThroughput.ts, docs/worker-throughput.md.
 *
 * An operator's own `node --heap-growing-percent=N` wins (Node refuses it in NODE_OPTIONS); else
 * TOOLLOOP_WORKER_HEAP_GROWING_PERCENT sets the percentage (0: V8's own choice).
 */
import v8 from "node:v8";

export const DEFAULT_WORKER_HEAP_GROWING_PERCENT = 100;

export type HeapGrowthDecision =
  { apply: true; percent: number; flag: string } | { apply: false; reason: "set by the operator's node --heap-growing-percent" | "V8's own choice (0)" };

/**
 * What to set, from the process's command-line Node options and environment. Throws, naming the
 * variable, on a value that is not a whole number from 0 to 1000.
 */
export function heapGrowthDecision(execArgv: readonly string[], env: NodeJS.ProcessEnv): HeapGrowthDecision {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return { apply: false, reason: "set by the operator's node --heap-growing-percent" };
  const raw = env.TOOLLOOP_WORKER_HEAP_GROWING_PERCENT;
  let percent = DEFAULT_WORKER_HEAP_GROWING_PERCENT;
  if (raw !== undefined && raw.trim() !== "") {
    if (!/^\d+$/.test(raw.trim()) || Number(raw) > 1000) {
      throw new Error(`TOOLLOOP_WORKER_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000 (0: V8's own choice), got ${JSON.stringify(raw)}`);
    }
    percent = Number(raw);
  }
  if (percent === 0) return { apply: false, reason: "V8's own choice (0)" };
  return { apply: true, percent, flag: `--heap-growing-percent=${percent}` };
}

let applied: HeapGrowthDecision | undefined;

/** Applies the decision once per process (V8 reads the flag at every full collection); returns it. */
export function applyWorkerHeapGrowth(execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): HeapGrowthDecision {
  if (applied) return applied;
  const decision = heapGrowthDecision(execArgv, env);
  if (decision.apply) v8.setFlagsFromString(decision.flag);
  applied = decision;
  return decision;
}
