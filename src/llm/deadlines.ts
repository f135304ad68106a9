/**
 * Request deadlines on one timer. A timer armed and cleared per request attempt (two, with the
 * first-byte deadline) is measurable work at a thousand requests a second; here every in-flight
 * attempt is an entry in a set, and one timer is armed for the earliest deadline. When it fires the
 * expired entries are fired and the timer is re-armed for the next one. Entries that finish first
 * simply leave the set; a timer left pointing at a finished entry's deadline fires, finds nothing
 * due and re-arms, so on a healthy endpoint it fires about once per timeout period.
 */

export interface Deadline {
  /** When it expires, in performance.now() milliseconds; may be moved later while registered. */
  at: number;
  /** Called once, when `at` has passed while registered (it is removed first). */
  expire(): void;
}

/** Node may run a timer up to a millisecond before its nominal time. */
const EARLY_FIRE_SLACK_MS = 1;

export class DeadlineTimer {
  private readonly entries = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  add(d: Deadline): void {
    this.entries.add(d);
    if (d.at < this.timerAt) this.arm(d.at);
  }

  delete(d: Deadline): void {
    this.entries.delete(d);
    if (this.entries.size === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    // Unref'd: the sockets the deadlines guard keep the process alive, a pending deadline alone must not.
    this.timer = setTimeout(() => this.sweep(), Math.max(0, at - performance.now()));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now() + EARLY_FIRE_SLACK_MS;
    const due: Deadline[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const d of this.entries) {
      if (d.at <= now) due.push(d);
      else if (d.at < next) next = d.at;
    }
    for (const d of due) this.entries.delete(d);
    if (next < Number.POSITIVE_INFINITY) this.arm(next);
    for (const d of due) d.expire();
  }
}
