/**
 * What a campaign run's history says that its description does not: why it closed (the failure's
 * root cause, the terminate reason, the operator's abort reason), the result's state, and the output
 * folder from the plan its registration returned. Pure over the history events (protobuf shape).
 */
import { rootCause, type FailureLike, type RootCause } from "./failureCause.js";

type Payloads = { payloads?: unknown[] | null } | null | undefined;

/** The fields of temporal.api.history.v1.HistoryEvent this reads. */
export interface HistoryEventLike {
  eventId?: unknown;
  workflowExecutionFailedEventAttributes?: { failure?: FailureLike | null } | null;
  workflowExecutionTerminatedEventAttributes?: { reason?: string | null } | null;
  workflowExecutionCancelRequestedEventAttributes?: { cause?: string | null } | null;
  workflowExecutionCompletedEventAttributes?: { result?: Payloads } | null;
  workflowExecutionSignaledEventAttributes?: { signalName?: string | null; input?: Payloads } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown; result?: Payloads } | null;
  workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string | null } | null;
  workflowTaskStartedEventAttributes?: object | null;
  startChildWorkflowExecutionFailedEventAttributes?: { workflowId?: string | null; cause?: unknown } | null;
  childWorkflowExecutionStartedEventAttributes?: object | null;
}

export interface HistoryFacts {
  failure?: RootCause;
  terminateReason?: string;
  abortReason?: string;
  resultState?: string;
  outputDir?: string;
  /**
   * No worker has taken a workflow task of this run, and it is a campaign's first run (not one a
   * continue-as-new started): nothing of the campaign has run, and what is sent to it waits.
   */
  noWorkerYet?: true;
  /**
   * The run's latest iteration start was refused because the workflow id was taken, and no iteration
   * has started since: it waits for an earlier run's iteration to stop (workflows/iterationStart.ts).
   */
  iterationIdHeld?: string;
}

/** StartChildWorkflowExecutionFailedCause WORKFLOW_ALREADY_EXISTS (a number in the protobuf, a name in JSON). */
const ALREADY_EXISTS = new Set<unknown>([1, "START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS"]);

/** Activities whose result carries the campaign's plan (and so its output folder). */
const PLAN_ACTIVITIES = new Set(["registerCampaign", "loadCampaignPlan"]);

/** `decode` turns one payload into a value; it may throw (an encrypted payload), which is skipped. */
export function historyFacts(events: HistoryEventLike[], decode: (payload: unknown) => unknown): HistoryFacts {
  const out: HistoryFacts = {};
  const first = (p: Payloads): unknown => {
    const payload = p?.payloads?.[0];
    if (payload === undefined) return undefined;
    try {
      return decode(payload);
    } catch {
      return undefined;
    }
  };
  const planActivityIds = new Set<string>();
  let abortSignalled: string | undefined;
  let cancelCause: string | undefined;
  let taskStarted = false;
  let firstRun = false;
  let heldIterationId: string | undefined;
  for (const e of events) {
    const refused = e.startChildWorkflowExecutionFailedEventAttributes;
    if (refused) heldIterationId = ALREADY_EXISTS.has(refused.cause) && refused.workflowId ? refused.workflowId : undefined;
    if (e.childWorkflowExecutionStartedEventAttributes) heldIterationId = undefined;
    if (e.workflowTaskStartedEventAttributes) taskStarted = true;
    const started = e.workflowExecutionStartedEventAttributes;
    if (started) firstRun = !started.continuedExecutionRunId;
    const failed = e.workflowExecutionFailedEventAttributes;
    if (failed) {
      const root = rootCause(failed.failure);
      if (root) out.failure = root;
    }
    const terminated = e.workflowExecutionTerminatedEventAttributes;
    if (terminated) out.terminateReason = terminated.reason?.trim() || undefined;
    const cancel = e.workflowExecutionCancelRequestedEventAttributes;
    if (cancel) cancelCause = cancel.cause?.trim() || cancelCause;
    const signalled = e.workflowExecutionSignaledEventAttributes;
    if (signalled?.signalName === "abort") {
      const req = first(signalled.input) as { reason?: unknown } | undefined;
      abortSignalled = `aborted by operator${typeof req?.reason === "string" && req.reason ? `: ${req.reason}` : ""}`;
    }
    const completed = e.workflowExecutionCompletedEventAttributes;
    if (completed) {
      const r = first(completed.result) as { state?: unknown } | undefined;
      if (typeof r?.state === "string") out.resultState = r.state;
    }
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled && PLAN_ACTIVITIES.has(scheduled.activityType?.name ?? "")) planActivityIds.add(String(e.eventId));
    const done = e.activityTaskCompletedEventAttributes;
    if (done && planActivityIds.has(String(done.scheduledEventId))) {
      const r = first(done.result) as { outputDir?: unknown; plan?: { outputDir?: unknown } } | undefined;
      const dir = r?.plan?.outputDir ?? r?.outputDir;
      if (typeof dir === "string" && dir) out.outputDir = dir;
    }
  }
  const abort = abortSignalled ?? (cancelCause ? `canceled: ${cancelCause}` : undefined);
  if (abort) out.abortReason = abort;
  if (firstRun && !taskStarted) out.noWorkerYet = true;
  if (heldIterationId) out.iterationIdHeld = heldIterationId;
  return out;
}
