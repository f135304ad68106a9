/**
 * Stopping a campaign's policy servers. A serve.policy job outlives its stage by design (the next
 * iteration, and a scheduled campaign that continues this one, call it), and no campaign end stops
 * its last one: `toolloop model stop` does, through the launcher the job was started with (the
 * campaign's own `cluster.launcher` for that iteration), the same cancel path `keepPrevious` uses.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { configForIteration, latestConfig } from "../db/repos/campaignConfigs.js";
import { servedPolicyToCall } from "../db/repos/continuation.js";
import { CLI } from "../status/campaignView.js";
import { getCampaign } from "../db/repos/campaigns.js";
import { listCampaignStageJobs, recordJobStatus, type ClusterJobRow } from "../db/repos/clusterJobs.js";
import { listModelVersions, type ModelVersionRow } from "../db/repos/modelVersions.js";
import { campaigns, modelVersions, type ClusterJobState } from "../db/schema.js";
import { clusterOf } from "./clusterConfig.js";
import { continuedBaseModel } from "./servedPolicy.js";
import type { LauncherConfig } from "./launchers/config.js";
import { createLauncher } from "./launchers/index.js";
import type { JobLauncher, JobRef, JobStatus, LauncherKind } from "./launchers/launcher.js";

/** Job states in which a server may still run (the watch stops at "ready", so the row keeps saying running). */
export const LIVE_SERVE_STATES: ClusterJobState[] = ["submitting", "pending", "running"];

export const STOP_MESSAGE = "stopped by toolloop model stop";

/** Marks the served version(s) a job served as no longer served (kept once set: the first stop is the one recorded). */
export async function recordServedStopped(db: Db, jobName: string): Promise<void> {
  await db
    .update(modelVersions)
    .set({ stoppedAt: new Date() })
    .where(and(eq(modelVersions.jobName, jobName), eq(modelVersions.kind, "served"), isNull(modelVersions.stoppedAt)));
}

export type StopProblem = "unknown-campaign" | "unknown-version" | "in-use" | "not-found";

/** Why nothing was stopped; `kind` decides the CLI's exit code. */
export class StopServedPolicyError extends Error {
  constructor(
    readonly kind: StopProblem,
    message: string,
  ) {
    super(message);
    this.name = "StopServedPolicyError";
  }
}

export interface StopOutcome {
  iteration: number;
  job: string;
  launcher: string;
  /** stopped: cancelled now; ended: it had ended by itself (state as the launcher says); unchanged: not live before. */
  action: "stopped" | "ended" | "unchanged";
  state: string;
  message?: string;
}

export interface StopServedPolicyOptions {
  campaignId: string;
  /** Only this iteration's server (a served model_versions id names one too); default: every live one. */
  iteration?: number;
  /** Stop even when the campaign, or a running campaign that continues it, still calls it. */
  force?: boolean;
  /** The launcher to use instead of the campaign's configured one (tests, the demo). */
  launcherConfig?: LauncherConfig;
  log?: (m: string) => void;
}

/**
 * Stops the campaign's live serve.policy jobs (or one iteration's) and records it: the job row
 * `cancelled`, the served model version's `stopped_at`. A job already ended or stopped is reported,
 * not an error, so running it twice is fine.
 */
export async function stopServedPolicy(db: Db, o: StopServedPolicyOptions): Promise<StopOutcome[]> {
  const log = o.log ?? (() => undefined);
  const campaign = await getCampaign(db, o.campaignId);
  const jobs = await listCampaignStageJobs(db, o.campaignId, "serve.policy");
  if (!campaign && jobs.length === 0) {
    throw new StopServedPolicyError(
      "unknown-campaign",
      `no campaign ${JSON.stringify(o.campaignId)} in PostgreSQL; check the id (\`campaign list\` shows them)`,
    );
  }
  const chosen = o.iteration === undefined ? jobs : jobs.filter((j) => j.iteration === o.iteration);
  if (o.iteration !== undefined && chosen.length === 0) {
    const served = [...new Set(jobs.map((j) => j.iteration))];
    throw new StopServedPolicyError(
      "unknown-version",
      `campaign ${o.campaignId} has no policy server of iteration ${o.iteration} (${served.length ? `serve.policy ran in iteration ${served.join(", ")}` : "serve.policy never ran"}; \`${CLI} model list ${o.campaignId}\` shows them)`,
    );
  }
  const live = chosen.filter((j) => LIVE_SERVE_STATES.includes(j.state));
  if (!o.force && live.length > 0) await refuseWhileInUse(db, o.campaignId, campaign?.status, live);

  const outcomes: StopOutcome[] = chosen
    .filter((j) => !live.includes(j))
    .map((j) => ({
      iteration: j.iteration,
      job: j.name,
      launcher: j.launcher,
      action: "unchanged",
      state: j.state,
      ...(j.message ? { message: j.message } : {}),
    }));
  const launchers = new Map<number, JobLauncher>();
  for (const job of live) {
    const launcher = launchers.get(job.iteration) ?? (await launcherOf(db, o, job, log));
    launchers.set(job.iteration, launcher);
    outcomes.push(await stopJob(db, launcher, job, log));
  }
  return outcomes.sort((a, b) => a.iteration - b.iteration || a.job.localeCompare(b.job));
}

