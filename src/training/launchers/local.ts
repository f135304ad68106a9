/**
 * Jobs as local processes that outlive the worker: each runs detached in its own session and process
 * group, through a tiny `sh` wrapper that records its own pid and start time and, when the command
 * ends, its exit code. Files per job in the state folder:
 *
 *   <name>.json       the record, created atomically (link(2) of a complete temp file: fails if it exists)
 *                     BEFORE anything is spawned, so two racing submits start one process
 *   <name>.pid        "PID STARTTIME", written by the wrapper itself (start time guards against pid reuse)
 *   <name>.exit       the command's exit code, written by the wrapper when it ends
 *   <name>.cancelled  written by cancel before it signals the group
 *   <name>.watch      "PID STARTTIME" of the job's memory watch (memoryWatch.ts), for a job with a memPerNode
 *   <name>.oom        written by the memory watch when it killed the job for its memory
 *
 * Output (stdout and stderr) goes to <workDir>/<name>.log. Since the wrapper writes the pid and exit
 * files, a worker killed -9 right after spawning loses nothing: a fresh launcher finds the job by its
 * name and reads its state. A worker killed between the record and the spawn leaves a record with no
 * process: it reads as pending for a short while, then as lost (never started twice).
 *
 * Resources, without root or cgroups: `cpusPerTask` pins the wrapper (and so everything it starts) to
 * that many of the CPUs this worker may use, the least used by other running local jobs, with
 * `taskset` (util-linux; without it the job runs unpinned and its log and record say so); `memPerNode`
 * starts a detached memory watch that sums the resident memory of the job's process tree and kills the
 * tree once it is over the limit, which fails the job naming the limit and the peak seen.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleepFor } from "node:timers/promises";
import type { LocalLauncherConfig } from "./config.js";
import { assertJobName, assertJobRequest, DEFAULT_TAIL_BYTES, tailBytes } from "./jobRequest.js";
import { JobRefusedError, JobStopTimeoutError, type CancelOptions, type JobLauncher, type JobRef, type JobRequest, type JobStatus } from "./launcher.js";
import { allowedCpus, chooseCpus, findTaskset, formatBytes, formatCpuList, memoryLimitBytes } from "./localLimits.js";
import { oomMessage, readOomRecord, type MemoryWatchArgs } from "./memoryWatch.js";
import { groupProcesses, isJobGroupAlive, isSameProcessAlive, parseProcessIdentity, startTimeOf, type ProcessIdentity } from "./processIdentity.js";

/** $0 of every job wrapper is `toolloop-job[<name>]`, so the process table names the job (ps, tests). */
export const LOCAL_JOB_PROCESS_TAG = "toolloop-job";

/**
 * The wrapper. It traps TERM/INT/HUP with a no-op (a handler, not "ignore", so the command does not
 * inherit an ignored signal): a group SIGTERM then ends the command, and the wrapper still records
 * its exit code (sh runs a trap only after the foreground command has finished). The pid and exit
 * files are written to a temp name and renamed, so readers never see half a file. With a CPU list
 * ($3) it pins itself with taskset ($4) before it starts the command, which inherits the affinity.
 */
const WRAPPER = [
  "d=$1; n=$2; cpus=$3; ts=$4; shift 4",
  "trap : TERM INT HUP",
  // Field 22 of /proc/PID/stat is field 20 after "PID (comm) "; comm may contain spaces, so cut after ") ".
  `st=$(sed 's/.*) //' /proc/$$/stat 2>/dev/null | cut -d' ' -f20)`,
  'printf "%s %s\\n" "$$" "$st" > "$d/$n.pid.tmp" && mv -f "$d/$n.pid.tmp" "$d/$n.pid"',
  'if [ -n "$cpus" ] && ! "$ts" -pc "$cpus" $$ >/dev/null; then',
  '  echo "toolloop: could not pin the job to CPUs $cpus (resources.cpusPerTask) with $ts" >&2; c=126',
  "else",
  '  "$@"; c=$?',
  "fi",
  'printf "%s\\n" "$c" > "$d/$n.exit.tmp" && mv -f "$d/$n.exit.tmp" "$d/$n.exit"',
  'exit "$c"',
].join("\n");

/** The memory watch's entry point, beside this module (dist/src/training/launchers/). */
const MEMORY_WATCH_SCRIPT = fileURLToPath(new URL("./memoryWatchProcess.js", import.meta.url));

/** A record without a pid file for longer than this never got its process (the worker died before spawning). */
const START_GRACE_MS = 60_000;

