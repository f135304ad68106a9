/**
 * Bringing back a policy server that ended by itself (a crash, an OOM kill, a process killed from
 * outside, a scheduler's time limit): `toolloop model restart`. The served version's job is submitted
 * again through the launcher that started it (the campaign's `cluster.launcher` for that iteration),
 * with the same request (command, environment, port, folder), so the URL and served model name that
 * PostgreSQL records, and that the campaign's later stages call, stay valid. A server whose port was
 * picked where it runs (serve.policy's port 0) takes the port its port file names again when that is
 * still free there; else another, and the URL recorded changes with it, as it does for a new node. The new job is a new
 * `cluster_jobs` row (the next attempt of the iteration's serve.policy; its name says it is a restart,
 * so it never meets a job the stage itself submits) and the served version points at it.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { getCampaign } from "../db/repos/campaigns.js";
import { listCampaignStageJobs, recordJobIntent, recordJobStatus, recordJobSubmitted, type ClusterJobRow } from "../db/repos/clusterJobs.js";
import { listModelVersions, type ModelVersionRow } from "../db/repos/modelVersions.js";
import { modelVersions } from "../db/schema.js";
import { CLI } from "../status/campaignView.js";
import { stageJobName } from "./jobNames.js";
import type { LauncherConfig } from "./launchers/config.js";
import type { JobRequest, JobStatus } from "./launchers/launcher.js";
import { CHECKPOINT_FINGERPRINT_ENV, checkpointFingerprint } from "./servedCheckpoint.js";
import { checkServedPolicies, launcherOf, LIVE_SERVE_STATES, STOP_MESSAGE } from "./servedPolicyJobs.js";
import { SERVE_PORT_FILE_ENV, servePortOf } from "../stages/serve/policy/servePort.js";

export type RestartProblem = "unknown-campaign" | "unknown-version" | "refused" | "unconfirmed" | "not-ready";

/** Why nothing was restarted, or why the restarted server did not become ready; `kind` decides the CLI's exit code. */
export class RestartServedPolicyError extends Error {
  constructor(
    readonly kind: RestartProblem,
    message: string,
  ) {
    super(message);
    this.name = "RestartServedPolicyError";
  }
}

export interface RestartServedPolicyOptions {
  campaignId: string;
  /** The iteration whose served version to bring back; default: the campaign's newest served version. */
  iteration?: number;
  /** The launcher to use instead of the campaign's configured one (tests). */
  launcherConfig?: LauncherConfig;
  /** How long the new server may take to answer `GET /models` with its name (default 10 minutes). */
  readyTimeoutMs?: number;
  /** Between readiness checks (default 1 s). */
  pollMs?: number;
  /**
   * Restart a server stopped on purpose (`model stop`) too: the operator who stopped it wants it back
   * (e.g. to evaluate a completed campaign's policy again). Without it such a server is refused.
   */
  stopped?: boolean;
  /** Progress lines while it waits (one per check at most every 5 s). */
  progress?: (line: string) => void;
  /** Stops the wait for readiness (throwing the signal's reason); the restarted job is left starting. */
  signal?: AbortSignal;
  log?: (m: string) => void;
}

export interface RestartOutcome {
  iteration: number;
  version: string;
  /** The job that had ended, and how its launcher said it ended. */
  previous: { job: string; state: string; exitCode?: number; message?: string };
  job: string;
  attempt: number;
  launcher: string;
  externalId: string;
  url: string;
  servedModel: string;
  /** The URL changed (the job runs on another node): recorded in model_versions. */
  urlChanged: boolean;
  readyAfterMs: number;
}

/** The slug the restart jobs' names carry instead of the stage's (`…-serve-policy-res-a2`). */
export const RESTART_JOB_STAGE = "serve.policy.restart";

/**
 * Restarts the served version of `iteration` (default: the newest) when its server has ended by
 * itself, and waits until it answers. Refuses (kind `refused`) a version stopped on purpose
 * (`model stop`, or superseded by a later iteration's server), one a later iteration's served
 * version replaced, and one whose server still runs; `unconfirmed` when its launcher cannot be asked.
 */
