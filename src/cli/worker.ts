/** `toolloop worker` and `toolloop db migrate`. */
import fs from "node:fs";
import path from "node:path";
import { Client, Connection } from "@temporalio/client";
import { GracefulShutdownPeriodExpiredError, NativeConnection, Runtime, TransportError } from "@temporalio/worker";
import type { ActivityDeps } from "../../activities/index.js";
import { activitySlots, createWorkers, DEFAULT_SHUTDOWN_FORCE_TIME_MS, runWorkers } from "../../workers/createWorkers.js";
import { migrateDatabase, MIGRATIONS_DIR, openDatabase, pingDatabase, type DbHandle } from "../db/client.js";
import { openCliDatabase } from "./database.js";
import { pendingMigrationsMessage, schemaState } from "../db/schemaVersion.js";
import { checkDatabaseUrl } from "../db/databaseUrl.js";
import { createRoleClient } from "../llm/client.js";
import { createRewardServiceHost } from "../reward/serviceHost.js";
import { taskQueues, type LatencyClass } from "../taskQueues.js";
import { startWorkerStatusReporter } from "../ops/workerStatusFile.js";
import { startBuildRecorder } from "../ops/workerBuilds.js";
import { SdkLogger } from "../ops/sdkLogger.js";

const LATENCY_CLASSES: readonly LatencyClass[] = ["llm", "default", "cluster"];
import { metricsRegistry, startForgettingIdleCampaigns } from "../metrics/toolloopMetrics.js";
import { parseMetricsAddress, startMetricsServer } from "../metrics/server.js";
import { installRuntimeWithMetrics } from "../metrics/temporalRuntime.js";
import { applyWorkerHeapGrowth, type HeapGrowthDecision } from "../util/heapGrowth.js";
import { thrownMessage } from "../util/thrown.js";
import { cliEnv, defaultBaseDir, type CliEnv } from "./env.js";
import { MAX_LLM_CONCURRENCY, type WorkerOptions } from "./workerCommands.js";
import { CliError, databaseCliError, describeDatabaseUrl, ensureTemporalReachable, EXIT_ENVIRONMENT, splitAddress, temporalCliError } from "./errors.js";
import { positiveInteger } from "./options.js";

