/**
 * Ray launcher: jobs on a Ray cluster through the dashboard's Jobs REST API (`/api/jobs/`).
 *
 * Requests go through node:http, not fetch: the dashboard refuses POSTs it takes for a browser's, and
 * fetch always sends `Sec-Fetch-Mode`, which Ray counts as one (HTTP 405 "not allowed for browser traffic").
 *
 * The job name is the Ray submission id, so a job is found again by its name alone: `submit` looks the
 * name up first, and a POST that races an earlier one is answered by Ray with "already exists", which
 * counts as found. Ray keeps the job (its status, exit code and logs) in its own store, so nothing is
 * written under the job's work folder by this launcher.
 *
 * Logs are read as a tail: the state API's log route (`/api/v0/logs/file`) answers the last N lines of the
 * job's driver log, so a poll costs the tail, not the week-long log; the Jobs API's whole-log route is the
 * fallback for Rays without it (see `logs`).
 *
 * A job's CPUs, GPUs and memory (the stage's cpusPerTask, GPUs and memPerNode) are asked for its
 * entrypoint (the Jobs API's entrypoint_num_cpus, entrypoint_num_gpus, entrypoint_memory), so Ray starts
 * it on a node that has them: a policy server's vLLM or a merge uses the GPUs and memory of the process
 * Ray starts. A training job is instead a Ray driver (`rayDriver`: verl's documented `ray job submit`)
 * whose workers claim the GPUs through placement groups; GPUs or CPUs reserved for its entrypoint would be
 * withheld from them, so it asks for none. While a job is pending, `status` compares its ask with the
 * cluster's nodes (rayEntrypointFit): one no node can ever hold on a cluster that cannot add nodes fails,
 * naming the setting, instead of waiting for Ray's own start timeout (15 minutes, with a message that only
 * says it "may be waiting for resources"). The requested resources also travel in the job's metadata for
 * operators. Ray Jobs has no time limit of its own.
 */
import http from "node:http";
import https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { SLURM_MEMORY } from "./config.js";
import { assertJobRequest } from "./jobRequest.js";
import type { CancelOptions, JobLauncher, JobRef, JobRequest, JobResources, JobState, JobStatus } from "./launcher.js";
import { JOB_NAME, JobStopTimeoutError, SchedulerUnreachableError } from "./launcher.js";

/** The `ray` launcher's config (the campaign config's `cluster.launcher` when its kind is "ray"). */
export interface RayLauncherConfig {
  kind: "ray";
  address: string /* dashboard URL, e.g. http://127.0.0.1:8265 */;
  runtimeEnv?: { workingDir?: string; pip?: string[]; envVars: Record<string, string> };
  headers: Record<string, string>;
}

export interface RayJobsLauncherOptions {
  log: (m: string) => void;
  /** Per-request time limit; default 30 s. */
  requestTimeoutMs?: number;
  /** Tries of a request that fails to connect (refused, reset, timed out) or gets 502/503/504; default 4. */
  attempts?: number;
  /** The most a whole-log answer (`GET /api/jobs/{id}/logs`) may hold; default 256 MiB. */
  maxResponseBytes?: number;
  /** The most a log-tail answer of the state API may hold (a few very long lines); default 16 MiB. */
  maxTailResponseBytes?: number;
  /** How long `cancel` waits for Ray to report a stopped job ended; default 120 s (Ray's own kill takes about 3 s). */
  stopWaitMs?: number;
  /** Between two looks at a job being stopped; default 500 ms. */
  stopPollMs?: number;
}

/** What `GET /api/jobs/{id}` answers (the fields used here; Ray 2.60). */
interface RayJobDetails {
  submission_id: string | null;
  status: "PENDING" | "RUNNING" | "STOPPED" | "SUCCEEDED" | "FAILED";
  message?: string | null;
  driver_exit_code?: number | null;
  /** The node the job's driver (its entrypoint) runs on; null until it starts. */
  driver_node_id?: string | null;
  /** What it was submitted with (Ray's answer does not repeat the entrypoint_* fields: the ask is kept here too). */
  metadata?: Record<string, string> | null;
}

/** The Jobs API's entrypoint resource fields of a submit. */
export interface RayEntrypointResources {
  entrypoint_num_cpus?: number;
  entrypoint_num_gpus?: number;
  /** Bytes. */
  entrypoint_memory?: number;
}

