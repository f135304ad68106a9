/**
 * Starting a campaign run's iteration when its workflow id is still held.
 *
 * Terminating a campaign (the Temporal UI's Terminate, a reset) cancels its running iteration through
 * the parent close policy, and that iteration stops once its batches or cluster job have: seconds,
 * minutes for a job. A campaign started again under the same id meanwhile found the iteration's id
 * taken: the start failed ("Workflow execution already started"), the campaign with it, and its
 * PostgreSQL row went on saying running. Since the patch below the new run asks the old iteration to
 * stop, waits for it with a growing interval, and starts its own; a start Temporal refuses for any
 * other reason, or an id still held after ITERATION_ID_WAIT_MS, fails the campaign and says so in
 * PostgreSQL. The patch is asked only when a start fails, so runs that start their iteration at once
 * (all but these) record no marker.
 */
export const PATCH_ITERATION_ID_WAIT = "iteration-id-wait-v1";

/** How long a run waits for an earlier run's iteration to stop before it fails. */
export const ITERATION_ID_WAIT_MS = 30 * 60_000;

/** The wait before the n-th retry of the start (n from 0): 2 s doubling to at most a minute. */
export function iterationStartBackoffMs(retry: number): number {
  return Math.min(60_000, 2_000 * 2 ** Math.min(retry, 5));
}

export function iterationIdHeldMessage(workflowId: string, iteration: number): string {
  return (
    `iteration ${iteration}'s workflow ${workflowId} is still running, left from an earlier run of this campaign ` +
    `(terminated or reset); it was asked to stop, and this run starts its own iteration ${iteration} once it has`
  );
}

export function iterationIdStillHeldMessage(workflowId: string, iteration: number, waitedMs: number): string {
  return (
    `iteration ${iteration}'s workflow ${workflowId}, left from an earlier run of this campaign, did not stop within ` +
    `${Math.round(waitedMs / 60_000)} minutes of being asked to; terminate it (temporal workflow terminate --workflow-id ${workflowId}) ` +
    `and start the campaign again: finished batches are not redone`
  );
}
