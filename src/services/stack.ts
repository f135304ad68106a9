/**
 * The local service stack for tests and scripts: one Temporal dev server and (unless DATABASE_URL
 * is already set) one PostgreSQL, both detached so they outlive the `up` command. Layout of
 * stateDir: temporal/ (dev server state and log), pg/data (+ pg/postgres.log), stack.json (what
 * `up` started, read by `down` and `status`).
 */
import fs from "node:fs";
import path from "node:path";
import { migrateDatabase, openDatabase } from "../db/client.js";
import { startTemporalDevServer, stopTemporalDevServer, temporalDevServerStatus } from "./temporalDevServer.js";
import { postgresStatus, startPostgres, stopPostgres } from "./postgres.js";
import { isPortFree } from "./ports.js";

export interface StackRecord {
  temporal: { stateDir: string; pid: number; address: string; uiUrl: string; namespace: string };
  /** Absent when DATABASE_URL came from the environment or Postgres was disabled. */
  postgres?: { dataDir: string; pid: number; port: number; url: string };
  databaseUrl?: string;
  startedAt: string;
}

const NAMESPACE = "default";

function stackPaths(stateDir: string) {
  const dir = path.resolve(stateDir);
  return {
    dir,
    record: path.join(dir, "stack.json"),
    ports: path.join(dir, "ports.json"),
    temporal: path.join(dir, "temporal"),
    pgData: path.join(dir, "pg", "data"),
  };
}

/**
 * The addresses of the last successful `up` (ports.json, kept by `down`). A restart with the same
 * state dir keeps the Temporal and PostgreSQL state, and should keep their addresses too: running
 * workers and the env file an operator has sourced still name them, and workers reconnect on their
 * own only to the same address.
 */
interface PreviousPorts {
  temporal?: { port: number; uiPort: number };
  postgres?: { port: number; url: string };
}

function readPreviousPorts(file: string): PreviousPorts {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as PreviousPorts;
    return typeof parsed === "object" && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

/** Whether all the previous ports are free (else `up` picks new ones and says so). */
async function reusablePorts(ports: number[], what: string, log: (m: string) => void): Promise<boolean> {
  const busy: number[] = [];
  for (const port of ports) if (!(await isPortFree(port))) busy.push(port);
  if (busy.length === 0) return true;
  log(`${what} the previous port ${busy.join(", ")} is taken by another process; starting on a new port, so restart workers and clients with the new env file`);
  return false;
}

function readRecord(file: string): StackRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as StackRecord;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); delete it and stop leftover processes by hand`);
  }
}

/** KEY=value lines that both `set -a; . file` and dotenv parsers read back unchanged. */
export function formatEnvFile(env: Record<string, string>): string {
  return (
    Object.entries(env)
      .map(([key, value]) => `${key}=${/^[\w./:@%+,=-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`}`)
      .join("\n") + "\n"
  );
}

