import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Counter, Registry } from "prom-client";
import { parseMetricsAddress, startMetricsServer } from "../../../src/metrics/server.js";
import { closedPort } from "../../helpers/deadEndpoints.js";

test("--metrics-address takes host:port (IPv6 in brackets) and names what is wrong otherwise", () => {
  assert.deepEqual(parseMetricsAddress("127.0.0.1:9464"), { host: "127.0.0.1", port: 9464 });
  assert.deepEqual(parseMetricsAddress("[::1]:0"), { host: "::1", port: 0 });
  assert.throws(() => parseMetricsAddress("9464"), /expected host:port such as 127\.0\.0\.1:9464/);
  assert.throws(() => parseMetricsAddress("localhost:70000"), /port must be 0-65535, got 70000/);
});

test("/metrics joins our registry and the SDK exporter's text; without the SDK it says so and still serves ours", async () => {
  const registry = new Registry();
  new Counter({ name: "toolloop_test_total", help: "a test counter", registers: [registry] }).inc(3);
  const sdk = http.createServer((_req, res) =>
    res.writeHead(200, { "content-type": "text/plain" }).end("# TYPE temporal_x_total counter\ntemporal_x_total 7\n"),
  );
  await new Promise<void>((resolve) => sdk.listen(0, "127.0.0.1", resolve));
  const sdkUrl = `http://127.0.0.1:${(sdk.address() as AddressInfo).port}/metrics`;
  const joined = await startMetricsServer({ address: "127.0.0.1:0", registry, sdkMetricsUrl: sdkUrl, processMetrics: false });
  const dead = await startMetricsServer({
    address: "127.0.0.1:0",
    registry,
    sdkMetricsUrl: `http://127.0.0.1:${await closedPort()}/metrics`,
    processMetrics: false,
  });
  try {
    const text = await (await fetch(joined.url)).text();
    assert.match(text, /^toolloop_test_total 3$/m);
    assert.match(text, /^temporal_x_total 7$/m);
    const alone = await (await fetch(dead.url)).text();
    assert.match(alone, /^toolloop_test_total 3$/m);
    assert.match(alone, /^# Temporal SDK metrics unavailable from http:\/\/127\.0\.0\.1:\d+\/metrics: /m);
    assert.equal((await fetch(joined.url.replace("/metrics", "/other"))).status, 404);
    await assert.rejects(startMetricsServer({ address: new URL(joined.url).host, registry }), /cannot listen for metrics on 127\.0\.0\.1:\d+: address in use/);
  } finally {
    await joined.close();
    await dead.close();
    await new Promise<void>((resolve) => sdk.close(() => resolve()));
  }
});
