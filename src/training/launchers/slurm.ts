/**
 * Jobs on a Slurm cluster through its own commands: sbatch --parsable to submit, squeue (all states,
 * so recently finished jobs too), scontrol and sacct for state and exit code, scancel to cancel. The
 * job's output is <workDir>/<name>-<jobid>.log (workDir on a file system the nodes and the worker share).
 *
 * Never twice under one name. submit looks the name up first (squeue, then sacct where accounting is
 * on), then looks for its own note `<workDir>/<name>.slurm-jobid` (a job submitted before and since
 * purged from the controller on a cluster without accounting). What is left is the window between that
 * look-up and sbatch registering the job (tens of milliseconds). It is narrowed three ways:
 *   1. a lock file `<workDir>/<name>.slurm-submit.lock` created with O_EXCL around look-up + sbatch,
 *      so submitters that share the work folder take turns (a lock older than 2 minutes with no job
 *      is a dead submitter's and is taken over);
 *   2. `--dependency=singleton`: a second job of the same name and user cannot start while the first
 *      is pending or running;
 *   3. after sbatch, the name is looked up again and every job of that name but the oldest is
 *      cancelled (all racers cancel the same ones), and the oldest is returned.
 * So a duplicate can only appear in the scheduler's list as a cancelled job that never ran.
 */
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { setTimeout as sleepFor } from "node:timers/promises";
import type { SlurmLauncherConfig } from "./config.js";
import { assertJobName, assertJobRequest, DEFAULT_TAIL_BYTES, tailBytes } from "./jobRequest.js";
import {
  JobRefusedError,
  JobStopTimeoutError,
  SchedulerUnreachableError,
  type CancelOptions,
  type JobLauncher,
  type JobRef,
  type JobRequest,
  type JobState,
  type JobStatus,
} from "./launcher.js";
import { slurmBatchScript } from "./slurmBatchScript.js";
import { writeFileAtomicSync } from "../../util/atomicFiles.js";

const COMMAND_TIMEOUT_MS = 60_000;
const LOCK_STALE_MS = 120_000;
const LOCK_WAIT_MS = 30_000;
/** Slurm sends SIGKILL KillWait (30 s by default) after SIGTERM; then the node cleans up (COMPLETING). */
const STOP_WAIT_MS = 120_000;

export interface SlurmLauncherOptions {
  log: (m: string) => void;
  /** The campaign's `cluster.python` (default "python3"): a multi-node job's batch script checks the Ray nodes with it. */
  python?: string;
  /** Time limit of each Slurm command (sbatch, squeue, ...); default 60 s. */
  commandTimeoutMs?: number;
  /** How long `cancel` waits for the controller to report a cancelled job ended; default 120 s (Slurm's KillWait is 30 s by default). */
  stopWaitMs?: number;
}

interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What the controller (scontrol) or the accounting (sacct) says about one job. */
interface SlurmJobInfo {
  id: string;
  /** Every field scontrol printed (none from sacct). */
  fields?: Record<string, string>;
  state: string;
  reason?: string;
  exitCode?: string;
  nodeList?: string;
  stdOut?: string;
  workDir?: string;
}

/** What Slurm's client commands print when the controller does not answer (down, restarting, failing over, overloaded). */
const SLURM_UNREACHABLE =
  /Unable to contact slurm controller|Socket timed out on send\/recv|Zero Bytes were transmitted or received|Communication connection failure/i;

const PENDING = new Set(["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT"]);
const RUNNING = new Set(["RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING", "UPDATE_DB", "POWER_UP_NODE"]);
const FAILED = new Set(["FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED"]);

/**
 * Reasons a pending job keeps until someone changes the job, its limits or the cluster: Slurm never
 * starts it by itself (EnforcePartLimits=NO, Slurm's default, accepts such a job at submit). Each says
 * which setting asked for what cannot be had.
 */
