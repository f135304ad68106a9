/**
 * Several campaigns on one worker share an endpoint URL (src/llm/endpointLimiter.ts): each campaign
 * is held to its own maxConcurrency, the URL to the largest maxConcurrency of the campaigns using it,
 * and freed slots go round-robin to the campaigns waiting.
 *
 * Before, the URL's limit was sized by the first maxConcurrency seen in the worker's life: a
 * synthesis campaign configured with 2 made a loop campaign configured with 16, started after it on
 * the same simulator, run 2 requests at a time (400 samples in 1m46s instead of 14s), and a campaign
 * configured lower than an earlier one was ignored; requests were served in arrival order, so a
 * campaign with 48 queued requests held back one with 2 (40 samples: 11 s alone, ~90 s beside it).
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { parseCampaignConfig, type CampaignConfig } from "../../../src/config/campaignConfig.js";
import type { DbHandle } from "../../../src/db/client.js";
import { activityDepsFor } from "../../../src/cli/worker.js";
import { EndpointSlots, endpointLimiter, limitedEndpointCount } from "../../../src/llm/endpointLimiter.js";
import { metricsRegistry } from "../../../src/metrics/toolloopMetrics.js";
import type { UsageSink } from "../../../src/llm/usage.js";
import { chatCompletion } from "../../helpers/scriptedChatServer.js";

/** Takes `n` slots of `slots` (each must be granted at once) and returns how many were granted. */
function takeAtOnce(slots: { acquire(): Promise<void> | undefined }, n: number): number {
  let granted = 0;
  for (let i = 0; i < n; i++) {
    const p = slots.acquire();
    if (p !== undefined) {
      // Waiting: leave it queued, it is counted as pending.
      p.catch(() => undefined);
      continue;
    }
    granted++;
  }
  return granted;
}

describe("EndpointSlots shared by campaigns (tenants)", () => {
  it("a campaign registered first with a low limit does not cap a later one with a higher limit, nor the reverse", () => {
    const slots = new EndpointSlots();
    const small = slots.tenant("small", 2);
    const big = slots.tenant("big", 16);
    assert.equal(takeAtOnce(small, 5), 2, "small is held to its own 2");
    assert.equal(takeAtOnce(big, 20), 14, "big takes the rest of its 16 (the URL's largest limit); 2 are small's");
    assert.equal(slots.activeCount, 16);
    assert.equal(slots.pendingCount, 3 + 6);

    // The reverse order: the high limit first does not lift a later campaign's lower limit.
    const other = new EndpointSlots();
    const wide = other.tenant("wide", 64);
    const narrow = other.tenant("narrow", 3);
    assert.equal(takeAtOnce(narrow, 10), 3, "narrow keeps its own 3 although 64 came first");
    assert.equal(takeAtOnce(wide, 4), 4);
  });

  it("the URL's cap is the largest limit of the campaigns using it now, not of every campaign it ever saw", async () => {
    const slots = new EndpointSlots();
    const big = slots.tenant("big", 8);
    const a = slots.tenant("a", 2);
    // (big registered, e.g. a campaign that ran earlier on this worker, but holds and waits for nothing.)
    const b = slots.tenant("b", 2);
    // big is idle: a and b together stay within 2 (the largest limit among them), not 8.
    assert.equal(takeAtOnce(a, 2), 2);
    assert.equal(takeAtOnce(b, 2), 0, "b waits: the URL has 2 in flight, the most a and b allow");
    // big starts: the URL may now carry 8, so b's waiters get their slots too.
    assert.equal(takeAtOnce(big, 1), 1);
    assert.equal(slots.activeCount, 5);
    assert.equal(slots.pendingCount, 0);
  });

  it("a freed slot goes round-robin to the campaigns waiting: one with hundreds queued cannot starve one with a few", async () => {
    const slots = new EndpointSlots();
    const big = slots.tenant("big", 4);
    const small = slots.tenant("small", 4);
    const order: string[] = [];
    const run = (t: typeof big, name: string, n: number) =>
      Array.from({ length: n }, () =>
        (async () => {
          const w = t.acquire();
          if (w) await w;
          order.push(name);
          await new Promise((r) => setTimeout(r, 1));
          t.release();
        })(),
      );
    // big queues 200 requests first, small 4 after them.
    const all = [...run(big, "big", 200), ...run(small, "small", 4)];
    await Promise.all(all);
    assert.equal(order.length, 204);
    const lastSmall = order.lastIndexOf("small");
    // Arrival order would start small's last request after big's 200th start (index 203); round-robin starts it within the first 4 + 2*4.
    assert.ok(lastSmall < 12, `small's requests started at ${order.map((n, i) => (n === "small" ? i : -1)).filter((i) => i >= 0)}`);
    assert.equal(slots.activeCount, 0);
    assert.equal(slots.pendingCount, 0);
  });

  it("a campaign's new limit (a new config version) applies at once", async () => {
    const slots = new EndpointSlots();
    const t = slots.tenant("c", 2);
    assert.equal(takeAtOnce(t, 6), 2);
    assert.equal(slots.tenant("c", 5), t, "the same campaign's share");
    await new Promise((r) => setImmediate(r));
    assert.equal(slots.activeCount, 5, "three waiters got the new room");
    assert.equal(slots.pendingCount, 1);
  });

  it("refuses a limit that is not a positive integer, naming the campaign", () => {
    assert.throws(() => new EndpointSlots().tenant("weekly", 0), /"weekly".*positive integer/);
  });
});

