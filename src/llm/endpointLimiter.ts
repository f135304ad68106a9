/**
 * One concurrency limit per endpoint URL, shared by every LlmClient in the process: the generator,
 * judge and policy roles may point at the same server, and so may several campaigns running on one
 * worker (two teams' campaigns, a manual one beside a scheduled weekly run).
 *
 * Each campaign is a *tenant* of the URL's slots, with the maxConcurrency its own config gives:
 * - a campaign never has more requests to the URL in flight than its own maxConcurrency;
 * - the URL never has more in flight than the largest maxConcurrency of the campaigns using it now
 *   (holding or waiting for a slot), so campaigns share the server instead of adding up;
 * - a freed slot goes round-robin to the campaigns waiting (FIFO within one campaign), so a
 *   campaign with hundreds of requests queued cannot starve one with a few.
 * A campaign's limit is the one its latest client was made with (a new config version applies at
 * once). Before, the limit was sized by the first maxConcurrency seen for the URL in the process's
 * life: a campaign configured with 2 made every later campaign on that URL run 2 at a time, and a
 * campaign configured lower than an earlier one was ignored.
 *
 * A campaign's share lives only while it is used: a share that holds and waits for nothing is dropped
 * when the next client of any campaign is made (a stage step, not a request), and a URL no share uses
 * is forgotten then too, so a worker running weekly campaigns for months keeps only the shares of the
 * campaigns running now, instead of one per campaign (and policy server URL) it ever ran, each in
 * the round-robin. A dropped share still held by a live client rejoins at that client's next
 * acquire, with its limit, or hands over to the campaign's share made meanwhile (whichever limit was
 * set last wins, as if never dropped).
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

/** What a client holds: take a slot, give it back. */
export interface Slots {
  /**
   * Takes a slot: at once when one is free (returns undefined, no promise made), else a promise that
   * resolves when a slot is handed over, or rejects with the signal's reason if `signal` aborts
   * first (no slot is held then). Whoever got a slot must call release() exactly once.
   */
  acquire(signal?: AbortSignal): Promise<void> | undefined;
  /** Gives a slot back. */
  release(): void;
}