export async function restartServedPolicy(db: Db, o: RestartServedPolicyOptions): Promise<RestartOutcome> {
  const log = o.log ?? (() => undefined);
  const progress = o.progress ?? (() => undefined);
  const served = (await listModelVersions(db, o.campaignId)).filter((v) => v.kind === "served");
  if (served.length === 0) {
    if (!(await getCampaign(db, o.campaignId)))
      throw new RestartServedPolicyError(
        "unknown-campaign",
        `no campaign ${JSON.stringify(o.campaignId)} in PostgreSQL; check the id (\`campaign list\` shows them)`,
      );
    throw new RestartServedPolicyError(
      "unknown-version",
      `campaign ${o.campaignId} has no served policy (serve.policy has not served one); nothing to restart`,
    );
  }
  const newest = served.reduce((a, b) => (b.iteration > a.iteration ? b : a));
  const version = o.iteration === undefined ? newest : served.find((v) => v.iteration === o.iteration);
  if (!version)
    throw new RestartServedPolicyError(
      "unknown-version",
      `campaign ${o.campaignId} has no served policy of iteration ${o.iteration} (served in iteration ${served.map((v) => v.iteration).join(", ")}; \`${CLI} model list ${o.campaignId}\` shows them)`,
    );
  const it = version.iteration;
  if (version.iteration < newest.iteration)
    throw new RestartServedPolicyError(
      "refused",
      `the served policy of ${o.campaignId} iteration ${it} is superseded: iteration ${newest.iteration} serves the campaign's policy (${newest.id}); nothing calls iteration ${it}'s any more`,
    );
  const jobs = await listCampaignStageJobs(db, o.campaignId, "serve.policy");
  let job = jobs.find((j) => j.name === version.jobName);
  if (!job || !version.url || !version.servedModel)
    throw new RestartServedPolicyError("unknown-version", `${version.id} records no serve.policy job, URL or served name: nothing to restart from`);

  if (LIVE_SERVE_STATES.includes(job.state)) {
    // PostgreSQL says it runs: ask its launcher, as `model list` does (an ended one is recorded so).
    const check = (
      await checkServedPolicies(db, [job], { campaignId: o.campaignId, ...(o.launcherConfig ? { launcherConfig: o.launcherConfig } : {}), log })
    ).get(job.name);
    if (check?.result === "live")
      throw new RestartServedPolicyError(
        "refused",
        `the policy server of ${o.campaignId} iteration ${it} (${job.name}) is still ${check.state} (its ${job.launcher} launcher says so) at ${version.url}; nothing to restart (if it hangs, \`${CLI} model stop ${o.campaignId} --iteration ${it} --force\` first)`,
      );
    if (check?.result === "unknown")
      throw new RestartServedPolicyError(
        "unconfirmed",
        `could not tell whether the policy server of ${o.campaignId} iteration ${it} (${job.name}) still runs: ${check.reason}; nothing restarted`,
      );
    job = (await listCampaignStageJobs(db, o.campaignId, "serve.policy")).find((j) => j.name === job!.name)!;
  }
  if (job.state === "cancelled" && !(job.message === STOP_MESSAGE && o.stopped)) {
    const stoppedOnPurpose = job.message === STOP_MESSAGE;
    const why = job.message?.startsWith("superseded")
      ? job.message
      : stoppedOnPurpose
        ? "stopped on purpose (`model stop`)"
        : `cancelled (${job.message ?? "on purpose"})`;
    throw new RestartServedPolicyError(
      "refused",
      `the policy server of ${o.campaignId} iteration ${it} (${job.name}) was ${why}, not ended by itself: not restarted` +
        (stoppedOnPurpose
          ? `. To serve it again, run \`${CLI} model restart ${o.campaignId} --iteration ${it} --stopped\``
          : `. To serve it again, run \`${CLI} campaign retry-stage ${o.campaignId} --stage serve.policy\` while the campaign waits there, or start the campaign's next run`),
    );
  }
  const previous = {
    job: job.name,
    state: job.state,
    ...(job.exitCode !== null ? { exitCode: job.exitCode } : {}),
    ...(job.message ? { message: job.message } : {}),
  };

  const launcher = await launcherOf(db, { campaignId: o.campaignId, ...(o.launcherConfig ? { launcherConfig: o.launcherConfig } : {}) }, job, log);
  const attempt = Math.max(...jobs.filter((j) => j.iteration === it).map((j) => j.attempt)) + 1;
  const name = stageJobName(o.campaignId, it, RESTART_JOB_STAGE, attempt);
  // The new server loads the folder as it is now: if it was rewritten since (a retrain not yet served),
  // the version's recorded fingerprint follows, so stored results of the old weights are not reused.
  const fingerprint = version.path ? await checkpointFingerprint(version.path) : null;
  const old = job.request as JobRequest;
  const request: JobRequest = { ...old, name, env: { ...old.env, ...(fingerprint ? { [CHECKPOINT_FINGERPRINT_ENV]: fingerprint } : {}) } };
  await recordJobIntent(db, { name, campaignId: o.campaignId, iteration: it, stage: "serve.policy", attempt, launcher: launcher.kind, request });
  const { ref } = await launcher.submit(request);
  await recordJobSubmitted(db, name, ref.externalId);
  // From now on `model list`, `model stop` and `campaign status` see the new job as the version's server.
  await pointVersionAt(db, version, name, version.url, fingerprint ? { path: version.path, fingerprint } : undefined);
  log(`[model restart] submitted ${launcher.kind} job ${name} (${ref.externalId}) for ${version.id}`);

  const started = Date.now();
  const timeoutMs = o.readyTimeoutMs ?? 10 * 60_000;
  const pollMs = o.pollMs ?? 1000;
  let lastSaid = 0;
  let url = version.url;
  for (;;) {
    o.signal?.throwIfAborted();
    const status = await launcher.status(ref);
    const waited = Date.now() - started;
    if (status.state !== "running" && status.state !== "pending") {
      await recordJobStatus(db, name, { state: status.state, exitCode: status.exitCode, message: status.message, finished: true });
      const tail = (await launcher.logs(ref, { tailBytes: 4096 }).catch(() => "")).trim().split("\n").slice(-15).join("\n");
      throw new RestartServedPolicyError(
        "not-ready",
        `the restarted policy server ${name} ended before it answered: its ${launcher.kind} launcher says ${describe(status)}${tail ? `; the end of its log:\n${tail}` : ""}`,
      );
    }
    url = urlOn(version.url, job, launcher.kind, status);
    let answer: true | string;
    if (status.state !== "running") answer = "not started yet";
    else if (request.env[SERVE_PORT_FILE_ENV] === undefined)
      answer = await servesModel(url, version.servedModel); // a fixed port, in the recorded URL
    else {
      // Its port was picked where it runs: the one it wrote (again the recorded one while that was free).
      const port = await servePortOf(request, 0);
      if (port === undefined) answer = `no port in ${request.env[SERVE_PORT_FILE_ENV]} yet`;
      else {
        url = withPort(url, port);
        answer = await servesModel(url, version.servedModel);
      }
    }
    if (answer === true) {
      await recordJobStatus(db, name, { state: "running", ...(status.nodes ? { progress: { done: 0, nodes: status.nodes } } : {}) }, LIVE_SERVE_STATES);
      if (url !== version.url) await pointVersionAt(db, version, name, url);
      progress(`ready after ${Math.round(waited / 1000)} s: ${version.servedModel} answers at ${url}`);
      return {
        iteration: it,
        version: version.id,
        previous,
        job: name,
        attempt,
        launcher: launcher.kind,
        externalId: ref.externalId,
        url,
        servedModel: version.servedModel,
        urlChanged: url !== version.url,
        readyAfterMs: waited,
      };
    }
    if (waited >= timeoutMs)
      throw new RestartServedPolicyError(
        "not-ready",
        `the restarted policy server ${name} is ${status.state} but did not answer GET ${url}/models with ${version.servedModel} within ${Math.round(timeoutMs / 1000)} s (last: ${answer}); it is left starting: \`${CLI} model list ${o.campaignId}\` shows when it serves, \`${CLI} model stop ${o.campaignId} --iteration ${it}\` stops it`,
      );
    if (Date.now() - lastSaid >= 5000) {
      lastSaid = Date.now();
      progress(
        `waiting for ${name} to serve ${version.servedModel} at ${url}: job ${status.state}${status.message ? ` (${status.message})` : ""}, ${Math.round(waited / 1000)} s, last: ${answer}`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function pointVersionAt(
  db: Db,
  version: ModelVersionRow,
  jobName: string,
  url: string,
  checkpoint?: { path: string | null; fingerprint: string },
): Promise<void> {
  await db
    .update(modelVersions)
    .set({
      jobName,
      url,
      stoppedAt: null,
      ...(checkpoint ? { details: sql`coalesce(${modelVersions.details}, '{}'::jsonb) || ${JSON.stringify({ checkpoint })}::jsonb` } : {}),
    })
    .where(and(eq(modelVersions.id, version.id), eq(modelVersions.kind, "served")));
}

/**
 * The server's URL for the new job: on a cluster a job may land on another node, and the recorded
 * URL named the old job's node (serve.policy's `baseUrlOf`): that host is replaced by the new node.
 */
export function urlOn(recorded: string, oldJob: Pick<ClusterJobRow, "progress">, launcher: string, status: JobStatus): string {
  const oldNode = (oldJob.progress as { nodes?: string[] } | null)?.nodes?.[0];
  const newNode = status.nodes?.[0];
  if (launcher === "local" || !oldNode || !newNode || oldNode === newNode) return recorded;
  const u = new URL(recorded);
  if (u.hostname !== oldNode && u.hostname !== `[${oldNode}]`) return recorded;
  u.hostname = newNode.includes(":") ? `[${newNode}]` : newNode;
  return u.toString().replace(/\/$/, "");
}

/** `url` with its port replaced. */
function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString().replace(/\/$/, "");
}

/** True when `GET <url>/models` lists the model; else what went wrong, for the progress line. */
async function servesModel(url: string, model: string): Promise<true | string> {
  try {
    const res = await fetch(`${url}/models`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return `GET /models answered ${res.status}`;
    const body = (await res.json()) as { data?: { id?: string }[] };
    return (body.data ?? []).some((m) => m.id === model) ? true : `GET /models does not list ${model}`;
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return cause === "ECONNREFUSED" ? "connection refused (not listening yet)" : `GET /models failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function describe(s: JobStatus): string {
  const code = s.exitCode !== undefined && !(s.message ?? "").includes(`code ${s.exitCode}`) ? `exit ${s.exitCode}` : undefined;
  return `${s.state}${[code, s.message].filter(Boolean).length ? ` (${[code, s.message].filter(Boolean).join(": ")})` : ""}`;
}
