/**
 * A real local Ray head for tests (from .venv-ray, built by scripts/ensure-ray-venv.sh): one node,
 * 2 CPUs, no GPUs, a small object store, its session in a temp dir, its dashboard (and Jobs REST API)
 * on 127.0.0.1 at a free port. Ray itself resolves 127.0.0.1 to the machine's own address for its node
 * id and binds some internal ports on all interfaces; nothing leaves the machine.
 *
 * Stopping kills exactly this head's processes: those in the process group of its `ray start` and
 * their descendants (job supervisors, workers, the jobs' own processes). `ray stop --force` is not
 * used because it kills every Ray process on the machine, another test's head included.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const ENSURE_RAY_VENV_SCRIPT = path.join(REPO_ROOT, "scripts", "ensure-ray-venv.sh");

export interface RayHead {
  /** The dashboard URL, the address the Ray launcher takes: http://127.0.0.1:<port>. */
  address: string;
  tempDir: string;
  /** From spawning `ray start` to the Jobs API answering. */
  startupMs: number;
  stop(): Promise<void>;
}

/** Builds .venv-ray if needed (instant when its stamp matches) and returns its `ray` CLI. */
export function ensureRayVenv(): string {
  const res = spawnSync("bash", [ENSURE_RAY_VENV_SCRIPT], { encoding: "utf8", timeout: 15 * 60_000 });
  if (res.status !== 0) throw new Error(`scripts/ensure-ray-venv.sh failed (${res.status ?? res.signal}): ${res.stderr || res.stdout}`);
  return path.join(process.env.RAY_VENV ?? path.join(REPO_ROOT, ".venv-ray"), "bin", "ray");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no free port"))));
    });
  });
}

/** Distinct free ports, all above Ray's default worker port range (10002..19999). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const port = await freePort();
    if (port > 20_000) ports.add(port);
  }
  return [...ports];
}

/** pid -> [ppid, pgid] of every process, from /proc. */
function processTable(): Map<number, [number, number]> {
  const table = new Map<number, [number, number]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name (which may hold spaces and parentheses): state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(entry), [Number(fields[1]), Number(fields[2])]);
    } catch {
      // The process ended while we looked.
    }
  }
  return table;
}

/** The processes of the group `pgid` and all their descendants, whatever group they moved to. */
function processTreeOfGroup(pgid: number): number[] {
  const table = processTable();
  const members = new Set<number>();
  for (const [pid, [, group]] of table) if (group === pgid) members.add(pid);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, [ppid]] of table) {
      if (!members.has(pid) && members.has(ppid)) {
        members.add(pid);
        grew = true;
      }
    }
  }
  return [...members];
}

function killTree(pgid: number): number {
  const pids = processTreeOfGroup(pgid);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return pids.length;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export interface RayHeadOptions {
  log?: (m: string) => void;
  readyTimeoutMs?: number;
  /**
   * The seven ports `ray start` is given (dashboard, GCS, client server, agent HTTP and gRPC, runtime
   * env agent, metrics) for each start attempt (1, 2, ...); free ones by default. Tests of the retry
   * hand it a taken one.
   */
  pickPorts?: (attempt: number) => Promise<number[]>;
}

/** How many port sets a start tries before it reports the failure. */
const PORT_ATTEMPTS = 3;

/**
 * What `ray start` prints when a port it was given is taken: the dashboard's "Failed to bind to
 * 127.0.0.1:N because it's already occupied" (at once), or the GCS's "Failed to start the grpc
 * server. The specified port is N" (after ~40 s of its own retries).
 */
const PORT_TAKEN = /already occupied|Failed to start the grpc server|address already in use/i;

/**
 * Starts a Ray head on free loopback ports. The ports are free when probed, but another process of
 * a parallel test run can bind one before Ray does, and Ray has no "pick your own" for all of them:
 * a start that fails on a taken port is retried on new ones; other failures are not.
 */
export async function startRayHead(opts: RayHeadOptions = {}): Promise<RayHead> {
  const log = opts.log ?? (() => undefined);
  const pickPorts = opts.pickPorts ?? (() => freePorts(7));
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRayHeadOn(await pickPorts(attempt), opts);
    } catch (err) {
      if (attempt >= PORT_ATTEMPTS || !(err instanceof Error) || !PORT_TAKEN.test(err.message)) throw err;
      const line = err.message.split("\n").find((l) => PORT_TAKEN.test(l)) ?? "";
      log(`[ray-head] start attempt ${attempt} of ${PORT_ATTEMPTS} hit a taken port, retrying on new ports: ${line.trim().slice(0, 300)}`);
    }
  }
}

async function startRayHeadOn(ports: number[], opts: RayHeadOptions): Promise<RayHead> {
  const log = opts.log ?? (() => undefined);
  const rayCli = ensureRayVenv();
  // Short: Ray's Unix socket paths live under it (at most 107 bytes).
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir().length <= 20 ? os.tmpdir() : "/tmp", "tlray-"));
  const [dashboardPort, gcsPort, clientPort, agentHttpPort, agentGrpcPort, runtimeEnvPort, metricsPort] = ports;
  const args = [
    "start",
    "--head",
    "--node-ip-address=127.0.0.1",
    "--dashboard-host=127.0.0.1",
    `--dashboard-port=${dashboardPort}`,
    `--port=${gcsPort}`,
    `--ray-client-server-port=${clientPort}`,
    `--dashboard-agent-listen-port=${agentHttpPort}`,
    `--dashboard-agent-grpc-port=${agentGrpcPort}`,
    `--runtime-env-agent-port=${runtimeEnvPort}`,
    `--metrics-export-port=${metricsPort}`,
    "--num-cpus=2",
    "--num-gpus=0",
    "--object-store-memory=80000000",
    "--include-dashboard=true",
    "--include-log-monitor=false",
    "--disable-usage-stats",
    `--temp-dir=${tempDir}`,
  ];
  const address = `http://127.0.0.1:${dashboardPort}`;
  const started = Date.now();
  const logFile = path.join(tempDir, "ray-start.log");
  const out = fs.openSync(logFile, "w");
  // Its own process group: every daemon `ray start` leaves behind stays in it (see killTree).
  const child = spawn(rayCli, args, { detached: true, stdio: ["ignore", out, out], env: { ...process.env, RAY_USAGE_STATS_ENABLED: "0" } });
  fs.closeSync(out);
  const pgid = child.pid;
  if (pgid === undefined) throw new Error(`could not spawn ${rayCli}`);
  // A test process that dies without stop() still takes its head with it.
  const onExit = () => killTree(pgid);
  process.once("exit", onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", onExit);
    const killed = killTree(pgid);
    log(`[ray-head] stopped ${killed} processes of the head at ${address}`);
    fs.rmSync(tempDir, { recursive: true, force: true });
  };

  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (c) => resolve(c));
    });
    if (code !== 0) throw new Error(`ray start exited with ${code}: ${fs.readFileSync(logFile, "utf8").slice(-2000)}`);
    const deadline = started + (opts.readyTimeoutMs ?? 120_000);
    while (!(await answers(`${address}/api/version`)) || !(await answers(`${address}/api/jobs/`))) {
      if (Date.now() > deadline) throw new Error(`the Ray dashboard at ${address} did not answer within ${opts.readyTimeoutMs ?? 120_000} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const startupMs = Date.now() - started;
  log(`[ray-head] Ray head at ${address} ready in ${startupMs} ms (session in ${tempDir})`);
  return { address, tempDir, startupMs, stop };
}