const NEVER_STARTS: Record<string, string> = {
  PartitionTimeLimit: "its time limit (the stage's timeLimitMinutes) is above the partition's MaxTime",
  BadConstraints: "no node can meet what it asks for (cluster.launcher.extraSbatchArgs, the stage's nGpusPerNode)",
  InvalidAccount: "its account is not valid (cluster.launcher.account)",
  AccountNotAllowed: "its account may not use the partition (cluster.launcher.account, cluster.launcher.partition)",
  InvalidQOS: "its QOS is not valid (cluster.launcher.qos)",
  QOSNotAllowed: "its QOS may not be used with this account or partition (cluster.launcher.qos)",
  QOSMaxWallDurationPerJobLimit: "its time limit (the stage's timeLimitMinutes) is above the QOS's MaxWall",
  AssocMaxWallDurationPerJobLimit: "its time limit (the stage's timeLimitMinutes) is above the account's MaxWall",
  MaxMemPerLimit: "its memory is above the partition's MaxMemPerNode or MaxMemPerCPU (the stage's memPerNode or cluster.launcher.memPerNode)",
  DependencyNeverSatisfied: "its dependency can never be satisfied",
};

/**
 * Reasons that compare the job with its partition (job_limits_check in slurmctld): PartitionNodeLimit
 * for a node count outside MinNodes..MaxNodes or above the partition's nodes, PartitionConfig for
 * anything else (more CPUs than the partition has, a time limit above MaxTime before Slurm names it,
 * an access rule changed after submit). Only some of these hold for good: the partition's totals
 * count every node it is configured with (down, drained, powered-down and cloud nodes too), but an
 * elastic cluster (dynamic nodes, MaxNodeCount above its node count) can add nodes, and nodes come
 * back from DOWN or DRAIN. So the launcher compares the job with the partition (see partitionFit)
 * and fails it only when the partition's configuration can never hold it.
 */
const PARTITION_REASONS = new Set(["PartitionConfig", "PartitionNodeLimit"]);

/** What `scontrol show job`, `scontrol show partition` and `scontrol show config` say, as Key=Value fields. */
export interface PartitionFitInput {
  job: Record<string, string>;
  partition: Record<string, string>;
  /** MaxNodeCount of the cluster (room for dynamic nodes) and the nodes it has now, where known. */
  maxNodeCount?: number;
  nodeCount?: number;
}

/**
 * Whether the partition's configuration can ever hold the job: `never` names what it asks for beyond
 * the partition and the setting behind it; `waits` says why it may still start (the partition can
 * hold it once nodes return, or gain nodes). Pure.
 */