export function activityDepsFor(db: DbHandle, baseDir: string, log: (m: string) => void = (m) => console.log(m)): ActivityDeps {
  // Training jobs this worker launches score through a reward service it hosts (unless the config names one).
  const rewards = createRewardServiceHost(log);
  return {
    getDb: async () => db.db,
    createLlm: (config, role, usage, campaignId) => createRoleClient(config, role, { usage, tenant: campaignId }),
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
async function ensureDatabaseReachable(databaseUrl: string, opts: { requireCurrentSchema: boolean }): Promise<void> {
  const probe = await openCliDatabase(databaseUrl, { poolSize: 1 });
  try {
    await pingDatabase(probe);
    // A newer worker on an older schema (an upgrade before its `db migrate`) would fail every activity
    // that touches a new column; it says so here instead, and starts once the migrations are applied.
    if (opts.requireCurrentSchema) {
      const pending = pendingMigrationsMessage(await schemaState(probe, MIGRATIONS_DIR), `${describeDatabaseUrl(databaseUrl)} (DATABASE_URL)`);
      if (pending !== undefined) throw new CliError(pending, EXIT_ENVIRONMENT);
    }
  } catch (err) {
    throw databaseCliError(err, databaseUrl) ?? err;
  } finally {
    await probe.close();
  }
}

/**
 * How long a worker that failed may take to close what it opened and exit by itself: something the SDK
 * opened that we cannot reach (see below), or an activity left running by a forced shutdown, would
 * keep it up after its error. Unref'd, so a process with nothing left exits first.
 */
const HELD_OPEN_EXIT_MS = 5000;

/**
 * The worker SDK's start-up failures that name the cause only in Rust's words: a TCP port that
 * answers but no Temporal frontend behind it, a namespace that does not exist.
 */
export function workerStartError(err: unknown, e: CliEnv): CliError | undefined {
  if (!(err instanceof TransportError)) return undefined;
  const namespace = /^Namespace (\S+) was not found/.exec(err.message);
  if (namespace)
    return new CliError(
      `Temporal namespace "${namespace[1]}" does not exist at ${e.temporalAddress} (TEMPORAL_NAMESPACE); create it or set TEMPORAL_NAMESPACE`,
      EXIT_ENVIRONMENT,
      { cause: err },
    );
  if (/GetSystemInfo/.test(err.message))
    return new CliError(
      `${e.temporalAddress} (TEMPORAL_ADDRESS) answers but not as a Temporal frontend (${err.message}); check the host and port (the frontend's gRPC port, 7233 by default)`,
      EXIT_ENVIRONMENT,
      { cause: err },
    );
  return undefined;
}

/**
 * `--base-dir`, else TOOLLOOP_BASE_DIR, else the current folder, absolute. A folder that does not exist
 * yet is created by the first output; a path that is something else is bad input naming its source.
 */
export function workerBaseDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const dir = flag !== undefined ? path.resolve(flag) : defaultBaseDir(env);
  const source = flag !== undefined ? "--base-dir" : "TOOLLOOP_BASE_DIR";
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch {
    stat = undefined;
  }
  if (stat !== undefined && !stat.isDirectory()) throw new CliError(`${source}: ${dir} is not a folder (campaign outputs are written under it)`);
  return dir;
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

const WORKER_ROLES: readonly ("workflows" | LatencyClass)[] = ["workflows", ...LATENCY_CLASSES];

/**
 * Every flag of `toolloop worker`, checked without reading the environment: a bad flag is reported
 * naming it even where DATABASE_URL or another variable is unset or wrong too. `--metrics-address`
 * and `--base-dir` are read here only when given; their variables are the environment's.
 */
export function workerFlags(opts: WorkerOptions): {
  roles: ("workflows" | LatencyClass)[];
  llmConcurrency: number;
  metricsAddress: string | undefined;
  baseDir: string | undefined;
} {
  const roles = opts.roles.split(",").map((r) => r.trim());
  const bad = roles.filter((r) => !(WORKER_ROLES as readonly string[]).includes(r));
  if (bad.length) throw new CliError(`--roles: unknown ${bad.map((r) => JSON.stringify(r)).join(", ")}; expected some of ${WORKER_ROLES.join(", ")}`);
  const llmConcurrency = positiveInteger("--llm-concurrency", opts.llmConcurrency);
  if (llmConcurrency > MAX_LLM_CONCURRENCY)
    throw new CliError(
      `--llm-concurrency: at most ${MAX_LLM_CONCURRENCY} (each is a whole batch on this process's one event loop; past that its heartbeats fall behind and batches run twice), got ${JSON.stringify(opts.llmConcurrency)}; run more workers with --roles llm instead`,
    );
  return {
    roles: roles as ("workflows" | LatencyClass)[],
    llmConcurrency,
    metricsAddress: opts.metricsAddress === undefined ? undefined : metricsAddressOf(opts.metricsAddress),
    baseDir: opts.baseDir === undefined ? undefined : workerBaseDir(opts.baseDir),
  };
}

/** `toolloop worker` (registered in workerCommands.ts): runs the workers until SIGINT/SIGTERM. */
export async function runWorkerCommand(opts: WorkerOptions): Promise<void> {
  // Every input first, the flags before the environment: a bad one is reported before anything is connected to or started.
  const flags = workerFlags(opts);
  const e = cliEnv();
  const metricsAddress = flags.metricsAddress ?? metricsAddressOf(undefined);
  if (!e.databaseUrl) throw new CliError("DATABASE_URL is not set (postgres://... or pglite:<dir>)");
  checkDatabaseUrl(e.databaseUrl);
  splitAddress(e.temporalAddress);
  const { roles, llmConcurrency } = flags;
  const baseDir = flags.baseDir ?? workerBaseDir(undefined);
  let heap: HeapGrowthDecision;
  try {
    heap = applyWorkerHeapGrowth();
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  installLastResortHandlers();
  await ensureTemporalReachable(e);
  await ensureDatabaseReachable(e.databaseUrl, { requireCurrentSchema: true });
  // What is open, closed in reverse however the start or the run ends: a connection or a created
  // worker left open keeps the process alive after its error, and the SDK's runtime keeps its
  // SIGTERM handler (with no worker to stop), so only kill -9 would end it.
  const opened: { what: string; close: () => Promise<void> }[] = [];
  let failed = true;
  try {
    // Before the first NativeConnection: the SDK's runtime is configured once per process.
    // Without metrics, the runtime with toolloop's SDK logger only (src/ops/sdkLogger.ts).
    const sdkMetricsUrl = metricsAddress ? await installRuntimeWithMetrics() : (Runtime.install({ logger: new SdkLogger() }), undefined);
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
    if (metrics) opened.push({ what: "the metrics server", close: () => metrics.close() });
    const db = await openDatabase(e.databaseUrl);
    opened.push({ what: "the database", close: () => db.close() });
    // Which build this worker runs, refreshed while it runs: a config this build does not know fails at once unless a newer build is about.
    const stopRecordingBuild = await startBuildRecorder({ getDb: async () => db.db, log: (m) => console.error(m) });
    opened.push({ what: "the build recorder", close: async () => stopRecordingBuild() });
    const connection = await NativeConnection.connect({ address: e.temporalAddress }).catch((err: unknown) => {
      throw workerStartError(err, e) ?? err;
    });
    opened.push({ what: "the worker connection", close: () => connection.close() });
    // Activities that talk to other workflows (forwarding an operator decision) use this client.
    const clientConnection = await Connection.connect({ address: e.temporalAddress });
    opened.push({ what: "the client connection", close: () => clientConnection.close() });
    const client = new Client({ connection: clientConnection, namespace: e.namespace });
    // Before any worker: Worker.create failing on a missing namespace leaves the workflow worker's
    // threads running (SDK 1.24 does not stop them), which no close here can reach.
    await clientConnection.workflowService.describeNamespace({ namespace: e.namespace }).catch((err: unknown) => {
      throw temporalCliError(err, e) ?? err;
    });
    const workers = await createWorkers({
      connection,
      namespace: e.namespace,
      queuePrefix: e.queuePrefix,
      roles,
      activityDeps: { ...activityDepsFor(db, baseDir), temporalClient: async () => client },
      maxConcurrentActivities: llmConcurrency,
    }).catch((err: unknown) => {
      throw workerStartError(err, e) ?? err;
    });
    // The HEALTHCHECK's view of a worker too busy to poll (src/ops/workerStatusFile.ts).
    const queues = taskQueues(e.queuePrefix);
    const slotsByQueue = new Map(LATENCY_CLASSES.map((cls) => [queues[cls], activitySlots(cls, llmConcurrency)]));
    const status = startWorkerStatusReporter({
      workers,
      connection,
      workflowTaskQueue: queues.workflows,
      slots: (q) => slotsByQueue.get(q) ?? 0,
      log: (m) => console.error(m),
    });
    opened.push({ what: "the status file", close: async () => status.stop() });
    // Counted with or without --metrics-address: the series of campaigns that ended go in any case.
    const stopForgetting = startForgettingIdleCampaigns({ log: (m) => console.log(m) });
    opened.push({ what: "the metrics sweep", close: async () => stopForgetting() });
    console.log(`worker: ${roles.join(", ")} on ${e.temporalAddress} namespace ${e.namespace} (queue prefix ${e.queuePrefix}); pid ${process.pid}`);
    console.log(`worker: V8 heap growth ${heap.apply ? `${heap.flag} (TOOLLOOP_WORKER_HEAP_GROWING_PERCENT; 0 for V8's own)` : heap.reason}`);
    if (metrics) console.log(`worker: Prometheus metrics at ${metrics.url}`);
    // The SDK's runtime stops the workers on these; noted here only to tell a forced shutdown apart.
    // Listened to only now, with the runtime's handlers installed: earlier, a signal still ends the process.
    let stopRequestedAt: number | undefined;
    const noteStop = () => (stopRequestedAt ??= Date.now());
    process.once("SIGTERM", noteStop).once("SIGINT", noteStop);
    try {
      await runWorkers(workers);
    } catch (err) {
      const stoppingFor = stopRequestedAt === undefined ? 0 : Date.now() - stopRequestedAt;
      if (!(err instanceof GracefulShutdownPeriodExpiredError) && stoppingFor < DEFAULT_SHUTDOWN_FORCE_TIME_MS) throw err;
      // The force time passed with activities still running (e.g. a batch in the pool's database
      // retries); the SDK then fails the run with whatever its native worker says ("still in use").
      throw new CliError(
        `worker: activities still ran ${Math.round(stoppingFor / 1000)} s after the shutdown request; exiting without them: Temporal retries each on another worker once its heartbeat times out, and it resumes from what it stored (${thrownMessage(err)})`,
        EXIT_ENVIRONMENT,
        { cause: err },
      );
    } finally {
      process.off("SIGTERM", noteStop).off("SIGINT", noteStop);
    }
    failed = false;
  } finally {
    // Armed before the closes: after a failure one of them may wait on what is still running (a
    // batch in the pool's database retries) and the process must still end.
    if (failed) setTimeout(() => process.exit(), HELD_OPEN_EXIT_MS).unref();
    for (const { what, close } of opened.reverse()) {
      // One failing close must not keep the others open (nor hide the error that got us here).
      await close().catch((err: unknown) => console.error(`worker: closing ${what} failed: ${thrownMessage(err)}`));
    }
  }
}

/** `toolloop db migrate` (registered in workerCommands.ts). */
export async function runDbMigrate(): Promise<void> {
  const e = cliEnv();
  if (!e.databaseUrl) throw new CliError("DATABASE_URL is not set (postgres://... or pglite:<dir>)");
  await ensureDatabaseReachable(e.databaseUrl, { requireCurrentSchema: false });
  const db = await openDatabase(e.databaseUrl);
  try {
    await migrateDatabase(db);
    console.log(`migrations applied (${db.driver})`);
  } finally {
    await db.close();
  }
}
