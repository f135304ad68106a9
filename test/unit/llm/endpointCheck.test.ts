import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseCampaignConfig, type CampaignConfig } from "../../../src/config/campaignConfig.js";
import { checkCampaignEndpoints, endpointNeeds, EndpointCheckError, fetchServedModels } from "../../../src/llm/endpointCheck.js";
import { startSimulator, type SimulatorHandle } from "../../../src/llm/simulator/server.js";
import { closedPort, startHungServer } from "../../helpers/deadEndpoints.js";

const EXAMPLE = path.resolve("examples/demo.campaign.json");

function configFor(over: (raw: Record<string, unknown>) => void): CampaignConfig {
  const raw = JSON.parse(readFileSync(EXAMPLE, "utf8")) as Record<string, unknown>;
  over(raw);
  const r = parseCampaignConfig(raw);
  if (!r.ok) throw r.error;
  return r.config;
}

const setBaseUrl = (raw: Record<string, unknown>, url: string) => {
  (raw.endpoints as Record<string, { baseUrl: string }>).simulator!.baseUrl = url;
};

async function checkError(config: CampaignConfig, timeoutMs?: number): Promise<EndpointCheckError> {
  try {
    await checkCampaignEndpoints(config, { timeoutMs });
  } catch (err) {
    assert.ok(err instanceof EndpointCheckError, String(err));
    return err;
  }
  assert.fail("expected the check to fail");
}

let sim: SimulatorHandle;
before(async () => {
  sim = await startSimulator({ seed: 1, quiet: true });
});
after(async () => {
  await sim.close();
});

describe("campaign start's endpoint check", () => {
  it("the demo config passes against the simulator, naming what each endpoint serves", async () => {
    const lines: string[] = [];
    const results = await checkCampaignEndpoints(
      configFor((raw) => setBaseUrl(raw, sim.url)),
      { log: (l) => lines.push(l) },
    );
    assert.equal(results.length, 1);
    assert.match(lines[0] ?? "", /^endpoint simulator \(http:\/\/127\.0\.0\.1:\d+\/v1\): serves toolloop-sim-generator for generator, /);
    assert.match(lines[0] ?? "", /toolloop-sim-judge for judge$/);
    // The demo's policy is the model its own serve.policy stage serves: not there before the campaign runs.
    assert.match(lines[1] ?? "", /^endpoint check: not checked \(served by serve\.policy at run time\): policy for evaluate\.bfclFast, /);
  });

  it("a model the endpoint does not serve names the role, the endpoint, the URL and the served models", async () => {
    const config = configFor((raw) => {
      setBaseUrl(raw, sim.url);
      (raw.roles as Record<string, { model: string }>).generator!.model = "Qwen/Qwen3-8B";
    });
    const err = await checkError(config);
    assert.equal(err.message.split("\n").length, 2, err.message);
    assert.match(
      err.message,
      new RegExp(
        `endpoint simulator \\(${sim.url.replace(/[/.]/g, "\\$&")}\\) does not serve model "Qwen/Qwen3-8B" for role generator \\(roles\\.generator\\.model; used by synthesize\\.singleTurn`,
      ),
    );
    assert.match(err.message, /it serves: "toolloop-sim", "toolloop-sim-generator", "toolloop-sim-judge", "toolloop-sim-policy"$/);
    assert.match(err.message, /--skip-endpoint-check/);
  });

  it("a refused connection, a hung server and an HTTP error each say what was wrong, naming endpoint, roles and URL", async () => {
    const port = await closedPort();
    const refused = await checkError(configFor((raw) => setBaseUrl(raw, `http://127.0.0.1:${port}/v1`)));
    assert.match(
      refused.message,
      new RegExp(`endpoint simulator \\(roles generator, judge\\) at http://127\\.0\\.0\\.1:${port}/v1: GET /models failed: connection refused`),
    );

    const hung = await startHungServer();
    try {
      const started = performance.now();
      const timedOut = await checkError(
        configFor((raw) => setBaseUrl(raw, hung.baseUrl)),
        300,
      );
      assert.match(timedOut.message, /GET \/models failed: no answer within 300 ms \(timeout\)/);
      assert.ok(performance.now() - started < 3000);
    } finally {
      await hung.close();
    }

    const server = http.createServer((req, res) => {
      res.writeHead(req.url === "/v1/models" ? 401 : 200, { "content-type": "application/json" });
      res.end(req.url === "/v1/models" ? JSON.stringify({ error: "invalid api key" }) : JSON.stringify({ hello: 1 }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const denied = await checkError(configFor((raw) => setBaseUrl(raw, `${base}/v1`)));
      assert.match(denied.message, /GET \/models failed: HTTP 401: "\{\\"error\\":\\"invalid api key\\"\}"/);
      const notOpenAi = await fetchServedModels(`${base}/other`);
      assert.deepEqual(notOpenAi.ok, false);
      assert.match(notOpenAi.ok ? "" : notOpenAi.problem, /no "data" list of models/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("a port fetch refuses outright (the WHATWG bad-ports list) is named as such, not 'fetch failed'", async () => {
    const blocked = await fetchServedModels("http://127.0.0.1:1/v1");
    assert.equal(blocked.ok, false);
    assert.match(blocked.ok ? "" : blocked.problem, /^fetch refuses this port \(on the WHATWG list of blocked ports/);
  });

  it("only roles the stages use are checked; the policy served by serve.policy is left to run time", () => {
    const config = configFor((raw) => {
      raw.endpoints = { ...(raw.endpoints as object), other: { baseUrl: "http://127.0.0.1:9/v1" } };
      (raw.roles as Record<string, unknown>).unused = { endpoint: "other", model: "x" };
    });
    const { needs, notChecked } = endpointNeeds(config);
    assert.deepEqual(
      needs.map((n) => n.endpoint),
      ["simulator"],
    );
    assert.deepEqual(
      needs[0]?.roles.map((r) => r.role),
      ["generator", "judge"],
    );
    assert.ok(notChecked.includes("policy for probe.greedy"), notChecked.join(", "));
  });
});
