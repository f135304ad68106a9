/**
 * Progress heartbeats at a bounded rate. A batch reports progress on every settled slot (~80 a
 * second at full speed), and each Temporal heartbeat costs the worker's main thread a payload
 * encoding, a protobuf encoding and a call into the SDK's core, which throttles what reaches the
 * server to one per ~80% of the heartbeat timeout anyway. So a report is sent at once only when none
 * was sent for `intervalMs` (the first one always); the others are kept, the timer's beat carries
 * the latest, and `flush` sends one still unsent when the batch ends, so the last details (what a
 * retry resumes from, what the UI shows) are never older than the last report.
 */
export interface ProgressBeat {
  /** New progress: sent now if nothing was sent for the interval, else kept for the next beat. */
  report(details: unknown): void;
  /** The timer's beat: sends the latest details (a keep-alive even without new progress). */
  tick(): void;
  /** Sends the latest details if a report since the last send is unsent. */
  flush(): void;
}

export function createProgressBeat(
  send: (details: unknown) => void,
  intervalMs: number,
  initial: unknown,
  now: () => number = () => performance.now(),
): ProgressBeat {
  let latest = initial;
  let unsent = false;
  let lastSent = Number.NEGATIVE_INFINITY;
  const sendLatest = () => {
    unsent = false;
    lastSent = now();
    send(latest);
  };
  return {
    report(details) {
      latest = details;
      unsent = true;
      if (now() - lastSent >= intervalMs) sendLatest();
    },
    tick: sendLatest,
    flush() {
      if (unsent) sendLatest();
    },
  };
}
