/**
 * The per-endpoint concurrency limit (src/llm/endpointLimiter.ts): a free slot is taken at once, the
 * rest wait in order, an aborted waiter never runs and gives up nothing it did not hold, and every
 * waiter on one signal shares the signal's single listener.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { EndpointSlots, withSlot } from "../../../src/llm/endpointLimiter.js";

/** A task that runs until released, recording its start. */
function gate(started: number[], id: number): { run: () => Promise<number>; open: () => void } {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  return {
    run: async () => {
      started.push(id);
      await done;
      return id;
    },
    open,
  };
}

describe("EndpointSlots", () => {
  it("takes a free slot without a promise and queues the rest in arrival order", async () => {
    const slots = new EndpointSlots(2);
    assert.equal(slots.acquire(), undefined);
    assert.equal(slots.acquire(), undefined);
    const order: number[] = [];
    const third = slots.acquire()!.then(() => order.push(3));
    const fourth = slots.acquire()!.then(() => order.push(4));
    assert.equal(slots.activeCount, 2);
    assert.equal(slots.pendingCount, 2);
    slots.release();
    await third;
    assert.deepEqual(order, [3]);
    assert.equal(slots.activeCount, 2, "the slot passed straight to the waiter");
    slots.release();
    await fourth;
    slots.release();
    slots.release();
    assert.equal(slots.activeCount, 0);
    assert.equal(slots.pendingCount, 0);
  });

  it("never runs more than its size at once, and runs everything", async () => {
    const slots = new EndpointSlots(3);
    let running = 0;
    let most = 0;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        withSlot(slots, async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 1 + (i % 3)));
          running--;
          return i;
        }),
      ),
    );
    assert.equal(most, 3);
    assert.deepEqual(
      results,
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.equal(slots.activeCount, 0);
  });

  it("an aborted waiter rejects at once with the reason, never runs, and the slot goes to the next one", async () => {
    const slots = new EndpointSlots(1);
    const started: number[] = [];
    const first = gate(started, 1);
    const running = withSlot(slots, first.run);
    const ac = new AbortController();
    const waiting = withSlot(slots, gate(started, 2).run, ac.signal);
    const next = gate(started, 3);
    const after = withSlot(slots, next.run);
    ac.abort(new Error("batch cancelled"));
    await assert.rejects(waiting, /batch cancelled/);
    first.open();
    assert.equal(await running, 1);
    await new Promise((r) => setImmediate(r));
    next.open();
    assert.equal(await after, 3);
    assert.deepEqual(started, [1, 3], "the aborted waiter never ran");
    assert.equal(slots.activeCount, 0);
  });

  it("an already-aborted signal takes no slot", async () => {
    const slots = new EndpointSlots(1);
    await assert.rejects(
      withSlot(slots, async () => 1, AbortSignal.abort(new Error("too late"))),
      /too late/,
    );
    assert.equal(slots.activeCount, 0);
  });

  it("hundreds of waiters on one signal add one abort listener", async () => {
    const slots = new EndpointSlots(1);
    const ac = new AbortController();
    const hold = gate([], 0);
    const held = withSlot(slots, hold.run, ac.signal);
    const waiters = Array.from({ length: 300 }, () => withSlot(slots, async () => 1, ac.signal).catch((e: unknown) => e));
    assert.equal(getEventListeners(ac.signal, "abort").length, 1);
    ac.abort(new Error("stop"));
    for (const e of await Promise.all(waiters)) assert.match((e as Error).message, /stop/);
    hold.open();
    await held;
    assert.equal(slots.activeCount, 0);
    assert.equal(slots.pendingCount, 0);
  });

  it("refuses a size that is not a positive integer", () => {
    assert.throws(() => new EndpointSlots(0), /positive integer/);
    assert.throws(() => new EndpointSlots(1.5), /positive integer/);
  });
});
