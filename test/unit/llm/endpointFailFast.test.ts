import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { ENDPOINT_FAIL_FAST_DEFAULTS, parseCampaignConfig } from "../../../src/config/campaignConfig.js";
import { createRoleClient, LlmClient, LlmError, type LlmClientOptions } from "../../../src/llm/client.js";
import { probeConnect, ConnectProbeError } from "../../../src/llm/connectProbe.js";
import { metricsRegistry } from "../../../src/metrics/toolloopMetrics.js";
import { closedPort, startHungServer } from "../../helpers/deadEndpoints.js";

const closers: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(closers.map((c) => c()));
});

function client(baseUrl: string, over: Partial<LlmClientOptions> = {}): LlmClient {
  return new LlmClient({
    baseUrl,
    model: "m",
    role: "generator",
    endpointName: "gen",
    timeoutMs: 10_000,
    maxRetries: 5,
    maxConcurrency: 4,
    backoff: { baseMs: 10, maxMs: 50 },
    ...over,
  });
}

async function failure(p: Promise<unknown>): Promise<LlmError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof LlmError, `expected an LlmError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the request to fail");
}

async function counterValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metricsRegistry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

const ask = (c: LlmClient) => c.chat({ messages: [{ role: "user", content: "hi" }] });

describe("failing fast on dead and hung endpoints", () => {
  it("a refusing endpoint is unavailable after its attempt budget, in well under a second, naming endpoint, role and URL", async () => {
    const port = await closedPort();
    const baseUrl = `http://127.0.0.1:${port}/v1`;
    const before = await counterValue("toolloop_llm_requests_total", { endpoint: "gen", outcome: "unreachable" });
    const started = performance.now();
    const err = await failure(ask(client(baseUrl, { attemptBudget: 3 })));
    const ms = performance.now() - started;
    assert.equal(err.kind, "unavailable");
    assert.equal(err.retryable, true, "callers stop the batch rather than failing the item");
    assert.equal(err.attempts, 3);
    assert.match(
      err.message,
      new RegExp(`^endpoint gen \\(${baseUrl.replace(/[/.]/g, "\\$&")}\\) is unavailable for role generator: 3 attempts in a row got no answer`),
    );
    assert.match(err.message, /connection refused by 127\.0\.0\.1:\d+/);
    assert.ok(ms < 2000, `took ${ms} ms`);
    const afterCount = await counterValue("toolloop_llm_requests_total", { endpoint: "gen", outcome: "unreachable" });
    assert.equal(afterCount - before, 3, "each refused attempt is counted as unreachable");
    assert.ok((await counterValue("toolloop_llm_failures_total", { endpoint: "gen", kind: "unavailable" })) >= 1);
  });

  it("a hung endpoint (accepts, never answers) is unavailable after budget x firstByteTimeoutMs, not the request timeout", async () => {
    const hung = await startHungServer();
    closers.push(hung.close);
    const started = performance.now();
    const err = await failure(ask(client(hung.baseUrl, { firstByteTimeoutMs: 300, attemptBudget: 2, timeoutMs: 60_000 })));
    const ms = performance.now() - started;
    assert.equal(err.kind, "unavailable");
    assert.match(
      err.message,
      /2 attempts in a row got no answer \(attemptBudget 2\); last: \/chat\/completions: connected, but no response headers within 300 ms \(firstByteTimeoutMs\)/,
    );
    assert.ok(ms >= 550 && ms < 5000, `took ${ms} ms`);
    assert.ok(hung.connections() >= 2, "the requests were really sent");
  });

  it("the streak is shared by every client of the endpoint: a second role fails on its first unreachable attempt", async () => {
    const hung = await startHungServer();
    closers.push(hung.close);
    await failure(ask(client(hung.baseUrl, { firstByteTimeoutMs: 200, attemptBudget: 2, maxRetries: 0 })));
    const judge = client(hung.baseUrl, { role: "judge", firstByteTimeoutMs: 200, attemptBudget: 2, maxRetries: 5 });
    const err = await failure(ask(judge));
    assert.equal(err.kind, "unavailable");
    assert.equal(err.attempts, 1);
    assert.match(err.message, /for role judge: 2 attempts in a row/);
  });

  it("concurrent requests share the streak: one past the budget says the attempts in flight were counted too", async () => {
    const hung = await startHungServer();
    closers.push(hung.close);
    const c = client(hung.baseUrl, { firstByteTimeoutMs: 300, attemptBudget: 2, maxRetries: 0 });
    // Three attempts in flight at once: the budget (2) is passed by the third to fail.
    const errs = await Promise.all([ask(c), ask(c), ask(c)].map((p) => failure(p)));
    const messages = errs.map((e) => e.message).sort();
    assert.ok(
      messages.some((m) => /3 attempts in a row got no answer \(attemptBudget 2\), attempts already in flight when it was reached counted too; last:/.test(m)),
      messages.join("\n"),
    );
    assert.ok(!messages.some((m) => /2 attempts in a row got no answer \(attemptBudget 2\),/.test(m)), "at the budget itself: no note");
  });

  it("slow answers are not unreachable: headers then a stalled body end as a plain timeout; HTTP errors keep the server alive", async () => {
    let n = 0;
    const server = http.createServer((req, res) => {
      n++;
      req.resume();
      if (req.url?.includes("slow")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.write("{");
        return; // never finishes the body
      }
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "boom" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    server.on("connection", (s) => closers.push(async () => void s.destroy()));
    const port = (server.address() as AddressInfo).port;

    const slow = client(`http://127.0.0.1:${port}/slow/v1`, { timeoutMs: 600, firstByteTimeoutMs: 300, attemptBudget: 1, maxRetries: 1 });
    const slowErr = await failure(ask(slow));
    assert.equal(slowErr.kind, "timeout", slowErr.message);
    assert.match(slowErr.message, /no complete response within 600 ms/);

    const failing = client(`http://127.0.0.1:${port}/v1`, { attemptBudget: 1, maxRetries: 3 });
    const serverErr = await failure(ask(failing));
    assert.equal(serverErr.kind, "server", "a 500 is an answer: the budget of 1 does not apply");
    assert.equal(serverErr.attempts, 4);
    assert.ok(n >= 6);
  });

  it("one hung request on an endpoint that answers others is a timeout, not an unavailable endpoint (faults under load)", async () => {
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        if (body.includes("hang")) return; // this request never gets an answer
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id: "c",
            object: "chat.completion",
            created: 0,
            model: "m",
            choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    server.on("connection", (s) => closers.push(async () => void s.destroy()));
    const port = (server.address() as AddressInfo).port;
    const c = client(`http://127.0.0.1:${port}/loaded/v1`, { firstByteTimeoutMs: 300, timeoutMs: 5000, attemptBudget: 1, maxRetries: 1 });
    // Other requests are answered all the while the hung one waits.
    let answering = true;
    const others = (async () => {
      let ok = 0;
      while (answering) {
        await ask(c);
        ok++;
        await new Promise((r) => setTimeout(r, 30));
      }
      return ok;
    })();
    const err = await failure(c.chat({ messages: [{ role: "user", content: "hang" }] }));
    answering = false;
    assert.ok((await others) > 3, "the endpoint kept answering");
    assert.equal(err.kind, "timeout", err.message);
    assert.equal(err.attempts, 2, "retried as a plain timeout, not stopped by the attempt budget of 1");
  });

  it("probeConnect tells refused from connected", async () => {
    const port = await closedPort();
    await assert.rejects(probeConnect(`http://127.0.0.1:${port}/v1`, 1000), (e: unknown) => e instanceof ConnectProbeError && e.reason === "refused");
    const hung = await startHungServer();
    closers.push(hung.close);
    await probeConnect(hung.baseUrl, 1000);
  });
});