interface JobRecord {
  name: string;
  workDir: string;
  logFile: string;
  command: string[];
  /** Names only: values may be secrets. */
  envNames: string[];
  createdAt: string;
  /** What the launcher enforces of the job's resources; absent when neither cpusPerTask nor memPerNode was asked for. */
  limits?: JobLimits;
}

interface JobLimits {
  cpusPerTask?: number;
  /** The CPUs the job is pinned to; absent when that could not be enforced (cpuNote says why). */
  cpus?: number[];
  cpuNote?: string;
  memPerNode?: string;
  /** Absent for memPerNode "0" (all of the machine's memory: no limit). */
  memLimitBytes?: number;
}

export interface LocalLauncherOptions {
  log: (m: string) => void;
  /** SIGTERM to SIGKILL, when cancelling (default 10 s). */
  cancelGraceMs?: number;
  /** How long `cancel` waits for the job's process group to end; default 120 s (as the Slurm and Ray launchers). */
  stopWaitMs?: number;
  /** taskset for cpusPerTask: default found on PATH; null: none (the job runs unpinned, and its log says so). */
  tasksetPath?: string | null;
  /** Shortest time between two looks of a job's memory watch at its processes' memory (default 500 ms). */
  memoryPollMs?: number;
}

/** $TOOLLOOP_STATE_DIR/local-jobs, else ~/.local/state/toolloop/local-jobs. */
export function defaultLocalStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.TOOLLOOP_STATE_DIR ? path.resolve(env.TOOLLOOP_STATE_DIR) : path.join(os.homedir(), ".local", "state", "toolloop");
  return path.join(root, "local-jobs");
}

export class LocalLauncher implements JobLauncher {
  readonly kind = "local" as const;
  readonly stateDir: string;
  private readonly log: (m: string) => void;
  private readonly cancelGraceMs: number;
  private readonly stopWaitMs: number;
  private readonly tasksetPath: string | null | undefined;
  private readonly memoryPollMs: number;

  constructor(config: LocalLauncherConfig, opts: LocalLauncherOptions) {
    this.stateDir = path.resolve(config.stateDir ?? defaultLocalStateDir());
    this.log = opts.log;
    this.cancelGraceMs = opts.cancelGraceMs ?? 10_000;
    this.stopWaitMs = Math.max(0, opts.stopWaitMs ?? 120_000);
    this.tasksetPath = opts.tasksetPath;
    this.memoryPollMs = Math.min(10_000, Math.max(50, opts.memoryPollMs ?? 500));
  }

  private file(name: string, ext: "json" | "pid" | "exit" | "cancelled" | "watch" | "oom"): string {
    return path.join(this.stateDir, `${name}.${ext}`);
  }

  async find(name: string): Promise<JobRef | undefined> {
    assertJobName(name);
    const record = this.readRecord(name);
    if (!record) return undefined;
    // A record just made by a submit that is spawning right now: give the wrapper a moment to say its pid.
    let id = this.readPid(name);
    for (let waited = 0; !id && waited < 2000 && this.recordAgeMs(name) < START_GRACE_MS; waited += 100) {
      await sleep(100);
      id = this.readPid(name);
    }
    return { launcher: "local", name, externalId: id ? String(id.pid) : "unstarted" };
  }

  async submit(request: JobRequest): Promise<{ ref: JobRef; submitted: boolean }> {
    assertJobRequest(request);
    const { name } = request;
    fs.mkdirSync(this.stateDir, { recursive: true });
    fs.mkdirSync(request.workDir, { recursive: true });
    // A job already under this name is returned as it is, even if its request would be refused now.
    const limits = this.readRecord(name) ? undefined : this.limitsFor(request);
    const record: JobRecord = {
      name,
      workDir: request.workDir,
      logFile: path.join(request.workDir, `${name}.log`),
      command: request.command,
      envNames: Object.keys(request.env ?? {}),
      createdAt: new Date().toISOString(),
      ...(limits ? { limits } : {}),
    };
    if (!this.createRecord(record)) {
      const ref = await this.find(name);
      if (!ref) throw new Error(`local job ${name}: its record exists but cannot be read (${this.file(name, "json")})`);
      this.log(`[local] job ${name} exists (pid ${ref.externalId}); not starting another`);
      return { ref, submitted: false };
    }
    if (limits) this.noteLimits(record, limits);
    const pid = this.spawnWrapper(request, record.logFile, limits);
    if (limits?.memLimitBytes !== undefined) this.startMemoryWatch(record, limits, pid);
    this.log(`[local] started job ${name} (pid ${pid}, log ${record.logFile})`);
    return { ref: { launcher: "local", name, externalId: String(pid) }, submitted: true };
  }

