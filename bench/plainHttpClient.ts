/**
 * The baseline the worker's CPU per request is compared with: a plain keep-alive `node:http` client
 * sending the same request bodies to the same simulator at the same concurrency, each response read
 * and JSON-parsed, nothing else (no retries, no accounting, no database). Forked by
 * bench/synthesisThroughput.ts so that its CPU is counted alone, from its own process.cpuUsage().
 *
 * With `loadModules` it first imports those modules (and runs nothing of them): the same client in a
 * process that carries the worker's code, a control for what the process's size costs the same HTTP
 * work (mostly V8's memory reducer, armed by the load: docs/worker-throughput.md).
 *
 *   argv[2]: JSON { url, bodiesFile, concurrency, requests, warmUpShare, loadModules? }
 *   -> { type: "done", requests, failures, cpuMs, systemCpuMs, wallMs, steady: { requests, cpuMs } } (steady: the
 *      requests after the first warmUpShare of them, and the CPU they took)
 */
import fs from "node:fs";
import http from "node:http";

const { url, bodiesFile, concurrency, requests, warmUpShare, loadModules } = JSON.parse(process.argv[2] ?? "{}") as {
  url: string;
  bodiesFile: string;
  concurrency: number;
  requests: number;
  warmUpShare: number;
  loadModules?: string[];
};
for (const m of loadModules ?? []) await import(m);
const bodies = fs.readFileSync(bodiesFile, "utf8").split("\n");
const target = new URL(url.replace(/\/+$/, "") + "/chat/completions");
const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

function post(body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.setEncoding("utf8");
        let text = "";
        res.on("data", (c: string) => (text += c));
        res.on("end", () => {
          try {
            JSON.parse(text);
            resolve(res.statusCode === 200);
          } catch {
            resolve(false);
          }
        });
      },
    );
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

let next = 0;
let completed = 0;
let failures = 0;
// The steady-state window starts when this share of the requests has completed (as in the worker's).
const warmUpAt = Math.ceil(requests * warmUpShare);
let warm: NodeJS.CpuUsage | undefined;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      const body = bodies[next++ % bodies.length]!;
      if (!(await post(body))) failures++;
      if (++completed === warmUpAt) warm = process.cpuUsage();
    }
  }),
);
const cpu = process.cpuUsage(cpu0);
const steady = process.cpuUsage(warm);
process.send?.({
  type: "done",
  requests,
  failures,
  cpuMs: (cpu.user + cpu.system) / 1000,
  systemCpuMs: cpu.system / 1000,
  wallMs: performance.now() - t0,
  steady: { requests: requests - warmUpAt, cpuMs: (steady.user + steady.system) / 1000 },
});
agent.destroy();
process.disconnect?.();
