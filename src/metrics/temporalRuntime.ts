/**
 * The Temporal SDK's runtime metrics (workflow and activity task latencies, slots, polls, sticky
 * cache, ...), exported by the SDK's own Prometheus exporter on a private loopback port that the
 * worker's metrics server scrapes and appends (src/metrics/server.ts). Runtime.install must run
 * before the process's first NativeConnection, and only once.
 */
import { Runtime } from "@temporalio/worker";
import { SdkLogger } from "../ops/sdkLogger.js";
import { findFreePort } from "../services/ports.js";

/** How many ports the exporter tries before the worker's start fails. */
const EXPORTER_PORT_ATTEMPTS = 5;

/**
 * Installs the SDK runtime with a Prometheus exporter; returns the exporter's /metrics URL. The SDK
 * does not say which port it bound, so the port is probed free here; another process can take it
 * before the exporter binds, which Runtime.install reports ("Failed to start prometheus metrics
 * exporter: Address already in use"). Such a start is retried on another port instead of failing the
 * worker's start.
 */
export async function installRuntimeWithMetrics(pickPort: (attempt: number) => Promise<number> = () => findFreePort("127.0.0.1")): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort(attempt);
    try {
      Runtime.install({
        logger: new SdkLogger(),
        telemetryOptions: {
          metrics: {
            // Prometheus conventions: counters end in _total, durations in seconds with the unit in the name.
            prometheus: { bindAddress: `127.0.0.1:${port}`, countersTotalSuffix: true, useSecondsForDurations: true, unitSuffix: true },
          },
        },
      });
      return `http://127.0.0.1:${port}/metrics`;
    } catch (err) {
      // A failed install leaves no runtime behind, so the next attempt can install again.
      if (attempt >= EXPORTER_PORT_ATTEMPTS || !/address already in use/i.test(String((err as Error)?.message))) throw err;
    }
  }
}
