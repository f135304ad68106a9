/**
 * A private PostgreSQL (Debian's server binaries) on a free loopback port with its own data dir.
 *
 * Running as root: initdb and postgres refuse to run as root, so they run as the `postgres` OS user
 * (`runuser -u postgres --`). The data dir is chowned to it, and every ancestor directory that
 * others cannot traverse gets g+x,o+x (search only, no listing) so that user can reach it; e.g. a
 * test's `fs.mkdtempSync` dir (0700) becomes 0711. The log file next to the data dir is pre-created
 * and chowned, so the parent needs no write access.
 *
 * A second start with the same dataDir while its server runs returns that server (same port); its
 * stop() stops it. A postmaster.pid left by a killed server is detected and removed before starting.
 */
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import os from "node:os";
import { spawn } from "node:child_process";
import pg from "pg";
import { findFreePort } from "./ports.js";
import { cleanupOnParentExit, isProcessAlive, processCommandLine, sleep, tailFile } from "../util/childProcess.js";

export const TOOLLOOP_DATABASE = "toolloop";
const POSTGRES_OS_USER = "postgres";
const HOST = "127.0.0.1";

export interface PostgresOptions {
  dataDir: string;
  port?: number;
  log?: (m: string) => void;
  /** Own session, so it survives this process and terminal signals; stop it later with stopPostgres. */
  detached?: boolean;
}

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/toolloop */
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const isRoot = (): boolean => process.getuid?.() === 0;

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Highest /usr/lib/postgresql/<version>/bin with initdb, else the directory of initdb on PATH. */
export function findPostgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  let versions: string[] = [];
  try {
    versions = fs.readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // not a Debian layout
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = path.join(root, v, "bin");
    if (isExecutable(path.join(bin, "initdb")) && isExecutable(path.join(bin, "pg_ctl"))) return bin;
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const initdb = path.join(dir, "initdb");
    if (isExecutable(initdb) && isExecutable(path.join(dir, "pg_ctl"))) return path.dirname(fs.realpathSync(initdb));
  }
  return undefined;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], opts: { detached?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: "/", stdio: ["ignore", "pipe", "pipe"], detached: opts.detached ?? false, env: opts.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", (err) => reject(new Error(`could not run ${command}: ${err.message}`)));
    child.once("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function lastLines(text: string, n = 15): string {
  return text.trim().split("\n").slice(-n).join("\n");
}

export async function ensurePostgresInstalled(log: (m: string) => void = () => undefined): Promise<{ binDir: string }> {
  const found = findPostgresBinDir();
  if (found) return { binDir: found };
  const hint = "install PostgreSQL's server binaries (Debian: apt-get install -y postgresql) or set DATABASE_URL to an existing database";
  if (!isRoot()) throw new Error(`PostgreSQL server binaries (initdb, pg_ctl) not found; ${hint}`);
  if (!isExecutable("/usr/bin/apt-get")) throw new Error(`PostgreSQL server binaries (initdb, pg_ctl) not found and apt-get is unavailable; ${hint}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "postgresql"]]) {
    log(`apt-get ${args.join(" ")}`);
    const r = await run("apt-get", args, { env });
    if (r.code !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.code}):\n${lastLines(r.stderr || r.stdout)}\n${hint}`);
  }
  const binDir = findPostgresBinDir();
  if (!binDir) throw new Error(`apt-get install postgresql finished but initdb/pg_ctl are still missing; ${hint}`);
  return { binDir };
}

/** Runs a PostgreSQL binary as the right OS user (postgres when we are root). */
function runPg(binDir: string, binary: string, args: string[], opts: { detached?: boolean } = {}): Promise<RunResult> {
  const file = path.join(binDir, binary);
  return isRoot() ? run("runuser", ["-u", POSTGRES_OS_USER, "--", file, ...args], opts) : run(file, args, opts);
}

