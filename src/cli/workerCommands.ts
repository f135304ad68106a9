/**
 * `toolloop worker` and `toolloop db migrate`: their flags here, their work in worker.ts, imported
 * only when one of them runs. worker.ts brings the worker SDK and every activity, whose loading
 * made up about 40% of the start-up of every other command.
 */
import type { Command } from "commander";
import { baseDirHelp } from "./env.js";

/**
 * The most LLM-bound activities one worker process runs at once. Each is a whole batch: its samples
 * in memory and up to its endpoint's maxConcurrency requests open, all on one event loop and the
 * process's 10 database connections. Each batch heartbeats every second and Temporal hands it to
 * another worker after 6 s without one, so a process running thousands falls behind on heartbeats and
 * the same batches run twice; more throughput comes from more worker processes (`--roles llm`).
 */
export const MAX_LLM_CONCURRENCY = 256;

/** `toolloop worker`'s flags as commander hands them over. */
export interface WorkerOptions {
  roles: string;
  baseDir?: string;
  llmConcurrency: string;
  metricsAddress?: string;
}

export function registerWorkerCommands(program: Command): void {
  program
    .command("worker")
    .description("run workflow and activity workers until SIGINT/SIGTERM")
    .option("--roles <list>", "comma list of workflows,llm,default,cluster", "workflows,llm,default,cluster")
    .option("--base-dir <dir>", baseDirHelp("directory campaign outputs are resolved against"))
    .option(
      "--llm-concurrency <n>",
      `concurrent LLM-bound activities (batches), 1 to ${MAX_LLM_CONCURRENCY}: each holds a whole batch and its open requests on this process's one event loop and 10 database connections, and past a few hundred its heartbeats fall behind (Temporal then runs the batch again elsewhere); for more, run more workers with --roles llm`,
      "16",
    )
    .option(
      "--metrics-address <host:port>",
      "serve Prometheus metrics (toolloop's and the Temporal SDK's) at http://<host:port>/metrics; default $TOOLLOOP_METRICS_ADDRESS, else off",
    )
    .action(async (opts: WorkerOptions) => (await import("./worker.js")).runWorkerCommand(opts));

  program
    .command("db")
    .description("database maintenance")
    .command("migrate")
    .description("apply the committed migrations to DATABASE_URL")
    .action(async () => (await import("./worker.js")).runDbMigrate());
}