export async function stackUp(opts: { stateDir: string; envFile: string; postgres?: boolean; log?: (m: string) => void }): Promise<Record<string, string>> {
  const log = opts.log ?? (() => undefined);
  const paths = stackPaths(opts.stateDir);
  fs.mkdirSync(paths.dir, { recursive: true });
  const previous = readPreviousPorts(paths.ports);
  const stops: (() => Promise<void>)[] = [];
  try {
    const prevTemporal = previous.temporal;
    const temporalRunning = temporalDevServerStatus(paths.temporal)?.running === true;
    const temporalPorts =
      prevTemporal && !temporalRunning && (await reusablePorts([prevTemporal.port, prevTemporal.uiPort], "[temporal]", log))
        ? { port: prevTemporal.port, uiPort: prevTemporal.uiPort }
        : {};
    const temporal = await startTemporalDevServer({
      stateDir: paths.temporal,
      namespace: NAMESPACE,
      detached: true,
      ...temporalPorts,
      log: (m) => log(`[temporal] ${m}`),
    });
    stops.push(() => temporal.stop());
    const record: StackRecord = {
      temporal: { stateDir: paths.temporal, pid: temporal.pid, address: temporal.address, uiUrl: temporal.uiUrl, namespace: temporal.namespace },
      startedAt: new Date().toISOString(),
    };
    fs.writeFileSync(paths.record, JSON.stringify(record, null, 2) + "\n"); // so `down` can clean up a partial start

    // An env file of this stack that the operator sourced (as the docs say) sets DATABASE_URL to
    // this stack's own PostgreSQL: that is not an external database, start ours again.
    const ownUrl = previous.postgres?.url;
    const fromEnvironment = process.env.DATABASE_URL === ownUrl ? undefined : process.env.DATABASE_URL;
    if (ownUrl !== undefined && process.env.DATABASE_URL === ownUrl && opts.postgres !== false) {
      log(`[postgres] DATABASE_URL names this stack's own PostgreSQL (${ownUrl}, from its env file); starting it`);
    }
    if (fromEnvironment) {
      record.databaseUrl = fromEnvironment;
      log("[postgres] using DATABASE_URL from the environment");
    } else if (opts.postgres !== false) {
      const prevPg = previous.postgres;
      // A server already running for the data dir is reused on whatever port it has.
      const running = postgresStatus(paths.pgData).running;
      const pgPort = prevPg && !running && (await reusablePorts([prevPg.port], "[postgres]", log)) ? prevPg.port : undefined;
      const pg = await startPostgres({ dataDir: paths.pgData, detached: true, port: pgPort, log: (m) => log(`[postgres] ${m}`) });
      stops.push(() => pg.stop());
      record.postgres = { dataDir: paths.pgData, pid: pg.pid, port: pg.port, url: pg.url };
      record.databaseUrl = pg.url;
      fs.writeFileSync(paths.record, JSON.stringify(record, null, 2) + "\n");
    }
    if (record.databaseUrl) {
      const db = await openDatabase(record.databaseUrl, { poolSize: 1 });
      try {
        await migrateDatabase(db);
      } catch (err) {
        // drizzle's "Failed query: CREATE SCHEMA …" hides the reason (refused, auth, …) in its cause.
        const cause = (err as { cause?: unknown }).cause;
        const reason = cause instanceof Error ? `: ${cause.message}` : "";
        const from = fromEnvironment ? " (DATABASE_URL from the environment; unset it to start this stack's own PostgreSQL)" : "";
        throw new Error(`applying migrations to ${record.databaseUrl}${from} failed${reason}\n${(err as Error).message}`, { cause: err });
      } finally {
        await db.close();
      }
      log("[db] migrations applied");
    }

    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: record.temporal.address,
      TEMPORAL_NAMESPACE: record.temporal.namespace,
      TEMPORAL_UI_URL: record.temporal.uiUrl,
    };
    if (record.databaseUrl) env.DATABASE_URL = record.databaseUrl;
    const ports: PreviousPorts = { temporal: { port: portOf(record.temporal.address), uiPort: portOf(record.temporal.uiUrl) } };
    if (record.postgres) ports.postgres = { port: record.postgres.port, url: record.postgres.url };
    fs.writeFileSync(paths.ports, JSON.stringify(ports, null, 2) + "\n");
    fs.mkdirSync(path.dirname(path.resolve(opts.envFile)), { recursive: true });
    fs.writeFileSync(opts.envFile, formatEnvFile(env));
    return env;
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    fs.rmSync(paths.record, { force: true });
    throw err;
  }
}

/** Stops what `up` started; fine when nothing runs. Returns what it stopped, for the log. */
export async function stackDown(opts: { stateDir: string }): Promise<string[]> {
  const paths = stackPaths(opts.stateDir);
  const record = readRecord(paths.record);
  const stopped: string[] = [];
  // Also look at the default locations, in case stack.json was lost after a partial start.
  if (await stopTemporalDevServer(record?.temporal.stateDir ?? paths.temporal)) stopped.push("temporal");
  if (await stopPostgres(record?.postgres?.dataDir ?? paths.pgData)) stopped.push("postgres");
  fs.rmSync(paths.record, { force: true });
  return stopped;
}

export interface StackStatus {
  temporal: { running: boolean; pid?: number; address?: string; uiUrl?: string };
  postgres: { running: boolean; pid?: number; port?: number; url?: string } | "external" | "none";
}

export function stackStatus(opts: { stateDir: string }): StackStatus {
  const paths = stackPaths(opts.stateDir);
  const record = readRecord(paths.record);
  const t = temporalDevServerStatus(record?.temporal.stateDir ?? paths.temporal);
  const temporal = t ? { running: t.running, pid: t.pid, address: t.address, uiUrl: t.uiUrl } : { running: false };
  let postgres: StackStatus["postgres"];
  if (record?.postgres) postgres = { ...postgresStatus(record.postgres.dataDir), url: record.postgres.url };
  else if (record?.databaseUrl) postgres = "external";
  else postgres = fs.existsSync(paths.pgData) ? postgresStatus(paths.pgData) : "none";
  return { temporal, postgres };
}
