/**
 * Builds the worker set for one process: a workflow worker and activity workers per latency class.
 * Used by `toolloop worker`, the demo, tests and the benchmark.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleOption } from "@temporalio/worker";
import { createActivities, type ActivityDeps } from "../activities/index.js";
import { DEFAULT_QUEUE_PREFIX, taskQueues, type LatencyClass } from "../src/taskQueues.js";
import { applyWorkerHeapGrowth } from "../src/util/heapGrowth.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const WORKFLOWS_PATH = path.resolve(here, "../workflows/index.js");
/** Written by `npm run build` (workers/bundleWorkflows.ts) so workers start without webpack. */
export const WORKFLOW_BUNDLE_PATH = path.resolve(here, "../workflow-bundle.js");

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace: string;
  activityDeps: ActivityDeps;
  /** Which parts to run; default: workflows and every activity class. */
  roles?: ("workflows" | LatencyClass)[];
  /** Task queue prefix (see src/taskQueues.ts); default "toolloop". */
  queuePrefix?: string;
  /**
   * Concurrent activity executions of the llm worker (`toolloop worker --llm-concurrency`; default
   * 16). The default and cluster workers keep 8: their activities are bookkeeping and job watches.
   */
  maxConcurrentActivities?: number;
  /** How long in-flight activities may run on after shutdown is requested (default 20 s). */
  shutdownGraceTime?: string;
  /**
   * How long after shutdown is requested a worker stops waiting for its cancelled activities and
   * gives up (default 45 s: the 20 s grace, then time for the cancelled batches to write what they
   * finished). Without it a batch stuck in the pool's database retries kept a SIGTERMed worker up for
   * minutes (116 s with PostgreSQL down), past any supervisor's stop timeout.
   */
  shutdownForceTime?: string;
}

/** The grace and force times a worker gets when none are given (docker-compose.yml's stop_grace_period covers both). */
export const DEFAULT_SHUTDOWN_GRACE_TIME = "20 seconds";
export const DEFAULT_SHUTDOWN_FORCE_TIME_MS = 45_000;

export async function workflowBundle(): Promise<WorkflowBundleOption> {
  if (fs.existsSync(WORKFLOW_BUNDLE_PATH)) return { codePath: WORKFLOW_BUNDLE_PATH };
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
}

/** Concurrent activity executions of a class's worker: `maxConcurrentActivities` (default 16) for llm, 8 otherwise. */
export function activitySlots(cls: LatencyClass, maxConcurrentActivities?: number): number {
  return cls === "llm" ? (maxConcurrentActivities ?? 16) : 8;
}

export async function createWorkers(opts: WorkerSetOptions): Promise<Worker[]> {
  // Before the workers allocate: this process will run for days mostly waiting on LLM responses.
  applyWorkerHeapGrowth();
  const roles = opts.roles ?? ["workflows", "llm", "default", "cluster"];
  const activities = createActivities(opts.activityDeps);
  const queues = taskQueues(opts.queuePrefix ?? DEFAULT_QUEUE_PREFIX);
  const workers: Worker[] = [];
  try {
    if (roles.includes("workflows")) {
      workers.push(
        await Worker.create({
          connection: opts.connection,
          namespace: opts.namespace,
          taskQueue: queues.workflows,
          workflowBundle: await workflowBundle(),
          maxCachedWorkflows: 200,
          // Light bookkeeping runs as local activities in the workflow task (workflows/codePaths.ts):
          // this worker runs them, so it needs the database as the activity workers do.
          activities: localBookkeeping(activities),
          shutdownForceTime: opts.shutdownForceTime ?? DEFAULT_SHUTDOWN_FORCE_TIME_MS,
        }),
      );
    }
    for (const cls of ["llm", "default", "cluster"] as const) {
      if (!roles.includes(cls)) continue;
      workers.push(
        await Worker.create({
          connection: opts.connection,
          namespace: opts.namespace,
          taskQueue: queues[cls],
          activities,
          maxConcurrentActivityTaskExecutions: activitySlots(cls, opts.maxConcurrentActivities),
          // On SIGTERM, batches in flight get this long to finish; then they are cancelled and
          // retried elsewhere (resuming from what they stored), uncounted as infrastructure.
          shutdownGraceTime: opts.shutdownGraceTime ?? DEFAULT_SHUTDOWN_GRACE_TIME,
          // Past this the worker stops waiting; what it left unfinished is retried elsewhere as after a kill.
          shutdownForceTime: opts.shutdownForceTime ?? DEFAULT_SHUTDOWN_FORCE_TIME_MS,
        }),
      );
    }
  } catch (err) {
    await disposeUnstarted(workers);
    throw err;
  }
  return workers;
}

/**
 * Releases workers that were created but will never run (a later one failed to create): each holds the
 * connection, its workflow threads and the SDK runtime, whose SIGINT/SIGTERM handler would then stop no
 * worker, so the process could neither exit nor be stopped short of kill -9. The SDK frees a worker
 * only at the end of a run, so each is run to an immediate shutdown.
 */
async function disposeUnstarted(workers: Worker[]): Promise<void> {
  await Promise.allSettled(workers.map((w) => w.runUntil(Promise.resolve())));
}

/** The activities workflows call as local activities (workflows/activityOptions.ts localBookkeepingActivities). */
export function localBookkeeping(activities: ReturnType<typeof createActivities>) {
  const { loadCampaignPlan, startIteration, planStage } = activities;
  return { loadCampaignPlan, startIteration, planStage };
}

/**
 * Runs workers until they shut down (SIGINT/SIGTERM are handled by the SDK's runtime). One failing
 * stops the others, and this returns (rethrowing the first failure) only once all have stopped: with
 * some still running the caller could not close their connection, and the process would stay up.
 */
export async function runWorkers(workers: Worker[]): Promise<void> {
  const runs = workers.map((w) =>
    w.run().catch((err: unknown) => {
      for (const other of workers) if (other.getState() === "RUNNING") other.shutdown();
      throw err;
    }),
  );
  const failed = (await Promise.allSettled(runs)).find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};
