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

/**
 * Wrapper messages that never explain anything on their own. Workflow code reads this too
 * (workflows/iteration.ts), so this module stays free of I/O and Node built-ins.
 */
export const FAILURE_WRAPPERS: ReadonlySet<string> = new Set([
  "Child Workflow execution failed",
  "Activity task failed",
  "Workflow execution failed",
  "Activity task timed out",
]);

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
    if (message && !FAILURE_WRAPPERS.has(message)) deepest = { message };
  }
  return app ?? deepest ?? (timeout !== undefined ? { message: timeout } : undefined);
}

/**
 * One line for an error thrown in a workflow (an SDK failure object): each message of its cause
 * chain once, the wrappers ("Activity task failed", "Child Workflow execution failed" for a
 * cluster-job stage) left out, so a stage's reason reads as the stage's own error.
 */
export function failureChainMessage(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) parts.push(e.message);
  // A wrapper often repeats its cause's message (with a suffix): each message is said once.
  const kept: string[] = [];
  for (const p of parts) if (p && !FAILURE_WRAPPERS.has(p) && !kept.some((k) => k.includes(p))) kept.push(p);
  return kept.join(": ") || String(err);
}
