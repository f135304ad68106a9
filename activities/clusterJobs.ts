/**
 * Activities of cluster-job stages (src/framework/clusterJob.ts): submit once under the job's name,
 * watch it for a bounded window with heartbeats, cancel it. They run on the cluster queue; the
 * child workflow workflows/stageJob.ts strings them together. A job outlives any worker: every
 * step first finds the job by its name (database row, then the scheduler itself).
 */
import { createHash } from "node:crypto";
import { ApplicationFailure, Context, sleep } from "@temporalio/activity";
import type { CampaignConfig } from "../src/config/campaignConfig.js";
import type { Db } from "../src/db/client.js";
import { getClusterJob, listStageJobs, recordJobIntent, recordJobStatus, recordJobSubmitted, type ClusterJobRow } from "../src/db/repos/clusterJobs.js";
import { isClusterJobHandler, type ClusterJobHandler, type JobProgress, type StageJob } from "../src/framework/clusterJob.js";
import { ErrorType } from "../src/framework/errorTypes.js";
import { afterChangeAdvice, afterConfigChangeAdvice, afterFixAdvice, type OnStageFailure } from "../src/framework/stageFailureAdvice.js";
import { overdueJob, spokenDuration, tickJobClock, type JobClock, type JobDeadlines } from "../src/framework/jobClock.js";
import type { AnyStageHandler } from "../src/framework/registry.js";
import type { StageContext } from "../src/framework/stage.js";
import type { AnyStageSpec } from "../src/framework/stageSpec.js";
import { stageJobName } from "../src/training/jobNames.js";
import { recordServedStopped } from "../src/training/servedPolicyJobs.js";
import {
  isSchedulerUnreachable,
  TERMINAL_JOB_STATES,
  type JobLauncher,
  type JobRef,
  type JobRequest,
  type JobState,
  type JobStatus,
} from "../src/training/launchers/launcher.js";
import type { StageRef } from "./types.js";

export interface StageJobRef extends StageRef {
  attempt: number;
}

export interface SubmitStageJobResult {
  name: string;
  /** False when the job existed already (a retried submit, or a restarted worker). */
  submitted: boolean;
  /** An earlier attempt's job already finished the work: nothing was submitted, collect it. */
  alreadyDone: boolean;
}

export interface WatchStageJobResult {
  name: string;
  /** done: succeeded (or serving); failed: ended otherwise; watching: still running at the window's end. */
  outcome: "done" | "failed" | "watching";
  state: string;
  message?: string;
  progress?: JobProgress;
}

type WithStageContext = <T>(ref: StageRef, fn: (ctx: StageContext, handler: AnyStageHandler, spec: AnyStageSpec) => Promise<T>) => Promise<T>;

export interface ClusterJobDeps {
  getDb(): Promise<Db>;
  createLauncher(config: CampaignConfig): JobLauncher;
  withStageContext: WithStageContext;
  log(message: string): void;
}

function jobHandler(ref: StageRef, handler: AnyStageHandler): ClusterJobHandler {
  if (!isClusterJobHandler(handler)) throw ApplicationFailure.nonRetryable(`stage "${ref.stage}" does not run a cluster job`, ErrorType.stageInput);
  return handler;
}

function stageJobOf(row: ClusterJobRow): StageJob {
  if (!row.externalId) throw new Error(`job ${row.name} has no scheduler id yet`);
  return {
    name: row.name,
    attempt: row.attempt,
    ref: { launcher: row.launcher as StageJob["ref"]["launcher"], name: row.name, externalId: row.externalId },
    request: row.request as JobRequest,
  };
}

