/**
 * Real services for integration tests. The README's test command starts one Temporal dev server and
 * one PostgreSQL for the whole run and passes them in TEMPORAL_ADDRESS / DATABASE_URL; a test file
 * run on its own starts (and stops) its own in a temp dir. Each file isolates itself with its own
 * task-queue prefix and campaign ids, so files can share the servers.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, type Worker } from "@temporalio/worker";
import { migrateDatabase, openDatabase, type DbHandle } from "../../src/db/client.js";
import { startPostgres } from "../../src/services/postgres.js";
import { startTemporalDevServer } from "../../src/services/temporalDevServer.js";
import type { ActivityDeps } from "../../activities/index.js";
import { createWorkers, type WorkerSetOptions } from "../../workers/createWorkers.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import type { StageRegistry } from "../../src/framework/registry.js";
import { recordWorkerBuild, type BuildIdentity } from "../../src/ops/workerBuilds.js";

export interface TestEnv {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  db: DbHandle;
  client: Client;
  /** Unique per test file: workers and workflows of this file only. */
  queuePrefix: string;
  workDir: string;
  /**
   * `stages`: a registry with extra stages (a test's own spec and handler); `roles`: the task queues
   * to poll (default all, as `toolloop worker`); `stageMissingLimitMs`: see ActivityDeps; `build`:
   * the build these workers are (recorded in worker_builds as `toolloop worker` records its own), so a
   * test of a deploy does not depend on the builds other test files' workers recorded;
   * `getDb`: wraps the activities' database access (test/helpers/registrationGate.ts holds one there).
   */
  startWorkers(opts?: {
    heartbeatIntervalMs?: number;
    stages?: StageRegistry;
    roles?: WorkerSetOptions["roles"];
    stageMissingLimitMs?: number;
    build?: BuildIdentity;
    getDb?: (base: ActivityDeps["getDb"]) => ActivityDeps["getDb"];
  }): Promise<{ workers: Worker[]; stop(): Promise<void> }>;
  close(): Promise<void>;
}

export async function createTestEnv(name: string): Promise<TestEnv> {
  const stops: (() => Promise<void>)[] = [];
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `toolloop-${name}-`));
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  let databaseUrl = process.env.DATABASE_URL;
  if (!temporalAddress) {
    const t = await startTemporalDevServer({ stateDir: path.join(workDir, "temporal") });
    temporalAddress = t.address;
    stops.push(() => t.stop());
  }
  if (!databaseUrl) {
    const pg = await startPostgres({ dataDir: path.join(workDir, "pg") });
    databaseUrl = pg.url;
    stops.push(() => pg.stop());
  }
  const namespace = process.env.TEMPORAL_NAMESPACE ?? "default";
  const db = await openDatabase(databaseUrl);
  await migrateDatabase(db);
  stops.push(() => db.close());
  const connection = await Connection.connect({ address: temporalAddress });
  stops.push(() => connection.close());
  const client = new Client({ connection, namespace });
  const queuePrefix = `t-${name}-${randomUUID().slice(0, 8)}`;

  return {
    temporalAddress,
    namespace,
    databaseUrl,
    db,
    client,
    queuePrefix,
    workDir,
    async startWorkers(opts) {
      if (opts?.build) await recordWorkerBuild(db.db, opts.build, `test workers of ${queuePrefix}`);
      const nc = await NativeConnection.connect({ address: temporalAddress as string });
      const deps = activityDepsFor(db, workDir, () => undefined);
      const workers = await createWorkers({
        connection: nc,
        namespace,
        queuePrefix,
        ...(opts?.roles ? { roles: opts.roles } : {}),
        activityDeps: {
          ...deps,
          ...(opts?.getDb ? { getDb: opts.getDb(deps.getDb) } : {}),
          heartbeatIntervalMs: opts?.heartbeatIntervalMs ?? 1000,
          temporalClient: async () => client,
          ...(opts?.stages ? { stages: opts.stages } : {}),
          ...(opts?.stageMissingLimitMs !== undefined ? { stageMissingLimitMs: opts.stageMissingLimitMs } : {}),
          ...(opts?.build ? { build: opts.build } : {}),
        },
      });
      const running = workers.map((w) => w.run());
      let stopped: Promise<void> | undefined;
      return {
        workers,
        // Once: a test that stops workers midway (a deploy) stops them again in its cleanup.
        stop() {
          stopped ??= (async () => {
            for (const w of workers) if (w.getState() === "RUNNING") w.shutdown();
            await Promise.allSettled(running);
            await nc.close();
          })();
          return stopped;
        },
      };
    },
    async close() {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `fn` returns a truthy value or the timeout passes. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
