/** `toolloop worker` and `toolloop db migrate`. */
import path from "node:path";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection } from "@temporalio/worker";
import type { Command } from "commander";
import type { ActivityDeps } from "../../activities/index.js";
import { createWorkers, runWorkers } from "../../workers/createWorkers.js";
import { migrateDatabase, openDatabase, pingDatabase, type DbHandle } from "../db/client.js";
import { checkDatabaseUrl } from "../db/databaseUrl.js";
import { createRoleClient } from "../llm/client.js";
import { createRewardServiceHost } from "../reward/serviceHost.js";
import type { LatencyClass } from "../taskQueues.js";
import { metricsRegistry } from "../metrics/toolloopMetrics.js";
import { parseMetricsAddress, startMetricsServer } from "../metrics/server.js";
import { installRuntimeWithMetrics } from "../metrics/temporalRuntime.js";
import { applyWorkerHeapGrowth, type HeapGrowthDecision } from "../util/heapGrowth.js";
import { cliEnv } from "./env.js";
import { CliError, databaseCliError, ensureTemporalReachable, EXIT_ENVIRONMENT } from "./errors.js";

export function activityDepsFor(db: DbHandle, baseDir: string, log: (m: string) => void = (m) => console.log(m)): ActivityDeps {
  // Training jobs this worker launches score through a reward service it hosts (unless the config names one).
  const rewards = createRewardServiceHost(log);
  return {
    getDb: async () => db.db,
    createLlm: (config, role, usage) => createRoleClient(config, role, { usage }),
    rewardService: (config, bind) => rewards.urlFor(config, bind),
    baseDir,
    log,
  };
}

/**
 * A worker runs for weeks: a stray rejected promise (lint forbids them, but a dependency may still
 * produce one) is logged loudly and counted instead of exiting the process with every batch in it.
 * Each attempt's own errors still fail that attempt; this only keeps the process up.
 */
function installLastResortHandlers(): void {
  let unhandled = 0;
  process.on("unhandledRejection", (reason) => {
    unhandled++;
    console.error(
      `worker: unhandled promise rejection #${unhandled} (kept running): ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
    );
  });
}

/**
 * The pool connects lazily; without this a wrong DATABASE_URL would surface in the first activity.
 * Checked once, without the pool's transient retries: a refused connection at start is an answer.
 */
async function ensureDatabaseReachable(databaseUrl: string): Promise<void> {
  const probe = await openDatabase(databaseUrl, { poolSize: 1, transientRetry: { maxWaitMs: 0 } });
  try {
    await pingDatabase(probe);
  } catch (err) {
    throw databaseCliError(err, databaseUrl) ?? err;
  } finally {
    await probe.close();
  }
}

/** `--metrics-address`, else TOOLLOOP_METRICS_ADDRESS, else off; checked before anything starts. */
function metricsAddressOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.TOOLLOOP_METRICS_ADDRESS?.trim() ? env.TOOLLOOP_METRICS_ADDRESS.trim() : undefined;
  const address = flag ?? fromEnv;
  if (address === undefined) return undefined;
  try {
    parseMetricsAddress(address);
  } catch (err) {
    throw new CliError(`${flag !== undefined ? "--metrics-address" : "TOOLLOOP_METRICS_ADDRESS"}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return address;
}

export function registerWorkerCommands(program: Command): void {
  program
    .command("worker")
    .description("run workflow and activity workers until SIGINT/SIGTERM")
    .option("--roles <list>", "comma list of workflows,llm,default,cluster", "workflows,llm,default,cluster")
    .option("--base-dir <dir>", "directory campaign outputs are resolved against", process.cwd())
    .option("--llm-concurrency <n>", "concurrent LLM-bound activities", "16")
    .option(
      "--metrics-address <host:port>",
      "serve Prometheus metrics (toolloop's and the Temporal SDK's) at http://<host:port>/metrics; default $TOOLLOOP_METRICS_ADDRESS, else off",
    )
    .action(async (opts: { roles: string; baseDir: string; llmConcurrency: string; metricsAddress?: string }) => {
      const e = cliEnv();
      const metricsAddress = metricsAddressOf(opts.metricsAddress);
      if (!e.databaseUrl) throw new CliError("DATABASE_URL is not set (postgres://... or pglite:<dir>)");
      checkDatabaseUrl(e.databaseUrl);
      const roles = opts.roles.split(",").map((r) => r.trim()) as ("workflows" | LatencyClass)[];
      const known = ["workflows", "llm", "default", "cluster"];
      const bad = roles.filter((r) => !known.includes(r));
      if (bad.length) throw new CliError(`--roles: unknown ${bad.join(", ")}; expected some of ${known.join(", ")}`);
      let heap: HeapGrowthDecision;
      try {
        heap = applyWorkerHeapGrowth();
      } catch (err) {
        throw new CliError(err instanceof Error ? err.message : String(err));
      }
      installLastResortHandlers();
      await ensureTemporalReachable(e);
      await ensureDatabaseReachable(e.databaseUrl);
      // Before the first NativeConnection: the SDK's runtime is configured once per process.
      const sdkMetricsUrl = metricsAddress ? await installRuntimeWithMetrics() : undefined;
      // Listening first: a taken port stops the start before anything else holds the process open.
      const metrics = metricsAddress
        ? await startMetricsServer({ address: metricsAddress, registry: metricsRegistry, sdkMetricsUrl }).catch((err: unknown) => {
            throw new CliError(
              `${err instanceof Error ? err.message : String(err)}; choose another --metrics-address (or TOOLLOOP_METRICS_ADDRESS), or stop what listens there`,
              EXIT_ENVIRONMENT,
              { cause: err },
            );
          })
        : undefined;
      try {
        const db = await openDatabase(e.databaseUrl);
        const connection = await NativeConnection.connect({ address: e.temporalAddress });
        // Activities that talk to other workflows (forwarding an operator decision) use this client.
        const clientConnection = await Connection.connect({ address: e.temporalAddress });
        const client = new Client({ connection: clientConnection, namespace: e.namespace });
        const workers = await createWorkers({
          connection,
          namespace: e.namespace,
          queuePrefix: e.queuePrefix,
          roles,
          activityDeps: { ...activityDepsFor(db, path.resolve(opts.baseDir)), temporalClient: async () => client },
          maxConcurrentActivities: Number(opts.llmConcurrency),
        });
        console.log(`worker: ${roles.join(", ")} on ${e.temporalAddress} namespace ${e.namespace} (queue prefix ${e.queuePrefix}); pid ${process.pid}`);
        console.log(`worker: V8 heap growth ${heap.apply ? `${heap.flag} (TOOLLOOP_WORKER_HEAP_GROWING_PERCENT; 0 for V8's own)` : heap.reason}`);
        if (metrics) console.log(`worker: Prometheus metrics at ${metrics.url}`);
        try {
          await runWorkers(workers);
        } finally {
          await clientConnection.close();
          await connection.close();
          await db.close();
        }
      } finally {
        await metrics?.close();
      }
    });

  program
    .command("db")
    .description("database maintenance")
    .command("migrate")
    .description("apply the committed migrations to DATABASE_URL")
    .action(async () => {
      const e = cliEnv();
      if (!e.databaseUrl) throw new CliError("DATABASE_URL is not set (postgres://... or pglite:<dir>)");
      await ensureDatabaseReachable(e.databaseUrl);
      const db = await openDatabase(e.databaseUrl);
      try {
        await migrateDatabase(db);
        console.log(`migrations applied (${db.driver})`);
      } finally {
        await db.close();
      }
    });
}
