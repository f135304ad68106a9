/**
 * Runs Node's test runner with two bounds it lacks, so that the suite never waits for CI's limit.
 *
 * Why: when a test file times out while a process it started still runs (a worker holding the
 * file's stdout), Node 20's runner prints its summary and then waits for that process for good
 * (seen in the full suite; reproduced with a file that spawns `sleep` and times out). And a file
 * stuck where no test timeout reaches it would hold the run until CI kills it at 90 minutes.
 *
 * Every process the run starts inherits TOOLLOOP_TEST_RUN_TOKEN, which is how the leftovers are
 * found even after their parents exited (an orphan is reparented away from the runner's tree):
 *   - the summary printed and the runner still alive `graceSeconds` later: the leftovers are named
 *     and stopped, and the run fails (a test that leaks a running process is a defect to fix);
 *   - no summary `deadlineMinutes` after the start: the processes still running are named
 *     (the test files among them show which file hangs), stopped, and the run fails.
 * Otherwise the exit status is the runner's own.
 *
 * usage: node dist/test/runner/boundedTestRun.js [--grace-s 60] [--deadline-min 60] -- <node --test args...>
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";

export const RUN_TOKEN_VAR = "TOOLLOOP_TEST_RUN_TOKEN";

interface Options {
  graceSeconds: number;
  deadlineMinutes: number;
  runnerArgs: string[];
}

function parseOptions(argv: string[]): Options {
  const sep = argv.indexOf("--");
  if (sep < 0 || sep === argv.length - 1) throw new Error("usage: boundedTestRun [--grace-s N] [--deadline-min N] -- <node --test args...>");
  const own = argv.slice(0, sep);
  const options: Options = { graceSeconds: 60, deadlineMinutes: 60, runnerArgs: argv.slice(sep + 1) };
  for (let i = 0; i < own.length; i += 2) {
    const flag = own[i];
    const value = Number(own[i + 1]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag}: expected a positive number, got ${JSON.stringify(own[i + 1])}`);
    if (flag === "--grace-s") options.graceSeconds = value;
    else if (flag === "--deadline-min") options.deadlineMinutes = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  return options;
}

/** Processes (other than this one) whose environment carries the run's token, with their command lines. */
export function processesCarrying(token: string): { pid: number; command: string }[] {
  const needle = Buffer.from(`${RUN_TOKEN_VAR}=${token}\0`);
  const found: { pid: number; command: string }[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      // A process that exited between readdir and here, or one of another user: skipped.
      const environ = fs.readFileSync(`/proc/${pid}/environ`);
      if (!environ.includes(needle)) continue;
      const command = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      found.push({ pid, command });
    } catch {
      continue;
    }
  }
  return found;
}

/** SIGTERM to every carrier, SIGKILL to those still there 10 s later; resolves once none is left (or after the kill). */
async function stopCarriers(token: string): Promise<void> {
  const signalAll = (signal: NodeJS.Signals): number => {
    const left = processesCarrying(token);
    for (const p of left) {
      try {
        process.kill(p.pid, signal);
      } catch {
        // already gone
      }
    }
    return left.length;
  };
  if (signalAll("SIGTERM") === 0) return;
  for (let waited = 0; waited < 10_000; waited += 250) {
    await new Promise((r) => setTimeout(r, 250));
    if (processesCarrying(token).length === 0) return;
  }
  signalAll("SIGKILL");
}

function describeCarriers(token: string): string {
  const left = processesCarrying(token);
  if (left.length === 0) return "  (none left)";
  return left.map((p) => `  pid ${p.pid}: ${p.command.length > 300 ? `${p.command.slice(0, 300)}...` : p.command}`).join("\n");
}

// eslint-disable-next-line no-control-regex -- colour codes are what it removes
const ANSI_ESCAPE = /\u001b\[[0-9;]*m/g;

/**
 * Watches the runner's TAP output for its final summary: `# todo N` then `# duration_ms X`, both at
 * the start of a line (a subtest's lines are indented), or the spec reporter's same lines.
 */
export class SummaryWatch {
  private previous = "";
  private pending = "";
  seen = false;

  feed(chunk: string): void {
    const lines = (this.pending + chunk).split("\n");
    this.pending = lines.pop() ?? "";
    for (const line of lines) {
      // TAP writes "# todo 0", the spec reporter "ℹ todo 0" (coloured on a terminal).
      const plain = line.replace(ANSI_ESCAPE, "");
      if (/^(?:#|ℹ) duration_ms /.test(plain) && /^(?:#|ℹ) todo \d+$/.test(this.previous)) this.seen = true;
      this.previous = plain;
    }
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const token = randomUUID();
  const started = Date.now();
  // Its output passes through a pipe here: on a terminal, keep the report a person would have seen there.
  const onTerminal = process.stdout.isTTY && !options.runnerArgs.some((a) => a.startsWith("--test-reporter"));
  const runnerArgs = onTerminal ? ["--test-reporter=spec", ...options.runnerArgs] : options.runnerArgs;
  const runner = spawn(process.execPath, runnerArgs, {
    env: { ...process.env, [RUN_TOKEN_VAR]: token, ...(onTerminal ? { FORCE_COLOR: "1" } : {}) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const summary = new SummaryWatch();
  let boundHit: "grace" | "deadline" | undefined;

  const exited = new Promise<number>((resolve) => {
    runner.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
  runner.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    summary.feed(chunk.toString("utf8"));
  });

  const check = setInterval(() => {
    if (boundHit !== undefined) return;
    if (!summary.seen && Date.now() - started > options.deadlineMinutes * 60_000) {
      boundHit = "deadline";
      process.stdout.write(
        `\n# boundedTestRun: no summary ${options.deadlineMinutes} minutes after the start; stopping what still runs:\n${describeCarriers(token)}\n`,
      );
      stopCarriers(token).catch((err: unknown) => process.stderr.write(`boundedTestRun: stopping leftovers: ${String(err)}\n`));
    }
  }, 1_000);

  let graceTimer: NodeJS.Timeout | undefined;
  const summaryCheck = setInterval(() => {
    if (!summary.seen || graceTimer !== undefined) return;
    graceTimer = setTimeout(() => {
      if (boundHit !== undefined) return;
      boundHit = "grace";
      process.stdout.write(
        `\n# boundedTestRun: the runner printed its summary but was still running ${options.graceSeconds} s later, waiting for processes a test left running; stopping them:\n${describeCarriers(token)}\n`,
      );
      stopCarriers(token).catch((err: unknown) => process.stderr.write(`boundedTestRun: stopping leftovers: ${String(err)}\n`));
    }, options.graceSeconds * 1_000);
  }, 200);

  const code = await exited;
  clearInterval(check);
  clearInterval(summaryCheck);
  if (graceTimer !== undefined) clearTimeout(graceTimer);
  // Whatever the runner's children left behind once it is gone (it exited on its own) is stopped too.
  const leftovers = processesCarrying(token);
  if (leftovers.length > 0 && boundHit === undefined) {
    process.stdout.write(`\n# boundedTestRun: the runner exited and left processes running; stopping them:\n${describeCarriers(token)}\n`);
    await stopCarriers(token);
  }
  if (boundHit !== undefined) {
    process.stdout.write(
      `# boundedTestRun: failed: ${boundHit === "grace" ? "a test left a process running after the run" : `the run passed its ${options.deadlineMinutes}-minute deadline`}\n`,
    );
    process.exitCode = 1;
    return;
  }
  process.exitCode = code;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${fs.realpathSync(process.argv[1])}`).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`boundedTestRun: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  });
}
