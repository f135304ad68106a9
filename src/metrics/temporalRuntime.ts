/**
 * The Temporal SDK's runtime metrics (workflow and activity task latencies, slots, polls, sticky
 * cache, ...), exported by the SDK's own Prometheus exporter on a private loopback port that the
 * worker's metrics server scrapes and appends (src/metrics/server.ts). Runtime.install must run
 * before the process's first NativeConnection, and only once.
 */
import { Runtime } from "@temporalio/worker";
import { findFreePort } from "../services/ports.js";

/** Installs the SDK runtime with a Prometheus exporter; returns the exporter's /metrics URL. */
export async function installRuntimeWithMetrics(): Promise<string> {
  const port = await findFreePort("127.0.0.1");
  Runtime.install({
    telemetryOptions: {
      metrics: {
        // Prometheus conventions: counters end in _total, durations in seconds with the unit in the name.
        prometheus: { bindAddress: `127.0.0.1:${port}`, countersTotalSuffix: true, useSecondsForDurations: true, unitSuffix: true },
      },
    },
  });
  return `http://127.0.0.1:${port}/metrics`;
}