async function postgresOsUser(): Promise<{ uid: number; gid: number }> {
  const uid = await run("id", ["-u", POSTGRES_OS_USER]);
  const gid = await run("id", ["-g", POSTGRES_OS_USER]);
  if (uid.code !== 0 || gid.code !== 0) {
    throw new Error(
      `running as root, PostgreSQL must run as the "${POSTGRES_OS_USER}" OS user, which does not exist (create it, e.g. by installing Debian's postgresql package, or run as a non-root user)`,
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

interface Layout {
  dataDir: string;
  logFile: string;
  socketDir: string;
}

/** Unix socket paths are limited to 107 bytes; a deep data dir gets a short socket dir in tmp. */
function socketDirFor(dataDir: string): string {
  if (Buffer.byteLength(path.join(dataDir, ".s.PGSQL.65535.lock")) < 100) return dataDir;
  return path.join(os.tmpdir(), `toolloop-pg-${crypto.createHash("sha1").update(dataDir).digest("hex").slice(0, 12)}`);
}

async function prepareDirs(dataDir: string, log: (m: string) => void): Promise<Layout> {
  if (dataDir.includes("'")) throw new Error(`startPostgres: dataDir must not contain a single quote: ${dataDir}`);
  const layout: Layout = { dataDir, logFile: path.join(path.dirname(dataDir), "postgres.log"), socketDir: socketDirFor(dataDir) };
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(layout.socketDir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(layout.logFile)) fs.writeFileSync(layout.logFile, "");
  if (!isRoot()) {
    fs.chmodSync(dataDir, 0o700);
    return layout;
  }
  const owner = await postgresOsUser();
  for (const p of new Set([dataDir, layout.socketDir, layout.logFile])) fs.chownSync(p, owner.uid, owner.gid);
  fs.chmodSync(dataDir, 0o700);
  for (const dir of new Set([...ancestors(dataDir), ...ancestors(layout.socketDir)])) {
    const st = fs.statSync(dir);
    if (st.uid !== owner.uid && (st.mode & 0o001) === 0) {
      fs.chmodSync(dir, (st.mode & 0o7777) | 0o011);
      log(`made ${dir} traversable (g+x,o+x) for the ${POSTGRES_OS_USER} OS user`);
    }
  }
  return layout;
}

function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(p); ; dir = path.dirname(dir)) {
    out.push(dir);
    if (dir === path.dirname(dir)) return out;
  }
}

interface PostmasterInfo {
  pid: number;
  port: number;
}

/** postmaster.pid: line 1 pid, line 4 port. */
function readPostmasterPid(dataDir: string): PostmasterInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  return { pid: Number(lines[0]), port: Number(lines[3]) };
}

function isPostmasterRunning(info: PostmasterInfo | undefined): boolean {
  if (!info || !isProcessAlive(info.pid)) return false;
  const cmdline = processCommandLine(info.pid);
  return cmdline === undefined || /postgres|postmaster/.test(cmdline);
}

async function initDataDir(binDir: string, dataDir: string, log: (m: string) => void): Promise<void> {
  if (fs.existsSync(path.join(dataDir, "PG_VERSION"))) return;
  if (fs.readdirSync(dataDir).length > 0) throw new Error(`startPostgres: dataDir ${dataDir} is not empty and is not a PostgreSQL data directory`);
  log(`initdb ${dataDir}`);
  const r = await runPg(binDir, "initdb", ["-D", dataDir, "--username=postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"]);
  if (r.code !== 0) throw new Error(`initdb -D ${dataDir} failed (exit ${r.code}):\n${lastLines(r.stderr || r.stdout)}`);
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: HOST, port, user: "postgres", database: "postgres" });
  await client.connect();
  try {
    const existing = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [TOOLLOOP_DATABASE]);
    if (existing.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${TOOLLOOP_DATABASE}`);
      } catch (err) {
        if ((err as { code?: string }).code !== "42P04") throw err; // created concurrently
      }
    }
  } finally {
    await client.end();
  }
}

type StartOutcome = { ok: true } | { ok: false; retry: "port" | "shmem" | false; message: string };

async function pgCtlStart(binDir: string, layout: Layout, port: number, detached: boolean): Promise<StartOutcome> {
  const serverOptions = `-p ${port} -k '${layout.socketDir}' -c listen_addresses=${HOST}`;
  fs.appendFileSync(layout.logFile, `--- ${new Date().toISOString()} pg_ctl start on port ${port}\n`);
  const r = await runPg(binDir, "pg_ctl", ["-D", layout.dataDir, "-o", serverOptions, "-l", layout.logFile, "-w", "-t", "60", "start"], { detached });
  if (r.code === 0) return { ok: true };
  const tail = tailFile(layout.logFile, 15);
  const latest = tail.split("--- ").pop() ?? tail;
  const retry = /could not bind|address already in use/i.test(latest) ? "port" : /pre-existing shared memory block/i.test(latest) ? "shmem" : false;
  return {
    ok: false,
    retry,
    message: `pg_ctl start failed (exit ${r.code}): ${lastLines(r.stderr || r.stdout, 5)}\nlast lines of ${layout.logFile}:\n${tail}`,
  };
}

async function pgCtlStop(binDir: string, dataDir: string): Promise<void> {
  const info = readPostmasterPid(dataDir);
  if (!isPostmasterRunning(info)) return;
  const r = await runPg(binDir, "pg_ctl", ["-D", dataDir, "stop", "-m", "fast", "-w", "-t", "60"]);
  if (r.code !== 0 && isPostmasterRunning(readPostmasterPid(dataDir))) {
    throw new Error(`pg_ctl stop -D ${dataDir} failed (exit ${r.code}): ${lastLines(r.stderr || r.stdout)}`);
  }
  // pg_ctl returns once postmaster.pid is gone, which the postmaster removes just before it exits:
  // wait for the process itself, so that "stopped" means no process holds the data directory.
  const deadline = Date.now() + POSTMASTER_EXIT_WAIT_MS;
  while (info && isProcessAlive(info.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** How long stop waits, after pg_ctl has returned, for the postmaster process to be gone. */
const POSTMASTER_EXIT_WAIT_MS = 10_000;

function handleFor(binDir: string, dataDir: string, info: PostmasterInfo, unregister: () => void): PostgresServer {
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@${HOST}:${info.port}/${TOOLLOOP_DATABASE}`,
    port: info.port,
    pid: info.pid,
    stop() {
      stopping ??= (async () => {
        unregister();
        await pgCtlStop(binDir, dataDir);
      })();
      return stopping;
    },
  };
}