/** The newest live server is what the running campaign (or one continuing it, before it serves its own) calls next. */
async function refuseWhileInUse(db: Db, campaignId: string, status: string | undefined, live: ClusterJobRow[]): Promise<void> {
  const all = await listCampaignStageJobs(db, campaignId, "serve.policy", LIVE_SERVE_STATES);
  const newest = Math.max(...all.map((j) => j.iteration));
  if (!live.some((j) => j.iteration === newest)) return;
  const users: string[] = [];
  if (status === "running") users.push(`campaign ${campaignId} itself is running (PostgreSQL says so) and calls it`);
  const successors = await db
    .select({ id: campaigns.id })
    .from(campaigns)
    .where(and(eq(campaigns.continuesFrom, campaignId), eq(campaigns.status, "running")));
  for (const s of successors) {
    const own = (await listModelVersions(db, s.id)).some((v) => v.kind === "served");
    if (own || (await callsConfiguredPolicy(db, s.id))) continue;
    users.push(`campaign ${s.id} continues from it and calls it until its own serve.policy`);
  }
  if (users.length === 0) return;
  throw new StopServedPolicyError(
    "in-use",
    `the policy server of ${campaignId} iteration ${newest} is in use: ${users.join("; ")}. Abort that campaign first, or pass --force to stop it anyway (its calls then fail)`,
  );
}

/**
 * A campaign continuing another that does not call that campaign's served policy: it was trained from
 * another base model than the one the campaign's training starts from, so its stages call the
 * configured roles.policy (src/training/servedPolicy.ts stagePolicy). Without a registered config it
 * is taken to call it.
 */
async function callsConfiguredPolicy(db: Db, campaignId: string): Promise<boolean> {
  const config = (await latestConfig(db, campaignId))?.frozen.config;
  if (!config) return false;
  // Iteration 1: what it calls before it serves its own.
  return (await servedPolicyToCall(db, campaignId, 1, continuedBaseModel(config))).passedOver !== undefined;
}

/** The launcher the job was started with: its iteration's config version names it. */
export async function launcherOf(
  db: Db,
  o: { campaignId: string; launcherConfig?: LauncherConfig },
  job: ClusterJobRow,
  log: (m: string) => void,
  quickMs?: number,
): Promise<JobLauncher> {
  const config = o.launcherConfig ? undefined : (await configForIteration(db, o.campaignId, job.iteration))?.frozen.config;
  const launcherConfig = o.launcherConfig ?? (config ? clusterOf(config).launcher : undefined);
  if (!launcherConfig)
    throw new StopServedPolicyError(
      "not-found",
      `campaign ${o.campaignId} has no stored config for iteration ${job.iteration}: cannot tell which launcher ran ${job.name}`,
    );
  if (launcherConfig.kind !== job.launcher)
    throw new StopServedPolicyError("not-found", `${job.name} ran on the ${job.launcher} launcher but the campaign's config names ${launcherConfig.kind}`);
  return createLauncher(launcherConfig, { log, ...(quickMs !== undefined ? { quickMs } : {}) });
}