function requireLimit(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: size must be a positive integer, got ${n}`);
}

/** Orders limit settings across shares: of two shares of one campaign, the limit set last wins. */
let limitSettings = 0;

/** One campaign's share of an endpoint's slots. */
export class TenantSlots implements Slots {
  active = 0;
  /** Waiters not yet granted or aborted. */
  waiting = 0;
  /** FIFO of waiters; an aborted one stays until it reaches the head and is skipped there. */
  queue: (Waiter | undefined)[] = [];
  head = 0;
  /** In its pool's round-robin; false once dropped there (idle), until it rejoins. */
  attached = true;
  /** Set when dropped and another share of the same campaign took its place: where its requests go. */
  successor: TenantSlots | undefined;

  constructor(
    readonly pool: EndpointSlots,
    readonly name: string,
    public limit: number,
    /** When `limit` was set (see limitSettings). */
    public limitSeq = ++limitSettings,
  ) {}

  /** Holding or waiting for a slot. */
  get busy(): boolean {
    return this.active > 0 || this.waiting > 0;
  }

  acquire(signal?: AbortSignal): Promise<void> | undefined {
    // The hot path costs one flag: only a dropped share looks for its campaign's live one.
    const t = this.attached ? this : this.rejoin();
    return t.pool.acquireFor(t, signal);
  }

  release(): void {
    // The share that granted the slot: this one, or the one it was handed over to (busy since, so still attached).
    const t = this.handedTo();
    t.pool.releaseFor(t);
  }

  /** This share while attached, else the last one it was handed over to (maybe dropped too). */
  private handedTo(): TenantSlots {
    let t = this.successor && !this.attached ? this.successor : undefined;
    while (t && !t.attached && t.successor) t = t.successor;
    return t ?? this;
  }

  /** The campaign's live share for this dropped one: the one it was handed over to, a new one made meanwhile, or itself again. */
  private rejoin(): TenantSlots {
    let t = this.handedTo();
    if (!t.attached) t = t.pool.home().rejoin(t);
    if (t !== this) this.successor = t;
    return t;
  }

  /** The longest-waiting live waiter, dropping granted or aborted ones at the head. */
  nextWaiter(): Waiter | undefined {
    while (this.head < this.queue.length) {
      const w = this.queue[this.head];
      if (w && !w.done) return w;
      this.queue[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
    }
    return undefined;
  }
}

/**
 * The slots of one endpoint URL. `new EndpointSlots(n)` is a single-tenant limiter of size n (its own
 * acquire/release); `tenant(name, limit)` gives a campaign's share (see the module comment).
 */
export class EndpointSlots implements Slots {
  private active = 0;
  private readonly tenants: TenantSlots[] = [];
  private readonly byName = new Map<string, TenantSlots>();
  /** Round-robin cursor into `tenants`: the next one to be offered a freed slot. */
  private cursor = 0;
  private readonly own: TenantSlots | undefined;
  /** Forgotten by endpointLimiter (no share left): its dropped shares rejoin the URL's pool of now. */
  private retired = false;

  /** `key`: the URL this pool is endpointLimiter's pool of (absent for a pool made directly). */
  constructor(
    size?: number,
    private readonly key?: string,
  ) {
    if (size !== undefined) {
      requireLimit("EndpointSlots", size);
      this.own = this.tenant("", size);
    }
  }

  /** The most requests in flight at once now: the largest limit of the tenants holding or waiting (else of all). */
  get size(): number {
    let busy = 0;
    let all = 0;
    for (const t of this.tenants) {
      if (t.limit > all) all = t.limit;
      if (t.busy && t.limit > busy) busy = t.limit;
    }
    return busy > 0 ? busy : all;
  }

  /** Requests holding a slot now. */
  get activeCount(): number {
    return this.active;
  }

  /** Requests waiting for a slot now (aborted ones not yet skipped are not counted). */
  get pendingCount(): number {
    let n = 0;
    for (const t of this.tenants) n += t.waiting;
    return n;
  }

  /** Shares in the round-robin now (holding, waiting, or not dropped yet). */
  get tenantCount(): number {
    return this.tenants.length;
  }

  /**
   * The share of `name` (a campaign id), limited to `limit` requests at once; a new limit replaces its
   * old one. A client is being made: idle shares of other campaigns are dropped first (see the module comment).
   */
  tenant(name: string, limit: number): TenantSlots {
    requireLimit(`EndpointSlots tenant ${JSON.stringify(name)}`, limit);
    let t = this.byName.get(name);
    this.dropIdle(t);
    if (!t) {
      t = new TenantSlots(this, name, limit);
      this.attach(t);
    } else {
      t.limitSeq = ++limitSettings;
      if (t.limit !== limit) {
        t.limit = limit;
        this.dispatch();
      }
    }
    return t;
  }

  /** Drops the shares that hold and wait for nothing (but `keep` and the pool's own), returning how many are left. */
  dropIdle(keep?: TenantSlots): number {
    for (let i = this.tenants.length - 1; i >= 0; i--) {
      const t = this.tenants[i]!;
      if (t.busy || t === keep || t === this.own) continue;
      this.tenants.splice(i, 1);
      // The cursor keeps pointing at the same tenant (or, if it was this one, at the next).
      if (this.cursor > i) this.cursor--;
      this.byName.delete(t.name);
      t.attached = false;
      t.queue = [];
      t.head = 0;
    }
    if (this.cursor >= this.tenants.length) this.cursor = 0;
    return this.tenants.length;
  }

  /** Marks this pool forgotten by endpointLimiter. */
  retire(): void {
    this.retired = true;
  }

  /** Where a dropped share of this pool rejoins: this pool, or the URL's pool of now if this one was forgotten. */
  home(): EndpointSlots {
    return this.retired && this.key !== undefined ? poolOf(this.key) : this;
  }

  /** A dropped share back in: the campaign's share made meanwhile (taking the later-set limit), else `t` itself (or its copy in a new pool). */
  rejoin(t: TenantSlots): TenantSlots {
    const live = this.byName.get(t.name);
    if (live) {
      if (t.limitSeq > live.limitSeq) {
        live.limit = t.limit;
        live.limitSeq = t.limitSeq;
        this.dispatch();
      }
      t.successor = live;
      return live;
    }
    if (t.pool === this) {
      t.successor = undefined;
      this.attach(t);
      return t;
    }
    const copy = new TenantSlots(this, t.name, t.limit, t.limitSeq);
    this.attach(copy);
    t.successor = copy;
    return copy;
  }

  private attach(t: TenantSlots): void {
    t.attached = true;
    this.byName.set(t.name, t);
    this.tenants.push(t);
  }

  acquire(signal?: AbortSignal): Promise<void> | undefined {
    return this.ownTenant().acquire(signal);
  }

  release(): void {
    this.ownTenant().release();
  }

  private ownTenant(): TenantSlots {
    if (!this.own) throw new Error("EndpointSlots: made without a size, so only its tenants take slots");
    return this.own;
  }

  /** The largest limit among busy tenants and `t` (which is about to be busy). */
  private capacityWith(t: TenantSlots): number {
    let cap = t.limit;
    for (const o of this.tenants) if (o.busy && o.limit > cap) cap = o.limit;
    return cap;
  }

  acquireFor(t: TenantSlots, signal?: AbortSignal): Promise<void> | undefined {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    // No waiter of `t` is eligible while a slot is free (dispatch hands them out), so taking it is fair.
    if (t.active < t.limit && t.waiting === 0 && this.active < this.capacityWith(t)) {
      const wasIdle = t.active === 0;
      t.active++;
      this.active++;
      // A campaign that starts using the URL may raise its cap (its limit is now among the busy ones).
      if (wasIdle) this.dispatch();
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
          t.waiting--;
          reject(reason ?? new Error("aborted"));
        },
      };
      waiters?.add(waiter);
      t.queue.push(waiter);
      t.waiting++;
    });
  }

  releaseFor(t: TenantSlots): void {
    if (t.active <= 0) return; // nothing held: a double release must not free another tenant's slot
    t.active--;
    this.active--;
    this.dispatch();
  }

  /** Hands free slots to waiting tenants, round-robin, each within its own limit. */
  private dispatch(): void {
    const n = this.tenants.length;
    for (;;) {
      if (this.pendingCount === 0) return;
      const cap = this.size;
      if (this.active >= cap) return;
      let granted = false;
      for (let k = 0; k < n; k++) {
        const i = (this.cursor + k) % n;
        const t = this.tenants[i]!;
        if (t.waiting === 0 || t.active >= t.limit) continue;
        const w = t.nextWaiter();
        if (!w) continue;
        t.waiting--;
        t.active++;
        this.active++;
        this.cursor = (i + 1) % n;
        w.grant();
        granted = true;
        break;
      }
      if (!granted) return;
    }
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error("aborted");
}

const limits = new Map<string, EndpointSlots>();

function poolOf(key: string): EndpointSlots {
  let slots = limits.get(key);
  if (!slots) {
    slots = new EndpointSlots(undefined, key);
    limits.set(key, slots);
  }
  return slots;
}

/**
 * The slots a client of `tenant` (its campaign id; "" for clients of no campaign) takes for requests
 * to `baseUrl`, at most `maxConcurrency` at once (see the module comment for how campaigns share).
 */
export function endpointLimiter(baseUrl: string, maxConcurrency: number, tenant = ""): TenantSlots {
  const key = normaliseBaseUrl(baseUrl);
  // Made per stage step, not per request: the place to let go of the URLs no campaign uses now
  // (a policy server of each iteration has a URL of its own).
  for (const [k, pool] of limits) {
    if (k === key || pool.dropIdle() > 0) continue;
    limits.delete(k);
    pool.retire();
  }
  return poolOf(key).tenant(tenant, maxConcurrency);
}

/** URLs endpointLimiter keeps slots for now (for tests and diagnostics). */
export function limitedEndpointCount(): number {
  return limits.size;
}

/** `http://h:1/v1/` and `http://h:1/v1` are the same endpoint. */
export function normaliseBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

/**
 * Runs `fn` holding a slot. If `signal` aborts while waiting, rejects at once with the signal's
 * reason and `fn` never runs; aborted by the time the slot is granted, the slot goes back unused.
 */
export async function withSlot<T>(slots: Slots, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const waiting = slots.acquire(signal);
  if (waiting) await waiting;
  try {
    if (signal?.aborted) throw abortReason(signal);
    return await fn();
  } finally {
    slots.release();
  }
}