/** The metadata key that keeps a job's entrypoint ask (read back by `status` while the job is pending). */
const ENTRYPOINT_METADATA = "toolloop_entrypoint";

const MEMORY_UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** sbatch's --mem value as bytes (megabytes without a unit); undefined for "0" (all of a node's memory: Ray has no such ask). */
export function slurmMemoryBytes(mem: string): number | undefined {
  const m = SLURM_MEMORY.exec(mem);
  if (!m) throw new Error(`"${mem}" is not sbatch's --mem value (e.g. "64G")`);
  const bytes = Number(m[1]) * (MEMORY_UNITS[m[2] ?? "M"] ?? 1024 ** 2);
  return bytes > 0 ? bytes : undefined;
}

/** What a job's entrypoint asks Ray for: its CPUs, GPUs and memory, or nothing for a Ray driver (see the module's note). */
export function rayEntrypointResources(r: JobResources): RayEntrypointResources {
  if (r.rayDriver) return {};
  const memory = r.memPerNode !== undefined ? slurmMemoryBytes(r.memPerNode) : undefined;
  return {
    ...(r.cpusPerTask ? { entrypoint_num_cpus: r.cpusPerTask } : {}),
    ...(r.gpusPerNode > 0 ? { entrypoint_num_gpus: r.gpusPerNode } : {}),
    ...(memory !== undefined ? { entrypoint_memory: memory } : {}),
  };
}

/** A node of the Ray cluster as the state API lists it (`GET /api/v0/nodes`). */
export interface RayNode {
  state: string;
  resources_total: Record<string, number>;
}

