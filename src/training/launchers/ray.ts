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
 * The entrypoint runs on the head node (no entrypoint resources are requested): a training job is itself
 * a Ray driver whose workers claim the GPUs through placement groups (verl's documented `ray job submit`),
 * and GPUs reserved for the entrypoint process would be withheld from its own workers. The requested
 * resources travel in the job's metadata for operators. Ray Jobs has no time limit of its own.
 */
import http from "node:http";
import https from "node:https";
import type { JobLauncher, JobRef, JobRequest, JobState, JobStatus } from "./launcher.js";
import { JOB_NAME } from "./launcher.js";

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
}

/** What `GET /api/jobs/{id}` answers (the fields used here; Ray 2.60). */
interface RayJobDetails {
  submission_id: string | null;
  status: "PENDING" | "RUNNING" | "STOPPED" | "SUCCEEDED" | "FAILED";
  message?: string | null;
  driver_exit_code?: number | null;
}

const RAY_STATES: Record<RayJobDetails["status"], JobState> = {
  PENDING: "pending",
  RUNNING: "running",
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  STOPPED: "cancelled",
};

const DEFAULT_TAIL_BYTES = 65_536;
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
  }

  async find(name: string): Promise<JobRef | undefined> {
    const job = await this.details(name);
    return job ? this.refOf(name) : undefined;
  }

  async submit(request: JobRequest): Promise<{ ref: JobRef; submitted: boolean }> {
    if (!JOB_NAME.test(request.name)) throw new Error(`ray launcher: job name "${request.name}" is not valid (${JOB_NAME})`);
    if (request.command.length === 0) throw new Error(`ray launcher: job ${request.name} has an empty command`);
    if (await this.details(request.name)) {
      this.opts.log(`[ray] job ${request.name} exists on ${this.base}; not submitting it again`);
      return { ref: this.refOf(request.name), submitted: false };
    }
    const runtimeEnv = this.config.runtimeEnv;
    const body = {
      entrypoint: rayEntrypoint(request),
      submission_id: request.name,
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
    return status;
  }

  async logs(ref: JobRef, options?: { tailBytes?: number }): Promise<string> {
    const route = `/api/jobs/${encodeURIComponent(ref.externalId)}/logs`;
    const res = await this.request("GET", route);
    if (res.status !== 200) throw this.httpError("GET", route, res);
    const logs = this.parse<{ logs?: unknown }>("GET", route, res.text).logs;
    return tailOf(typeof logs === "string" ? logs : "", options?.tailBytes ?? DEFAULT_TAIL_BYTES);
  }

  async cancel(ref: JobRef): Promise<void> {
    const route = `/api/jobs/${encodeURIComponent(ref.externalId)}/stop`;
    const res = await this.request("POST", route);
    if (res.status === 404) {
      this.opts.log(`[ray] cancel: Ray at ${this.base} does not know job ${ref.externalId}; nothing to stop`);
      return;
    }
    if (res.status !== 200) throw this.httpError("POST", route, res);
    const { stopped } = this.parse<{ stopped?: boolean }>("POST", route, res.text);
    this.opts.log(`[ray] cancel job ${ref.externalId}: ${stopped ? "stop requested" : "already ended"}`);
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
  private async request(method: "GET" | "POST", route: string, body?: unknown): Promise<{ status: number; text: string }> {
    const url = `${this.base}${route}`;
    let lastError = "";
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 2)));
      const signal = AbortSignal.timeout(this.timeoutMs);
      try {
        const res = await httpRequest(url, { method, headers: this.config.headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
        if ([502, 503, 504].includes(res.status) && attempt < this.attempts) {
          lastError = `HTTP ${res.status}`;
          continue;
        }
        return res;
      } catch (err) {
        lastError = signal.aborted ? `no answer within ${this.timeoutMs} ms` : describeConnectionError(err);
        if (attempt < this.attempts) this.opts.log(`[ray] ${method} ${url}: ${lastError}; trying again (${attempt}/${this.attempts})`);
      }
    }
    throw new RayJobsApiError(`Ray Jobs API ${method} ${url}: ${lastError} (after ${this.attempts} tries); is the Ray dashboard running at ${this.base}?`);
  }
}

function describeConnectionError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code} (${message})` : message;
}

/** Bodies above this are refused (a job's whole log comes in one answer; Ray has no ranged read). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** One HTTP exchange with node:http(s): the status and the body as text. */
function httpRequest(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith("https:") ? https : http;
    const headers: Record<string, string> = { accept: "application/json", ...init.headers };
    if (init.body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(init.body));
    }
    const req = client.request(url, { method: init.method, headers, signal: init.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) req.destroy(new Error(`the answer is larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(init.body);
  });
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