export async function startPostgres(opts: PostgresOptions): Promise<PostgresServer> {
  if (!opts.dataDir) throw new Error("startPostgres: dataDir is required");
  if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 65535)) {
    throw new Error(`startPostgres: port must be an integer in 1..65535, got ${opts.port}`);
  }
  const log = opts.log ?? (() => undefined);
  const dataDir = path.resolve(opts.dataDir);
  const { binDir } = await ensurePostgresInstalled(log);
  const layout = await prepareDirs(dataDir, log);
  await initDataDir(binDir, dataDir, log);

  const current = readPostmasterPid(dataDir);
  if (current && isPostmasterRunning(current)) {
    if (opts.port !== undefined && opts.port !== current.port) {
      throw new Error(`PostgreSQL for ${dataDir} is already running on port ${current.port}, not ${opts.port}; stop it first`);
    }
    log(`reusing the running PostgreSQL on port ${current.port} (pid ${current.pid})`);
    await ensureDatabase(current.port);
    return handleFor(binDir, dataDir, current, () => undefined);
  }
  if (current) {
    log(`removing stale ${path.join(dataDir, "postmaster.pid")} (pid ${current.pid} is gone)`);
    fs.rmSync(path.join(dataDir, "postmaster.pid"), { force: true });
  }

  const detached = opts.detached ?? false;
  const deadline = Date.now() + 60_000;
  for (let portAttempts = 0; ;) {
    const port = opts.port ?? (await findFreePort(HOST));
    const outcome = await pgCtlStart(binDir, layout, port, detached);
    if (outcome.ok) break;
    // After a SIGKILL, the old server's children can hold its shared memory for a moment.
    if (outcome.retry === "shmem" && Date.now() < deadline) {
      await sleep(500);
      continue;
    }
    if (outcome.retry === "port" && opts.port === undefined && ++portAttempts < 3) continue;
    throw new Error(outcome.message);
  }
  const started = readPostmasterPid(dataDir);
  if (!started || !isPostmasterRunning(started))
    throw new Error(`PostgreSQL started but ${dataDir}/postmaster.pid names no running server; see ${layout.logFile}`);
  const info: PostmasterInfo = started;
  const unregister = detached ? () => undefined : cleanupOnParentExit(() => fastShutdownQuietly(info.pid));
  try {
    await ensureDatabase(info.port);
  } catch (err) {
    unregister();
    await pgCtlStop(binDir, dataDir).catch(() => undefined);
    throw new Error(`PostgreSQL started on port ${info.port} but creating database "${TOOLLOOP_DATABASE}" failed: ${(err as Error).message}`);
  }
  log(`PostgreSQL ready on ${HOST}:${info.port} (pid ${info.pid}, log ${layout.logFile})`);
  return handleFor(binDir, dataDir, info, unregister);
}

/** SIGINT is PostgreSQL's "fast shutdown"; synchronous, for exit handlers. */
function fastShutdownQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGINT");
  } catch {
    // already gone
  }
}

export function postgresStatus(dataDir: string): { running: boolean; pid?: number; port?: number } {
  const info = readPostmasterPid(path.resolve(dataDir));
  return info && isPostmasterRunning(info) ? { running: true, pid: info.pid, port: info.port } : { running: false };
}

/** Stops the server of dataDir, whoever started it. Idempotent; true when one was running. */
export async function stopPostgres(dataDir: string): Promise<boolean> {
  const resolved = path.resolve(dataDir);
  if (!isPostmasterRunning(readPostmasterPid(resolved))) return false;
  const binDir = findPostgresBinDir();
  if (!binDir) throw new Error("PostgreSQL is running but pg_ctl was not found to stop it");
  await pgCtlStop(binDir, resolved);
  return true;
}