const ASKED: { field: keyof RayEntrypointResources; resource: string; what: (n: number) => string; setting: string }[] = [
  { field: "entrypoint_num_cpus", resource: "CPU", what: (n) => `${n} CPU${n === 1 ? "" : "s"}`, setting: "cpusPerTask" },
  { field: "entrypoint_num_gpus", resource: "GPU", what: (n) => `${n} GPU${n === 1 ? "" : "s"}`, setting: "the stage's GPUs per node" },
  { field: "entrypoint_memory", resource: "memory", what: (n) => `${gib(n)} of memory`, setting: "memPerNode" },
];

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(bytes < 1024 ** 3 ? 2 : 1)} GiB`;
}

/**
 * Whether some node of the Ray cluster can ever hold the job's entrypoint (one process, so one node must
 * have all it asks for): undefined when one can (a pending job then waits for it to be free). Otherwise
 * `never` when the cluster cannot add nodes (`canAddNodes` false: no autoscaler), else `waits` (an
 * autoscaler may add such a node, or a DEAD node that could hold it may come back). Pure.
 */
export function rayEntrypointFit(
  ask: RayEntrypointResources,
  nodes: RayNode[],
  canAddNodes: boolean | undefined,
): { never: string } | { waits: string } | undefined {
  const asked = ASKED.filter((a) => (ask[a.field] ?? 0) > 0);
  if (asked.length === 0) return undefined;
  const holds = (n: RayNode) => asked.every((a) => (n.resources_total[a.resource] ?? 0) >= (ask[a.field] ?? 0));
  const alive = nodes.filter((n) => n.state === "ALIVE");
  if (alive.some(holds)) return undefined;
  const askText = asked.map((a) => `${a.what(ask[a.field] ?? 0)} (${a.setting})`).join(", ");
  const most = asked.map((a) => a.what(Math.max(0, ...alive.map((n) => n.resources_total[a.resource] ?? 0)))).join(", ");
  const have = `no alive node has that (the most any of its ${alive.length} alive node${alive.length === 1 ? "" : "s"} has: ${most}; Ray's memory is what it offers to tasks, about 70% of a node's RAM)`;
  const base = `its entrypoint asks one node for ${askText}, and ${have}`;
  if (nodes.some((n) => n.state !== "ALIVE" && holds(n)))
    return { waits: `${base}; a node that is not alive now could hold it: it starts if that node comes back` };
  if (canAddNodes === false) return { never: `${base}, and the cluster cannot add nodes (it has no autoscaler)` };
  return {
    waits: `${base}; it starts only if ${canAddNodes ? "the autoscaler" : "an autoscaler (whether the cluster has one could not be read)"} adds such a node, else Ray fails it after RAY_JOB_START_TIMEOUT_SECONDS (15 minutes by default)`,
  };
}

const RAY_STATES: Record<RayJobDetails["status"], JobState> = {
  PENDING: "pending",
  RUNNING: "running",
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  STOPPED: "cancelled",
};

const DEFAULT_TAIL_BYTES = 65_536;
/** Ray kills a job 3 s after its SIGTERM by default; an operator may give it longer (RAY_JOB_STOP_WAIT_TIME_S). */
const DEFAULT_STOP_WAIT_MS = 120_000;
/** Bodies above this are refused (the whole-log route answers a job's entire log in one JSON string). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;
/** A log-tail answer of the state API above this is cut off (its lines are that long). */
const MAX_TAIL_RESPONSE_BYTES = 16 * 1024 * 1024;
/**
 * Log lines asked for per byte of tail: a line is taken to be 32 bytes or more (verl's step and metric
 * lines are hundreds), so N lines nearly always hold `tailBytes`; an answer of shorter lines is asked
 * again with more (see `stateLogTail`).
 */
const ASSUMED_LINE_BYTES = 32;
const MAX_TAIL_LINES = 100_000;
/**
 * How Rays before 2.60 report a failure inside a 200 answer of the state log route: "[get_logs] Fetch log
 * error: ..." (format=text) or a leading "0" byte (the older "leading_1" framing).
 */
const STATE_LOG_ERROR = /^(\[get_logs\] Fetch log error: |0Closing HTTP stream due to internal server error)/;
/** Ray puts up to 20,000 characters of log into a failed job's message; status lines keep its head. */
const MESSAGE_LIMIT = 2_000;

/** A request to the Jobs API that failed; the message names the address and the route. */
export class RayJobsApiError extends Error {
  constructor(
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = "RayJobsApiError";
  }
}

/** POSIX shell quoting: safe words as they are, anything else in single quotes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The job's shell line: into its work folder, then exec the argv (so Ray's stop signals reach it). */
export function rayEntrypoint(request: Pick<JobRequest, "command" | "workDir">): string {
  return `cd ${shellQuote(request.workDir)} && exec ${request.command.map(shellQuote).join(" ")}`;
}

export class RayJobsLauncher implements JobLauncher {
  readonly kind = "ray" as const;
  private readonly base: string;
  private readonly headHost: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly maxResponseBytes: number;
  private readonly maxTailResponseBytes: number;
  private readonly stopWaitMs: number;
  private readonly stopPollMs: number;
  /** False once the dashboard answered 404 for the state API's log route: read whole logs from then on. */
  private stateLogs = true;
  private readonly logged = new Set<string>();

  constructor(
    private readonly config: RayLauncherConfig,
    private readonly opts: RayJobsLauncherOptions,
  ) {
    let url: URL;
    try {
      url = new URL(config.address);
    } catch {
      throw new Error(`ray launcher: address "${config.address}" is not a URL (expected the dashboard's, e.g. http://10.0.0.5:8265)`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`ray launcher: address "${config.address}" must be an http: or https: URL`);
    this.base = url.href.replace(/\/+$/, "");
    this.headHost = url.hostname.replace(/^\[|\]$/g, "");
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.maxResponseBytes = opts.maxResponseBytes ?? MAX_BODY_BYTES;
    this.maxTailResponseBytes = opts.maxTailResponseBytes ?? MAX_TAIL_RESPONSE_BYTES;
    this.stopWaitMs = Math.max(0, opts.stopWaitMs ?? DEFAULT_STOP_WAIT_MS);
    this.stopPollMs = Math.max(10, opts.stopPollMs ?? 500);
  }

  async find(name: string): Promise<JobRef | undefined> {
    const job = await this.details(name);
    return job ? this.refOf(name) : undefined;
  }

  async submit(request: JobRequest): Promise<{ ref: JobRef; submitted: boolean }> {
    if (!JOB_NAME.test(request.name)) throw new Error(`ray launcher: job name "${request.name}" is not valid (${JOB_NAME})`);
    if (request.command.length === 0) throw new Error(`ray launcher: job ${request.name} has an empty command`);
    assertJobRequest(request);
    const entrypointResources = rayEntrypointResources(request.resources);
    if (await this.details(request.name)) {
      this.opts.log(`[ray] job ${request.name} exists on ${this.base}; not submitting it again`);
      return { ref: this.refOf(request.name), submitted: false };
    }
    const runtimeEnv = this.config.runtimeEnv;
    const body = {
      entrypoint: rayEntrypoint(request),
      submission_id: request.name,
      ...entrypointResources,
      runtime_env: {
        // The job's own variables win over the cluster-wide ones.
        env_vars: { ...(runtimeEnv?.envVars ?? {}), ...request.env },
        ...(runtimeEnv?.workingDir ? { working_dir: runtimeEnv.workingDir } : {}),
        ...(runtimeEnv?.pip?.length ? { pip: runtimeEnv.pip } : {}),
      },
      metadata: {
        toolloop_job: request.name,
        toolloop_work_dir: request.workDir,
        toolloop_resources: JSON.stringify(request.resources),
        [ENTRYPOINT_METADATA]: JSON.stringify(entrypointResources),
      },
    };
    const res = await this.request("POST", "/api/jobs/", body);
    if (res.status === 200) {
      this.opts.log(`[ray] submitted job ${request.name} to ${this.base}`);
      return { ref: this.refOf(request.name), submitted: true };
    }
    // Ray answers a taken submission id with an error whose text says so (500 in Ray 2.60): another
    // submit (a retried request, a restarted worker) got there first. Confirm, then treat as found.
    if (/already exists/i.test(res.text) && (await this.details(request.name))) {
      this.opts.log(`[ray] job ${request.name} was submitted concurrently on ${this.base}; not submitting it again`);
      return { ref: this.refOf(request.name), submitted: false };
    }
    throw this.httpError("POST", "/api/jobs/", res);
  }

  async status(ref: JobRef): Promise<JobStatus> {
    const job = await this.details(ref.externalId);
    if (!job) return { state: "lost", message: `Ray at ${this.base} does not know job ${ref.externalId}`, nodes: [this.headHost] };
    const state = RAY_STATES[job.status];
    if (!state) throw new RayJobsApiError(`Ray Jobs API GET ${this.base}/api/jobs/${ref.externalId}: unknown job status "${String(job.status)}"`);
    const status: JobStatus = { state, nodes: [this.headHost] };
    if (typeof job.driver_exit_code === "number") status.exitCode = job.driver_exit_code;
    if (job.message) status.message = job.message.length > MESSAGE_LIMIT ? `${job.message.slice(0, MESSAGE_LIMIT)}...` : job.message;
    const fit = state === "pending" ? await this.entrypointFitOf(job) : undefined;
    // Waiting for what no node can ever give: failed, so the stage stops for the operator (and the watch cancels it).
    if (fit && "never" in fit)
      return {
        state: "failed",
        message: `PENDING: Ray will never start job ${ref.externalId}: ${fit.never}. Change that`,
        neverStarts: true,
        nodes: status.nodes,
      };
    if (fit) status.message = `PENDING: ${fit.waits}`;
    return status;
  }

  /**
   * A pending job's entrypoint ask against the cluster's nodes (rayEntrypointFit). What cannot be read
   * (an older Ray, a job submitted without the ask in its metadata) counts as "may start": Ray's own
   * message stands.
   */
  private async entrypointFitOf(job: RayJobDetails): Promise<{ never: string } | { waits: string } | undefined> {
    let ask: RayEntrypointResources;
    try {
      ask = JSON.parse(job.metadata?.[ENTRYPOINT_METADATA] ?? "{}") as RayEntrypointResources;
    } catch {
      return undefined;
    }
    if (!ASKED.some((a) => (ask[a.field] ?? 0) > 0)) return undefined;
    try {
      const nodes = await this.request("GET", "/api/v0/nodes?limit=10000");
      if (nodes.status !== 200) return undefined;
      const list = this.parse<{ data?: { result?: { result?: RayNode[] } } }>("GET", "/api/v0/nodes", nodes.text).data?.result?.result;
      if (!Array.isArray(list) || list.length === 0) return undefined;
      return rayEntrypointFit(ask, list, await this.canAddNodes());
    } catch (err) {
      this.logOnce(`fit:${job.submission_id}`, `[ray] could not compare job ${job.submission_id}'s entrypoint ask with the cluster's nodes: ${String(err)}`);
      return undefined;
    }
  }

  /**
   * Whether the cluster can add nodes: false when Ray's autoscaler report is the read-only one of a
   * cluster started by hand (`ray start`: every node its own type, named node_<node id>), true when it
   * names node types of an autoscaling config, undefined when it cannot be read.
   */
  private async canAddNodes(): Promise<boolean | undefined> {
    const res = await this.request("GET", "/api/cluster_status?format=0");
    if (res.status !== 200) return undefined;
    const mapping = this.parse<{ data?: { clusterStatus?: { autoscalerReport?: { nodeTypeMapping?: Record<string, string> | null } } } }>(
      "GET",
      "/api/cluster_status",
      res.text,
    ).data?.clusterStatus?.autoscalerReport?.nodeTypeMapping;
    if (!mapping || Object.keys(mapping).length === 0) return undefined;
    return !Object.entries(mapping).every(([node, type]) => type === `node_${node}`);
  }

  /**
   * The end of the job's driver log, at most `tailBytes`, at a bounded cost whatever the log's size: the
   * state API's log route (`GET /api/v0/logs/file?submission_id=..&lines=N`, what `ray logs job --tail N`
   * reads) answers the last N lines only, streamed as plain text. N comes from `tailBytes` (see
   * `tailLinesFor`), asked once more with more lines when short lines left the answer under `tailBytes`.
   * The whole-log route (`GET /api/jobs/{id}/logs`, one JSON string of the entire log) is the fallback:
   * for a Ray without the state route (404, then for good), a job with no driver node yet (pending) or
   * that Ray does not know (its 404 names the job), and a state route that fails for this job.
   */
  async logs(ref: JobRef, options?: { tailBytes?: number }): Promise<string> {
    const tailBytes = Math.max(0, Math.floor(options?.tailBytes ?? DEFAULT_TAIL_BYTES));
    if (this.stateLogs) {
      const job = await this.details(ref.externalId);
      if (job?.driver_node_id) {
        const tail = await this.stateLogTail(ref.externalId, job.driver_node_id, tailBytes);
        if (tail !== undefined) return tail;
      }
    }
    return this.wholeLogTail(ref.externalId, tailBytes);
  }

  /** The tail through the state API, or undefined when that route cannot give it (the caller falls back). */
  private async stateLogTail(submissionId: string, nodeId: string, tailBytes: number): Promise<string | undefined> {
    let lines = tailLinesFor(tailBytes);
    for (let ask = 1; ; ask++) {
      // format=text: Rays whose route also has a "leading_1" framing (a status byte before each chunk)
      // default to it; Ray 2.60 has plain text only and ignores the parameter. node_id satisfies the
      // route's check that a node is named; Ray resolves the file on the job's driver node either way.
      const query = new URLSearchParams({ submission_id: submissionId, node_id: nodeId, lines: String(lines), format: "text" });
      const route = `/api/v0/logs/file?${query.toString()}`;
      const res = await this.request("GET", route, undefined, { maxBytes: this.maxTailResponseBytes, accept: "text/plain" });
      if (res.status === 404) {
        this.stateLogs = false;
        this.opts.log(`[ray] ${this.base} has no state API log route (GET /api/v0/logs/file answered 404); job logs are read whole from /api/jobs/{id}/logs`);
        return undefined;
      }
      const failed =
        res.status !== 200 ? `HTTP ${res.status}: ${lastMeaningfulLine(res.text)}` : STATE_LOG_ERROR.test(res.text) ? lastMeaningfulLine(res.text) : undefined;
      if (failed) {
        this.logOnce(
          `state-failed:${submissionId}`,
          `[ray] the state API could not give job ${submissionId}'s log tail (${failed}); reading its whole log instead`,
        );
        return undefined;
      }
      if (res.overLimit) {
        // Lines this long (a progress bar redrawn with \r and no newline): the last line alone, or nothing.
        if (lines > 1) {
          lines = 1;
          continue;
        }
        throw new RayJobsApiError(
          `Ray state API GET ${this.base}${route}: the last line of job ${submissionId}'s log is longer than ${this.maxTailResponseBytes} bytes; not reading it`,
        );
      }
      const text = res.text;
      // Fewer lines than asked: that is the whole log. Short lines: ask once more, for enough of them.
      if (ask === 1 && Buffer.byteLength(text, "utf8") < tailBytes && lineCount(text) >= lines && lines < MAX_TAIL_LINES) {
        const bytes = Math.max(1, Buffer.byteLength(text, "utf8"));
        lines = Math.min(MAX_TAIL_LINES, Math.ceil((lines * tailBytes * 2) / bytes));
        continue;
      }
      return tailOf(text, tailBytes);
    }
  }

  /** The tail cut from the whole log (one JSON answer, refused above `maxResponseBytes`). */
  private async wholeLogTail(submissionId: string, tailBytes: number): Promise<string> {
    const route = `/api/jobs/${encodeURIComponent(submissionId)}/logs`;
    const res = await this.request("GET", route, undefined, { maxBytes: this.maxResponseBytes });
    if (res.overLimit)
      throw new RayJobsApiError(
        `Ray Jobs API GET ${this.base}${route}: job ${submissionId}'s whole log is larger than ${this.maxResponseBytes} bytes (this Ray cannot give only its tail); not reading it`,
      );
    if (res.status !== 200) throw this.httpError("GET", route, res);
    const logs = this.parse<{ logs?: unknown }>("GET", route, res.text).logs;
    return tailOf(typeof logs === "string" ? logs : "", tailBytes);
  }

  private logOnce(key: string, message: string): void {
    if (this.logged.has(key)) return;
    if (this.logged.size > 1000) this.logged.clear();
    this.logged.add(key);
    this.opts.log(message);
  }

  /**
   * Asks Ray to stop the job, then waits until Ray reports it ended. Ray's stop route only tells the job's
   * supervisor to stop it (SIGTERM, SIGKILL after RAY_JOB_STOP_WAIT_TIME_S, 3 s by default) and answers at
   * once; the job runs on meanwhile, so a retry submitted right away would train beside it over the same
   * checkpoint folder. Past `stopWaitMs` it throws JobStopTimeoutError (the caller's retry asks again).
   */
  async cancel(ref: JobRef, options?: CancelOptions): Promise<void> {
    const route = `/api/jobs/${encodeURIComponent(ref.externalId)}/stop`;
    const res = await this.request("POST", route);
    if (res.status === 404) {
      this.opts.log(`[ray] cancel: Ray at ${this.base} does not know job ${ref.externalId}; nothing to stop`);
      return;
    }
    if (res.status !== 200) throw this.httpError("POST", route, res);
    const { stopped } = this.parse<{ stopped?: boolean }>("POST", route, res.text);
    this.opts.log(`[ray] cancel job ${ref.externalId}: ${stopped ? "stop requested" : "already ended"}`);
    await this.untilEnded(ref.externalId, options?.signal);
  }

  /** Polls the job until Ray reports it STOPPED, FAILED or SUCCEEDED (or forgets it), at most `stopWaitMs`. */
  private async untilEnded(submissionId: string, signal: AbortSignal | undefined): Promise<void> {
    const asked = Date.now();
    for (;;) {
      const job = await this.details(submissionId);
      if (!job) return;
      const state = RAY_STATES[job.status];
      if (state !== "pending" && state !== "running") {
        if (Date.now() - asked >= this.stopPollMs) this.opts.log(`[ray] stopped job ${submissionId}: ${job.status} after ${Date.now() - asked} ms`);
        return;
      }
      // Ray stops a job through its supervisor actor, which is placed with the entrypoint's resources: a
      // job no node can hold has none, so the stop waits for ever (Ray fails it after its start timeout).
      // Nothing of it runs, so nothing can run beside the next attempt.
      const fit = state === "pending" ? await this.entrypointFitOf(job) : undefined;
      if (fit && "never" in fit) {
        this.opts.log(
          `[ray] job ${submissionId} stays PENDING: Ray cannot stop a job whose entrypoint no node can hold (${fit.never}); nothing of it runs, and Ray fails it after RAY_JOB_START_TIMEOUT_SECONDS (15 minutes by default)`,
        );
        return;
      }
      const waited = Date.now() - asked;
      if (waited >= this.stopWaitMs) {
        const said = job.message ? `: ${job.message.slice(0, 300)}` : "";
        throw new JobStopTimeoutError(
          `Ray at ${this.base} was asked to stop job ${submissionId} ${Math.round(waited / 1000)} s ago and still reports it ${job.status}${said}. ` +
            `Ray stops a job with SIGTERM, then SIGKILL after RAY_JOB_STOP_WAIT_TIME_S (3 s by default); a job still running this long ` +
            `points at its supervisor or node (see \`ray job status ${submissionId}\` and the dashboard). Nothing is started over its files until it has ended; the stop is asked again on the next try`,
        );
      }
      await sleep(Math.min(this.stopPollMs, this.stopWaitMs - waited), undefined, { signal });
    }
  }

  private refOf(name: string): JobRef {
    return { launcher: "ray", name, externalId: name };
  }

  /** The job under this submission id, or undefined when Ray does not know it. */
  private async details(submissionId: string): Promise<RayJobDetails | undefined> {
    const route = `/api/jobs/${encodeURIComponent(submissionId)}`;
    const res = await this.request("GET", route);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.httpError("GET", route, res);
    const job = this.parse<RayJobDetails>("GET", route, res.text);
    // The route also takes Ray's own job ids; only a job under this submission id is ours.
    return job.submission_id === submissionId ? job : undefined;
  }

  private parse<T>(method: string, route: string, text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new RayJobsApiError(`Ray Jobs API ${method} ${this.base}${route}: the answer is not JSON: ${text.slice(0, 200)}`);
    }
  }

  private httpError(method: string, route: string, res: { status: number; text: string }): RayJobsApiError {
    const detail = lastMeaningfulLine(res.text);
    return new RayJobsApiError(`Ray Jobs API ${method} ${this.base}${route} answered HTTP ${res.status}: ${detail}`, res.status);
  }

  /**
   * One request with a time limit, tried again (with a growing pause) when it cannot connect, times out
   * or meets a gateway error. Retrying a POST is safe: the submission id makes a second one "already exists".
   */
  private async request(
    method: "GET" | "POST",
    route: string,
    body?: unknown,
    opts?: { maxBytes?: number; accept?: string },
  ): Promise<{ status: number; text: string; overLimit: boolean }> {
    const url = `${this.base}${route}`;
    let lastError = "";
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 2)));
      const signal = AbortSignal.timeout(this.timeoutMs);
      try {
        const res = await httpRequest(url, {
          method,
          headers: { accept: opts?.accept ?? "application/json", ...this.config.headers },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
          maxBytes: opts?.maxBytes ?? this.maxResponseBytes,
        });
        if (res.overLimit && opts?.maxBytes === undefined)
          throw new RayJobsApiError(`Ray Jobs API ${method} ${url}: the answer is larger than ${this.maxResponseBytes} bytes`);
        if ([502, 503, 504].includes(res.status) && attempt < this.attempts) {
          lastError = `HTTP ${res.status}`;
          continue;
        }
        return res;
      } catch (err) {
        if (err instanceof RayJobsApiError) throw err;
        lastError = signal.aborted ? `no answer within ${this.timeoutMs} ms` : describeConnectionError(err);
        if (attempt < this.attempts) this.opts.log(`[ray] ${method} ${url}: ${lastError}; trying again (${attempt}/${this.attempts})`);
      }
    }
    throw new SchedulerUnreachableError(
      `Ray Jobs API ${method} ${url}: ${lastError} (after ${this.attempts} tries); is the Ray dashboard running at ${this.base}?`,
    );
  }
}

