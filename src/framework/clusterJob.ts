/**
 * The contract of a stage that runs one long cluster job (training, merging, serving) instead of
 * batches. The framework names the job (jobNames.ts), submits it idempotently, watches it from a
 * child workflow on the cluster queue with heartbeats, cancels it when the stage is cancelled, and
 * calls `collect` once it is done. The handler only says what to run and what the outputs mean.
 */
import type { JobRef, JobRequest, JobStatus } from "../training/launchers/launcher.js";
import type { StageContext, StageEntry } from "./stage.js";

export interface PreparedJob {
  /** What to run; the framework adds the name. */
  request: Omit<JobRequest, "name">;
}

/** A job of a stage as the framework recorded it. */
export interface StageJob {
  name: string;
  attempt: number;
  ref: JobRef;
  request: JobRequest;
}

export interface JobProgress {
  /** Units done (training steps) and the total when known. */
  done: number;
  total?: number;
  /** Latest metrics the job printed (e.g. critic/score/mean). */
  metrics?: Record<string, number>;
}

export interface ClusterJobHandler<S extends StageEntry = StageEntry> {
  kind: "clusterJob";
  name: S["name"];
  /** "exit": done when the job exits successfully; "ready": done once `ready` says so while it runs (a server). */
  completion: "exit" | "ready";
  /**
   * The job of this attempt. Idempotent: after a crash it is called again and must describe the
   * same job (write its inputs under fixed paths). Attempts after the first resume the work.
   */
  prepare(ctx: StageContext<S>, attempt: number): Promise<PreparedJob>;
  /** For "ready" jobs: whether the running job serves yet. */
  ready?(ctx: StageContext<S>, job: StageJob, status: JobStatus): Promise<boolean>;
  /**
   * For "ready" jobs: how long the job may run (from when it was first seen running, so time queued
   * does not count) without serving before it is cancelled and the stage fails; undefined: no limit
   * (src/framework/jobClock.ts).
   */
  readyTimeoutMs?(ctx: StageContext<S>): number | undefined;
  /**
   * For "exit" jobs that report steps: how long the job may run without a new step (from when it was
   * first seen running, for the first) before it is cancelled and the stage fails; undefined: no limit.
   */
  stallTimeoutMs?(ctx: StageContext<S>): number | undefined;
  /** Progress read from the job's outputs (checkpoints, metric lines); `logTail` reads the end of its output. */
  progress?(ctx: StageContext<S>, job: StageJob, logTail: () => Promise<string>): Promise<JobProgress | undefined>;
  /** After success: reads what the job made and registers it; the result is the stage's summary. */
  collect(ctx: StageContext<S>, job: StageJob): Promise<Record<string, unknown>>;
  /**
   * Jobs this stage's success makes unnecessary (an earlier iteration's policy server), by name; the
   * framework cancels them after `collect`, so a campaign of many iterations does not pile up servers.
   */
  supersedes?(ctx: StageContext<S>, job: StageJob): Promise<string[]>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function isClusterJobHandler(h: object): h is ClusterJobHandler<any> {
  return typeof h === "object" && h !== null && (h as { kind?: unknown }).kind === "clusterJob";
}
