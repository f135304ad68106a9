/**
 * One cluster job of a stage (training, merge, serving), in a history of its own: submit it once
 * under its deterministic name, watch it in bounded windows (each an activity that polls with
 * heartbeats), and continue-as-new every WATCHES_PER_RUN windows, so a job of several days keeps
 * a short history. Cancelling this workflow (abort, campaign cancel) cancels the job on its cluster.
 * A job that fails ends this workflow with ClusterJobFailed; the iteration then waits for an
 * operator, whose retry starts the next attempt (a new job that resumes from the last checkpoint).
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancelledFailure,
  CancellationScope,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  workflowInfo,
} from "@temporalio/workflow";
import type { Activities } from "../activities/index.js";
import type { StageRef } from "../activities/types.js";
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from "../src/framework/errorTypes.js";
import { queuePrefixOf, taskQueues } from "../src/taskQueues.js";
import { jobProgressSignal } from "./definitions.js";

/**
 * A cancellation (abort, campaign cancel) that arrives while the job is being submitted cancels the
 * job too: the workflow waits for the submit activity to end (it may submit after the request) and
 * then cancels the job under its deterministic name. Before it, such a job ran on, unwatched.
 */
export const PATCH_CANCEL_DURING_SUBMIT = "cancel-during-submit-v1";

/**
 * A job lost by its launcher (its process or node gone without an exit code: a machine crash) fails
 * this workflow as ClusterJobLost, not ClusterJobFailed, so the iteration can run the next attempt
 * by itself (workflows/iteration.ts). Asked only when a lost job is seen.
 */
export const PATCH_LOST_JOB_TYPE = "lost-job-type-v1";

/** About 6 events per window: 200 windows keep a run under ~1,300 events. */
export const WATCHES_PER_RUN = 200;

export interface StageJobInput {
  ref: StageRef;
  attempt: number;
  /** The iteration to report progress to. */
  parentWorkflowId: string;
  windowSeconds: number;
  pollSeconds: number;
  /** Set by continue-as-new: the job is submitted already. */
  jobName?: string;
}

export interface StageJobResult {
  job: string;
  state: string;
  /** True when an earlier attempt's job had finished the work and nothing new ran. */
  reused: boolean;
}

export async function stageJobWorkflow(input: StageJobInput): Promise<StageJobResult> {
  const queue = taskQueues(queuePrefixOf(workflowInfo().taskQueue)).cluster;
  const retry = { initialInterval: "1s", backoffCoefficient: 2, maximumInterval: "30 seconds", nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };
  const acts = proxyActivities<Activities>({ taskQueue: queue, startToCloseTimeout: "10 minutes", heartbeatTimeout: "6 seconds", retry });
  const watcher = proxyActivities<Activities>({
    taskQueue: queue,
    startToCloseTimeout: `${input.windowSeconds + 300} seconds`,
    heartbeatTimeout: "6 seconds",
    retry,
  });
  const parent = getExternalWorkflowHandle(input.parentWorkflowId);
  const jobRef = { ...input.ref, attempt: input.attempt };

  let name = input.jobName;
  // Asked once, before the submit, in a run that submits: runs recorded without it keep the old path.
  const cancelDuringSubmit = name === undefined && patched(PATCH_CANCEL_DURING_SUBMIT);
  if (name === undefined && !cancelDuringSubmit) {
    const submitted = await acts.submitStageJob(jobRef);
    if (submitted.alreadyDone) return { job: submitted.name, state: "succeeded", reused: true };
    name = submitted.name;
  }
  try {
    if (name === undefined) {
      // Waits for the submit to end even when cancelled, so a job it submits is known and cancelled below.
      const submitter = proxyActivities<Activities>({
        taskQueue: queue,
        startToCloseTimeout: "10 minutes",
        heartbeatTimeout: "6 seconds",
        retry,
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      });
      const submitted = await submitter.submitStageJob(jobRef);
      if (submitted.alreadyDone) return { job: submitted.name, state: "succeeded", reused: true };
      name = submitted.name;
      // Cancelled while submitting: the job exists now; the catch below cancels it.
      if (CancellationScope.current().consideredCancelled) throw new CancelledFailure("cancelled while the job was submitted");
    }
    for (let watches = 0; ; watches++) {
      if (watches >= WATCHES_PER_RUN) await continueAsNew<typeof stageJobWorkflow>({ ...input, jobName: name });
      const w = await watcher.watchStageJob({ ...jobRef, name, windowSeconds: input.windowSeconds, pollSeconds: input.pollSeconds });
      await parent
        .signal(jobProgressSignal, {
          stage: input.ref.stage,
          job: name,
          state: w.state,
          done: w.progress?.done,
          total: w.progress?.total,
          metrics: w.progress?.metrics,
        })
        .catch(() => undefined); // progress is best effort: the iteration may be gone
      if (w.outcome === "done") return { job: name, state: w.state, reused: false };
      if (w.outcome === "failed") {
        const lost = w.state === "lost" && patched(PATCH_LOST_JOB_TYPE);
        throw ApplicationFailure.nonRetryable(w.message ?? `job ${name} ${w.state}`, lost ? ErrorType.clusterJobLost : ErrorType.clusterJobFailed);
      }
    }
  } catch (err) {
    if (isCancellation(err)) {
      const job = name;
      if (job !== undefined) await CancellationScope.nonCancellable(() => acts.cancelStageJob({ ...jobRef, name: job }));
      // The submit ended as cancelled: a job it may have submitted is found under the attempt's name.
      else if (cancelDuringSubmit) await CancellationScope.nonCancellable(() => acts.cancelStageJob(jobRef));
    } else if (name === undefined && cancelDuringSubmit && CancellationScope.current().consideredCancelled) {
      // Cancelled, then the submit timed out or failed: cancel whatever it may have submitted.
      await CancellationScope.nonCancellable(() => acts.cancelStageJob(jobRef));
    }
    throw err;
  }
}
