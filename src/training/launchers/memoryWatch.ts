/**
 * The local launcher's memory limit: a small detached process per job with a `memPerNode` that sums
 * the resident memory of the job's process tree (localLimits.ts jobTree) every poll and, once it is
 * over the limit, records why in <name>.oom, says so in the job's log and SIGKILLs the tree (all but
 * the job's wrapper, which then records the exit code 137), as Slurm's cgroup OOM handler would. It
 * runs in its own session, so a worker restart leaves it running like the job; it ends once nothing of
 * the job runs. <name>.watch holds its "PID STARTTIME" (written by the launcher that spawned it), so a
 * launcher can tell it has gone and start another (LocalLauncher.status).
 */
import fs from "node:fs";
import path from "node:path";
import { formatBytes, jobTree, systemPageSize } from "./localLimits.js";

export interface MemoryWatchArgs {
  stateDir: string;
  name: string;
  /** The wrapper's pid: its session (and process group) id. */
  sid: number;
  limitBytes: number;
  /** As the job asked for it, for the message. */
  memPerNode: string;
  logFile: string;
  /** The shortest time between two looks; longer when a look over /proc costs more (see below). */
  pollMs: number;
}

/** What <name>.oom records: the job was killed for its memory. */
export interface OomRecord {
  memPerNode: string;
  limitBytes: number;
  peakBytes: number;
  killedPids: number[];
  at: string;
}

/** A look over /proc may take at most this share of one CPU: the poll is lengthened on a machine with very many processes. */
const MAX_CPU_SHARE = 0.02;
const MAX_POLL_MS = 10_000;

export function oomMessage(oom: OomRecord): string {
  return (
    `OUT_OF_MEMORY: the job's processes reached ${formatBytes(oom.peakBytes)} resident (the peak seen), over its resources.memPerNode ` +
    `${JSON.stringify(oom.memPerNode)} (${formatBytes(oom.limitBytes)}); the local launcher killed them (SIGKILL), as Slurm's OOM handler would. ` +
    `Ask for more memory (the stage's memPerNode) or make the job use less`
  );
}

export function readOomRecord(stateDir: string, name: string): OomRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, `${name}.oom`), "utf8")) as OomRecord;
  } catch {
    return undefined;
  }
}

/** Watches until nothing of the job runs; returns the OOM record when it killed the job. */
export async function runMemoryWatch(args: MemoryWatchArgs): Promise<OomRecord | undefined> {
  const page = systemPageSize();
  let peak = 0;
  let oom: OomRecord | undefined;
  for (;;) {
    const startedAt = process.hrtime.bigint();
    const tree = jobTree(args.sid, page);
    if (tree.length === 0) return oom;
    const total = tree.reduce((sum, p) => sum + p.rssBytes, 0);
    peak = Math.max(peak, total);
    if (total > args.limitBytes || oom) {
      // Everything but the wrapper (pid = sid), which records the command's exit code; again each
      // poll until it has all ended, in case a process forked between the look and the kill.
      const victims = tree.filter((p) => p.pid !== args.sid).map((p) => p.pid);
      if (!oom) {
        oom = { memPerNode: args.memPerNode, limitBytes: args.limitBytes, peakBytes: peak, killedPids: victims, at: new Date().toISOString() };
        writeAtomically(path.join(args.stateDir, `${args.name}.oom`), `${JSON.stringify(oom)}\n`);
        try {
          fs.appendFileSync(args.logFile, `\ntoolloop: ${oomMessage(oom)}\n`);
        } catch {
          // The log's folder is gone: the .oom record and the job's status still say it.
        }
      }
      for (const pid of victims) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    const tookMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
    const waitMs = Math.min(MAX_POLL_MS, Math.max(args.pollMs, tookMs / MAX_CPU_SHARE));
    await new Promise((resolve) => setTimeout(resolve, oom ? Math.min(waitMs, 100) : waitMs));
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
