/** The toolloop CLI as a child process, against a test environment's Temporal and PostgreSQL. */
import { execFile } from "node:child_process";
import path from "node:path";
import type { TestEnv } from "./testEnv.js";
import { REPO_ROOT } from "./trainVenv.js";

export const CLI_MAIN = path.join(REPO_ROOT, "dist", "src", "cli", "main.js");

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
  /** Wall time of the whole process. */
  ms: number;
}

/** The variables that point the CLI at a test environment (its task queues included). */
export function cliEnvOf(env: Pick<TestEnv, "temporalAddress" | "namespace" | "databaseUrl" | "queuePrefix">): Record<string, string> {
  return { TEMPORAL_ADDRESS: env.temporalAddress, TEMPORAL_NAMESPACE: env.namespace, DATABASE_URL: env.databaseUrl, TOOLLOOP_QUEUE_PREFIX: env.queuePrefix };
}

/** Runs the CLI asynchronously (a worker in the test process keeps running meanwhile). */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_MAIN, ...args], { encoding: "utf8", timeout: timeoutMs, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ status: code, stdout, stderr, ms: Date.now() - started });
    });
  });
}
