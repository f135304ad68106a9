/**
 * servedBySimulator: how scores from a program that talks to the policy itself (bfcl-eval) learn
 * that the policy was the toolloop LLM simulator. The simulator, a vLLM-shaped server without the
 * mark, and endpoints that cannot be asked.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { servedBySimulator } from "../../../src/llm/servedBySimulator.js";
import { startSimulator, type SimulatorHandle } from "../../../src/llm/simulator/server.js";
import { closedPort, startHungServer } from "../../helpers/deadEndpoints.js";

describe("servedBySimulator", () => {
  let sim: SimulatorHandle;
  let vllmLike: http.Server;
  let vllmUrl: string;
  before(async () => {
    sim = await startSimulator({ seed: 1, quiet: true });
    // What vLLM answers on /v1/models: no simulator header, no fingerprint.
    vllmLike = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ id: "Qwen/Qwen2.5-7B-Instruct", object: "model", owned_by: "vllm" }] }));
    });
    await new Promise<void>((r) => vllmLike.listen(0, "127.0.0.1", r));
    vllmUrl = `http://127.0.0.1:${(vllmLike.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    await sim.close();
    await new Promise((r) => vllmLike.close(r));
  });

  it("is true for the simulator, with or without a trailing slash", async () => {
    assert.equal(await servedBySimulator(sim.url), true);
    assert.equal(await servedBySimulator(sim.url + "/"), true);
  });

  it("is false for a server that does not carry the simulator's mark", async () => {
    assert.equal(await servedBySimulator(vllmUrl), false);
  });

  it("is undefined (unknown) when the endpoint refuses or stays silent", async () => {
    assert.equal(await servedBySimulator(`http://127.0.0.1:${await closedPort()}/v1`), undefined);
    const hung = await startHungServer();
    try {
      assert.equal(await servedBySimulator(hung.baseUrl, { timeoutMs: 300 }), undefined);
    } finally {
      await hung.close();
    }
  });
});
