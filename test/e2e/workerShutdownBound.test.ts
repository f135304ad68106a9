/**
 * A worker asked to stop ends in bounded time even when a batch ignores its cancellation (a batch stuck
 * in the database pool's retries while PostgreSQL was down kept a SIGTERMed worker up for 116 s).
 * createWorkers gives every worker a force time; past it the run fails and the caller exits.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { NativeConnection } from "@temporalio/worker";
import { activityDepsFor } from "../../src/cli/worker.js";
import { createWorkers, DEFAULT_SHUTDOWN_FORCE_TIME_MS } from "../../workers/createWorkers.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

const HELPER = path.join(path.dirname(fileURLToPath(import.meta.url)), "../helpers/workerStuckShutdown.js");
let env: TestEnv;

before(async () => {
  env = await createTestEnv("shutdown-bound");
});

after(async () => {
  await env?.close();
});

test("every worker createWorkers builds has the default force time", async () => {
  const connection = await NativeConnection.connect({ address: env.temporalAddress });
  try {
    const workers = await createWorkers({
      connection,
      namespace: env.namespace,
      queuePrefix: `${env.queuePrefix}-defaults`,
      activityDeps: activityDepsFor(env.db, env.workDir, () => undefined),
    });
    await Promise.allSettled(workers.map((w) => w.runUntil(Promise.resolve())));
    assert.deepEqual(
      workers.map((w) => w.options.shutdownForceTimeMs),
      workers.map(() => DEFAULT_SHUTDOWN_FORCE_TIME_MS),
    );
  } finally {
    await connection.close();
  }
});

test("a worker stopped while a batch ignores its cancellation gives up at its force time (3 s here)", { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [HELPER, env.temporalAddress, env.namespace, env.queuePrefix, env.databaseUrl, env.workDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), 45_000);
  await new Promise((resolve) => child.once("exit", resolve));
  clearTimeout(killer);
  const m = /^outcome (stopped|gave up) (\d+)$/m.exec(out);
  assert.ok(m, `the helper's run ended (else it was killed after 45 s): ${out.slice(-2000)}`);
  assert.equal(m[1], "gave up");
  assert.ok(Number(m[2]) < 6_000, `gave up ${m[2]} ms after the shutdown request`);
});
