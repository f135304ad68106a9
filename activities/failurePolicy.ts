/**
 * Retry by cause. Temporal retries every activity without an attempt limit; what ends the retries is
 * this classification, made where the error is seen:
 * - infrastructure (a database or network outage, the worker going away): retried, never counted;
 * - a stage this worker's build lacks (activities/stageOnWorker.ts): retried for another worker, never counted, bounded in time;
 * - a cluster job asked to stop that still runs past the launcher's wait (JobStopTimeout: a slow node):
 *   retried (the retry asks again and waits again), never counted, bounded in time (JOB_STOP_LIMIT_MS);
 * - errors no retry can fix (bad input, a malformed LLM request): non-retryable at once;
 * - application failures (an LLM endpoint failing beyond its own retry budget, an unexpected error):
 *   each failed attempt is recorded in `activity_failures`; once an activity's count reaches its
 *   budget it fails non-retryably and the workflow asks an operator.
 * Heartbeat timeouts (a killed worker) never reach this code: Temporal retries them, uncounted.
 */
import { ApplicationFailure, CancelledFailure, Context } from "@temporalio/activity";
import type { Db } from "../src/db/client.js";
import { recordActivityFailure } from "../src/db/repos/activityFailures.js";
import { isTransientDbError } from "../src/db/transient.js";
import { describeQueryError } from "../src/db/queryError.js";
import { ErrorType } from "../src/framework/errorTypes.js";
import { LlmError } from "../src/llm/client.js";
import { isEndpointMisconfigured } from "../src/llm/errors.js";
import { StageInputError } from "../src/framework/stage.js";
import { afterFixAdvice, endpointRefusalAdvice, type StageFailurePolicy } from "../src/framework/stageFailureAdvice.js";
import { jobStopTimeoutIn, JobRefusedError, type JobStopTimeoutError } from "../src/training/launchers/launcher.js";

/** Application failures an activity may have before it gives up. */
export const FAILURE_BUDGET = { batch: 3, bookkeeping: 5 } as const;

/**
 * How long after it was first scheduled a step may keep finding its job still stopping. Slurm ends a
 * job KillWait (30 s) after SIGTERM and gives up on a node that does not answer within SlurmdTimeout
 * (5 min): a job still running an hour after it was asked to stop will not end by asking again.
 */
export const JOB_STOP_LIMIT_MS = 60 * 60_000;

export interface FailurePolicyOptions {
  getDb(): Promise<Db>;
  budget: number;
  /**
   * For a stage's steps: the campaign's onStageFailure, which decides what an operator does after a fix
   * (src/framework/stageFailureAdvice.ts); without it, or when it cannot be read, "then retry the stage".
   */
  stageFailure?(): Promise<StageFailurePolicy>;
}

export async function classifyActivityError(err: unknown, opts: FailurePolicyOptions): Promise<unknown> {
  const actx = Context.current();
  if (err instanceof CancelledFailure || actx.cancellationSignal.aborted) return err;
  // Passed on as they are: final ones, and retryable ones that are no failure of the step itself (never counted).
  if (
    err instanceof ApplicationFailure &&
    (err.nonRetryable || err.type === ErrorType.infrastructure || err.type === ErrorType.stageNotOnWorker || err.type === ErrorType.jobStillStopping)
  )
    return err;
  if (err instanceof StageInputError) return ApplicationFailure.nonRetryable(err.message, ErrorType.stageInput);
  // The scheduler refused the job as configured (no such partition, no GPUs there): the same submit is refused again.
  if (err instanceof JobRefusedError) return ApplicationFailure.nonRetryable(err.message, ErrorType.stageInput);
  if (err instanceof LlmError && err.kind === "client") {
    // A wrong key, path or model: every request gets the same answer until someone fixes the endpoint or the config.
    const hint = isEndpointMisconfigured(err) ? `; the endpoint answers every request so: ${endpointRefusalAdvice(err.status, await policyOf(opts))}` : "";
    return ApplicationFailure.nonRetryable(err.message + hint, ErrorType.llmClient);
  }
  // A dead or hung endpoint: retrying the activity would wait out the same timeouts; an operator checks it.
  const unavailable = unavailableEndpoint(err);
  if (unavailable) return ApplicationFailure.nonRetryable(unavailable.message, ErrorType.endpointUnavailable);
  if (isInfrastructure(err)) return infrastructureFailure(err);
  const stopping = jobStopTimeoutIn(err);
  if (stopping) return slowJobStopFailure(stopping, actx.info.scheduledTimestampMs, () => policyOf(opts));

  const type =
    err instanceof LlmError ? `LlmError:${err.kind}` : err instanceof ApplicationFailure && err.type ? err.type : err instanceof Error ? err.name : "Error";
  const message = describe(err);
  const { info } = actx;
  let failures: number;
  try {
    failures = await recordActivityFailure(await opts.getDb(), {
      workflowId: info.workflowExecution?.workflowId ?? "(none)",
      runId: info.workflowExecution?.runId ?? "(none)",
      activityId: info.activityId,
      attempt: info.attempt,
      activityType: info.activityType,
      errorType: type,
      message: message.slice(0, 4000),
    });
  } catch (recordErr) {
    // Cannot count it now: the database is away, so this attempt is the infrastructure's failure.
    if (isInfrastructure(recordErr)) return infrastructureFailure(recordErr, message);
    throw recordErr;
  }
  if (failures >= opts.budget) {
    return ApplicationFailure.create({
      type: ErrorType.failedAfterRetries,
      message: `${message} (failed ${failures} of ${opts.budget} allowed attempts; infrastructure retries are not counted)`,
      nonRetryable: true,
      cause: causeOf(err),
    });
  }
  return ApplicationFailure.create({ type, message: `${message} (attempt ${failures} of ${opts.budget})`, cause: causeOf(err) });
}