export function partitionFit(input: PartitionFitInput): { never: string } | { waits: string } {
  const { job, partition: part } = input;
  const name = part.PartitionName ?? job.Partition ?? "?";
  const limits: string[] = []; // the partition's own limits: they hold until an administrator changes them
  const capacity: string[] = []; // more than its nodes have: also until nodes are added
  const [minNodes, maxNodes] = nodeRange(job.NumNodes);
  const totalNodes = count(part.TotalNodes);
  const totalCpus = count(part.TotalCPUs);
  const partMaxNodes = count(part.MaxNodes);
  const partMinNodes = count(part.MinNodes);
  if (minNodes !== undefined && partMaxNodes !== undefined && minNodes > partMaxNodes)
    limits.push(`${minNodes} nodes, above the partition's MaxNodes of ${partMaxNodes} (the stage's nnodes)`);
  if (maxNodes !== undefined && partMinNodes !== undefined && maxNodes < partMinNodes)
    limits.push(`${maxNodes} node(s), below the partition's MinNodes of ${partMinNodes} (the stage's nnodes)`);
  const jobMinutes = minutesOf(job.TimeLimit);
  const maxMinutes = minutesOf(part.MaxTime);
  if (jobMinutes !== undefined && maxMinutes !== undefined && jobMinutes > maxMinutes)
    limits.push(`a time limit of ${jobMinutes} minutes, above the partition's MaxTime of ${maxMinutes} (the stage's timeLimitMinutes)`);
  const cpusPerNode = count(job.MinCPUsNode);
  const maxCpusPerNode = count(part.MaxCPUsPerNode);
  if (cpusPerNode !== undefined && maxCpusPerNode !== undefined && cpusPerNode > maxCpusPerNode)
    limits.push(`${cpusPerNode} CPUs per node, above the partition's MaxCPUsPerNode of ${maxCpusPerNode} (cpusPerTask)`);
  const memMb = megabytesOf(job.MinMemoryNode);
  const maxMemMb = count(part.MaxMemPerNode);
  if (memMb !== undefined && memMb > 0 && maxMemMb !== undefined && memMb > maxMemMb)
    limits.push(`${job.MinMemoryNode} of memory per node, above the partition's MaxMemPerNode of ${maxMemMb}M (memPerNode)`);
  if (minNodes !== undefined && totalNodes !== undefined && minNodes > totalNodes)
    capacity.push(`${minNodes} nodes, and it has ${totalNodes} (the stage's nnodes)`);
  const cpus = count(job.NumCPUs);
  if (cpus !== undefined && totalCpus !== undefined && cpus > totalCpus)
    capacity.push(`${cpus} CPUs, and its nodes have ${totalCpus} in all (cpusPerTask times nnodes)`);

  const counted = "counting every node it is configured with, down, drained, powered-down and cloud ones too";
  if (limits.length > 0) return { never: `it asks partition ${name} for ${[...limits, ...capacity].join("; and for ")}` };
  const { maxNodeCount, nodeCount } = input;
  const fixed = maxNodeCount !== undefined && nodeCount !== undefined && maxNodeCount <= nodeCount;
  if (capacity.length > 0 && fixed)
    return {
      never: `it asks partition ${name} for ${capacity.join("; and for ")} (${counted}), and the cluster cannot add nodes (MaxNodeCount ${maxNodeCount})`,
    };
  if (capacity.length > 0)
    return {
      waits: `it asks partition ${name} for ${capacity.join("; and for ")} now, but ${
        maxNodeCount !== undefined && nodeCount !== undefined
          ? `the cluster can add nodes (MaxNodeCount ${maxNodeCount} above its ${nodeCount})`
          : "the cluster may add nodes (its MaxNodeCount could not be read)"
      }: it starts if enough join the partition`,
    };
  return {
    waits: `partition ${name}'s configuration can hold it (${totalNodes ?? "?"} nodes, ${totalCpus ?? "?"} CPUs, ${counted}), so it may start once nodes return (from DOWN, DRAIN or power saving) or the partition changes`,
  };
}

/** "3" or "2-4" (scontrol's NumNodes) as [min, max]. */
function nodeRange(text: string | undefined): [number | undefined, number | undefined] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text?.trim() ?? "");
  if (!m) return [undefined, undefined];
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

/** A whole number, or undefined for UNLIMITED, N/A and anything else. */
function count(text: string | undefined): number | undefined {
  return /^\d+$/.test(text?.trim() ?? "") ? Number(text) : undefined;
}

/** Slurm's durations ("10", "00:10:00", "1-00:00:00", "2-12") as minutes; undefined for UNLIMITED or unknown. */
export function minutesOf(text: string | undefined): number | undefined {
  const t = text?.trim() ?? "";
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t);
  if (!m) return undefined;
  const days = Number(m[1] ?? 0);
  const parts = [m[2], m[3], m[4]].filter((x): x is string => x !== undefined).map(Number);
  // "MM", "MM:SS", "HH:MM:SS"; with days: "D-HH", "D-HH:MM", "D-HH:MM:SS".
  let minutes: number;
  if (m[1] !== undefined) minutes = days * 1440 + (parts[0] ?? 0) * 60 + (parts[1] ?? 0) + (parts[2] ?? 0) / 60;
  else if (parts.length === 3) minutes = (parts[0] ?? 0) * 60 + (parts[1] ?? 0) + (parts[2] ?? 0) / 60;
  else minutes = (parts[0] ?? 0) + (parts[1] ?? 0) / 60;
  return Math.ceil(minutes);
}