  /** False when a record with that name exists already (another submit won). */
  private createRecord(record: JobRecord): boolean {
    const target = this.file(record.name, "json");
    const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { flag: "wx" });
    try {
      fs.linkSync(tmp, target);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /**
   * The CPUs to pin the job to and its memory limit in bytes; undefined when it asks for neither. More
   * CPUs than this worker may use is refused (the same request is refused again, so JobRefusedError).
   */
  private limitsFor(request: JobRequest): JobLimits | undefined {
    const { cpusPerTask, memPerNode } = request.resources;
    if (cpusPerTask === undefined && memPerNode === undefined) return undefined;
    const limits: JobLimits = {};
    if (cpusPerTask !== undefined) {
      const count = Math.ceil(cpusPerTask);
      limits.cpusPerTask = count;
      let cpus: number[];
      try {
        cpus = chooseCpus(count, allowedCpus(), this.cpusOfRunningJobs());
      } catch (err) {
        throw new JobRefusedError(`local job ${request.name}: ${(err as Error).message}`);
      }
      const taskset = this.tasksetPath === null ? undefined : (this.tasksetPath ?? findTaskset());
      if (taskset) limits.cpus = cpus;
      else limits.cpuNote = `not enforced: taskset (util-linux) is not on PATH, so the job may use every CPU of this machine`;
    }
    if (memPerNode !== undefined) {
      limits.memPerNode = memPerNode;
      const bytes = memoryLimitBytes(memPerNode);
      if (bytes !== undefined) limits.memLimitBytes = bytes;
    }
    return limits;
  }

  /** The CPUs other local jobs of this state folder are pinned to while they run, each as often as it is used. */
  private cpusOfRunningJobs(): number[] {
    let entries: string[];
    try {
      entries = fs.readdirSync(this.stateDir);
    } catch {
      return [];
    }
    const used: number[] = [];
    for (const entry of entries) {
      if (!entry.endsWith(".json")) continue;
      const name = entry.slice(0, -".json".length);
      if (fs.existsSync(this.file(name, "exit"))) continue;
      let record: JobRecord | undefined;
      try {
        record = this.readRecord(name);
      } catch {
        continue;
      }
      const id = this.readPid(name);
      if (record?.limits?.cpus && id && isSameProcessAlive(id)) used.push(...record.limits.cpus);
    }
    return used;
  }

  /** What is enforced, in the job's log (where its failures are read) and the worker's; a limit that cannot be enforced is said, never dropped. */
  private noteLimits(record: JobRecord, limits: JobLimits): void {
    const lines: string[] = [];
    if (limits.cpusPerTask !== undefined) {
      lines.push(
        limits.cpus
          ? `resources.cpusPerTask ${limits.cpusPerTask}: pinned to CPUs ${formatCpuList(limits.cpus)} (taskset)`
          : `resources.cpusPerTask ${limits.cpusPerTask} is ${limits.cpuNote ?? "not enforced"}`,
      );
    }
    if (limits.memPerNode !== undefined) {
      lines.push(
        limits.memLimitBytes !== undefined
          ? `resources.memPerNode ${JSON.stringify(limits.memPerNode)}: the job's processes are killed once their resident memory exceeds ${formatBytes(limits.memLimitBytes)}`
          : `resources.memPerNode "0": no memory limit`,
      );
    }
    fs.appendFileSync(record.logFile, lines.map((l) => `toolloop: ${l}\n`).join(""));
    for (const line of lines) this.log(`[local] job ${record.name}: ${line}`);
  }

  /** A detached process (own session: it outlives a worker restart, as the job does) that ends once nothing of the job runs. */
  private startMemoryWatch(record: JobRecord, limits: JobLimits, sid: number): void {
    const args: MemoryWatchArgs = {
      stateDir: this.stateDir,
      name: record.name,
      sid,
      limitBytes: limits.memLimitBytes ?? 0,
      memPerNode: limits.memPerNode ?? "",
      logFile: record.logFile,
      pollMs: this.memoryPollMs,
    };
    const child = spawn(process.execPath, ["--max-old-space-size=64", MEMORY_WATCH_SCRIPT, JSON.stringify(args)], { detached: true, stdio: "ignore" });
    child.once("error", (err) => {
      const line = `the memory watch of job ${record.name} could not start (${err.message}); resources.memPerNode is not enforced until its status is read again`;
      this.log(`[local] ${line}`);
      fs.appendFileSync(record.logFile, `toolloop: ${line}\n`);
    });
    child.unref();
    if (child.pid === undefined) return;
    fs.writeFileSync(this.file(record.name, "watch"), `${child.pid} ${startTimeOf(child.pid) ?? ""}\n`);
  }

  /** A running job with a memory limit whose watch has gone (killed, or the machine's processes restarted) gets another. */
  private ensureMemoryWatch(record: JobRecord, wrapper: ProcessIdentity): void {
    const limits = record.limits;
    if (limits?.memLimitBytes === undefined) return;
    const watch = parseProcessIdentity(readOptional(this.file(record.name, "watch")) ?? "");
    if (watch && isSameProcessAlive(watch)) return;
    this.log(`[local] the memory watch of job ${record.name} is not running; starting another`);
    this.startMemoryWatch(record, limits, wrapper.pid);
  }

  private spawnWrapper(request: JobRequest, logFile: string, limits: JobLimits | undefined): number {
    const logFd = fs.openSync(logFile, "a");
    const cpus = limits?.cpus ? formatCpuList(limits.cpus) : "";
    const taskset = cpus ? (this.tasksetPath ?? findTaskset() ?? "taskset") : "";
    try {
      const tag = `${LOCAL_JOB_PROCESS_TAG}[${request.name}]`;
      const child = spawn("/bin/sh", ["-c", WRAPPER, tag, this.stateDir, request.name, cpus, taskset, ...request.command], {
        cwd: request.workDir,
        env: { ...process.env, ...request.env },
        detached: true,
        stdio: ["ignore", logFd, logFd],
      });
      child.once("error", (err) => {
        // sh itself could not start: record a failure rather than leave a job that reads as lost.
        fs.appendFileSync(logFile, `toolloop: could not start the job wrapper: ${err.message}\n`);
        fs.writeFileSync(this.file(request.name, "exit"), "127\n");
      });
      child.unref();
      if (child.pid === undefined) throw new Error(`local job ${request.name}: could not spawn /bin/sh`);
      return child.pid;
    } finally {
      fs.closeSync(logFd);
    }
  }

  async status(ref: JobRef): Promise<JobStatus> {
    assertJobName(ref.name);
    const nodes = ["127.0.0.1"];
    const record = this.readRecord(ref.name);
    if (!record) return { state: "lost", message: `no record of local job ${ref.name} in ${this.stateDir}`, nodes };
    const oom = record.limits?.memLimitBytes !== undefined ? readOomRecord(this.stateDir, ref.name) : undefined;
    const cancelled = fs.existsSync(this.file(ref.name, "cancelled"));
    const exitCode = this.readExitCode(ref.name);
    const id = this.readPid(ref.name);
    if (exitCode === undefined && id && isSameProcessAlive(id)) {
      if (oom) return { state: "running", message: `ending: ${oomMessage(oom)}`, nodes };
      this.ensureMemoryWatch(record, id);
      return cancelled ? { state: "running", message: "cancelling", nodes } : { state: "running", nodes };
    }
    // The wrapper renames the exit file into place before it exits: read it once more after seeing it gone.
    const finalCode = exitCode ?? this.readExitCode(ref.name);
    if (cancelled) return { state: "cancelled", ...(finalCode !== undefined ? { exitCode: finalCode } : {}), message: "cancelled", nodes };
    // Killed for its memory: failed whatever code its wrapper recorded, as Slurm's OUT_OF_MEMORY.
    if (oom) return { state: "failed", exitCode: finalCode ?? 137, message: oomMessage(oom), nodes };
    if (finalCode === 0) return { state: "succeeded", exitCode: 0, nodes };
    if (finalCode !== undefined) return { state: "failed", exitCode: finalCode, message: exitMessage(finalCode), nodes };
    if (!id && this.recordAgeMs(ref.name) < START_GRACE_MS) return { state: "pending", message: "starting", nodes };
    return {
      state: "lost",
      message: id ? `process ${id.pid} is gone and left no exit code (killed with the wrapper, or the machine restarted)` : "the process was never started",
      nodes,
    };
  }

  async logs(ref: JobRef, options?: { tailBytes?: number }): Promise<string> {
    assertJobName(ref.name);
    const record = this.readRecord(ref.name);
    if (!record) return "";
    return tailBytes(record.logFile, options?.tailBytes ?? DEFAULT_TAIL_BYTES);
  }

  /**
   * SIGTERM to the job's process group, SIGKILL `cancelGraceMs` after the first ask, then waits until no
   * process of the group runs, as Slurm's and Ray's cancel wait for their scheduler: a retry started
   * right away must not run beside leftovers over the same files. Past `stopWaitMs` it throws
   * JobStopTimeoutError naming what still runs (the caller's retry asks again, and kills at once once
   * the grace since the first ask has passed).
   */
  async cancel(ref: JobRef, options?: CancelOptions): Promise<void> {
    assertJobName(ref.name);
    if (!this.readRecord(ref.name) || this.readExitCode(ref.name) !== undefined) return;
    let id = this.readPid(ref.name);
    // The wrapper gone without an exit code (lost): left as it is, unless its command's processes still run in its group.
    if (id && !isSameProcessAlive(id) && !isJobGroupAlive(id)) return;
    const cancelledFile = this.file(ref.name, "cancelled");
    // The first ask's time is kept: a retried cancel counts the grace from it.
    if (!fs.existsSync(cancelledFile)) fs.writeFileSync(cancelledFile, `${new Date().toISOString()}\n`);
    const askedAt = Date.parse(readOptional(cancelledFile)?.trim() ?? "") || Date.now();
    const started = Date.now();
    // Starting right now: wait for the wrapper's pid, so the process cannot start after the cancel.
    for (let waited = 0; !id && waited < 5000 && this.recordAgeMs(ref.name) < START_GRACE_MS; waited += 100) {
      await sleep(100);
      id = this.readPid(ref.name);
    }
    if (!id) return;
    const wrapper = id;
    const pgid = wrapper.pid;
    if (!isJobGroupAlive(wrapper)) return;
    this.log(`[local] cancelling job ${ref.name} (process group ${pgid})`);
    // The wrapper leads the group; everything the command started is in it unless it made its own session.
    killGroup(pgid, "SIGTERM");
    let killed = false;
    for (;;) {
      if (!isJobGroupAlive(wrapper)) return;
      if (!killed && Date.now() - askedAt >= this.cancelGraceMs) {
        this.log(`[local] job ${ref.name} still running ${Date.now() - askedAt} ms after SIGTERM; sending SIGKILL`);
        killGroup(pgid, "SIGKILL");
        killed = true;
      }
      const waited = Date.now() - started;
      if (waited >= this.stopWaitMs) {
        const running = groupProcesses(pgid);
        if (running.length === 0) return;
        throw new JobStopTimeoutError(
          `local job ${ref.name} was asked to stop ${Math.round((Date.now() - askedAt) / 1000)} s ago (SIGTERM to its process group ${pgid}` +
            `${killed ? ", then SIGKILL" : `; SIGKILL follows ${Math.round(this.cancelGraceMs / 1000)} s after it`}) and ${running.length} of its processes still run: ` +
            `${running.map((p) => `pid ${p.pid} (${p.command})`).join(", ")}. Nothing is started over its files until it has ended; the cancel is asked again on the next try`,
        );
      }
      const untilKill = killed ? Infinity : this.cancelGraceMs - (Date.now() - askedAt);
      await sleepFor(Math.max(10, Math.min(100, this.stopWaitMs - waited, untilKill)), undefined, { signal: options?.signal });
    }
  }

  private readRecord(name: string): JobRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.file(name, "json"), "utf8")) as JobRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`local job ${name}: unreadable record ${this.file(name, "json")}: ${(err as Error).message}`);
    }
  }

  private recordAgeMs(name: string): number {
    try {
      return Date.now() - fs.statSync(this.file(name, "json")).mtimeMs;
    } catch {
      return Infinity;
    }
  }

  private readPid(name: string): ProcessIdentity | undefined {
    const text = readOptional(this.file(name, "pid"));
    return text === undefined ? undefined : parseProcessIdentity(text);
  }

  private readExitCode(name: string): number | undefined {
    const text = readOptional(this.file(name, "exit"))?.trim();
    return text && /^\d+$/.test(text) ? Number(text) : undefined;
  }
}

/** Signals a shell reports as exit code 128 + n (the wrapper's `$?`). */
const SIGNAL_NAMES: Record<number, string> = { 1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM" };

/** `exited with code 137 (killed by SIGKILL, e.g. the OOM killer)`: the code, and the signal a code above 128 stands for. */
export function exitMessage(code: number): string {
  const signal = code > 128 && code < 160 ? (SIGNAL_NAMES[code - 128] ?? `signal ${code - 128}`) : undefined;
  if (!signal) return `exited with code ${code}`;
  return `exited with code ${code} (ended by ${signal}${code === 137 ? ", e.g. kill -9 or the OOM killer" : ""})`;
}

function readOptional(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
