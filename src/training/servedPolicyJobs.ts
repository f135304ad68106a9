/**
 * Stopping a campaign's policy servers. A serve.policy job outlives its stage by design (the next
 * iteration, and a scheduled campaign that continues this one, call it), and no campaign end stops
 * its last one: `toolloop model stop` does, through the launcher the job was started with (the
 * campaign's own `cluster.launcher` for that iteration), the same cancel path `keepPrevious` uses.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { configForIteration } from "../db/repos/campaignConfigs.js";
import { getCampaign } from "../db/repos/campaigns.js";
import { listCampaignStageJobs, recordJobStatus, type ClusterJobRow } from "../db/repos/clusterJobs.js";
import { listModelVersions, type ModelVersionRow } from "../db/repos/modelVersions.js";
import { campaigns, modelVersions, type ClusterJobState } from "../db/schema.js";
import { clusterOf } from "./clusterConfig.js";
import type { LauncherConfig } from "./launchers/config.js";
import { createLauncher } from "./launchers/index.js";
import type { JobLauncher, JobRef, LauncherKind } from "./launchers/launcher.js";

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
      `campaign ${o.campaignId} has no policy server of iteration ${o.iteration} (${served.length ? `serve.policy ran in iteration ${served.join(", ")}` : "serve.policy never ran"}; \`model list ${o.campaignId}\` shows them)`,
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
    if (!own) users.push(`campaign ${s.id} continues from it and calls it until its own serve.policy`);
  }
  if (users.length === 0) return;
  throw new StopServedPolicyError(
    "in-use",
    `the policy server of ${campaignId} iteration ${newest} is in use: ${users.join("; ")}. Abort that campaign first, or pass --force to stop it anyway (its calls then fail)`,
  );
}

/** The launcher the job was started with: its iteration's config version names it. */
async function launcherOf(db: Db, o: StopServedPolicyOptions, job: ClusterJobRow, log: (m: string) => void): Promise<JobLauncher> {
  const config = o.launcherConfig ? undefined : (await configForIteration(db, o.campaignId, job.iteration))?.frozen.config;
  const launcherConfig = o.launcherConfig ?? (config ? clusterOf(config).launcher : undefined);
  if (!launcherConfig)
    throw new StopServedPolicyError(
      "not-found",
      `campaign ${o.campaignId} has no stored config for iteration ${job.iteration}: cannot tell which launcher ran ${job.name}`,
    );
  if (launcherConfig.kind !== job.launcher)
    throw new StopServedPolicyError("not-found", `${job.name} ran on the ${job.launcher} launcher but the campaign's config names ${launcherConfig.kind}`);
  return createLauncher(launcherConfig, { log });
}

async function stopJob(db: Db, launcher: JobLauncher, job: ClusterJobRow, log: (m: string) => void): Promise<StopOutcome> {
  const base = { iteration: job.iteration, job: job.name, launcher: job.launcher };
  const found = await launcher.find(job.name);
  if (!found) {
    // A local job's record lives on the worker's machine: a missing one is a wrong machine or state dir, not an ended job.
    if (launcher.kind === "local")
      throw new StopServedPolicyError(
        "not-found",
        `the local launcher here has no record of ${job.name} (looked in ${(launcher as { stateDir?: string }).stateDir ?? "its state dir"}); run this on the machine whose worker started it, with that worker's TOOLLOOP_STATE_DIR`,
      );
    await recordJobStatus(db, job.name, { state: "lost", message: `the ${launcher.kind} scheduler no longer knows it`, finished: true });
    await recordServedStopped(db, job.name);
    return { ...base, action: "ended", state: "lost", message: `the ${launcher.kind} scheduler no longer knows it` };
  }
  const ref: JobRef = job.externalId ? { launcher: job.launcher as LauncherKind, name: job.name, externalId: job.externalId } : found;
  const before = await launcher.status(ref);
  if (before.state !== "running" && before.state !== "pending") {
    // It ended by itself (the simulator's idle exit, a crash): recorded as the launcher says, nothing to cancel.
    await recordJobStatus(db, job.name, { state: before.state, exitCode: before.exitCode, message: before.message, finished: true });
    await recordServedStopped(db, job.name);
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

/** Served model versions with whether each still serves: not stopped, and its job not known to have ended. */
export function servingState(v: ModelVersionRow, jobs: Map<string, ClusterJobRow>): "serving" | "stopped" | "ended" | undefined {
  if (v.kind !== "served") return undefined;
  if (v.stoppedAt) return "stopped";
  const job = v.jobName ? jobs.get(v.jobName) : undefined;
  if (job && !LIVE_SERVE_STATES.includes(job.state)) return job.state === "cancelled" ? "stopped" : "ended";
  return "serving";
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
