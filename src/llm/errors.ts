/** The one error type the LLM layer throws; `kind` tells callers whether trying again later can help. */

/**
 * `unavailable`: the endpoint failed its attempt budget (refused connections, no connection, no
 * response headers) in a row. Retryable for callers (the item is not at fault: a batch stops rather
 * than marking it failed), but the activity layer fails it without retries so an operator is asked.
 */
export type LlmErrorKind = "rate_limited" | "server" | "timeout" | "network" | "bad_response" | "aborted" | "client" | "unavailable";

/** Transport trouble: a later attempt may succeed. Everything else is final for this request. */
const RETRYABLE_KINDS: ReadonlySet<LlmErrorKind> = new Set(["rate_limited", "server", "timeout", "network", "unavailable"]);

export function isRetryableKind(kind: LlmErrorKind): boolean {
  return RETRYABLE_KINDS.has(kind);
}

export class LlmError extends Error {
  readonly kind: LlmErrorKind;
  readonly retryable: boolean;
  readonly status?: number;
  /** HTTP attempts made before giving up (absent when none was made). */
  readonly attempts?: number;
  /**
   * The answer that failed came from the toolloop LLM simulator (its response carried the simulator's
   * mark, src/llm/simulatorMark.ts): its HTTP fault's cut body, or a reply whose content could not be read.
   */
  readonly fromSimulator?: true;

  constructor(kind: LlmErrorKind, message: string, opts: { status?: number; attempts?: number; cause?: unknown; fromSimulator?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "LlmError";
    this.kind = kind;
    this.retryable = isRetryableKind(kind);
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.attempts !== undefined) this.attempts = opts.attempts;
    if (opts.fromSimulator === true) this.fromSimulator = true;
  }
}

/**
 * 4xx statuses that say the endpoint, not the request, is wrong: a bad or missing key (401, 403), a
 * wrong path or model name (404: vLLM's "The model `x` does not exist."), a path that does not take
 * the method (405), a proxy asking for credentials (407). Every request would get the same answer.
 */
const ENDPOINT_MISCONFIGURED_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 405, 407]);

/** Whether the endpoint refused the request because of how it is configured (see the statuses above). */
export function isEndpointMisconfigured(err: LlmError): boolean {
  return err.kind === "client" && err.status !== undefined && ENDPOINT_MISCONFIGURED_STATUSES.has(err.status);
}

/**
 * Whether a failed request is the item's own (its answer unusable after the client's repairs, its
 * prompt refused with a 400 such as a context-length error): record it against the item and go on.
 * Not for transport trouble (retryable kinds), an aborted request (the batch is stopping), or an
 * endpoint that refuses every request (isEndpointMisconfigured): those stop the batch, and the
 * activity layer fails a misconfigured endpoint without retries so that an operator is asked, instead
 * of a stage that records every item failed and "succeeds" with nothing.
 */
export function isItemFailure(err: unknown): err is LlmError {
  return err instanceof LlmError && !err.retryable && err.kind !== "aborted" && !isEndpointMisconfigured(err);
}

/**
 * Whether the server refused the request because its prompt (plus max_tokens) does not fit the model's
 * context: vLLM's 400 "This model's maximum context length is N tokens. However, you requested M
 * tokens ..." (and its newer "... your request has M input tokens"), OpenAI's context_length_exceeded,
 * SGLang's "longer than the model's context length". The same prompt can never succeed there.
 */
export function isContextLengthError(err: unknown): err is LlmError {
  return (
    err instanceof LlmError &&
    err.kind === "client" &&
    (err.status === 400 || err.status === 413) &&
    /maximum context length|context_length_exceeded|model's context length/i.test(err.message)
  );
}

/** Maps an HTTP error status onto a kind: 408/429/5xx are transient, any other 4xx is the caller's fault. */
export function kindForStatus(status: number): LlmErrorKind {
  if (status === 429) return "rate_limited";
  if (status === 408) return "timeout";
  if (status >= 500) return "server";
  return "client";
}
