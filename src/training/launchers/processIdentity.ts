/**
 * A process identified by its pid AND its start time (field 22 of /proc/<pid>/stat, clock ticks
 * since boot): a pid alone can be reused by an unrelated process after the job's process is gone,
 * and a job launcher must never report that one as the job, nor signal it.
 */
import fs from "node:fs";

export interface ProcessIdentity {
  pid: number;
  /** /proc start time in clock ticks since boot; undefined where procfs did not say. */
  startTime?: string;
}

/** State and start time of a process from /proc, or undefined when it does not exist. */
function readStat(pid: number): { state: string; pgrp: number; startTime: string } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name in parentheses may contain spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "", pgrp: Number(fields[2]), startTime: fields[19] ?? "" };
}

export function startTimeOf(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

/** True while that very process runs (not a zombie, and not another process that got its pid). */
export function isSameProcessAlive(id: ProcessIdentity): boolean {
  if (!Number.isInteger(id.pid) || id.pid <= 0) return false;
  const stat = readStat(id.pid);
  if (!stat) return false;
  if (stat.state === "Z" || stat.state === "X") return false;
  return id.startTime === undefined || id.startTime === "" || stat.startTime === id.startTime;
}

/** "PID STARTTIME" as the job wrapper writes it; undefined when the text is not that. */
export function parseProcessIdentity(text: string): ProcessIdentity | undefined {
  const [pid, startTime] = text.trim().split(/\s+/);
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return undefined;
  return startTime && /^\d+$/.test(startTime) ? { pid: n, startTime } : { pid: n };
}

/**
 * True while any live (non-zombie) process is in process group `pgid`. Linux never hands out a pid
 * that is still some group's id, so after the leader is gone these are the job's own leftovers.
 */
export function isProcessGroupAlive(pgid: number): boolean {
  return groupProcesses(pgid, 1).length > 0;
}

/**
 * True while a live process is in the group the job's wrapper `id` leads or led (its leftovers once it
 * has ended). Once another process has the wrapper's pid the group has ended (Linux reuses no pid that
 * is a live group's id), and a group that process leads is not the job's.
 */
export function isJobGroupAlive(id: ProcessIdentity): boolean {
  const stat = readStat(id.pid);
  const reused = stat !== undefined && id.startTime !== undefined && id.startTime !== "" && stat.startTime !== id.startTime;
  return !reused && isProcessGroupAlive(id.pid);
}

/** The live (non-zombie) processes of group `pgid`, each with its command line (at most 200 characters), at most `limit`. */
export function groupProcesses(pgid: number, limit = 20): { pid: number; command: string }[] {
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return [];
  }
  const found: { pid: number; command: string }[] = [];
  for (const entry of entries) {
    if (found.length >= limit) break;
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat || stat.pgrp !== pgid || stat.state === "Z" || stat.state === "X") continue;
    let command = "";
    try {
      command = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    } catch {
      // Ended while we looked.
    }
    found.push({ pid: Number(entry), command: command.length > 200 ? `${command.slice(0, 200)}...` : command || "?" });
  }
  return found;
}