/** "100M", "64G", "512" (megabytes) as megabytes. */
function megabytesOf(text: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGTP]?)$/i.exec(text?.trim() ?? "");
  if (!m) return undefined;
  const scale: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 ** 2, P: 1024 ** 3, "": 1 };
  return Number(m[1]) * (scale[(m[2] ?? "").toUpperCase()] ?? 1);
}

/** Why Slurm will never start a pending job with this reason, or undefined when it may still start. */
export function neverStartsBecause(reason: string | undefined): string | undefined {
  return reason === undefined ? undefined : NEVER_STARTS[reason.trim()];
}

/** Slurm's state (sacct writes "CANCELLED by 0") as one of ours. */
export function jobStateOf(slurmState: string): JobState {
  const state = slurmState.trim().split(/\s+/)[0]?.replace(/\+$/, "") ?? "";
  if (PENDING.has(state)) return "pending";
  if (RUNNING.has(state)) return "running";
  if (state === "COMPLETED") return "succeeded";
  if (state === "CANCELLED") return "cancelled";
  if (FAILED.has(state)) return "failed";
  return "lost";
}

/** "3:0" (exit code 3) or "0:9" (killed by signal 9, reported as 128 + 9 like a shell). */
export function exitCodeOf(text: string | undefined): number | undefined {
  const m = /^(\d+):(\d+)$/.exec(text?.trim() ?? "");
  if (!m) return undefined;
  const code = Number(m[1]);
  const signal = Number(m[2]);
  return code === 0 && signal > 0 ? 128 + signal : code;
}

export class SlurmLauncher implements JobLauncher {
  readonly kind = "slurm" as const;
  private readonly log: (m: string) => void;
  private readonly python: string;
  private readonly commandTimeoutMs: number;
  private readonly stopWaitMs: number;
  private room?: { at: number; value: { maxNodeCount?: number; nodeCount?: number } };

  constructor(
    private readonly config: SlurmLauncherConfig,
    opts: SlurmLauncherOptions,
  ) {
    this.log = opts.log;
    this.python = opts.python ?? "python3";
    this.commandTimeoutMs = opts.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    this.stopWaitMs = Math.max(0, opts.stopWaitMs ?? STOP_WAIT_MS);
  }

  private bin(command: string): string {
    return this.config.binDir ? path.join(this.config.binDir, command) : command;
  }

