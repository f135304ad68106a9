#!/usr/bin/env node
/**
 * The image's HEALTHCHECK: exits 0 when a worker in this container polls the deployment's task
 * queues (see workerHealth.ts), 1 otherwise, with one line saying why. Reads the same environment
 * as the CLI (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TOOLLOOP_QUEUE_PREFIX). A worker that does not
 * poll because every activity slot is busy counts as healthy while its status file
 * (workerStatusFile.ts) shows a server round trip on its own connection in the last 90 s.
 */
import os from "node:os";
import { Connection } from "@temporalio/client";
import { cliEnv } from "../cli/env.js";
import { taskQueues } from "../taskQueues.js";
import { checkWorkerHealth } from "./workerHealth.js";
import { busyWorkerVerdict, readWorkerStatuses, workerStatusDir } from "./workerStatusFile.js";

let env: ReturnType<typeof cliEnv>;
try {
  env = cliEnv();
} catch (err) {
  // A malformed variable: say which, as the CLI does, and count as unhealthy.
  console.log(`unhealthy: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
try {
  const connection = await Connection.connect({ address: env.temporalAddress, connectTimeout: "5s" });
  try {
    const polled = await checkWorkerHealth({ connection, namespace: env.namespace, queuePrefix: env.queuePrefix, hostname: os.hostname() });
    // A worker with every activity slot busy does not poll; its own status file (with a recent server
    // round trip on its connection) says so. One that lost its connection stays unhealthy.
    const queues = Object.values(taskQueues(env.queuePrefix));
    const busy = polled.healthy
      ? undefined
      : busyWorkerVerdict({ records: readWorkerStatuses(workerStatusDir()), hostname: os.hostname(), queues, now: Date.now(), maxAgeMs: 90_000 });
    const health = busy ?? polled;
    console.log(`${health.healthy ? "healthy" : "unhealthy"}: ${health.detail}${busy && !busy.healthy ? `; ${polled.detail}` : ""}`);
    process.exitCode = health.healthy ? 0 : 1;
  } finally {
    await connection.close();
  }
} catch (err) {
  console.log(`unhealthy: cannot reach Temporal at ${env.temporalAddress}: ${(err as Error).message}`);
  process.exitCode = 1;
}
