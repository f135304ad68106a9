/**
 * Runs `temporal server start-dev` on free loopback ports with its state in a SQLite file under
 * `stateDir`, so a restart with the same stateDir keeps namespaces and workflow histories.
 *
 * Files in stateDir: temporal.db (state), temporal.log (server output), temporal.json (pid, address;
 * written once ready). When temporal.json names a live server for this stateDir, start returns that
 * server instead of starting a second one on the same database (SQLite would not allow both);
 * stop() on the returned handle stops it.
 */
import fs from "node:fs";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { Connection } from "@temporalio/client";
import { findTemporalCli } from "./temporalCli.js";
import { searchAttributeFlags } from "./searchAttributes.js";
import { findFreePorts } from "./ports.js";
import {
  cleanupOnParentExit,
  errorLines,
  fileSize,
  findAddressInUse,
  isProcessAlive,
  processCommandLine,
  readFileFrom,
  sleep,
  tailFile,
  terminateProcess,
} from "../util/childProcess.js";

export interface TemporalDevServerOptions {
  stateDir: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
  log?: (m: string) => void;
  /** Survives this process (own process group, unref'd); stop it later with stopTemporalDevServer. */
  detached?: boolean;
  readyTimeoutMs?: number;
}

export interface TemporalDevServer {
  /** host:port of the gRPC frontend, always 127.0.0.1. */
  address: string;
  uiUrl: string;
  namespace: string;
  pid: number;
  stop(): Promise<void>;
}

interface ServerInfo {
  pid: number;
  address: string;
  uiUrl: string;
  namespace: string;
  detached: boolean;
  dbFile: string;
}

const HOST = "127.0.0.1";
const STOP_GRACE_MS = 10_000;

function serverFiles(stateDir: string) {
  const dir = path.resolve(stateDir);
  return { dir, db: path.join(dir, "temporal.db"), log: path.join(dir, "temporal.log"), info: path.join(dir, "temporal.json") };
}

function readServerInfo(infoFile: string): ServerInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(infoFile, "utf8");
  } catch {
    return undefined;
  }
  try {
    const info = JSON.parse(text) as Partial<ServerInfo>;
    if (typeof info.pid === "number" && typeof info.address === "string" && typeof info.uiUrl === "string" && typeof info.namespace === "string") {
      return {
        pid: info.pid,
        address: info.address,
        uiUrl: info.uiUrl,
        namespace: info.namespace,
        detached: info.detached === true,
        dbFile: info.dbFile ?? "",
      };
    }
  } catch {
    // unreadable: treated as stale below
  }
  return undefined;
}

/** Alive and still the server we started (pids get reused; the command line names our db file). */
function isOurServer(info: ServerInfo): boolean {
  if (!isProcessAlive(info.pid)) return false;
  const cmdline = processCommandLine(info.pid);
  return cmdline === undefined || cmdline.includes(info.dbFile);
}

/** Resolves once the frontend answers and the namespace exists; throws the last error otherwise. */
async function probeReady(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } finally {
    await connection.close();
  }
}

function handleFor(info: ServerInfo, unregister: () => void, infoFile: string): TemporalDevServer {
  let stopping: Promise<void> | undefined;
  return {
    address: info.address,
    uiUrl: info.uiUrl,
    namespace: info.namespace,
    pid: info.pid,
    stop() {
      stopping ??= (async () => {
        unregister();
        await terminateProcess(info.pid, { group: info.detached, graceMs: STOP_GRACE_MS });
        fs.rmSync(infoFile, { force: true });
      })();
      return stopping;
    },
  };
}