/** The stage's policy; without one, or a config that cannot be read now (the database away), the default (wait). */
async function policyOf(opts: FailurePolicyOptions): Promise<StageFailurePolicy> {
  return (await opts.stageFailure?.().catch(() => undefined)) ?? { onStageFailure: undefined, campaignId: "" };
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/**
 * A job that was asked to stop and still runs (its scheduler said so past the launcher's wait) is no
 * failure of the step: counted, a few slow stops (a node slow to kill a big training job) failed the
 * cancel, or the next attempt's submit that stops the earlier job first, and the stage with it. The
 * step is retried uncounted, and nothing starts over the job's files meanwhile; past JOB_STOP_LIMIT_MS
 * since the step was first scheduled it waits for an operator.
 */
async function slowJobStopFailure(
  err: JobStopTimeoutError,
  scheduledTimestampMs: number,
  policy: () => Promise<StageFailurePolicy>,
): Promise<ApplicationFailure> {
  const waitedMs = Math.max(0, Date.now() - scheduledTimestampMs);
  if (waitedMs >= JOB_STOP_LIMIT_MS) {
    const p = await policy();
    return ApplicationFailure.create({
      type: ErrorType.failedAfterRetries,
      nonRetryable: true,
      message:
        `${err.message}; asked to stop for ${minutes(waitedMs)} since this step was first scheduled, past the ${minutes(JOB_STOP_LIMIT_MS)} a slow stop is waited for: ` +
        `find out why the scheduler cannot end the job (its node), end it there, ${afterFixAdvice(p.onStageFailure, p.campaignId)}`,
      cause: err,
    });
  }
  return ApplicationFailure.create({
    type: ErrorType.jobStillStopping,
    message: `${err.message}; asked again (not counted as a failure) until it has stopped, for up to ${minutes(JOB_STOP_LIMIT_MS)} since this step was first scheduled`,
    cause: err,
  });
}

/** The "unavailable" LlmError in err's cause chain (a handler may wrap the error it stopped on). */
function unavailableEndpoint(err: unknown): LlmError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof LlmError && e.kind === "unavailable") return e;
  }
  return undefined;
}

function isInfrastructure(err: unknown): boolean {
  return isTransientDbError(err);
}

function infrastructureFailure(err: unknown, context?: string): ApplicationFailure {
  const why = describe(err);
  return ApplicationFailure.create({
    type: ErrorType.infrastructure,
    message: context ? `${context}; then the database failed: ${why}` : `infrastructure: ${why}`,
    cause: causeOf(err),
  });
}

/**
 * The failure's cause, sent to Temporal with its message: for a drizzle query error the driver's
 * error (its own message repeats the statement and every parameter).
 */
function causeOf(err: unknown): Error | undefined {
  if (describeQueryError(err) !== undefined && (err as Error).cause instanceof Error) return (err as Error).cause as Error;
  return err instanceof Error ? err : undefined;
}

/** Longest message an activity failure carries (its history event, the worker's log, the stage's last error). */
const MAX_MESSAGE_CHARS = 2000;

function describe(err: unknown): string {
  const full = describeQueryError(err) ?? (err instanceof Error ? err.message || err.name : String(err));
  return full.length > MAX_MESSAGE_CHARS ? `${full.slice(0, MAX_MESSAGE_CHARS)}… (${full.length - MAX_MESSAGE_CHARS} more characters)` : full;
}

/** Runs an activity body, classifying whatever it throws. */
export async function withFailurePolicy<T>(opts: FailurePolicyOptions, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw await classifyActivityError(err, opts);
  }
}