export function createClusterJobActivities(deps: ClusterJobDeps) {
  /** The job row of an attempt, its scheduler id filled in from the scheduler if a crash lost it. */
  async function knownJob(db: Db, launcher: JobLauncher, name: string): Promise<ClusterJobRow | undefined> {
    const row = await getClusterJob(db, name);
    if (!row || row.externalId) return row;
    const found = await launcher.find(name);
    if (!found) return row;
    await recordJobSubmitted(db, name, found.externalId);
    return getClusterJob(db, name);
  }

  async function submitStageJob(ref: StageJobRef): Promise<SubmitStageJobResult> {
    const db = await deps.getDb();
    return deps.withStageContext(ref, async (ctx, h) => {
      const handler = jobHandler(ref, h);
      // An earlier attempt that succeeded (then failed to be collected) is not run again.
      if (handler.completion === "exit") {
        const done = (await listStageJobs(db, ref)).find((j) => j.state === "succeeded");
        if (done) return { name: done.name, submitted: false, alreadyDone: true };
      }
      const name = stageJobName(ref.campaignId, ref.iteration, ref.stage, ref.attempt);
      const launcher = deps.createLauncher(ctx.config);
      const known = await knownJob(db, launcher, name);
      if (known?.externalId) return { name, submitted: false, alreadyDone: false };
      await stopEarlierAttempts(db, launcher, ref, name);
      // A recorded intent is submitted as recorded (prepare may pick a free port or a path afresh).
      let request: JobRequest;
      if (known) request = known.request as JobRequest;
      else {
        const prepared = await handler.prepare(ctx, ref.attempt);
        request = { ...prepared.request, name };
        await recordJobIntent(db, {
          name,
          campaignId: ref.campaignId,
          iteration: ref.iteration,
          stage: ref.stage,
          attempt: ref.attempt,
          launcher: launcher.kind,
          request,
        });
      }
      // The launcher looks the name up first: a job submitted before a crash is returned, not doubled.
      const { ref: jobRef, submitted } = await launcher.submit(request);
      await recordJobSubmitted(db, name, jobRef.externalId);
      // Cancelled while the scheduler took the job (an abort during a slow sbatch): the workflow may have
      // stopped waiting for this activity, so the job is cancelled here rather than left running unwatched.
      if (Context.current().cancellationSignal.aborted) {
        await cancelJob(db, launcher, name, jobRef);
        return { name, submitted, alreadyDone: false };
      }
      deps.log(
        `[job] ${submitted ? "submitted" : "found"} ${launcher.kind} job ${name} (${jobRef.externalId}) for ${ref.campaignId} iteration ${ref.iteration} ${ref.stage}`,
      );
      return { name, submitted, alreadyDone: false };
    });
  }

  /**
   * A scheduler that does not answer (a Slurm controller restarting or failing over, a Ray head being
   * replaced) says nothing about the job, which runs on: the watch or the cancel is retried until it
   * answers, never counted against the attempt budget. Counted, a few minutes of outage failed the stage
   * while its job ran on unwatched, and the operator's retry started a second job over its checkpoints.
   */
  async function untilSchedulerAnswers<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!isSchedulerUnreachable(err)) throw err;
      const message = `job ${name}: ${err instanceof Error ? err.message : String(err)}; asking again until the scheduler answers`;
      deps.log(`[job] ${message}`);
      throw ApplicationFailure.create({ type: ErrorType.infrastructure, message, cause: err instanceof Error ? err : undefined });
    }
  }

  async function watchStageJob(ref: StageJobRef & { name: string; windowSeconds: number; pollSeconds: number }): Promise<WatchStageJobResult> {
    const db = await deps.getDb();
    const actx = Context.current();
    return untilSchedulerAnswers(ref.name, () => watchJob(db, actx, ref));
  }

  async function watchJob(
    db: Db,
    actx: Context,
    ref: StageJobRef & { name: string; windowSeconds: number; pollSeconds: number },
  ): Promise<WatchStageJobResult> {
    return deps.withStageContext(ref, async (ctx, h) => {
      const handler = jobHandler(ref, h);
      const launcher = deps.createLauncher(ctx.config);
      const row = await knownJob(db, launcher, ref.name);
      if (!row?.externalId)
        throw ApplicationFailure.nonRetryable(
          `job ${ref.name} was never submitted (no record, and the ${launcher.kind} scheduler does not know it)`,
          ErrorType.clusterJobFailed,
        );
      const job = stageJobOf(row);
      const until = Date.now() + ref.windowSeconds * 1000;
      // A change of state (pending -> running) ends the window early, so the iteration shows it at once.
      const stateAtStart = row.state;
      let progress: JobProgress | undefined;
      // Its deadlines (a server's readiness, a training job's stall), timed from poll to poll and kept with its progress.
      const deadlines: JobDeadlines =
        handler.completion === "ready" ? { readyTimeoutMs: handler.readyTimeoutMs?.(ctx) } : { stallTimeoutMs: handler.stallTimeoutMs?.(ctx) };
      let clock: JobClock = (row.progress as { clock?: JobClock } | null)?.clock ?? {};
      for (;;) {
        let status: JobStatus = await launcher.status(job.ref);
        // The tail the handler reads for its progress is also a sign of life: new output is a job not hung.
        let tail: string | undefined;
        const logTail = async () => (tail = await launcher.logs(job.ref, { tailBytes: 16_384 }));
        const read = await handler.progress?.(ctx, job, logTail).catch(() => undefined);
        progress = read ?? progress;
        const output = tail === undefined ? undefined : createHash("sha1").update(tail).digest("hex").slice(0, 16);
        clock = tickJobClock(clock, status.state, { ...(read ? { done: read.done } : {}), ...(output ? { output } : {}) }, Date.now());
        actx.heartbeat({ state: status.state, progress });
        const terminal = TERMINAL_JOB_STATES.has(status.state);
        let outcome: WatchStageJobResult["outcome"] = "watching";
        let message = status.message;
        if (handler.completion === "exit") {
          if (status.state === "succeeded") outcome = "done";
          else if (terminal) outcome = "failed";
        } else if (terminal) {
          outcome = "failed";
          // The scheduler's word is kept (Slurm's reason for a job it will never start, Ray's failure text).
          message = `the server job ended (${status.state}${status.exitCode !== undefined ? `, exit ${status.exitCode}` : ""}) before it served${status.message ? `: ${status.message}` : ""}`;
        } else if (status.state === "running" && handler.ready && (await handler.ready(ctx, job, status))) {
          outcome = "done";
        }
        const late = outcome === "watching" && status.state === "running" ? overdueJob(clock, deadlines, Date.now()) : undefined;
        if (late) {
          // Stopped, so its GPUs are freed and the stage fails with its log instead of waiting forever.
          outcome = "failed";
          await launcher.cancel(job.ref, { signal: actx.cancellationSignal });
          status = await launcher.status(job.ref);
          // What comes next depends on what the failure does to the campaign (retry, start again, or skipped).
          const policy = ctx.config.onStageFailure;
          message =
            late.deadline === "ready"
              ? `the server ran ${spokenDuration(late.elapsedMs)} without serving, past its readiness deadline of ${spokenDuration(late.limitMs)} (readyTimeoutMinutes), and its job was cancelled. Its log below says where it stopped; if it failed there, fix that, ${afterFixAdvice(policy, ref.campaignId)}; if it only needs longer to start, raise readyTimeoutMinutes, a config change: ${afterConfigChangeAdvice(policy, ref.campaignId)}`
              : `no new step and no new output for ${spokenDuration(late.elapsedMs)}${clock.stepDone !== undefined ? ` (at step ${clock.stepDone}${progress?.total !== undefined ? ` of ${progress.total}` : ""})` : ""}, past its stall deadline of ${spokenDuration(late.limitMs)} (stallTimeoutMinutes), and its job was cancelled. Its log below says where it stopped; ${resumeAdvice(policy, ref.campaignId)}; if its steps only take that long, raise stallTimeoutMinutes, a config change: ${afterConfigChangeAdvice(policy, ref.campaignId)}`;
        }
        // What to do once the setting is changed depends on what the failure does to the campaign (retry, start again, or a later run).
        if (outcome === "failed" && status.neverStarts) message = `${message}, ${afterChangeAdvice(ctx.config.onStageFailure, ref.campaignId)}`;
        if (outcome === "failed" && !late) {
          // A job the scheduler says will never start (Slurm: pending on a limit it cannot meet) is still queued: cancel
          // it, so it cannot start later next to the retry's job. A job that has ended is left as it is.
          await launcher
            .cancel(job.ref, { signal: actx.cancellationSignal })
            .catch((e: unknown) => deps.log(`[job] ${job.name}: could not cancel it after it failed: ${String(e)}`));
        }
        if (outcome === "failed") {
          const tail = await launcher.logs(job.ref, { tailBytes: 2000 }).catch((e: unknown) => `(logs unavailable: ${String(e)})`);
          message = `${launcher.kind} job ${job.name} ${status.state}${status.exitCode !== undefined ? ` (exit ${status.exitCode})` : ""}${message ? `: ${message}` : ""}\n--- last output ---\n${tail.trim().split("\n").slice(-15).join("\n")}`;
        }
        // The nodes are kept with the progress: a served model is reached on the node its job runs on.
        // No steps invented for a job that reports none (status showed a merge or a server at "step 0").
        // The clock and the deadlines let `campaign status` say how long a server has been starting, or a job quiet.
        const recorded = { ...progress, ...(status.nodes ? { nodes: status.nodes } : {}), clock, watch: { completion: handler.completion, ...deadlines } };
        await recordJobStatus(db, job.name, {
          state: status.state,
          exitCode: status.exitCode,
          message: message?.slice(0, 4000),
          progress: recorded,
          finished: terminal || TERMINAL_JOB_STATES.has(status.state),
        });
        if (outcome !== "watching" || status.state !== stateAtStart || Date.now() + ref.pollSeconds * 1000 > until) {
          return { name: job.name, outcome, state: status.state, ...(message !== undefined ? { message } : {}), ...(progress ? { progress } : {}) };
        }
        await sleep(ref.pollSeconds * 1000); // rejects with CancelledFailure when the activity is cancelled
      }
    });
  }

  /** Cancels the attempt's job; without a name (cancelled while submitting), the attempt's deterministic one. */
  async function cancelStageJob(ref: StageJobRef & { name?: string }): Promise<void> {
    const db = await deps.getDb();
    const name = ref.name ?? stageJobName(ref.campaignId, ref.iteration, ref.stage, ref.attempt);
    await untilSchedulerAnswers(name, () =>
      deps.withStageContext(ref, async (ctx) => {
        const launcher = deps.createLauncher(ctx.config);
        const row = await knownJob(db, launcher, name);
        const found = row?.externalId ? stageJobOf(row).ref : await launcher.find(name);
        if (!found) return;
        await cancelJob(db, launcher, name, found);
      }),
    );
  }

  async function cancelJob(db: Db, launcher: JobLauncher, name: string, ref: JobRef, why = "stage cancelled"): Promise<void> {
    // Returns once the scheduler says the job ended (a retry must not start beside it), unless this activity is cancelled.
    await launcher.cancel(ref, { signal: Context.current().cancellationSignal });
    const status = await launcher.status(ref);
    await recordJobStatus(db, name, {
      state: status.state === "running" || status.state === "pending" ? "cancelled" : status.state,
      message: `cancelled by toolloop (${why})`,
      finished: true,
    });
    deps.log(`[job] cancelled ${launcher.kind} job ${name} (${why})`);
  }

  /**
   * An earlier attempt's job still queued or running when the next attempt is submitted (its watch
   * ended while the job ran on) is cancelled first. A training or merge job would write the same
   * checkpoint or model folder as the new one; the new attempt resumes from what it saved. A policy
   * server (its collect failed while it served) would hold its GPUs, and on a fixed `port` it would
   * answer the new attempt's readiness check under the same model name with the old weights.
   */
  async function stopEarlierAttempts(db: Db, launcher: JobLauncher, ref: StageJobRef, name: string): Promise<void> {
    for (const listed of await listStageJobs(db, ref)) {
      if (listed.attempt >= ref.attempt || listed.launcher !== launcher.kind || TERMINAL_JOB_STATES.has(listed.state as JobState)) continue;
      const row = await knownJob(db, launcher, listed.name);
      if (!row?.externalId) continue;
      const old = stageJobOf(row).ref;
      const status = await launcher.status(old);
      if (TERMINAL_JOB_STATES.has(status.state)) continue;
      deps.log(`[job] ${row.name} (attempt ${row.attempt}) is still ${status.state} as attempt ${ref.attempt} is submitted: cancelling it first`);
      await cancelJob(db, launcher, row.name, old, `attempt ${ref.attempt} (${name}) replaces it`);
      // A server the earlier attempt registered before failing serves no more.
      await recordServedStopped(db, row.name);
    }
  }

  /** Cancels the jobs a completed stage supersedes (see ClusterJobHandler.supersedes); one that is gone already is fine. */
  async function retireSuperseded(db: Db, ctx: StageContext, handler: ClusterJobHandler, job: StageJob): Promise<string[]> {
    const names = (await handler.supersedes?.(ctx, job)) ?? [];
    if (names.length === 0) return [];
    const launcher = deps.createLauncher(ctx.config);
    const retired: string[] = [];
    for (const name of names) {
      const row = await knownJob(db, launcher, name);
      if (!row?.externalId) continue;
      const old = stageJobOf(row).ref;
      await launcher.cancel(old, { signal: Context.current().cancellationSignal });
      const status = await launcher.status(old);
      await recordJobStatus(db, name, {
        state: status.state === "running" || status.state === "pending" ? "cancelled" : status.state,
        message: `superseded by ${job.name}`,
        finished: true,
      });
      await recordServedStopped(db, name);
      deps.log(`[job] stopped ${launcher.kind} job ${name}: superseded by ${job.name}`);
      retired.push(name);
    }
    return retired;
  }

  /** The job an attempt's collect step reads: the stage's succeeded (or serving) job. */
  async function collectableJob(db: Db, ref: StageRef): Promise<StageJob> {
    const jobs = await listStageJobs(db, ref);
    const row = jobs.find((j) => j.state === "succeeded") ?? jobs.find((j) => j.state === "running" && j.externalId);
    if (!row) throw ApplicationFailure.nonRetryable(`stage ${ref.stage} has no finished job to collect`, ErrorType.stageInput);
    return stageJobOf(row);
  }

  return { submitStageJob, watchStageJob, cancelStageJob, collectableJob, retireSuperseded };
}

/** How a training job stopped at its stall deadline goes on from its last saved checkpoint (resume_mode auto over the iteration's folder). */
function resumeAdvice(onStageFailure: OnStageFailure | undefined, campaignId: string): string {
  if (onStageFailure === "skip") return `onStageFailure "skip" has skipped this stage; it is not retried`;
  if (onStageFailure === "fail") return `to resume from its last saved checkpoint, ${afterFixAdvice("fail", campaignId).replace(/^then /, "")}`;
  return "retry the stage to resume from its last saved checkpoint";
}
