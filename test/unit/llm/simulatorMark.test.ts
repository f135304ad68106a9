/**
 * The simulator identifies itself on every route (header x-toolloop-simulator: 1, and
 * system_fingerprint "toolloop-simulator" in completions); the client records `simulated` per
 * response, and a server without the mark (as vLLM) is never taken for the simulator.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { LlmClient, type UsageEvent } from "../../../src/llm/client.js";
import { startSimulator, type SimulatorHandle } from "../../../src/llm/simulator/server.js";
import { LlmError } from "../../../src/llm/errors.js";
import { isSimulatorResponse, SIMULATOR_FAULT_HEADER, SIMULATOR_HEADER } from "../../../src/llm/simulatorMark.js";

let sim: SimulatorHandle;
before(async () => {
  sim = await startSimulator({ seed: 1, quiet: true });
});
after(async () => {
  await sim.close();
});

const root = () => sim.url.replace(/\/v1$/, "");

function clientFor(baseUrl: string, events: UsageEvent[]): LlmClient {
  return new LlmClient({
    baseUrl,
    model: "toolloop-sim",
    role: "generator",
    timeoutMs: 5000,
    maxRetries: 0,
    maxConcurrency: 4,
    usage: { record: (e) => events.push(e) },
  });
}

test("every simulator route, answers and errors alike, carries the header; completions carry the fingerprint", async () => {
  const post = (p: string, body: unknown) => fetch(root() + p, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const responses: [string, Response][] = [
    ["GET /v1/models", await fetch(`${root()}/v1/models`)],
    ["GET /health", await fetch(`${root()}/health`)],
    ["GET /version", await fetch(`${root()}/version`)],
    ["GET /nope (404)", await fetch(`${root()}/nope`)],
    ["POST /v1/chat/completions", await post("/v1/chat/completions", { model: "toolloop-sim", messages: [{ role: "user", content: "hi" }] })],
    ["POST /v1/completions", await post("/v1/completions", { model: "toolloop-sim", prompt: "hi", max_tokens: 2 })],
    ["POST /v1/embeddings", await post("/v1/embeddings", { model: "toolloop-sim", input: ["hi"] })],
    ["POST /tokenize", await post("/tokenize", { model: "toolloop-sim", prompt: "hi" })],
    ["POST /v1/chat/completions (400)", await post("/v1/chat/completions", { model: "toolloop-sim", messages: "not a list" })],
  ];
  for (const [route, r] of responses) {
    assert.equal(r.headers.get(SIMULATOR_HEADER), "1", `${route} carries ${SIMULATOR_HEADER}`);
    const text = await r.text();
    if (route.includes("completions") && r.status === 200)
      assert.equal((JSON.parse(text) as { system_fingerprint: string }).system_fingerprint, "toolloop-simulator", route);
  }
  assert.ok(
    responses.some(([, r]) => r.status >= 400),
    "errors were among the responses checked",
  );
});

test("the client records simulated on the result and on every usage event, answers and failures", async () => {
  const events: UsageEvent[] = [];
  const c = clientFor(sim.url, events);
  const r = await c.chat({ messages: [{ role: "user", content: "What is the weather in Paris?" }] });
  assert.equal(r.simulated, true);
  await c.embed(["a", "b"]);
  assert.equal(c.simulatedResponses, 2);
  sim.setFaults({ rate500: 1 });
  try {
    await assert.rejects(c.chat({ messages: [{ role: "user", content: "x" }] }));
  } finally {
    sim.setFaults({});
  }
  assert.equal(events.length, 3);
  assert.deepEqual(
    events.map((e) => [e.failed, e.simulated]),
    [
      [false, true],
      [false, true],
      [true, true],
    ],
    "a 500 from the simulator carries its header too",
  );
});

test("the simulator's HTTP fault (a body cut short) is marked the simulator's by its headers; a real server's non-JSON answer is not", async () => {
  // The cut body has no fingerprint: it was recorded, and thrown, as no simulator's.
  const events: UsageEvent[] = [];
  const c = clientFor(sim.url, events);
  sim.setFaults({ rateMalformedJson: 1 });
  let simulatedError: unknown;
  try {
    await c.chat({ messages: [{ role: "user", content: "x" }] }).catch((err: unknown) => (simulatedError = err));
  } finally {
    sim.setFaults({});
  }
  assert.ok(simulatedError instanceof LlmError && simulatedError.kind === "server", String(simulatedError));
  assert.equal(simulatedError.fromSimulator, true);
  assert.match(simulatedError.message, /body is not JSON \(the simulator's malformedJson fault\)/);
  assert.deepEqual(
    events.map((e) => [e.failed, e.simulated]),
    [[true, true]],
  );

  // A real server's cut body, even one sending the fault header without the simulator's: unmarked.
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", [SIMULATOR_FAULT_HEADER]: "malformedJson" });
      res.end('{"id":"chatcmpl-1","choi');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const realEvents: UsageEvent[] = [];
    const real = clientFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, realEvents);
    const err: unknown = await real.chat({ messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    assert.ok(err instanceof LlmError && err.kind === "server", String(err));
    assert.equal(err.fromSimulator, undefined);
    assert.doesNotMatch(err.message, /simulator/);
    assert.deepEqual(
      realEvents.map((e) => [e.failed, e.simulated]),
      [[true, false]],
    );
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("a vLLM-like server (no header, system_fingerprint null or a build string) is not simulated", async () => {
  let fingerprint: string | null = null;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "chatcmpl-1",
          object: "chat.completion",
          model: "m",
          system_fingerprint: fingerprint,
          choices: [{ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 3, completion_tokens: 1 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const events: UsageEvent[] = [];
    const c = clientFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, events);
    assert.equal((await c.chat({ messages: [{ role: "user", content: "hi" }] })).simulated, false);
    fingerprint = "fp_vllm_0.11";
    assert.equal((await c.chat({ messages: [{ role: "user", content: "hi" }] })).simulated, false);
    assert.deepEqual(
      events.map((e) => e.simulated),
      [false, false],
    );
    assert.equal(c.simulatedResponses, 0);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("isSimulatorResponse: header or the simulator's fingerprint (also a stand-in checkpoint's), nothing else", () => {
  const h = (v: Record<string, string>) => new Headers(v);
  assert.equal(isSimulatorResponse(h({ [SIMULATOR_HEADER]: "1" }), undefined), true);
  assert.equal(isSimulatorResponse(h({}), { system_fingerprint: "toolloop-simulator" }), true);
  assert.equal(isSimulatorResponse(h({}), { system_fingerprint: "toolloop-simulator+standin-checkpoint-simulated" }), true);
  assert.equal(isSimulatorResponse(h({}), { system_fingerprint: "toolloop-simulatorX" }), false);
  assert.equal(isSimulatorResponse(h({ [SIMULATOR_HEADER]: "0" }), { system_fingerprint: null }), false);
  assert.equal(isSimulatorResponse(undefined, null), false);
});
