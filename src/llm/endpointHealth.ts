/**
 * Whether an endpoint answers at all, shared by every LlmClient of the process that uses it (like
 * the concurrency limiter): the generator and judge roles on one dead server see the same streak.
 * Only "unreachable" failures count (connection refused or reset before any answer, no TCP
 * connection within the connect timeout, no response headers within the first-byte timeout); an
 * HTTP error status is an answer, so the server is up. Any answer ends the streak, and a request left
 * unanswered while the endpoint answered others is a slow request, not a dead server.
 */
import { normaliseBaseUrl } from "./endpointLimiter.js";

export interface EndpointHealth {
  /** Unreachable attempts in a row, across all requests to the endpoint. */
  readonly consecutiveUnreachable: number;
  /** Whether the endpoint answered in this process since it last failed to (or broke a connection). */
  readonly reachable: boolean;
  /** The endpoint answered (any HTTP status). */
  answered(): void;
  /** Whether it answered any request at or after `since` (performance.now() ms). */
  answeredSince(since: number): boolean;
  /** An attempt found the endpoint unreachable; returns the streak including it. */
  unreachable(): number;
  /** A connection broke before any answer (refused, reset): not counted, but no longer known to answer. */
  suspect(): void;
}

class EndpointHealthState implements EndpointHealth {
  consecutiveUnreachable = 0;
  reachable = false;
  private lastAnswerAt = -Infinity;

  answered(): void {
    this.reachable = true;
    this.consecutiveUnreachable = 0;
    this.lastAnswerAt = performance.now();
  }

  answeredSince(since: number): boolean {
    return this.lastAnswerAt >= since;
  }

  unreachable(): number {
    this.reachable = false;
    this.consecutiveUnreachable++;
    return this.consecutiveUnreachable;
  }

  suspect(): void {
    this.reachable = false;
  }
}

const states = new Map<string, EndpointHealthState>();

export function endpointHealth(baseUrl: string): EndpointHealth {
  const key = normaliseBaseUrl(baseUrl);
  let state = states.get(key);
  if (!state) {
    state = new EndpointHealthState();
    states.set(key, state);
  }
  return state;
}
