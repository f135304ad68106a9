/**
 * One concurrency limit per endpoint, shared by every LlmClient in the process: the generator,
 * judge and policy roles may point at the same server, and its capacity is what we must respect.
 * The limit is keyed by baseUrl and sized by the first maxConcurrency seen for that URL; later
 * clients with another value share the existing one (first one wins, so the size is stable).
 *
 * Not p-limit: every request of a worker passes here (hundreds a second), and p-limit costs about
 * eight promises and microtask hops per call even when a slot is free; under the async-context
 * hooks the Temporal worker enables, each promise is paid for again. A free slot is taken here
 * synchronously, and only a request that really waits gets a promise.
 */
import { abortSetOf, type Abortable } from "../util/abortSet.js";

/** A request waiting for a slot: `grant` hands it one; `done` once it was granted or aborted (later calls do nothing). */
interface Waiter extends Abortable {
  grant(): void;
  done: boolean;
}

export class EndpointSlots {
  private active = 0;
  /** FIFO of waiters; an aborted one stays until it reaches the head and is skipped there. */
  private queue: (Waiter | undefined)[] = [];
  private head = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`EndpointSlots: size must be a positive integer, got ${size}`);
  }

  /** Requests holding a slot now. */
  get activeCount(): number {
    return this.active;
  }

  /** Requests waiting for a slot now (aborted ones not yet skipped are not counted). */
  get pendingCount(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) if (this.queue[i] && !this.queue[i]!.done) n++;
    return n;
  }

  /**
   * Takes a slot: at once when one is free (returns undefined, no promise made), else a promise that
   * resolves when a slot is handed over, or rejects with the signal's reason if `signal` aborts
   * first (no slot is held then). Whoever got a slot must call release() exactly once.
   */
  acquire(signal?: AbortSignal): Promise<void> | undefined {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.active < this.size) {
      this.active++;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      // A member of the signal's AbortSet, not a listener of its own: a batch queues hundreds of these.
      const waiters = signal ? abortSetOf(signal) : undefined;
      const waiter: Waiter = {
        done: false,
        grant: () => {
          waiter.done = true;
          waiters?.delete(waiter);
          resolve();
        },
        abort: (reason) => {
          if (waiter.done) return;
          waiter.done = true;
          reject(reason ?? new Error("aborted"));
        },
      };
      waiters?.add(waiter);
      this.queue.push(waiter);
    });
  }

  /** Gives a slot back: to the longest-waiting request still waiting, else to the pool. */
  release(): void {
    while (this.head < this.queue.length) {
      const next = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (next && !next.done) {
        // The slot passes straight to the waiter: `active` stays as it is.
        next.grant();
        return;
      }
    }
    this.active--;
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error("aborted");
}

const limits = new Map<string, EndpointSlots>();

export function endpointLimiter(baseUrl: string, maxConcurrency: number): EndpointSlots {
  const key = normaliseBaseUrl(baseUrl);
  let slots = limits.get(key);
  if (!slots) {
    slots = new EndpointSlots(maxConcurrency);
    limits.set(key, slots);
  }
  return slots;
}

/** `http://h:1/v1/` and `http://h:1/v1` are the same endpoint. */
export function normaliseBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

/**
 * Runs `fn` holding a slot. If `signal` aborts while waiting, rejects at once with the signal's
 * reason and `fn` never runs; aborted by the time the slot is granted, the slot goes back unused.
 */
export async function withSlot<T>(slots: EndpointSlots, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const waiting = slots.acquire(signal);
  if (waiting) await waiting;
  try {
    if (signal?.aborted) throw abortReason(signal);
    return await fn();
  } finally {
    slots.release();
  }
}