async function stopJob(db: Db, launcher: JobLauncher, job: ClusterJobRow, log: (m: string) => void): Promise<StopOutcome> {
  const base = { iteration: job.iteration, job: job.name, launcher: job.launcher };
  const found = await launcher.find(job.name);
  if (!found) {
    // A local job's record lives on the worker's machine: a missing one is a wrong machine or state dir, not an ended job.
    if (launcher.kind === "local") throw new StopServedPolicyError("not-found", localRecordMissing(launcher, job.name));
    const lost = await recordServerEnded(db, job.name, schedulerForgot(launcher));
    return { ...base, action: "ended", state: lost.state, ...(lost.message ? { message: lost.message } : {}) };
  }
  const ref: JobRef = job.externalId ? { launcher: job.launcher as LauncherKind, name: job.name, externalId: job.externalId } : found;
  const before = await launcher.status(ref);
  if (before.state !== "running" && before.state !== "pending") {
    // It ended by itself (the simulator's idle exit, a crash): recorded as the launcher says, nothing to cancel.
    await recordServerEnded(db, job.name, before);
    return { ...base, action: "ended", state: before.state, ...(before.message ? { message: before.message } : {}) };
  }
  await launcher.cancel(ref);
  const after = await launcher.status(ref);
  // A scheduler may still report it running for a moment after the cancel (Slurm's CANCELLING): it was asked to stop.
  const state = after.state === "running" || after.state === "pending" ? "cancelled" : after.state;
  await recordJobStatus(db, job.name, { state, exitCode: after.exitCode, message: STOP_MESSAGE, finished: true });
  await recordServedStopped(db, job.name);
  log(`stopped the served policy ${job.name} (${launcher.kind} ${ref.externalId})`);
  return { ...base, action: "stopped", state, message: STOP_MESSAGE };
}

export function localRecordMissing(launcher: JobLauncher, name: string): string {
  return `the local launcher here has no record of ${name} (looked in ${(launcher as { stateDir?: string }).stateDir ?? "its state dir"}); run this on the machine whose worker started it, with that worker's TOOLLOOP_STATE_DIR`;
}

/** What a launcher says of a job it no longer knows (not the local launcher: its records are per machine). */
function schedulerForgot(launcher: JobLauncher): JobStatus {
  return { state: "lost", message: `the ${launcher.kind} scheduler no longer knows it` };
}

/**
 * Records a server job that ended by itself, as its launcher says: the job row in that state
 * (finished), the served version it served marked no longer served. Only a row still recorded live
 * is changed, so a second look, or a `model stop` that got there first, keeps the first record.
 */
async function recordServerEnded(db: Db, jobName: string, status: JobStatus): Promise<JobStatus> {
  const state = status.state === "running" || status.state === "pending" ? "lost" : status.state;
  await recordJobStatus(db, jobName, { state, exitCode: status.exitCode, message: status.message, finished: true }, LIVE_SERVE_STATES);
  await recordServedStopped(db, jobName);
  return { ...status, state };
}

/**
 * Served model versions with whether each still serves, from PostgreSQL alone: a job known to have
 * ended says so (cancelled: stopped; else ended by itself), else a version marked stopped is, else it
 * serves as far as PostgreSQL knows (`checkServedPolicies` asks the launcher).
 */
export function servingState(v: ModelVersionRow, jobs: Map<string, ClusterJobRow>): "serving" | "stopped" | "ended" | undefined {
  if (v.kind !== "served") return undefined;
  const job = v.jobName ? jobs.get(v.jobName) : undefined;
  if (job && !LIVE_SERVE_STATES.includes(job.state)) return job.state === "cancelled" ? "stopped" : "ended";
  if (v.stoppedAt) return "stopped";
  return "serving";
}

/** What the launcher said of a server job PostgreSQL records as live. */
export type ServerCheck =
  /** It runs (or waits to run, `pending`). */
  | { job: string; launcher: string; result: "live"; state: "running" | "pending"; message?: string }
  /** It had ended by itself: recorded now (job row and served version), as `model stop` records one. */
  | { job: string; launcher: string; result: "ended"; state: string; exitCode?: number; message?: string }
  /** The launcher could not be asked or gave no answer in time: PostgreSQL's word stands, unconfirmed. */
  | { job: string; launcher: string; result: "unknown"; reason: string };

export const CHECK_DEADLINE_MS = 5_000;
export const CHECK_CONCURRENCY = 4;

export interface CheckServedPoliciesOptions {
  campaignId: string;
  /** The launcher to ask instead of the campaign's configured one (tests, the demo). */
  launcherConfig?: LauncherConfig;
  /** Per job: the launcher's whole answer must come within this (default 5 s). */
  deadlineMs?: number;
  /** Jobs asked at once (default 4). */
  concurrency?: number;
  log?: (m: string) => void;
}

