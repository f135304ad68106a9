/**
 * A worker whose start fails after it connected ends by itself, with its error: what it opened (the
 * database, both Temporal connections, workers already created) is closed, so nothing holds the
 * process open nor leaves the SDK's SIGTERM handler without a worker to stop.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { cliEnvOf, runCli } from "../helpers/cli.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

const HELPER = path.join(path.dirname(fileURLToPath(import.meta.url)), "../helpers/workerStartFails.js");
/** Start-up and the failure take a few seconds here; a process held open would run to the kill. */
const EXIT_WITHIN_MS = 30_000;
let env: TestEnv;

before(async () => {
  env = await createTestEnv("worker-start-failure");
});

after(async () => {
  await env?.close();
});

test("toolloop worker on a namespace that does not exist: exit 1 naming TEMPORAL_NAMESPACE, after opening the database and both connections", async () => {
  const r = await runCli(["worker", "--base-dir", env.workDir], { ...cliEnvOf(env), TEMPORAL_NAMESPACE: "no-such-namespace" }, EXIT_WITHIN_MS);
  assert.equal(r.status, 1, `exit ${r.status} after ${r.ms} ms: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error: Temporal namespace "no-such-namespace" does not exist at ${env.temporalAddress} \\(TEMPORAL_NAMESPACE\\); `, "m"));
  assert.doesNotMatch(r.stderr, /unexpected|\n\s+at /);
});

test("createWorkers failing after the workflow worker was created releases it: the process exits by itself", async () => {
  const child = spawn(process.execPath, [HELPER, env.temporalAddress, env.namespace, env.queuePrefix], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), EXIT_WITHIN_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once("exit", (c, s) => resolve([c, s])));
  clearTimeout(killer);
  assert.equal(signal, null, `still running ${EXIT_WITHIN_MS} ms after its failed start (killed): ${out}`);
  assert.equal(code, 0, out);
  assert.match(out, /^start failed: .*poller behavior must be at least 1/m);
});