describe("shares of campaigns that ended are let go (a worker running weekly campaigns for months)", () => {
  /** Takes and gives back `n` slots, as a finished batch's requests did. */
  function use(t: { acquire(): Promise<void> | undefined; release(): void }, n: number): void {
    for (let i = 0; i < n; i++) assert.equal(t.acquire(), undefined, "a free slot is taken at once");
    for (let i = 0; i < n; i++) t.release();
  }

  it("a share that holds and waits for nothing is dropped when the next client is made: a year of weekly campaigns leaves one", async () => {
    const slots = new EndpointSlots();
    for (let week = 1; week <= 52; week++) use(slots.tenant(`weekly-${week}`, 4), 3);
    // Before, all 52 stayed in the round-robin (and in `size`, `pendingCount` and each dispatch).
    assert.equal(slots.tenantCount, 1, "only the last campaign's share, not yet dropped");
    const busy = slots.tenant("busy", 2);
    assert.equal(busy.acquire(), undefined);
    const waiting = slots.tenant("waiting", 1);
    assert.equal(waiting.acquire(), undefined);
    const queued = waiting.acquire()!;
    slots.tenant("next", 1);
    assert.equal(slots.tenantCount, 3, "busy (holds a slot), waiting (has a waiter) and next stay; weekly-52 went");
    busy.release();
    waiting.release();
    await queued;
    waiting.release();
    assert.equal(slots.activeCount, 0);
  });

  it("a dropped share still used by a live client rejoins at its next request with its own limit, taking a free slot at once", async () => {
    const slots = new EndpointSlots();
    const a = slots.tenant("a", 2);
    use(a, 2);
    slots.tenant("b", 8);
    assert.equal(slots.tenantCount, 1, "a was dropped");
    assert.equal(a.acquire(), undefined, "no promise for a free slot");
    assert.equal(a.acquire(), undefined);
    const third = a.acquire();
    assert.ok(third, "a is still held to its 2");
    assert.equal(slots.tenantCount, 2);
    a.release();
    await third;
    a.release();
    a.release();
    assert.equal(slots.activeCount, 0);
  });

  it("a client of a dropped share and a client made after it count against one share, with the limit set last", async () => {
    const slots = new EndpointSlots();
    const older = slots.tenant("c", 2);
    slots.tenant("other", 1); // older is idle: dropped
    const newer = slots.tenant("c", 3);
    assert.notEqual(newer, older, "a new share was made for the campaign");
    assert.equal(takeAtOnce(older, 2), 2);
    assert.equal(takeAtOnce(newer, 2), 1, "the campaign's 3 in all, not 2 + 3");
    assert.equal(slots.activeCount, 3);
    older.release();
    await new Promise((r) => setImmediate(r));
    assert.equal(slots.activeCount, 3, "older's slot went back to the campaign's share: its waiter got it");
    assert.equal(slots.pendingCount, 0);
    for (let i = 0; i < 3; i++) newer.release();
    assert.equal(slots.activeCount, 0);

    // The other order: the newer client's share dropped, then the older client's share comes back first.
    const x = new EndpointSlots();
    const first = x.tenant("d", 2);
    x.tenant("y", 1);
    const second = x.tenant("d", 5); // set last
    x.tenant("z", 1); // second is idle: dropped too
    assert.equal(takeAtOnce(first, 6), 2, "first rejoins with its limit (the only share of d)");
    assert.equal(takeAtOnce(second, 1), 0, "second hands over to the live share, behind first's waiters");
    assert.equal(x.activeCount, 5, "and brings the limit set last: d runs 5 at once");
    assert.equal(x.pendingCount, 2);
  });

  it("endpointLimiter forgets URLs no campaign uses (a policy server of each iteration has its own), and an old client of one still shares its campaign's limit", async () => {
    const base = 40_000 + Math.floor(Math.random() * 10_000);
    for (let i = 0; i < 30; i++) use(endpointLimiter(`http://127.0.0.1:${base + i}/v1`, 2, `loop-${i}`), 2);
    assert.ok(limitedEndpointCount() <= 2, `URLs kept: ${limitedEndpointCount()}`);
    const old = endpointLimiter(`http://127.0.0.1:${base + 100}/v1`, 2, "loop-x");
    use(endpointLimiter(`http://127.0.0.1:${base + 101}/v1`, 1, "loop-y"), 1);
    use(endpointLimiter(`http://127.0.0.1:${base + 102}/v1`, 1, "loop-y"), 1); // the URL of `old` is forgotten now
    const again = endpointLimiter(`http://127.0.0.1:${base + 100}/v1/`, 2, "loop-x");
    assert.equal(takeAtOnce(old, 3), 2);
    assert.equal(takeAtOnce(again, 1), 0, "one share of loop-x for the URL: 2 in all");
    old.release();
    await new Promise((r) => setImmediate(r));
    old.release();
    again.release();
  });
});

