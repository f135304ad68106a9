/**
 * Activity proxies and their retry policies. Since the retry-by-cause patch, Temporal retries
 * every activity without an attempt limit: infrastructure failures (a killed worker's heartbeat
 * timeout, database or network outages) cost nothing, and the activities themselves decide when
 * application failures have used up their budget (activities/failurePolicy.ts) by failing with a
 * non-retryable type. Workflows started before the patch keep the old three-attempt policy.
 */
import { ActivityCancellationType, proxyActivities, proxyLocalActivities, workflowInfo } from "@temporalio/workflow";
import type { Activities } from "../activities/index.js";
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from "../src/framework/errorTypes.js";
import type { StageScheduling } from "../src/framework/stageSpec.js";
import { queuePrefixOf, taskQueues } from "../src/taskQueues.js";

export const PATCH_RETRY_BY_CAUSE = "retry-by-cause-v1";
/** Workflows load the frozen config's plan through an activity instead of parsing their input. */
export const PATCH_FROZEN_CONFIG = "frozen-config-v1";
/**
 * A cancelled stage activity (an abort) is waited for until it has stopped, not left running while
 * the workflow moves on to its reports (workflows/codePaths.ts: abortWaitsForStageWork).
 */
export const PATCH_ABORT_WAITS = "abort-waits-for-stage-work-v1";
/**
 * An abort during a campaign's registration waits until the registration has stopped before the
 * campaign writes its end (workflows/campaign.ts): a registration left running wrote "running" after
 * the abort's "aborted" (a first start's row inserted then; a rerun's row read after the abort).
 */
export const PATCH_ABORT_WAITS_FOR_REGISTRATION = "abort-waits-for-registration-v1";

/** Short, so a lost worker's batches are retried elsewhere within seconds (activities heartbeat every second). */
const HEARTBEAT_TIMEOUT = "6 seconds";

const queues = () => taskQueues(queuePrefixOf(workflowInfo().taskQueue));

/** `waitForCancel`: a cancelled activity's promise settles only once it has stopped (see stageActivities); by-cause proxies only. */
export function bookkeepingActivities(byCause: boolean, taskQueue = queues().default, waitForCancel = false) {
  if (!byCause) {
    return proxyActivities<Activities>({
      taskQueue,
      startToCloseTimeout: "2 minutes",
      retry: {
        initialInterval: "1s",
        maximumInterval: "30s",
        backoffCoefficient: 2,
        nonRetryableErrorTypes: [ErrorType.invalidConfig, ErrorType.unknownCampaign, ErrorType.stageInput],
      },
    });
  }
  return proxyActivities<Activities>({
    ...(waitForCancel ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } : {}),
    taskQueue,
    startToCloseTimeout: "10 minutes",
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { initialInterval: "1s", maximumInterval: "10s", backoffCoefficient: 2, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
  });
}

/**
 * The watch a stage waiting after EndpointUnavailable keeps on its endpoints (awaitStageEndpoints):
 * as long as the operator has not decided, up to a day per watch; it heartbeats every few seconds,
 * so a lost worker's watch moves to another within seconds.
 */
export function endpointWatchActivities() {
  return proxyActivities<Activities>({
    taskQueue: queues().default,
    startToCloseTimeout: "24 hours",
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { initialInterval: "1s", maximumInterval: "30s", backoffCoefficient: 2, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
  });
}

/**
 * Light bookkeeping as local activities (the lean-history patch): a few database reads and writes
 * that finish in milliseconds, run by the workflow worker inside the workflow task, so each costs
 * one marker event instead of six. The same retry-by-cause policy; the workflow task keeps them
 * alive (no heartbeat). Only loadCampaignPlan, startIteration and planStage (of stages whose
 * planning is light: StageScheduling.plannedLocally) are called this way: registration reads tool
 * files, bfcl-eval planning may install its environment, finalizing and reports may take minutes.
 */
export function localBookkeepingActivities() {
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: "1 minute",
    retry: { initialInterval: "1s", maximumInterval: "10s", backoffCoefficient: 2, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
  });
}

/**
 * `waitForCancel` (the abort-waits patch): a cancelled activity's promise settles only once the
 * activity has stopped (it sees the cancel at its next heartbeat; one on a lost worker times out
 * within HEARTBEAT_TIMEOUT, and a cancelled activity is not retried), so nothing the stage writes
 * comes after the iteration's report. Before it, the promise rejected at once (TRY_CANCEL).
 */
export function stageActivities(sched: StageScheduling, byCause: boolean, waitForCancel = false) {
  const cancellation = waitForCancel ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } : {};
  if (!byCause) {
    return proxyActivities<Activities>({
      ...cancellation,
      taskQueue: queues()[sched.latency],
      startToCloseTimeout: `${sched.batchTimeoutMinutes} minutes`,
      heartbeatTimeout: "20 seconds",
      retry: {
        initialInterval: "2s",
        backoffCoefficient: 2,
        maximumInterval: "1 minute",
        maximumAttempts: 3,
        nonRetryableErrorTypes: [ErrorType.invalidConfig, ErrorType.unknownCampaign, ErrorType.stageInput, ErrorType.llmClient],
      },
    });
  }
  return proxyActivities<Activities>({
    ...cancellation,
    taskQueue: queues()[sched.latency],
    startToCloseTimeout: `${sched.batchTimeoutMinutes} minutes`,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { initialInterval: "1s", backoffCoefficient: 2, maximumInterval: "10 seconds", nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
  });
}

export type StageActivities = ReturnType<typeof stageActivities>;