describe("endpoint fail-fast config", () => {
  const base = {
    name: "t",
    endpoints: { sim: { baseUrl: "http://127.0.0.1:1/v1" } },
    roles: { generator: { endpoint: "sim", model: "m" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "synthesize.singleTurn", count: 4, batchSize: 4 }],
  };

  it("bad values are refused naming the field; absent fields stay absent (the frozen config and its hash do not change)", () => {
    const bad = parseCampaignConfig({
      ...base,
      endpoints: { sim: { baseUrl: "http://127.0.0.1:1/v1", connectTimeoutMs: 0, firstByteTimeoutMs: 1.5, attemptBudget: 101 } },
    });
    assert.equal(bad.ok, false);
    const messages = bad.ok ? [] : bad.error.issues.map((i) => `${i.path}: ${i.message}`);
    assert.ok(messages.includes("endpoints.sim.connectTimeoutMs: expected a positive integer"), messages.join("\n"));
    assert.ok(messages.includes("endpoints.sim.firstByteTimeoutMs: expected a positive integer"), messages.join("\n"));
    assert.ok(messages.includes("endpoints.sim.attemptBudget: expected at most 100"), messages.join("\n"));
    const good = parseCampaignConfig(base);
    assert.ok(good.ok);
    assert.deepEqual(Object.keys(good.ok ? good.config.endpoints.sim! : {}).sort(), ["baseUrl", "maxConcurrency", "maxRetries", "timeoutMs"]);
  });

  it("role clients get the documented defaults", async () => {
    const parsed = parseCampaignConfig(base);
    assert.ok(parsed.ok);
    const c = createRoleClient(parsed.config, "generator") as unknown as Record<string, unknown>;
    assert.equal(c.connectTimeoutMs, ENDPOINT_FAIL_FAST_DEFAULTS.connectTimeoutMs);
    assert.equal(c.firstByteTimeoutMs, ENDPOINT_FAIL_FAST_DEFAULTS.firstByteTimeoutMs);
    assert.equal(c.attemptBudget, 3);
    assert.equal(c.endpointName, "sim");
  });
});

describe("a request timeout shorter than the first-byte timeout", () => {
  it("still counts a silent server as unreachable", async () => {
    const hung = await startHungServer();
    closers.push(hung.close);
    const err = await failure(ask(client(hung.baseUrl, { timeoutMs: 300, firstByteTimeoutMs: 40_000, attemptBudget: 2 })));
    assert.equal(err.kind, "unavailable");
    assert.match(err.message, /connected, but no response headers within 300 ms \(timeoutMs\)/);
  });
});
