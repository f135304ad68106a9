/**
 * One concurrency limiter per endpoint, shared by every LlmClient in the process: the generator,
 * judge and policy roles may point at the same server, and its capacity is what we must respect.
 * The limiter is keyed by baseUrl and sized by the first maxConcurrency seen for that URL; later
 * clients with another value share the existing limiter (first one wins, so the size is stable).
 */
import pLimit, { type LimitFunction } from "p-limit";
import { abortSetOf, type Abortable } from "../util/abortSet.js";

const limiters = new Map<string, LimitFunction>();

export function endpointLimiter(baseUrl: string, maxConcurrency: number): LimitFunction {
  const key = normaliseBaseUrl(baseUrl);
  let limit = limiters.get(key);
  if (!limit) {
    limit = pLimit(maxConcurrency);
    limiters.set(key, limit);
  }
  return limit;
}

/** `http://h:1/v1/` and `http://h:1/v1` are the same endpoint. */
export function normaliseBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

/**
 * Runs `fn` once a slot is free. If `signal` aborts while waiting, rejects at once with the
 * signal's reason and `fn` never runs (the slot it would have taken is released immediately).
 */
export function withSlot<T>(limit: LimitFunction, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return limit(fn);
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error("aborted"));
  // A member of the signal's AbortSet, not a listener of its own: a batch queues hundreds of these.
  const waiters = abortSetOf(signal);
  return new Promise<T>((resolve, reject) => {
    const waiter: Abortable = { abort: (reason) => reject(reason ?? new Error("aborted")) };
    waiters.add(waiter);
    limit(async () => {
      if (signal.aborted) throw signal.reason ?? new Error("aborted");
      return fn();
    }).then(
      (v) => {
        waiters.delete(waiter);
        resolve(v);
      },
      (e: unknown) => {
        waiters.delete(waiter);
        reject(e);
      },
    );
  });
}
