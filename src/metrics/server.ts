/**
 * The worker's one Prometheus scrape target: `GET /metrics` serves toolloop's registry followed by
 * the Temporal SDK's runtime metrics, which the SDK's own exporter serves on a private loopback
 * port (src/metrics/temporalRuntime.ts) and this server fetches on each scrape. The two sets never
 * share a name (ours start `toolloop_`, the SDK's `temporal_`), so the joined text is one valid
 * exposition.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, type Registry } from "prom-client";

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics */
  url: string;
  close(): Promise<void>;
}

/** How long a scrape waits for the SDK's exporter before serving ours alone (with a comment saying so). */
const SDK_SCRAPE_TIMEOUT_MS = 2000;

/** `host:port` (IPv6 in brackets), as `--metrics-address` takes it; port 0 picks a free one. */
export function parseMetricsAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address.trim()) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(address.trim());
  if (!m) throw new Error(`expected host:port such as 127.0.0.1:9464 (0.0.0.0:9464 to listen on every interface), got ${JSON.stringify(address)}`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`port must be 0-65535, got ${port}`);
  return { host: m[1] as string, port };
}

export async function startMetricsServer(opts: {
  address: string;
  registry: Registry;
  /** The SDK exporter's URL (http://127.0.0.1:<port>/metrics); absent: only toolloop's metrics. */
  sdkMetricsUrl?: string;
  /** Node process metrics (CPU, memory, event loop lag) as `toolloop_process_*` / `toolloop_nodejs_*` (default true). */
  processMetrics?: boolean;
}): Promise<MetricsServer> {
  const { host, port } = parseMetricsAddress(opts.address);
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: opts.registry, prefix: "toolloop_" });
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" || (path !== "/metrics" && path !== "/")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are at /metrics\n");
      return;
    }
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/plain" }).end("toolloop worker: Prometheus metrics at /metrics\n");
      return;
    }
    exposition(opts.registry, opts.sdkMetricsUrl).then(
      (text) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen for metrics on ${opts.address}: ${err.code === "EADDRINUSE" ? "address in use" : err.message}`)),
    );
    server.listen({ host, port }, resolve);
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${shownHost}:${bound.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function exposition(registry: Registry, sdkMetricsUrl: string | undefined): Promise<string> {
  const ours = await registry.metrics();
  if (!sdkMetricsUrl) return ours;
  let sdk: string;
  try {
    const r = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(SDK_SCRAPE_TIMEOUT_MS) });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    sdk = await r.text();
  } catch (err) {
    sdk = `# Temporal SDK metrics unavailable from ${sdkMetricsUrl}: ${err instanceof Error ? err.message : String(err)}\n`;
  }
  return `${ours.endsWith("\n") ? ours : `${ours}\n`}${sdk}`;
}
