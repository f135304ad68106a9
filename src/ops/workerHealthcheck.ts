#!/usr/bin/env node
/**
 * The image's HEALTHCHECK: exits 0 when a worker in this container polls the deployment's task
 * queues (see workerHealth.ts), 1 otherwise, with one line saying why. Reads the same environment
 * as the CLI (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TOOLLOOP_QUEUE_PREFIX).
 */
import os from "node:os";
import { Connection } from "@temporalio/client";
import { cliEnv } from "../cli/env.js";
import { checkWorkerHealth } from "./workerHealth.js";

const env = cliEnv();
try {
  const connection = await Connection.connect({ address: env.temporalAddress, connectTimeout: "5s" });
  try {
    const health = await checkWorkerHealth({ connection, namespace: env.namespace, queuePrefix: env.queuePrefix, hostname: os.hostname() });
    console.log(`${health.healthy ? "healthy" : "unhealthy"}: ${health.detail}`);
    process.exitCode = health.healthy ? 0 : 1;
  } finally {
    await connection.close();
  }
} catch (err) {
  console.log(`unhealthy: cannot reach Temporal at ${env.temporalAddress}: ${(err as Error).message}`);
  process.exitCode = 1;
}