export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  if (!opts.stateDir) throw new Error("startTemporalDevServer: stateDir is required");
  const namespace = opts.namespace ?? "default";
  const log = opts.log ?? (() => undefined);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const files = serverFiles(opts.stateDir);
  fs.mkdirSync(files.dir, { recursive: true });

  const existing = readServerInfo(files.info);
  if (existing && isOurServer(existing)) {
    if (existing.namespace !== namespace) {
      throw new Error(
        `a Temporal dev server for ${files.dir} is already running (pid ${existing.pid}) with namespace "${existing.namespace}", not "${namespace}"; stop it first`,
      );
    }
    await waitUntilReady(existing.address, namespace, readyTimeoutMs, () => !isProcessAlive(existing.pid), files.log);
    log(`reusing the running Temporal dev server at ${existing.address} (pid ${existing.pid})`);
    return handleFor(existing, () => undefined, files.info);
  }
  fs.rmSync(files.info, { force: true });

  const cli = await findTemporalCli({ log });
  // Fixed ports cannot be retried; free ports can lose a race to another process, so try again.
  const fixedPorts = opts.port !== undefined && opts.uiPort !== undefined;
  const attempts = fixedPorts ? 1 : 3;
  for (let attempt = 1; ; attempt++) {
    const [freeA, freeB] = await findFreePorts(2, HOST);
    const port = opts.port ?? (freeA as number);
    const uiPort = opts.uiPort ?? (opts.port === undefined ? (freeB as number) : (freeA as number));
    try {
      return await launch({ cli, files, port, uiPort, namespace, detached: opts.detached ?? false, readyTimeoutMs, log });
    } catch (err) {
      if (!(err instanceof PortInUseError)) throw err;
      // A port we chose: another process may hold it (then no retry helps). A free port we picked:
      // someone took it between our probe and the server's bind, or the server's own internal
      // ports clashed; new ports may work.
      const chosenByCaller = err.port !== undefined && (err.port === opts.port || err.port === opts.uiPort);
      if (chosenByCaller || attempt >= attempts) throw new Error(portInUseMessage(err, { chosenByCaller, attempts: attempt, logFile: files.log }));
      log(`port clash (${err.clash.line}); retrying with other ports`);
    }
  }
}

class PortInUseError extends Error {
  constructor(
    readonly clash: { line: string; port?: number },
    readonly port: number | undefined,
    readonly ours: { port: number; uiPort: number },
  ) {
    super(clash.line);
  }
}

function portInUseMessage(err: PortInUseError, p: { chosenByCaller: boolean; attempts: number; logFile: string }): string {
  const which =
    err.port === err.ours.port
      ? `gRPC port ${err.port}`
      : err.port === err.ours.uiPort
        ? `UI port ${err.port}`
        : err.port !== undefined
          ? `internal port ${err.port}`
          : `a port (gRPC ${err.ours.port}, UI ${err.ours.uiPort}, or one it picked itself)`;
  const find =
    err.port !== undefined
      ? `Find the process holding it with \`ss -ltnp 'sport = :${err.port}'\` (or \`lsof -i :${err.port}\`) and stop it`
      : "Find the process holding it with `ss -ltnp`";
  const remedy = p.chosenByCaller
    ? `${find}, or start with another port`
    : `${find}; ${p.attempts} attempt(s) with freshly picked free ports all clashed, so something on this machine is binding ports fast`;
  return `Temporal dev server could not start: ${which} on ${HOST} is already in use. ${remedy}. The server said: ${err.clash.line} (full log: ${p.logFile})`;
}

