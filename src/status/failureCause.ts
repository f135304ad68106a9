/**
 * The first real error of a failed workflow: Temporal wraps it ("Child Workflow execution failed" ->
 * "Activity task failed" -> the ApplicationFailure a stage threw), and only the innermost
 * application failure says what went wrong. Works on the history's failure messages (protobuf
 * shape), so it needs neither a worker nor the SDK's converters.
 */

/** The fields of temporal.api.failure.v1.Failure this reads. */
export interface FailureLike {
  message?: string | null;
  cause?: FailureLike | null;
  applicationFailureInfo?: { type?: string | null; nonRetryable?: boolean | null } | null;
  timeoutFailureInfo?: { timeoutType?: unknown } | null;
  canceledFailureInfo?: unknown;
  terminatedFailureInfo?: unknown;
}

export interface RootCause {
  message: string;
  /** The ApplicationFailure's type (e.g. InvalidCampaignConfig), when the root is one. */
  type?: string;
}

/** Wrapper messages that never explain anything on their own. */
const WRAPPERS = new Set(["Child Workflow execution failed", "Activity task failed", "Workflow execution failed", "Activity task timed out"]);

/** Deepest ApplicationFailure in the cause chain; else the deepest failure with a meaningful message. */
export function rootCause(failure: FailureLike | null | undefined, maxDepth = 20): RootCause | undefined {
  let app: RootCause | undefined;
  let deepest: RootCause | undefined;
  let timeout: string | undefined;
  for (let f = failure, n = 0; f && n < maxDepth; f = f.cause, n++) {
    const message = (f.message ?? "").trim();
    if (f.applicationFailureInfo)
      app = { message: message || "(no message)", ...(f.applicationFailureInfo.type ? { type: f.applicationFailureInfo.type } : {}) };
    if (f.timeoutFailureInfo && timeout === undefined) timeout = message || "timed out";
    if (message && !WRAPPERS.has(message)) deepest = { message };
  }
  return app ?? deepest ?? (timeout !== undefined ? { message: timeout } : undefined);
}
