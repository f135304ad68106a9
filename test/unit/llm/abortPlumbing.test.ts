/**
 * The client's abort and deadline plumbing: one abort listener per caller signal however many
 * requests are in flight on it (src/util/abortSet.ts), and one deadline timer per endpoint
 * (src/llm/deadlines.ts) that still stops each hung request at its own deadline.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { DeadlineTimer } from "../../../src/llm/deadlines.js";
import { LlmClient, LlmError } from "../../../src/llm/client.js";
import { abortSetOf } from "../../../src/util/abortSet.js";

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

/** A server that holds every request until closed; counts what it received. */
async function holdingServer(): Promise<{ baseUrl: string; received: () => number }> {
  let n = 0;
  const server = http.createServer((req) => {
    n++;
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, received: () => n };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("abort and deadline plumbing", () => {
  it("40 requests in flight on one signal add one abort listener; aborting it stops them all as aborted", async () => {
    const s = await holdingServer();
    const c = new LlmClient({ baseUrl: s.baseUrl, model: "m", role: "generator", timeoutMs: 30_000, maxRetries: 3, maxConcurrency: 64 });
    const ac = new AbortController();
    const calls = Array.from({ length: 40 }, () => c.chat({ messages: [{ role: "user", content: "hi" }] }, { signal: ac.signal }).catch((e: unknown) => e));
    await until("40 requests at the server", () => s.received() >= 40);
    assert.equal(getEventListeners(ac.signal, "abort").length, 1, "one listener for the whole set");
    assert.equal(abortSetOf(ac.signal).size, 40, "each request is in the set once, in flight (a free slot is taken without waiting)");
    ac.abort(new Error("batch cancelled"));
    const errors = await Promise.all(calls);
    for (const e of errors) {
      assert.ok(e instanceof LlmError);
      assert.equal(e.kind, "aborted");
      assert.match(e.message, /batch cancelled/);
    }
    assert.equal(abortSetOf(ac.signal).size, 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.received(), 40, "nothing retried after the abort");
  });

  it("hung requests started at different times each time out at their own first-byte deadline, on one timer", async () => {
    const s = await holdingServer();
    const c = new LlmClient({
      baseUrl: s.baseUrl.replace("/v1", "/staggered/v1"),
      model: "m",
      role: "generator",
      timeoutMs: 10_000,
      firstByteTimeoutMs: 200,
      maxRetries: 0,
      maxConcurrency: 8,
    });
    const t0 = performance.now();
    const ask = () =>
      c.chat({ messages: [{ role: "user", content: "hi" }] }).then(
        () => assert.fail("a hung request resolved"),
        (e: unknown) => ({ e, at: performance.now() - t0 }),
      );
    const first = ask();
    await new Promise((r) => setTimeout(r, 120));
    const second = ask();
    const [a, b] = await Promise.all([first, second]);
    for (const r of [a, b]) {
      assert.ok(r.e instanceof LlmError && r.e.kind === "timeout", String(r.e));
      assert.match((r.e as LlmError).message, /no response headers within 200 ms \(firstByteTimeoutMs\)/);
    }
    assert.ok(a.at >= 190 && a.at < 1500, `first stopped at ${a.at.toFixed(0)} ms`);
    assert.ok(b.at - a.at >= 60, `second (started 120 ms later) stopped ${(b.at - a.at).toFixed(0)} ms after the first`);
  });

  it("DeadlineTimer fires entries in deadline order, skips removed ones, and honours a deadline moved later", async () => {
    const timer = new DeadlineTimer();
    const fired: string[] = [];
    const now = performance.now();
    const entry = (name: string, inMs: number) => ({ at: now + inMs, expire: () => fired.push(name) });
    const a = entry("a", 30);
    const b = entry("b", 60);
    const removed = entry("removed", 20);
    const moved = entry("moved", 10);
    for (const e of [b, a, removed, moved]) timer.add(e);
    timer.delete(removed);
    moved.at = now + 90;
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(fired, ["a", "b", "moved"]);
    assert.equal(timer.size, 0);
  });

  it("AbortSet: one listener per signal; members added after the abort are refused", () => {
    const ac = new AbortController();
    const set = abortSetOf(ac.signal);
    assert.equal(abortSetOf(ac.signal), set, "one set per signal");
    const reasons: unknown[] = [];
    const member = { abort: (r: unknown) => reasons.push(r) };
    const left = { abort: () => assert.fail("a member that left was aborted") };
    assert.equal(set.add(member), true);
    set.add(left);
    set.delete(left);
    assert.equal(getEventListeners(ac.signal, "abort").length, 1);
    ac.abort("stop");
    assert.deepEqual(reasons, ["stop"]);
    assert.equal(set.add({ abort: () => undefined }), false);
  });
});
