/**
 * What the local launcher needs to enforce a job's `cpusPerTask` and `memPerNode` without root or
 * cgroups: the CPUs this process may use, the choice of CPUs to pin a job to, `taskset` on PATH, and
 * sbatch's --mem syntax in bytes. The job's process tree and its resident memory (from /proc) are
 * what the memory watch (memoryWatch.ts) reads.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SLURM_MEMORY } from "./config.js";

const MEMORY_UNITS: Record<string, number> = { K: 1, M: 2, G: 3, T: 4 };

/**
 * sbatch's --mem value in bytes (megabytes without a unit; K, M, G, T are powers of 1024, as Slurm
 * counts them); undefined for "0", which asks for all of a node's memory: no limit.
 */
export function memoryLimitBytes(memPerNode: string): number | undefined {
  const match = SLURM_MEMORY.exec(memPerNode);
  if (!match) throw new Error(`resources.memPerNode ${JSON.stringify(memPerNode)} is not sbatch's --mem value (e.g. "64G")`);
  const amount = Number(match[1]);
  if (amount === 0) return undefined;
  return amount * 1024 ** (MEMORY_UNITS[match[2] ?? "M"] ?? 2);
}

/** "200.3 MiB": bytes for a message. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** "0-3,8,10-11" (the kernel's cpulist format) as CPU numbers. */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) throw new Error(`not a CPU list: ${JSON.stringify(text)}`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** CPU numbers as the kernel's cpulist ("0-3,8"), which taskset -c reads. */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...cpus].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** The CPUs this process may run on (its affinity: a cpuset, taskset or container limit), from /proc/self/status. */
export function allowedCpus(): number[] {
  try {
    const line = /^Cpus_allowed_list:\s*(.*)$/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (line?.[1]) return parseCpuList(line[1]);
  } catch {
    // No procfs: every CPU the OS reports.
  }
  return os.cpus().map((_, i) => i);
}

/**
 * `count` of the allowed CPUs, the least used by other running local jobs first (then the lowest
 * numbers), so that concurrent jobs spread over the machine instead of all sharing CPU 0. Throws when
 * more are asked than there are, naming resources.cpusPerTask.
 */
export function chooseCpus(count: number, allowed: readonly number[], inUse: readonly number[]): number[] {
  if (count > allowed.length) {
    throw new Error(
      `resources.cpusPerTask ${count} is more than the ${allowed.length} CPU${allowed.length === 1 ? "" : "s"} this worker may use (${formatCpuList(allowed)}); ask for at most ${allowed.length}, or run the stage on Slurm or Ray`,
    );
  }
  const load = new Map<number, number>();
  for (const cpu of inUse) load.set(cpu, (load.get(cpu) ?? 0) + 1);
  const ranked = [...allowed].sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || a - b);
  return ranked.slice(0, count).sort((a, b) => a - b);
}

/** The `taskset` (util-linux) on PATH, or undefined. */
export function findTaskset(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, "taskset");
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

let pageSize: number | undefined;

/** The kernel's page size (the unit of /proc/PID/stat's rss), asked of getconf once. */
export function systemPageSize(): number {
  if (pageSize === undefined) {
    try {
      pageSize = Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8", timeout: 5000 }).trim()) || 4096;
    } catch {
      pageSize = 4096;
    }
  }
  return pageSize;
}

export interface TreeProcess {
  pid: number;
  startTime: string;
  rssBytes: number;
}

/**
 * The live processes of a job whose wrapper leads session `sid` (it was spawned detached, so setsid):
 * every process of that session, and every descendant of one (a child that made its own session is
 * still the job's), with its resident memory. One pass over /proc/[pid]/stat.
 */
export function jobTree(sid: number, page = systemPageSize()): TreeProcess[] {
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return [];
  }
  const all: { pid: number; ppid: number; session: number; startTime: string; rssBytes: number }[] = [];
  for (const entry of entries) {
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "latin1");
    } catch {
      continue; // ended while we looked
    }
    // Fields after "pid (comm) ": state ppid pgrp session ... starttime (20) vsize (21) rss (22).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") continue;
    all.push({ pid: Number(entry), ppid: Number(fields[1]), session: Number(fields[3]), startTime: fields[19] ?? "", rssBytes: Number(fields[21]) * page });
  }
  const members = new Set(all.filter((p) => p.session === sid).map((p) => p.pid));
  // Descendants that left the session: follow ppid links until nothing is added.
  for (let added = members.size > 0; added;) {
    added = false;
    for (const p of all) {
      if (!members.has(p.pid) && members.has(p.ppid)) {
        members.add(p.pid);
        added = true;
      }
    }
  }
  return all.filter((p) => members.has(p.pid)).map(({ pid, startTime, rssBytes }) => ({ pid, startTime, rssBytes }));
}
