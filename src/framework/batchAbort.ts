/**
 * The abort signal of one batch's fan-out: it follows the step's cancellation, and the first fatal
 * error (a transport failure: the endpoint is down, retrying item by item is waste) stops every call
 * still in flight. `close()` detaches it from the step's signal and rethrows what stopped the batch.
 *
 * In-flight requests do not each listen on it: the LLM client and the endpoint limiter join the
 * signal's AbortSet (src/util/abortSet.ts), whose one listener cancels the set of requests in flight.
 */
import { setMaxListeners } from "node:events";

export class BatchAbort {
  private readonly controller = new AbortController();
  private fatal: unknown;
  private readonly onOuterAbort = () => this.controller.abort(this.outer.reason);

  constructor(private readonly outer: AbortSignal) {
    // Requests share one listener (their AbortSet); retries sleeping out a backoff still add their own.
    setMaxListeners(0, this.controller.signal);
    if (outer.aborted) this.controller.abort(outer.reason);
    else outer.addEventListener("abort", this.onOuterAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stops the batch for `err` (the first error wins). */
  readonly fail = (err: unknown): void => {
    this.fatal ??= err;
    this.controller.abort(err);
  };

  /** Detaches from the step's signal; throws the cancellation or the fatal error, if any. */
  close(): void {
    this.outer.removeEventListener("abort", this.onOuterAbort);
    if (this.outer.aborted) throw this.outer.reason ?? new Error("cancelled");
    if (this.fatal) throw this.fatal;
  }
}
