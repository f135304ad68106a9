/**
 * Where serve.policy reaches the server it started: the job's node on a cluster (the readiness check
 * and the URL later stages call), the configured host otherwise.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { baseUrlOf } from "../../../src/stages/serve/policy/handler.js";
import type { LauncherKind } from "../../../src/training/launchers/launcher.js";
import { urlOn } from "../../../src/training/servedPolicyRestart.js";

const job = (launcher: LauncherKind) => ({
  ref: { launcher, name: "tl-c-i1-serve-policy-a1", externalId: "x" },
  request: {
    name: "tl-c-i1-serve-policy-a1",
    command: ["vllm", "serve"],
    env: { TOOLLOOP_SERVE_PORT: "8011" },
    workDir: "/w",
    resources: { nodes: 1, gpusPerNode: 1 },
  },
});
const running = (nodes?: string[]) => ({ state: "running" as const, ...(nodes ? { nodes } : {}) });
const defaultHost = { host: "127.0.0.1" };

test("serve.policy URL: a Ray job's server is reached on the head node (where the entrypoint runs), not on the worker's loopback", () => {
  assert.equal(baseUrlOf(defaultHost, job("ray"), running(["10.0.0.5"]), 8011), "http://10.0.0.5:8011/v1");
  assert.equal(baseUrlOf(defaultHost, job("ray"), running(["fd00::5"]), 8011), "http://[fd00::5]:8011/v1");
});

test("serve.policy URL: a Slurm job's server is reached on its first node", () => {
  assert.equal(baseUrlOf(defaultHost, job("slurm"), running(["gpu07", "gpu08"]), 8011), "http://gpu07:8011/v1");
});

test("serve.policy URL: a local job, a job without known nodes, or a configured host keep the host", () => {
  assert.equal(baseUrlOf(defaultHost, job("local"), running(["somehost"]), 8011), "http://127.0.0.1:8011/v1");
  assert.equal(baseUrlOf(defaultHost, job("ray"), running(), 8011), "http://127.0.0.1:8011/v1");
  assert.equal(baseUrlOf({ host: "policy.internal" }, job("ray"), running(["10.0.0.5"]), 8011), "http://policy.internal:8011/v1");
});

test("a restarted server's URL: the new node replaces the old job's node on a cluster; a local job or a configured host keeps the recorded URL", () => {
  const old = { progress: { done: 0, nodes: ["node3"] } };
  assert.equal(urlOn("http://node3:8011/v1", old, "slurm", running(["node9"])), "http://node9:8011/v1");
  assert.equal(urlOn("http://node3:8011/v1", old, "ray", running(["node3"])), "http://node3:8011/v1");
  assert.equal(urlOn("http://gpu.example:8011/v1", old, "slurm", running(["node9"])), "http://gpu.example:8011/v1", "a configured host is kept");
  assert.equal(urlOn("http://127.0.0.1:8011/v1", { progress: null }, "local", running(["127.0.0.1"])), "http://127.0.0.1:8011/v1");
  assert.equal(urlOn("http://node3:8011/v1", old, "slurm", running()), "http://node3:8011/v1", "no node said yet");
  assert.equal(urlOn("http://node3:8011/v1", { progress: { nodes: ["node3"] } }, "slurm", running(["fe80::1"])), "http://[fe80::1]:8011/v1");
});
