/**
 * The deadlines of a running cluster job, timed by its watcher from poll to poll (and from window to
 * window: the clock is kept with the job's recorded progress). A server that runs without serving
 * past its readiness deadline, and a training job that shows no sign of advancing past its stall
 * deadline, are stopped by the watcher: otherwise a hung job (a collective stuck at start-up, a
 * deadlocked rollout) would hold its GPUs and the campaign forever without a word. A sign of
 * advancing is a new step or new output: a healthy job whose step lines the log's tail happens to
 * miss (a chatty rollout between them) still writes, and a hung one has gone quiet. Time in the
 * scheduler's queue never counts: a job put back in the queue (a Slurm requeue) starts afresh when it
 * runs again. Pure.
 */
import type { JobState } from "../training/launchers/launcher.js";

export interface JobClock {
  /** When the job was first seen running (this time round). */
  runningSince?: string;
  /** When it last showed a sign of advancing (a new step, new output), or was first seen running. */
  advancedAt?: string;
  /** The step count last seen. */
  stepDone?: number;
  /** A digest of the output last seen (the end of its log). */
  output?: string;
}

/** What one poll saw of a running job: its step count and a digest of its output, where known. */
export interface JobSigns {
  done?: number;
  output?: string;
}

/** The clock after one poll that saw the job in `state` with these signs (a sign not read this time changes nothing). */
export function tickJobClock(clock: JobClock, state: JobState, signs: JobSigns, nowMs: number): JobClock {
  if (state === "pending") return {};
  if (state !== "running") return clock;
  const at = new Date(nowMs).toISOString();
  const next: JobClock = { ...clock, runningSince: clock.runningSince ?? at };
  let advanced = false;
  if (signs.done !== undefined && signs.done !== clock.stepDone) {
    // The first count seen is where it stands, not a step it made (a resumed attempt starts at its checkpoint's).
    advanced = clock.stepDone !== undefined;
    next.stepDone = signs.done;
  }
  if (signs.output !== undefined && signs.output !== clock.output) {
    advanced ||= clock.output !== undefined;
    next.output = signs.output;
  }
  if (advanced || next.advancedAt === undefined) next.advancedAt = at;
  return next;
}

export interface JobDeadlines {
  /** A server's: how long it may run without serving. */
  readyTimeoutMs?: number;
  /** A training job's: how long it may run without a new step or new output (the wait for the first included). */
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
  const still = since(clock.advancedAt);
  if (deadlines.stallTimeoutMs !== undefined && still !== undefined && still > deadlines.stallTimeoutMs)
    return { deadline: "stall", elapsedMs: still, limitMs: deadlines.stallTimeoutMs };
  return undefined;
}

/** A duration as an operator reads it: seconds under two minutes, else minutes. */
export function spokenDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} minutes`;
}