describe("the worker's role clients take their campaign's share of the endpoint", () => {
  let server: http.Server;
  let url: string;
  /** Requests in flight now, and the most seen, per model (each test campaign asks for its own model). */
  const inFlight = new Map<string, number>();
  const peak = new Map<string, number>();
  let peakTotal = 0;
  let total = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const model = (JSON.parse(Buffer.concat(chunks).toString()) as { model: string }).model;
        inFlight.set(model, (inFlight.get(model) ?? 0) + 1);
        peak.set(model, Math.max(peak.get(model) ?? 0, inFlight.get(model)!));
        total++;
        peakTotal = Math.max(peakTotal, total);
        setTimeout(() => {
          inFlight.set(model, inFlight.get(model)! - 1);
          total--;
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(chatCompletion({ id: "x", model, message: { content: "ok" }, usage: { prompt_tokens: 1, completion_tokens: 1 } }).body));
        }, 30);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  function campaign(model: string, maxConcurrency: number, baseUrl = url): CampaignConfig {
    const r = parseCampaignConfig({
      name: model,
      endpoints: { shared: { baseUrl, maxConcurrency, attemptBudget: 2, maxRetries: 3 } },
      roles: { generator: { endpoint: "shared", model } },
      tools: { sources: [{ kind: "example" }] },
      stages: [{ name: "verify.rules" }],
    });
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    return r.config;
  }

  it("a campaign configured with 2 started first leaves a campaign configured with 8 its 8, and keeps its own 2", async () => {
    const deps = activityDepsFor({} as DbHandle, "/nonexistent", () => undefined);
    const usage: UsageSink = { record: () => undefined };
    const slow = deps.createLlm(campaign("model-slow", 2), "generator", usage, "slow-campaign");
    const fast = deps.createLlm(campaign("model-fast", 8), "generator", usage, "fast-campaign");
    const ask = (c: typeof slow, n: number) => Array.from({ length: n }, () => c.chat({ messages: [{ role: "user", content: "hi" }] }));
    const done = await Promise.all([...ask(slow, 12), ...ask(fast, 24)]);
    assert.equal(done.length, 36);
    assert.equal(peak.get("model-slow"), 2, "the slow campaign stays within its own maxConcurrency");
    assert.ok(peak.get("model-fast")! >= 6, `the fast campaign ran ${peak.get("model-fast")} at once (was held to the first campaign's 2)`);
    assert.ok(peakTotal <= 8, `the URL carried ${peakTotal} at once: at most the largest limit of the campaigns using it`);
  });
});

