/**
 * One abort listener per signal, however many operations wait on it. A batch fans out hundreds of
 * requests on one signal; a listener added and removed by each of them costs more the more are in
 * flight (the signal's listener list is scanned on every removal). Instead each signal gets one
 * AbortSet: operations join and leave a Set (constant time), and the signal's single listener aborts
 * every member still in it.
 */

export interface Abortable {
  /** Called at most once, with the signal's reason, if the signal aborts while this is a member. */
  abort(reason: unknown): void;
}

export class AbortSet {
  private readonly members = new Set<Abortable>();

  constructor(readonly signal: AbortSignal) {
    if (!signal.aborted) signal.addEventListener("abort", () => this.abortAll(), { once: true });
  }

  /** Joins the set; returns false (and does not join) when the signal has already aborted. */
  add(member: Abortable): boolean {
    if (this.signal.aborted) return false;
    this.members.add(member);
    return true;
  }

  delete(member: Abortable): void {
    this.members.delete(member);
  }

  /** Members in flight now (for tests and gauges). */
  get size(): number {
    return this.members.size;
  }

  private abortAll(): void {
    const reason: unknown = this.signal.reason;
    const members = [...this.members];
    this.members.clear();
    for (const m of members) m.abort(reason);
  }
}

const sets = new WeakMap<AbortSignal, AbortSet>();

/** The AbortSet of `signal`, made (with the signal's one listener) on first use; it lives as long as the signal. */
export function abortSetOf(signal: AbortSignal): AbortSet {
  let set = sets.get(signal);
  if (!set) {
    set = new AbortSet(signal);
    sets.set(signal, set);
  }
  return set;
}
