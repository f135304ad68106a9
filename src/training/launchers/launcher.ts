/**
 * One interface for every place a training, merge or serving job can run: a local process, a Slurm
 * cluster, a Ray cluster (Jobs API). Jobs run for hours to days and outlive workers, so a job is
 * identified by a deterministic name (campaign, iteration, step, attempt): `submit` first looks the
 * name up and never starts a second job under it, and a restarted worker finds the job by its name.
 */
export type LauncherKind = "local" | "slurm" | "ray";

export const LAUNCHER_KINDS: readonly LauncherKind[] = ["local", "slurm", "ray"];

/** Where a job is in its life. `lost`: the scheduler no longer knows it (purged, node gone). */
export type JobState = "pending" | "running" | "succeeded" | "failed" | "cancelled" | "lost";

export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(["succeeded", "failed", "cancelled", "lost"]);

/** A job name: lowercase letters, digits and '-', at most 63 characters (valid for Slurm, Ray and paths). */
export const JOB_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface JobResources {
  nodes: number;
  gpusPerNode: number;
  /** CPUs of the job's one task per node (Slurm's --cpus-per-task; a multi-node job's Ray nodes offer as many). */
  cpusPerTask?: number;
  /** Memory per node in sbatch's --mem units ("64G"; megabytes without a unit; "0": all of it; Ray: the entrypoint's memory). */
  memPerNode?: string;
  timeLimitMinutes?: number;
  /**
   * The command is a Ray driver (verl's trainers) whose workers claim the GPUs and CPUs through its own
   * placement groups: on Ray its entrypoint asks for none of them, which Ray would withhold from those workers.
   */
  rayDriver?: boolean;
}

export interface JobRequest {
  /** Deterministic and unique per (campaign, iteration, step, attempt); see JOB_NAME. */
  name: string;
  /** argv; argv[0] is the program. */
  command: string[];
  /** Extra environment for the job (never secrets' values in logs). */
  env: Record<string, string>;
  /** The job's working folder (created by the caller); launchers keep their own records under it. */
  workDir: string;
  resources: JobResources;
}

/** What is stored to find a job again: the launcher, the name and the scheduler's own id. */
export interface JobRef {
  launcher: LauncherKind;
  name: string;
  /** Slurm job id, Ray submission id, or the local process's id. */
  externalId: string;
}

export interface JobStatus {
  state: JobState;
  exitCode?: number;
  /** The scheduler's reason or state text, for status lines and errors. */
  message?: string;
  /** Hosts the job runs on (the first is where a served model listens), when the scheduler says. */
  nodes?: string[];
  /**
   * The scheduler will never start the job as submitted (`failed` while still queued): the message
   * names the setting to change and ends "Change that"; the watch adds what to do then, which follows
   * the campaign's onStageFailure (src/framework/stageFailureAdvice.ts afterChangeAdvice).
   */
  neverStarts?: true;
}

export interface JobLauncher {
  readonly kind: LauncherKind;
  /** A job submitted earlier under this name, in any state, or undefined. */
  find(name: string): Promise<JobRef | undefined>;
  /** Submits unless a job with this name exists; then returns that one (`submitted: false`). */
  submit(request: JobRequest): Promise<{ ref: JobRef; submitted: boolean }>;
  status(ref: JobRef): Promise<JobStatus>;
  /** The end of the job's output (stdout and stderr), at most `tailBytes`. */
  logs(ref: JobRef, options?: { tailBytes?: number }): Promise<string>;
  /**
   * Stops the job and returns once the scheduler says it has ended (bounded: JobStopTimeoutError past
   * the bound), so nothing started next runs beside it over the same files; a job already ended is left
   * as it is.
   */
  cancel(ref: JobRef, options?: CancelOptions): Promise<void>;
}

export interface CancelOptions {
  /** Ends the wait for the job to end (the caller was cancelled); the stop was asked for by then. */
  signal?: AbortSignal;
}

/**
 * A job was asked to stop and the scheduler still reports it running past the launcher's bound. The
 * message says when it was asked and what the scheduler reports; the caller starts nothing over its files.
 */
export class JobStopTimeoutError extends Error {
  override name = "JobStopTimeout";
}

/** The JobStopTimeoutError in err's cause chain, if any (a step may wrap the error it stopped on). */
export function jobStopTimeoutIn(err: unknown): JobStopTimeoutError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof JobStopTimeoutError) return e;
  }
  return undefined;
}

/**
 * The scheduler could not be asked at all (Slurm's controller or Ray's dashboard unreachable, or no
 * answer in time): says nothing about the job, which runs on. Watching and cancelling wait for the
 * scheduler to answer again instead of counting it as the job's failure.
 */
export class SchedulerUnreachableError extends Error {
  override name = "SchedulerUnreachable";
}

/** Whether err, or an error in its cause chain, is a SchedulerUnreachableError. */
export function isSchedulerUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof SchedulerUnreachableError) return true;
  }
  return false;
}

/**
 * The scheduler refused the job as asked (a partition, account or QOS it does not have, GPUs its nodes
 * lack, an sbatch option it does not know): the same request is refused again, so it is not retried.
 * The message names the setting to change.
 */
export class JobRefusedError extends Error {
  override name = "JobRefused";
}

/** A config names a launcher kind this build does not have: the same config fails the same way, so it is not retried. */
export class UnknownLauncherKindError extends Error {
  override name = "UnknownLauncherKind";
  constructor(kind: unknown) {
    super(
      `cluster.launcher.kind: ${JSON.stringify(kind) ?? String(kind)} is not a launcher this build has; expected one of ${LAUNCHER_KINDS.map((k) => JSON.stringify(k)).join(", ")}`,
    );
  }
}