function describeConnectionError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code} (${message})` : message;
}

/**
 * One HTTP exchange with node:http(s): the status and the body as text (a chunked body, as the state
 * API's log route streams, is read to its end). A body past `maxBytes` is not read further: the
 * connection is dropped and what came is returned with `overLimit`.
 */
function httpRequest(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal; maxBytes: number },
): Promise<{ status: number; text: string; overLimit: boolean }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith("https:") ? https : http;
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(init.body));
    }
    let settled = false;
    const req = client.request(url, { method: init.method, headers, signal: init.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (overLimit: boolean) => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), overLimit });
      };
      res.on("data", (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > init.maxBytes) {
          finish(true);
          req.destroy();
        } else chunks.push(chunk);
      });
      res.on("end", () => finish(false));
      res.on("error", (err) => {
        if (!settled) reject(err);
      });
    });
    req.on("error", (err) => {
      if (!settled) reject(err);
    });
    req.end(init.body);
  });
}

/** The lines asked of the state API for a tail of `tailBytes` (one more for a last line without newline). */
export function tailLinesFor(tailBytes: number): number {
  return Math.min(MAX_TAIL_LINES, Math.ceil(Math.max(0, tailBytes) / ASSUMED_LINE_BYTES) + 1);
}

/** Lines in the text, a last one without newline counted. */
function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return text.length > 0 && !text.endsWith("\n") ? n + 1 : n;
}

/** Ray's error bodies are Python tracebacks; their last line says what went wrong. */
function lastMeaningfulLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && l !== ".");
  return (lines[lines.length - 1] ?? "(empty body)").slice(0, 500);
}

/** The last `tailBytes` bytes of the text, cut at a character boundary. */
export function tailOf(text: string, tailBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= tailBytes) return text;
  let start = bytes.length - Math.max(0, tailBytes);
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString("utf8");
}
