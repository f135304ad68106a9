/**
 * A stage step (planning, a batch, finalizing, a cluster job) that reached a worker whose build does
 * not have the stage. During a rolling deploy old and new workers poll the same task queues, so a step
 * of a stage only the new build has can reach an old worker: no fault of the stage, so the step is
 * retried, uncounted like an infrastructure failure (activities/failurePolicy.ts), and Temporal hands
 * the retry to whichever worker polls next: a newer one takes it within a few retries.
 *
 * Never silently forever: a deploy takes minutes, so a step still refused STAGE_MISSING_LIMIT_MS
 * after it was first scheduled means no worker of its task queue has the stage (a deploy stopped
 * half-way, or rolled back). It then fails non-retryably as FailedAfterRetries and the stage waits
 * for an operator (`campaign status` shows the message: which worker build lacks the stage and what to
 * do). Meanwhile each retry's message is the activity's last failure in the Temporal UI.
 *
 * The type is retryable under every retry-by-cause policy the workflows already set (it is not in
 * NON_RETRYABLE_ERROR_TYPES), so no workflow code changes; workflows started before that patch keep
 * their three-attempt policy and fail the stage for the operator after three such attempts, as before.
 */
import os from "node:os";
import { ApplicationFailure, Context } from "@temporalio/activity";
import { ErrorType } from "../src/framework/errorTypes.js";
import { codeVersion } from "../src/provenance/codeVersion.js";

/** How long after it was first scheduled a step may keep meeting workers without its stage. */
export const STAGE_MISSING_LIMIT_MS = 60 * 60_000;

/** This worker as an operator finds it: Temporal's default identity (pid@host) and the build it runs. */
export function workerBuild(): string {
  const v = codeVersion();
  const commit = v.commit ? `, commit ${v.commit.slice(0, 12)}${v.dirty ? " (uncommitted changes)" : ""}` : "";
  return `worker ${process.pid}@${os.hostname()}, ${v.package} ${v.version}${commit}`;
}

/**
 * The failure for a step of `stage` on this worker, which runs only `known`: retryable within
 * `limitMs` of the step's first scheduling, FailedAfterRetries after.
 */
export function stageMissingFailure(p: { stage: string; campaignId: string; known: readonly string[]; limitMs?: number }): ApplicationFailure {
  const { info } = Context.current();
  const limitMs = p.limitMs ?? STAGE_MISSING_LIMIT_MS;
  const waitedMs = Math.max(0, Date.now() - info.scheduledTimestampMs);
  const queue = info.taskQueue;
  const here = `${workerBuild()}; it runs: ${p.known.join(", ")}`;
  const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;
  if (waitedMs >= limitMs) {
    return ApplicationFailure.create({
      type: ErrorType.failedAfterRetries,
      nonRetryable: true,
      message:
        `stage "${p.stage}" is not known to the workers of task queue ${queue} that took this step in the ${minutes(waitedMs)} since it was scheduled (last: ${here}): ` +
        `upgrade the workers polling ${queue} to a build that has the stage, then: toolloop campaign retry-stage ${p.campaignId} --stage ${p.stage}`,
    });
  }
  return ApplicationFailure.create({
    type: ErrorType.stageNotOnWorker,
    nonRetryable: false,
    message:
      `stage "${p.stage}" is not known to this worker (${here}): an older build, e.g. during a rolling deploy; ` +
      `retried (not counted as a failure) for another worker of task queue ${queue} to take; ` +
      `if none with the stage takes it within ${minutes(limitMs)} of its scheduling the stage waits for an operator: upgrade the workers polling ${queue}`,
  });
}
