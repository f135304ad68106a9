/**
 * `toolloop worker` and `toolloop db migrate`: their flags here, their work in worker.ts, imported
 * only when one of them runs. worker.ts brings the worker SDK and every activity, whose loading
 * made up about 40% of the start-up of every other command.
 */
import type { Command } from "commander";
import { baseDirHelp } from "./env.js";

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
    .option("--llm-concurrency <n>", "concurrent LLM-bound activities", "16")
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