  private run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.bin(command), args, { stdio: ["ignore", "pipe", "pipe"], env, timeout: this.commandTimeoutMs });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.once("error", (err) =>
        reject(new Error(`could not run ${this.bin(command)}: ${err.message}${this.config.binDir ? "" : " (is Slurm on PATH? set cluster.launcher.binDir)"}`)),
      );
      child.once("close", (code, signal) => {
        // No answer from the controller: the job's state is unknown, not bad. Our time limit kills a command stuck on a hung controller.
        if (code !== 0 && (SLURM_UNREACHABLE.test(stderr) || (code === null && signal === "SIGTERM"))) {
          const why = lastLine(stderr) || `no answer within ${this.commandTimeoutMs} ms`;
          reject(new SchedulerUnreachableError(`${this.bin(command)} ${args[0] ?? ""} could not reach the Slurm controller: ${why}`));
        } else resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      });
    });
  }

  /** Job ids under this name (this user's), oldest first: the controller's, else accounting's. */
  private async jobIdsByName(name: string): Promise<string[]> {
    const q = await this.run("squeue", ["--noheader", "--me", "--states=all", `--name=${name}`, "--format=%i"]);
    if (q.code !== 0) throw new Error(`squeue --name=${name} failed (exit ${q.code}): ${q.stderr.trim()}`);
    const ids = q.stdout
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => /^\d+$/.test(l));
    if (ids.length > 0) return sortIds(ids);
    // Purged from the controller (older than MinJobAge): accounting remembers, where it is enabled.
    const a = await this.run("sacct", ["--noheader", "--parsable2", "--allocations", `--name=${name}`, "--starttime=2000-01-01", "--format=JobID"]);
    if (a.code !== 0) return []; // "Slurm accounting storage is disabled"
    return sortIds(
      a.stdout
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => /^\d+$/.test(l)),
    );
  }

  async find(name: string): Promise<JobRef | undefined> {
    assertJobName(name);
    const ids = await this.jobIdsByName(name);
    return ids[0] === undefined ? undefined : { launcher: "slurm", name, externalId: ids[0] };
  }

  async submit(request: JobRequest): Promise<{ ref: JobRef; submitted: boolean }> {
    assertJobRequest(request);
    fs.mkdirSync(request.workDir, { recursive: true });
    const existing = await this.existing(request);
    if (existing) return { ref: existing, submitted: false };

    const lock = path.join(request.workDir, `${request.name}.slurm-submit.lock`);
    await this.acquireLock(lock, request);
    try {
      const raced = await this.existing(request); // another submitter may have finished while we waited
      if (raced) return { ref: raced, submitted: false };
      const id = await this.sbatch(request);
      writeFileAtomicSync(jobIdFile(request), `${id}\n`, { mode: 0o644 });
      const oldest = await this.keepOldest(request.name, id);
      if (oldest !== id) {
        this.log(`[slurm] job ${request.name}: another submitter won the race (job ${oldest}); cancelled our duplicate ${id}`);
        writeFileAtomicSync(jobIdFile(request), `${oldest}\n`, { mode: 0o644 });
        return { ref: { launcher: "slurm", name: request.name, externalId: oldest }, submitted: false };
      }
      this.log(
        `[slurm] submitted job ${request.name} as ${id} (${request.resources.nodes} node(s), output ${path.join(request.workDir, `${request.name}-${id}.log`)})`,
      );
      return { ref: { launcher: "slurm", name: request.name, externalId: id }, submitted: true };
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }

  /** A job under this name that the scheduler knows, or that we noted submitting (since purged). */
  private async existing(request: JobRequest): Promise<JobRef | undefined> {
    const found = await this.find(request.name);
    if (found) {
      this.log(`[slurm] job ${request.name} exists (${found.externalId}); not submitting another`);
      return found;
    }
    const noted = readOptional(jobIdFile(request))?.trim();
    if (noted && /^\d+$/.test(noted)) {
      this.log(`[slurm] job ${request.name} was submitted before as ${noted} (the controller has forgotten it); not submitting another`);
      return { launcher: "slurm", name: request.name, externalId: noted };
    }
    return undefined;
  }

  private async acquireLock(lock: string, request: JobRequest): Promise<void> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        fs.writeFileSync(lock, `${process.pid} ${new Date().toISOString()}\n`, { flag: "wx" });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const age = Date.now() - (statOptional(lock)?.mtimeMs ?? Date.now());
      if (age > LOCK_STALE_MS) {
        this.log(`[slurm] job ${request.name}: removing a submit lock ${Math.round(age / 1000)} s old (its submitter died)`);
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`job ${request.name}: another submit holds ${lock} for ${Math.round(age / 1000)} s; try again`);
      await sleep(250);
    }
  }

  private async sbatch(request: JobRequest): Promise<string> {
    const { name, workDir, resources: r } = request;
    const script = path.join(workDir, `${name}.sbatch.sh`);
    writeFileAtomicSync(script, slurmBatchScript(request, { setupCommands: this.config.setupCommands, rayPort: this.config.rayPort, python: this.python }), {
      mode: 0o700,
    });
    const args = [
      "--parsable",
      `--job-name=${name}`,
      `--output=${path.join(workDir, `${name}-%j.log`)}`,
      // A requeued job (preempted, node failure) keeps its id and so its log file: append, so the run before keeps its output.
      "--open-mode=append",
      `--chdir=${workDir}`,
      `--nodes=${r.nodes}`,
      "--ntasks-per-node=1",
      ...(r.gpusPerNode > 0 ? [`--gres=gpu:${r.gpusPerNode}`] : []),
      ...(r.timeLimitMinutes ? [`--time=${Math.ceil(r.timeLimitMinutes)}`] : []),
      ...(this.config.partition ? [`--partition=${this.config.partition}`] : []),
      ...(this.config.account ? [`--account=${this.config.account}`] : []),
      ...(this.config.qos ? [`--qos=${this.config.qos}`] : []),
      // The job env travels in sbatch's own environment (values never on a command line or on disk).
      "--export=ALL",
      "--dependency=singleton",
      ...this.config.extraSbatchArgs,
      script,
    ];
    const res = await this.run("sbatch", args, { ...process.env, ...request.env });
    // --parsable prints "jobid" or "jobid;cluster".
    const id = res.stdout.trim().split(";")[0] ?? "";
    if (res.code !== 0 || !/^\d+$/.test(id)) {
      const said = (res.stderr || res.stdout).trim();
      const refused = res.code !== 0 ? this.refusal(said, request) : undefined;
      if (refused) throw new JobRefusedError(`sbatch refused job ${name}: ${refused}. sbatch said: ${said}`);
      throw new Error(`sbatch for job ${name} failed (exit ${res.code}): ${said}`);
    }
    return id;
  }

  /** The setting behind an sbatch refusal that the same request always gets, or undefined for any other failure. */
  private refusal(said: string, request: JobRequest): string | undefined {
    const c = this.config;
    const r = request.resources;
    if (/invalid partition/i.test(said))
      return c.partition
        ? `cluster.launcher.partition ${JSON.stringify(c.partition)} is not a partition of this Slurm cluster (sinfo --summarize lists them)`
        : "the cluster has no default partition: set cluster.launcher.partition (sinfo --summarize lists them)";
    if (/invalid account/i.test(said))
      return `cluster.launcher.account ${JSON.stringify(c.account ?? "(your default)")} may not submit to this cluster or partition`;
    if (/invalid qos/i.test(said)) return `cluster.launcher.qos ${JSON.stringify(c.qos ?? "(your default)")} is not a QOS you may use here`;
    if (/invalid generic resource/i.test(said))
      return `the partition's nodes have no "gpu" generic resource for --gres=gpu:${r.gpusPerNode} (the stage's nGpusPerNode; or pick a GPU partition in cluster.launcher.partition)`;
    if (/invalid feature specification/i.test(said)) return "a --constraint in cluster.launcher.extraSbatchArgs names a feature no node has";
    if (/requested time limit is invalid/i.test(said))
      return `the time limit of ${r.timeLimitMinutes ?? "?"} minutes (the stage's timeLimitMinutes) is above what the partition allows`;
    if (/node configuration is not available|memory specification can not be satisfied|node count specification invalid/i.test(said)) {
      const asked = [
        `${r.nodes} node(s)`,
        `${r.gpusPerNode} GPU(s)`,
        ...(r.cpusPerTask ? [`${r.cpusPerTask} CPUs`] : []),
        ...(r.memPerNode ? [`--mem=${r.memPerNode}`] : []),
      ];
      return `no node(s) of the partition have what the job asks for (${asked.join(", ")} per node: the stage's nnodes, nGpusPerNode, cpusPerTask and memPerNode, cluster.launcher.cpusPerTask and memPerNode, or cluster.launcher.extraSbatchArgs)`;
    }
    if (/unrecognized option|invalid option|unknown option/i.test(said)) return "cluster.launcher.extraSbatchArgs holds an option this sbatch does not know";
    return undefined;
  }

  /** Cancels every job of this name but the oldest (a lost race's duplicate); returns the oldest. */
  private async keepOldest(name: string, ours: string): Promise<string> {
    const ids = await this.jobIdsByName(name);
    const oldest = ids[0] ?? ours;
    const extra = ids.filter((id) => id !== oldest);
    if (extra.length > 0) await this.run("scancel", extra);
    return oldest;
  }

  /** scontrol while the controller remembers the job, else sacct. */
  private async jobInfo(id: string): Promise<SlurmJobInfo | undefined> {
    const c = await this.run("scontrol", ["show", "job", "--oneliner", id]);
    if (c.code === 0) {
      const f = keyValues(c.stdout);
      if (f.JobState) {
        return { id, fields: f, state: f.JobState, reason: f.Reason, exitCode: f.ExitCode, nodeList: f.NodeList, stdOut: f.StdOut, workDir: f.WorkDir };
      }
    } else if (!/invalid job id/i.test(c.stderr)) {
      throw new Error(`scontrol show job ${id} failed (exit ${c.code}): ${c.stderr.trim()}`);
    }
    const a = await this.run("sacct", ["--noheader", "--parsable2", "--allocations", `--jobs=${id}`, "--format=JobID,State,ExitCode,NodeList,WorkDir"]);
    if (a.code !== 0) return undefined;
    const line = a.stdout.split("\n").find((l) => l.split("|")[0] === id);
    if (!line) return undefined;
    const [, state, exitCode, nodeList, workDir] = line.split("|");
    return { id, state: state ?? "", exitCode, nodeList, workDir };
  }

  async status(ref: JobRef): Promise<JobStatus> {
    assertJobName(ref.name);
    const info = await this.jobInfo(assertJobId(ref));
    if (!info) return { state: "lost", message: `Slurm no longer knows job ${ref.externalId} (purged from the controller, and no accounting)` };
    const state = jobStateOf(info.state);
    const reason = info.reason && info.reason !== "None" ? ` (${info.reason})` : "";
    // Waiting for what it can never get: failed, so the stage stops for the operator instead of waiting for ever.
    let never = state === "pending" ? neverStartsBecause(info.reason) : undefined;
    let waits: string | undefined;
    if (state === "pending" && PARTITION_REASONS.has(info.reason?.trim() ?? "")) {
      const fit = await this.partitionFitOf(info);
      if ("never" in fit) never = fit.never;
      else waits = fit.waits;
    }
    if (never) {
      return {
        state: "failed",
        message: `${info.state}${reason}: Slurm will never start job ${ref.externalId}: ${never}. Change that`,
        neverStarts: true,
      };
    }
    // Held for its partition, but it may start: watched on, the reason said in the job's status.
    if (waits) return { state, message: `${info.state}${reason}: ${waits}` };
    const exitCode = state === "succeeded" || state === "failed" || state === "cancelled" ? exitCodeOf(info.exitCode) : undefined;
    const nodes = await this.hostnames(info.nodeList);
    return {
      state,
      ...(exitCode !== undefined ? { exitCode } : {}),
      message: `${info.state}${reason}`,
      ...(nodes.length > 0 ? { nodes } : {}),
    };
  }

  /**
   * The job against its partition's configuration (partitionFit). What cannot be read (a Slurm that
   * will not say) counts as "may start": the job is watched on, its reason said, rather than failed.
   */
  private async partitionFitOf(info: SlurmJobInfo): Promise<{ never: string } | { waits: string }> {
    const job = info.fields ?? {};
    const unknown = { waits: `Slurm holds it for its partition${job.Partition ? ` ${job.Partition}` : ""}; watched on until it starts` };
    if (!job.Partition || job.Partition.includes(",")) return unknown;
    const p = await this.run("scontrol", ["show", "partition", "--oneliner", job.Partition]);
    const partition = p.code === 0 ? keyValues(p.stdout) : undefined;
    if (!partition?.PartitionName) return unknown;
    return partitionFit({ job, partition, ...(await this.clusterRoom()) });
  }

  /**
   * Dynamic nodes: a cluster whose MaxNodeCount is above the nodes it has can add nodes to partitions.
   * Read at most every 5 minutes per launcher (a watch polls a queued job for its whole window, and the
   * node list of a large cluster is long); what cannot be read is left out.
   */
  private async clusterRoom(): Promise<{ maxNodeCount?: number; nodeCount?: number }> {
    if (this.room && Date.now() - this.room.at < 5 * 60_000) return this.room.value;
    const config = await this.run("scontrol", ["show", "config"]);
    const maxNodeCount = config.code === 0 ? Number(/^MaxNodeCount\s*=\s*(\d+)/m.exec(config.stdout)?.[1] ?? NaN) : NaN;
    const nodes = await this.run("scontrol", ["show", "nodes", "--oneliner"]);
    const nodeCount = nodes.code === 0 ? nodes.stdout.split("\n").filter((l) => l.startsWith("NodeName=")).length : NaN;
    const value = {
      ...(Number.isFinite(maxNodeCount) ? { maxNodeCount } : {}),
      ...(Number.isFinite(nodeCount) && nodeCount > 0 ? { nodeCount } : {}),
    };
    this.room = { at: Date.now(), value };
    return value;
  }

  /** "gpu[01-03],login1" as host names, by Slurm's own expansion. */
  private async hostnames(nodeList: string | undefined): Promise<string[]> {
    const list = nodeList?.trim();
    if (!list || list === "(null)" || list === "None assigned") return [];
    if (!/[[\],]/.test(list)) return [list];
    const r = await this.run("scontrol", ["show", "hostnames", list]);
    return r.code === 0
      ? r.stdout
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean)
      : [list];
  }

  async logs(ref: JobRef, options?: { tailBytes?: number }): Promise<string> {
    assertJobName(ref.name);
    const id = assertJobId(ref);
    const info = await this.jobInfo(id);
    const file = info?.stdOut ?? (info?.workDir ? path.join(info.workDir, `${ref.name}-${id}.log`) : undefined);
    if (!file) return "";
    return tailBytes(file, options?.tailBytes ?? DEFAULT_TAIL_BYTES);
  }

  async cancel(ref: JobRef, options?: CancelOptions): Promise<void> {
    assertJobName(ref.name);
    const id = assertJobId(ref);
    const info = await this.jobInfo(id);
    if (!info) return;
    const state = jobStateOf(info.state);
    if (state !== "pending" && state !== "running") return; // ended: left as it is
    const r = await this.run("scancel", [id]);
    if (r.code !== 0) throw new Error(`scancel ${id} (job ${ref.name}) failed (exit ${r.code}): ${r.stderr.trim()}`);
    this.log(`[slurm] cancelled job ${ref.name} (${id})`);
    // scancel only asks: wait until the controller says the job has ended (COMPLETING, its processes
    // being killed, counts as running), so nothing started next runs beside it over its files.
    const asked = Date.now();
    for (;;) {
      const now = await this.jobInfo(id);
      if (!now || !["pending", "running"].includes(jobStateOf(now.state))) return;
      const waited = Date.now() - asked;
      if (waited >= this.stopWaitMs) {
        throw new JobStopTimeoutError(
          `Slurm job ${id} (${ref.name}) was cancelled (scancel) ${Math.round(waited / 1000)} s ago and the controller still reports it ${now.state}` +
            `${now.reason && now.reason !== "None" ? ` (${now.reason})` : ""}. Slurm kills a job's processes KillWait after SIGTERM (30 s by default); ` +
            `one still not ended points at its node (see \`scontrol show job ${id}\`). Nothing is started over its files until it has ended; the cancel is asked again on the next try`,
        );
      }
      await sleepFor(Math.min(500, this.stopWaitMs - waited), undefined, { signal: options?.signal });
    }
  }
}

function jobIdFile(request: JobRequest): string {
  return path.join(request.workDir, `${request.name}.slurm-jobid`);
}

function assertJobId(ref: JobRef): string {
  if (!/^\d+$/.test(ref.externalId)) throw new Error(`job ${ref.name}: ${JSON.stringify(ref.externalId)} is not a Slurm job id`);
  return ref.externalId;
}

function sortIds(ids: string[]): string[] {
  return [...new Set(ids)].sort((a, b) => Number(a) - Number(b));
}

/** scontrol --oneliner output: Key=Value fields separated by spaces (a value may hold spaces, e.g. a path). */
function keyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of text.trim().split(/\s+(?=[A-Za-z][A-Za-z/:]*=)/)) {
    const eq = field.indexOf("=");
    if (eq > 0) out[field.slice(0, eq)] = field.slice(eq + 1);
  }
  return out;
}

function readOptional(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function statOptional(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? ""
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
