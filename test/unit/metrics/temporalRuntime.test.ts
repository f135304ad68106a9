/**
 * The SDK's Prometheus exporter when the port probed for it is taken before it binds: the runtime is
 * installed again on another port and its /metrics answers, instead of the worker's start failing.
 * (Its own test file: the SDK runtime is installed once per process.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { installRuntimeWithMetrics } from "../../../src/metrics/temporalRuntime.js";
import { findFreePort } from "../../../src/services/ports.js";
import { squatPort } from "../../helpers/portSquatter.js";

test("the SDK's metrics exporter moves to another port when its first is taken", async () => {
  const squatter = await squatPort();
  const taken = squatter.port;
  const attempts: number[] = [];
  try {
    const url = await installRuntimeWithMetrics(async (attempt) => {
      attempts.push(attempt);
      return attempt === 1 ? taken : findFreePort("127.0.0.1");
    });
    assert.deepEqual(attempts, [1, 2]);
    assert.notEqual(new URL(url).port, String(taken));
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
  } finally {
    await squatter.close();
  }
});
