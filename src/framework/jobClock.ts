/**
 * The deadlines of a running cluster job, timed by its watcher from poll to poll (and from window to
 * window: the clock is kept with the job's recorded progress). A server that runs without serving
 * past its readiness deadline, and a training job that runs without a new step past its stall
 * deadline, are stopped by the watcher: otherwise a hung job (a collective stuck at start-up, a
 * deadlocked rollout) would hold its GPUs and the campaign forever without a word. Time in the
 * scheduler's queue never counts: a job put back in the queue (a Slurm requeue) starts afresh when it
 * runs again. Pure.
 */
import type { JobState } from "../training/launchers/launcher.js";

export interface JobClock {
  /** When the job was first seen running (this time round). */
  runningSince?: string;
  /** When its step count last changed, or when it was first seen running before any step. */
  stepSeenAt?: string;
  /** The step count seen then. */
  stepDone?: number;
}

/** The clock after one poll that saw the job in `state` with `done` steps (undefined: it reports none). */
export function tickJobClock(clock: JobClock, state: JobState, done: number | undefined, nowMs: number): JobClock {
  if (state === "pending") return {};
  if (state !== "running") return clock;
  const at = new Date(nowMs).toISOString();
  const next: JobClock = { ...clock, runningSince: clock.runningSince ?? at };
  if (done !== undefined && done !== clock.stepDone) {
    next.stepDone = done;
    next.stepSeenAt = at;
  }
  next.stepSeenAt ??= at;
  return next;
}

export interface JobDeadlines {
  /** A server's: how long it may run without serving. */
  readyTimeoutMs?: number;
  /** A training job's: how long it may run without a new step (the first one included). */
  stallTimeoutMs?: number;
}

export interface OverdueJob {
  deadline: "ready" | "stall";
  elapsedMs: number;
  limitMs: number;
}

/** The deadline a running job has passed, if any. */
export function overdueJob(clock: JobClock, deadlines: JobDeadlines, nowMs: number): OverdueJob | undefined {
  const since = (iso: string | undefined) => (iso === undefined ? undefined : nowMs - Date.parse(iso));
  const ran = since(clock.runningSince);
  if (deadlines.readyTimeoutMs !== undefined && ran !== undefined && ran > deadlines.readyTimeoutMs)
    return { deadline: "ready", elapsedMs: ran, limitMs: deadlines.readyTimeoutMs };
  const still = since(clock.stepSeenAt);
  if (deadlines.stallTimeoutMs !== undefined && still !== undefined && still > deadlines.stallTimeoutMs)
    return { deadline: "stall", elapsedMs: still, limitMs: deadlines.stallTimeoutMs };
  return undefined;
}

/** A duration as an operator reads it: seconds under two minutes, else minutes. */
export function spokenDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} minutes`;
}
