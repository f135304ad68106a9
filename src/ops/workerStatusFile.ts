/**
 * A worker's own account of itself, for the image's HEALTHCHECK (src/ops/workerHealthcheck.ts).
 * Temporal's poller records (workerHealth.ts) show a worker only while it polls, and a worker whose
 * every activity slot is taken does not poll: an `--roles llm` worker running long batches in all its
 * slots looked unhealthy after 90 s while working (seen: 16 slots... here 1 slot, one 3-minute batch).
 * So each worker process writes, every few seconds, a small JSON file in the host's temp folder: its
 * task queues, how many activities run in each against how many slots, and when a round trip to the
 * Temporal server over its own connection last succeeded. The HEALTHCHECK accepts a worker that does
 * not poll only when that file is fresh, its process alive, its server round trip recent and every
 * activity slot it has busy; a worker that lost its server connection still reports unhealthy.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { NativeConnection, Worker } from "@temporalio/worker";

export interface QueueLoad {
  taskQueue: string;
  kind: "workflow" | "activity";
  /** Activity slots (activity queues only). */
  slots?: number;
  /** Activities running now (activity queues only). */
  running?: number;
}

export interface WorkerStatusRecord {
  pid: number;
  hostname: string;
  /** When the file was written (ms since the epoch). */
  writtenAt: number;
  /** When a round trip to the Temporal server on the worker's connection last succeeded, if ever. */
  serverOkAt: number | null;
  queues: QueueLoad[];
}

/** Where worker processes of this host write their status (one file per pid). */
export function workerStatusDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TOOLLOOP_WORKER_STATUS_DIR?.trim() ? env.TOOLLOOP_WORKER_STATUS_DIR.trim() : path.join(os.tmpdir(), "toolloop-worker-status");
}

export function workerStatusFile(dir: string, pid: number): string {
  return path.join(dir, `${pid}.json`);
}

/** Writes via a temporary file and a rename, so a reader never sees half a record. */
export function writeWorkerStatus(dir: string, record: WorkerStatusRecord): void {
  fs.mkdirSync(dir, { recursive: true });
  const file = workerStatusFile(dir, record.pid);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(record));
  fs.renameSync(tmp, file);
}

export function removeWorkerStatus(dir: string, pid: number): void {
  fs.rmSync(workerStatusFile(dir, pid), { force: true });
}

function isRecord(v: unknown): v is WorkerStatusRecord {
  const r = v as Partial<WorkerStatusRecord> | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.pid === "number" &&
    typeof r.hostname === "string" &&
    typeof r.writtenAt === "number" &&
    (r.serverOkAt === null || typeof r.serverOkAt === "number") &&
    Array.isArray(r.queues)
  );
}

/** The readable records in `dir` (unreadable or foreign files are skipped, never fatal to a health check). */
export function readWorkerStatuses(dir: string): WorkerStatusRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: WorkerStatusRecord[] = [];
  for (const name of names) {
    try {
      const parsed: unknown = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
      if (isRecord(parsed)) out.push(parsed);
    } catch {
      // written by something else, or removed meanwhile
    }
  }
  return out;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface BusyVerdict {
  healthy: boolean;
  detail: string;
}

/**
 * Among this host's worker records for the deployment's queues: one whose process is alive, whose
 * record and server round trip are at most `maxAgeMs` old, and whose every activity slot is busy
 * (so it is not expected to poll). Undefined when no record qualifies.
 */
export function busyWorkerVerdict(opts: {
  records: readonly WorkerStatusRecord[];
  hostname: string;
  queues: readonly string[];
  now: number;
  maxAgeMs: number;
  alive?: (pid: number) => boolean;
}): BusyVerdict | undefined {
  const alive = opts.alive ?? processAlive;
  for (const r of opts.records) {
    if (r.hostname !== opts.hostname || !r.queues.some((q) => opts.queues.includes(q.taskQueue))) continue;
    if (opts.now - r.writtenAt > opts.maxAgeMs || !alive(r.pid)) continue;
    const activity = r.queues.filter((q) => q.kind === "activity");
    const full = activity.length > 0 && activity.every((q) => (q.running ?? 0) >= (q.slots ?? Infinity));
    if (!full) continue;
    const load = activity.map((q) => `${q.taskQueue} ${q.running}/${q.slots}`).join(", ");
    if (r.serverOkAt === null || opts.now - r.serverOkAt > opts.maxAgeMs) {
      return {
        healthy: false,
        detail: `${r.pid}@${r.hostname} has every activity slot busy (${load}) but no server round trip in ${Math.round(opts.maxAgeMs / 1000)} s`,
      };
    }
    return {
      healthy: true,
      detail: `${r.pid}@${r.hostname} runs activities in every slot (${load}), so it does not poll; server answered ${Math.max(0, Math.round((opts.now - r.serverOkAt) / 1000))} s ago`,
    };
  }
  return undefined;
}

/**
 * Writes this process's record now and every `intervalMs` until stopped (then removes it). `slots`
 * gives an activity queue's slot count (what createWorkers configured). Never throws: a failed write
 * only means the HEALTHCHECK falls back to the poller records.
 */
export function startWorkerStatusReporter(opts: {
  workers: readonly Worker[];
  connection: Pick<NativeConnection, "workflowService">;
  workflowTaskQueue: string;
  slots: (taskQueue: string) => number;
  dir?: string;
  intervalMs?: number;
  log?: (m: string) => void;
}): { stop: () => void } {
  const dir = opts.dir ?? workerStatusDir();
  let serverOkAt: number | null = null;
  let warned = false;
  let stopped = false;
  const tick = async () => {
    try {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer in 5 s")), 5000);
      });
      await Promise.race([opts.connection.workflowService.getSystemInfo({}), timeout]).finally(() => clearTimeout(timer));
      serverOkAt = Date.now();
    } catch {
      // the record keeps the last success: the HEALTHCHECK judges its age
    }
    if (stopped) return;
    try {
      writeWorkerStatus(dir, {
        pid: process.pid,
        hostname: os.hostname(),
        writtenAt: Date.now(),
        serverOkAt,
        queues: opts.workers.map((w) => {
          const taskQueue = w.options.taskQueue;
          if (taskQueue === opts.workflowTaskQueue) return { taskQueue, kind: "workflow" as const };
          return { taskQueue, kind: "activity" as const, slots: opts.slots(taskQueue), running: w.getStatus().numInFlightNonLocalActivities };
        }),
      });
    } catch (err) {
      if (!warned) opts.log?.(`worker: cannot write its status for the HEALTHCHECK under ${dir}: ${(err as Error).message}`);
      warned = true;
    }
  };
  tick().catch(() => undefined); // never rejects: both steps catch their own errors
  const timer = setInterval(() => {
    tick().catch(() => undefined);
  }, opts.intervalMs ?? 10_000);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
      removeWorkerStatus(dir, process.pid);
    },
  };
}