async function counterValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metricsRegistry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

describe("LLM metrics of campaigns sharing a worker", () => {
  it("carry the campaign: two campaigns that both name their endpoint `shared`, one of them dead, are told apart", async () => {
    const live = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(chatCompletion({ id: "x", model: "m", message: { content: "ok" }, usage: { prompt_tokens: 3, completion_tokens: 2 } }).body));
      });
    });
    await new Promise<void>((r) => live.listen(0, "127.0.0.1", r));
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    try {
      const config = (baseUrl: string): CampaignConfig => {
        const r = parseCampaignConfig({
          name: "team",
          endpoints: { shared: { baseUrl, attemptBudget: 2, maxRetries: 3 } },
          roles: { generator: { endpoint: "shared", model: "m" } },
          tools: { sources: [{ kind: "example" }] },
          stages: [{ name: "verify.rules" }],
        });
        assert.ok(r.ok);
        return r.config;
      };
      const deps = activityDepsFor({} as DbHandle, "/nonexistent", () => undefined);
      const usage: UsageSink = { record: () => undefined };
      const good = deps.createLlm(config(`http://127.0.0.1:${(live.address() as AddressInfo).port}/v1`), "generator", usage, "team-b-weekly");
      const bad = deps.createLlm(config(`http://127.0.0.1:${deadPort}/v1`), "generator", usage, "team-a-manual");
      const hi = { messages: [{ role: "user" as const, content: "hi" }] };
      await Promise.all([good.chat(hi), good.chat(hi), good.chat(hi)]);
      await assert.rejects(bad.chat(hi), /unavailable/);
      const v = (name: string, labels: Record<string, string>) => counterValue(name, { endpoint: "shared", role: "generator", ...labels });
      assert.equal(await v("toolloop_llm_requests_total", { campaign: "team-b-weekly", outcome: "ok" }), 3);
      assert.equal(await v("toolloop_llm_requests_total", { campaign: "team-b-weekly", outcome: "unreachable" }), 0);
      assert.equal(await v("toolloop_llm_requests_total", { campaign: "team-a-manual", outcome: "unreachable" }), 2);
      assert.equal(await v("toolloop_llm_requests_total", { campaign: "team-a-manual", outcome: "ok" }), 0);
      assert.equal(await v("toolloop_llm_failures_total", { campaign: "team-a-manual", kind: "unavailable" }), 1);
      assert.equal(await v("toolloop_llm_failures_total", { campaign: "team-b-weekly" }), 0);
      assert.equal(await v("toolloop_llm_tokens_total", { campaign: "team-b-weekly", direction: "prompt" }), 9);
      assert.equal((await v("toolloop_llm_request_duration_seconds", { campaign: "team-b-weekly", outcome: "ok" })) > 0, true);
    } finally {
      live.closeAllConnections();
      await new Promise<void>((r) => live.close(() => r()));
    }
  });
});
