/**
 * Which database errors are the infrastructure's (the server restarting, a dropped connection, too
 * many clients) rather than the statement's. Those are retried; everything else is an answer.
 */

/** SQLSTATE classes and codes that mean "try again later" (PostgreSQL appendix A). */
const TRANSIENT_SQLSTATE_PREFIXES = ["08"]; // connection exception
const TRANSIENT_SQLSTATES = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down)
  "53300", // too_many_connections
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);

const TRANSIENT_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND"]);

/** node-postgres reports a dropped socket with messages rather than codes. */
const TRANSIENT_MESSAGES = [
  /connection terminated/i,
  /terminating connection/i,
  /server closed the connection unexpectedly/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /timeout exceeded when trying to connect/i,
  /connection (?:is )?(?:closed|ended)/i,
  /Client has encountered a connection error/i,
];

/** True when `err` (or anything in its cause chain) is a connection-level database failure. */
export function isTransientDbError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; depth++) {
    if (typeof e !== "object") break;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === "string") {
      if (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SQLSTATE_PREFIXES.some((p) => code.startsWith(p))) return true;
      if (TRANSIENT_NODE_CODES.has(code)) return true;
    }
    if (typeof message === "string" && TRANSIENT_MESSAGES.some((re) => re.test(message))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export interface TransientRetryOptions {
  /** Give up (rethrow the last error) after this long; default 60 s. */
  maxWaitMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Told about each wait, e.g. to log once per outage. */
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
  sleep?(ms: number): Promise<void>;
}

/**
 * Runs `fn`, retrying it while it fails with a transient database error, for up to `maxWaitMs`.
 * Only for idempotent work (every write of ours is an upsert or insert-if-absent).
 */
export async function retryTransient<T>(fn: () => Promise<T>, opts: TransientRetryOptions = {}): Promise<T> {
  const maxWaitMs = opts.maxWaitMs ?? 60_000;
  const maxDelayMs = opts.maxDelayMs ?? 2_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = Date.now();
  let delay = opts.initialDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientDbError(err) || Date.now() - started + delay > maxWaitMs) throw err;
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
      delay = Math.min(maxDelayMs, delay * 2);
    }
  }
}