async function launch(p: {
  cli: string;
  files: ReturnType<typeof serverFiles>;
  port: number;
  uiPort: number;
  namespace: string;
  detached: boolean;
  readyTimeoutMs: number;
  log: (m: string) => void;
}): Promise<TemporalDevServer> {
  const args = ["server", "start-dev", "--ip", HOST, "--port", String(p.port), "--ui-ip", HOST, "--ui-port", String(p.uiPort)];
  args.push("--db-filename", p.files.db, "--log-level", "warn", ...searchAttributeFlags());
  if (p.namespace !== "default") args.push("--namespace", p.namespace);

  // This start's section of the log (the file keeps every start's output) begins here.
  const logOffset = fileSize(p.files.log);
  fs.appendFileSync(p.files.log, `--- ${new Date().toISOString()} ${p.cli} ${args.join(" ")}\n`);
  const logFd = fs.openSync(p.files.log, "a");
  let child: ChildProcess;
  try {
    child = spawn(p.cli, args, { cwd: p.files.dir, stdio: ["ignore", logFd, logFd], detached: p.detached });
  } finally {
    fs.closeSync(logFd);
  }
  let exited: string | undefined;
  let spawnError: Error | undefined;
  child.once("error", (err) => (spawnError = err));
  child.once("exit", (code, sig) => (exited = sig ? `signal ${sig}` : `exit code ${code}`));
  const pid = child.pid;
  if (pid === undefined) {
    await sleep(0); // let the 'error' event arrive
    throw new Error(`could not start ${p.cli}: ${spawnError?.message ?? "no pid"}`);
  }
  // Until we hand the server out, it dies with us; detached servers are released once ready.
  let unregister = cleanupOnParentExit(() => killQuietly(pid, p.detached));
  const address = `${HOST}:${p.port}`;
  p.log(`starting Temporal dev server on ${address} (pid ${pid}, log ${p.files.log})`);
  try {
    await waitUntilReady(address, p.namespace, p.readyTimeoutMs, () => exited !== undefined || spawnError !== undefined, p.files.log);
  } catch (err) {
    unregister();
    if (exited === undefined) await terminateProcess(pid, { group: p.detached, graceMs: 2_000 }).catch(() => undefined);
    const section = readFileFrom(p.files.log, logOffset);
    const clash = findAddressInUse(section);
    if (clash) throw new PortInUseError(clash, clash.port, { port: p.port, uiPort: p.uiPort });
    const errors = errorLines(section);
    if (errors.length > 0 && err instanceof Error) err.message = `${err.message}\nerror lines of this start:\n${errors.join("\n")}`;
    throw err;
  }
  if (p.detached) {
    unregister();
    unregister = () => undefined;
    child.unref();
  }
  const info: ServerInfo = { pid, address, uiUrl: `http://${HOST}:${p.uiPort}`, namespace: p.namespace, detached: p.detached, dbFile: p.files.db };
  fs.writeFileSync(p.files.info, JSON.stringify(info, null, 2) + "\n");
  p.log(`Temporal dev server ready at ${address}, UI ${info.uiUrl}`);
  return handleFor(info, unregister, p.files.info);
}

function killQuietly(pid: number, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, "SIGTERM");
  } catch {
    // already gone
  }
}

async function waitUntilReady(address: string, namespace: string, timeoutMs: number, hasExited: () => boolean, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (hasExited()) {
      throw new Error(`Temporal dev server exited before it was ready; last lines of ${logFile}:\n${tailFile(logFile, 20)}`);
    }
    try {
      await probeReady(address, namespace);
      return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`Temporal dev server at ${address} not ready after ${timeoutMs} ms (${reason}); last lines of ${logFile}:\n${tailFile(logFile, 20)}`);
    }
    await sleep(250);
  }
}

/** What temporal.json in stateDir says, and whether that server is still running. */
export function temporalDevServerStatus(stateDir: string): (Omit<ServerInfo, "dbFile"> & { running: boolean }) | undefined {
  const info = readServerInfo(serverFiles(stateDir).info);
  if (!info) return undefined;
  return { pid: info.pid, address: info.address, uiUrl: info.uiUrl, namespace: info.namespace, detached: info.detached, running: isOurServer(info) };
}

/** Stops the server recorded in stateDir (e.g. one started detached by another process). Idempotent. */
export async function stopTemporalDevServer(stateDir: string): Promise<boolean> {
  const files = serverFiles(stateDir);
  const info = readServerInfo(files.info);
  if (!info) return false;
  const running = isOurServer(info);
  if (running) await terminateProcess(info.pid, { group: info.detached, graceMs: STOP_GRACE_MS });
  fs.rmSync(files.info, { force: true });
  return running;
}