/**
 * Asks the launcher that started each of these serve.policy jobs (those PostgreSQL records as live)
 * whether it still runs, a few at a time and each within a deadline. One that ended by itself is
 * recorded as ended; one whose launcher cannot be asked is reported `unknown` with the reason, never
 * thrown. Nothing is cancelled.
 */
export async function checkServedPolicies(db: Db, jobs: ClusterJobRow[], o: CheckServedPoliciesOptions): Promise<Map<string, ServerCheck>> {
  const log = o.log ?? (() => undefined);
  const deadlineMs = o.deadlineMs ?? CHECK_DEADLINE_MS;
  const live = jobs.filter((j) => LIVE_SERVE_STATES.includes(j.state));
  const launchers = new Map<number, Promise<JobLauncher>>();
  const launcherFor = (job: ClusterJobRow): Promise<JobLauncher> => {
    let l = launchers.get(job.iteration);
    if (!l) {
      l = launcherOf(db, o, job, log, deadlineMs);
      launchers.set(job.iteration, l);
    }
    return l;
  };
  const out = new Map<string, ServerCheck>();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < live.length; i = next++) {
      const job = live[i]!;
      out.set(job.name, await checkOne(db, job, launcherFor, deadlineMs));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? CHECK_CONCURRENCY, live.length)) }, worker));
  return out;
}

async function checkOne(db: Db, job: ClusterJobRow, launcherFor: (j: ClusterJobRow) => Promise<JobLauncher>, deadlineMs: number): Promise<ServerCheck> {
  const base = { job: job.name, launcher: job.launcher };
  let status: JobStatus;
  try {
    status = await withDeadline(deadlineMs, `the ${job.launcher} launcher gave no answer within ${deadlineMs} ms`, async () => {
      const launcher = await launcherFor(job);
      // As `model stop` looks: by name first; a scheduler that forgot it means it ended (lost).
      const found = await launcher.find(job.name);
      if (!found) {
        // A local job's record lives on the worker's machine: a missing one is a wrong machine or state dir, not an ended job.
        if (launcher.kind === "local") throw new Error(localRecordMissing(launcher, job.name));
        // Being submitted now (serve.policy runs): not known yet is not lost.
        if (job.state === "submitting" || !job.externalId)
          throw new Error(`the ${launcher.kind} scheduler does not know ${job.name} yet (PostgreSQL records it ${job.state}, not submitted)`);
        return schedulerForgot(launcher);
      }
      const ref: JobRef = job.externalId ? { launcher: job.launcher as LauncherKind, name: job.name, externalId: job.externalId } : found;
      return launcher.status(ref);
    });
  } catch (e) {
    return { ...base, result: "unknown", reason: e instanceof Error ? e.message : String(e) };
  }
  if (status.state === "running" || status.state === "pending") {
    return { ...base, result: "live", state: status.state, ...(status.message ? { message: status.message } : {}) };
  }
  try {
    await recordServerEnded(db, job.name, status);
  } catch (e) {
    // Said, not thrown: the list still shows what the launcher said.
    return {
      ...base,
      result: "unknown",
      reason: `the ${job.launcher} launcher says ${status.state}, but recording it failed: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  return {
    ...base,
    result: "ended",
    state: status.state,
    ...(status.exitCode !== undefined ? { exitCode: status.exitCode } : {}),
    ...(status.message ? { message: status.message } : {}),
  };
}

/** `fn`'s result, or an error with `what` once `ms` have passed (the work itself is left to its own time limits). */
async function withDeadline<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  try {
    return await Promise.race([fn(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops every serve.policy job of the campaign that may still run, whoever calls it (the demo and tests at their end). */
export async function stopServedPolicies(db: Db, campaignId: string, launcherConfig: LauncherConfig, log: (m: string) => void): Promise<void> {
  try {
    for (const r of await stopServedPolicy(db, { campaignId, force: true, launcherConfig, log })) {
      if (r.action === "ended") log(`the served policy ${r.job} had ended (${r.state})`);
    }
  } catch (e) {
    if (e instanceof StopServedPolicyError && e.kind === "unknown-campaign") return;
    log(`could not stop the served policies of ${campaignId}: ${String(e)}`);
  }
}
