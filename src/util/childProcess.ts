/** Child-process helpers: liveness, termination, log tails, cleanup on exit. Used by the dev-services launchers and by the BFCL evaluator. */
import fs from "node:fs";

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True while `pid` exists and is not a zombie (a zombie has exited; it only waits to be reaped). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state follows the parenthesised command name, which may itself contain spaces.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no procfs (not Linux): kill(0) succeeding is the best we know
  }
}

/** The process's argv joined by spaces, or undefined where procfs is unavailable or it is gone. */
export function processCommandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

function signal(pid: number, sig: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch (err) {
    // A group kill fails with ESRCH when the leader already exited; fall back to the pid itself.
    if (group && (err as NodeJS.ErrnoException).code === "ESRCH") signal(pid, sig, false);
    else if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function terminateProcess(pid: number, opts: { graceMs?: number; group?: boolean } = {}): Promise<void> {
  const group = opts.group ?? false;
  if (!isProcessAlive(pid)) return;
  signal(pid, "SIGTERM", group);
  if (await waitForExit(pid, opts.graceMs ?? 10_000)) return;
  signal(pid, "SIGKILL", group);
  if (!(await waitForExit(pid, 5_000))) throw new Error(`process ${pid} did not exit after SIGKILL`);
}

/** The last `lines` lines of a log file, for error messages ("" when it does not exist). */
export function tailFile(file: string, lines = 30): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** The file's size in bytes (0 when it does not exist): where the next start's log section begins. */
export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** What was appended to `file` from byte `offset` on: the log of one start, not of earlier ones. */
export function readFileFrom(file: string, offset: number): string {
  try {
    const buf = fs.readFileSync(file);
    return buf.subarray(Math.min(offset, buf.length)).toString("utf8");
  } catch {
    return "";
  }
}

export interface AddressInUse {
  /** The log line that says so. */
  line: string;
  /** The port it names, when the line names one. */
  port?: number;
}

/**
 * The first "address already in use" line of a log section, wherever it is: a Go server that fails
 * to bind can print a panic with hundreds of goroutine frames after it, so a tail misses it.
 */
export function findAddressInUse(logSection: string): AddressInUse | undefined {
  for (const line of logSection.split("\n")) {
    if (!/address already in use/i.test(line)) continue;
    const port = /:(\d{1,5}):? (?:bind: )?address already in use/i.exec(line)?.[1] ?? /\bport (\d{1,5})\b/i.exec(line)?.[1];
    return { line: line.trim(), ...(port ? { port: Number(port) } : {}) };
  }
  return undefined;
}

/** Error, fatal and panic lines of a log section (the first `max`), for an error message. */
export function errorLines(logSection: string, max = 5): string[] {
  return logSection
    .split("\n")
    .filter((l) => /^panic:|^fatal error:|level=(ERROR|FATAL|DPANIC|PANIC)\b/i.test(l.trim()))
    .slice(0, max)
    .map((l) => l.trim());
}

/*
 * Children that must not outlive this process. Node cannot ask the kernel to kill a child when the
 * parent dies (no PR_SET_PDEATHSIG), so this covers normal exit and fatal signals; SIGKILL of the
 * parent still leaks the child. On a signal we only act when no one else handles it: an application
 * with its own handler is expected to stop its services gracefully.
 */
const exitCleanups = new Set<() => void>();
const FATAL_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
let handlersInstalled = false;

function runCleanups(): void {
  for (const cleanup of [...exitCleanups]) {
    try {
      cleanup();
    } catch {
      // best effort during exit
    }
  }
  exitCleanups.clear();
}

function onFatalSignal(sig: NodeJS.Signals): void {
  if (process.listenerCount(sig) > 1) return;
  runCleanups();
  process.removeListener(sig, onFatalSignal);
  process.kill(process.pid, sig); // re-raise: default action, so the exit status says which signal
}

/** Runs `killSync` (must be synchronous) if this process exits first; returns the unregister function. */
export function cleanupOnParentExit(killSync: () => void): () => void {
  if (!handlersInstalled) {
    handlersInstalled = true;
    process.on("exit", runCleanups);
    for (const sig of FATAL_SIGNALS) process.on(sig, onFatalSignal);
  }
  exitCleanups.add(killSync);
  return () => {
    exitCleanups.delete(killSync);
  };
}
