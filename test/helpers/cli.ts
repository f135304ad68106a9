/** The toolloop CLI as a child process, against a test environment's Temporal and PostgreSQL. */
import { execFile, spawn } from "node:child_process";
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

/**
 * Runs the CLI and also tells when its stdout first shows `until`: for a test that must act only after
 * the CLI has reached a point (a fixed sleep is not enough on a loaded machine, where the CLI's own
 * start-up can outlast it). `seen` rejects if the process ends without printing it.
 */
export function runCliUntil(args: string[], env: Record<string, string>, timeoutMs: number, until: RegExp): { seen: Promise<void>; done: Promise<CliResult> } {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
  let stdout = "";
  let stderr = "";
  let markSeen: () => void = () => undefined;
  let markMissed: (e: Error) => void = () => undefined;
  const seen = new Promise<void>((resolve, reject) => {
    markSeen = resolve;
    markMissed = reject;
  });
  seen.catch(() => undefined); // a caller that only awaits `done` must not see an unhandled rejection
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
    if (until.test(stdout)) markSeen();
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      markMissed(new Error(`the CLI ended (${code}) without printing ${until}: ${stdout}${stderr}`));
      resolve({ status: code ?? -1, stdout, stderr, ms: Date.now() - started });
    });
  });
  return { seen, done };
}
