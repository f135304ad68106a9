/**
 * A policy server the loop served that ended by itself (a crash, an OOM kill, a node lost, the
 * simulator's idle exit) is brought back without an operator while a stage waits for it: the stage's
 * endpoint watch (src/llm/endpointRecovery.ts) finds the served URL silent and asks this to restart
 * it through `model restart`'s path (src/training/servedPolicyRestart.ts: same request, same launcher,
 * the new job recorded and the served version pointed at it). The stage then retries by itself once
 * the server answers.
 *
 * Bounded: at most AUTO_RESTARTS restarts of one served version in all (counted from cluster_jobs,
 * so a worker restart does not reset it), and one attempt per AUTO_RESTART_SPACING_MS. A server
 * stopped on purpose (`model stop`), superseded by a later iteration's, or still running though
 * silent (hung: stopping it is the operator's call) is left alone, and the stage's note says why.
 */
import type { Db } from "../db/client.js";
import { listCampaignStageJobs } from "../db/repos/clusterJobs.js";
import { CLI } from "../status/campaignView.js";
import { stageJobName } from "./jobNames.js";
import { RESTART_JOB_STAGE, restartServedPolicy, RestartServedPolicyError, type RestartOutcome, type RestartProblem } from "./servedPolicyRestart.js";

/** Restarts of one served version a waiting stage may make by itself; past it, the operator decides. */
export const AUTO_RESTARTS = 3;
/** Between two restart attempts (each asks the launcher first). */
export const AUTO_RESTART_SPACING_MS = 15_000;

/** The served version a stage calls: whose, which iteration, and where. */
export interface ServedPolicyRef {
  campaignId: string;
  iteration: number;
  url: string;
}

export type RevivalOutcome =
  /** Restarted and answering (`restart.url` may differ from the old URL). */
  | { kind: "restarted"; restart: RestartOutcome; count: number }
  /** Not restarted: why (`limit`: AUTO_RESTARTS reached; else the restart's refusal or failure) and the words for the stage's note. */
  | { kind: "declined"; why: RestartProblem | "limit"; reason: string };

export interface RevivalOptions {
  /** How long a restarted server may take to answer (the served stage's readyTimeoutMinutes). */
  readyTimeoutMs: number;
  signal?: AbortSignal;
  progress?: (line: string) => void;
  log?: (line: string) => void;
  now?: () => number;
}

/** Restarts by itself of `served` so far: the restart jobs of its iteration (operators' `model restart` included). */
export async function restartsOf(db: Db, served: Pick<ServedPolicyRef, "campaignId" | "iteration">): Promise<number> {
  const jobs = await listCampaignStageJobs(db, served.campaignId, "serve.policy");
  return jobs.filter((j) => j.iteration === served.iteration && j.name === stageJobName(served.campaignId, served.iteration, RESTART_JOB_STAGE, j.attempt))
    .length;
}

export class ServedPolicyRevival {
  private lastTry = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    private served: ServedPolicyRef,
    private readonly o: RevivalOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  /** The URL the served policy is watched at now (a restart may move it). */
  get url(): string {
    return this.served.url;
  }

  /** The served version now answers at `url` (PostgreSQL records it so: restarted by hand on another port or node). */
  moveTo(url: string): void {
    this.served = { ...this.served, url };
  }

  /**
   * Called with a round's silent URLs: when the served policy's is among them and a try is due,
   * restarts it if its launcher says it ended by itself. Undefined: nothing was tried this round.
   */
  async onSilent(silentUrls: readonly string[]): Promise<RevivalOutcome | undefined> {
    if (!silentUrls.includes(this.served.url)) return undefined;
    if (this.now() - this.lastTry < AUTO_RESTART_SPACING_MS) return undefined;
    this.lastTry = this.now();
    const done = await restartsOf(this.db, this.served);
    const whose = `the policy server of ${this.served.campaignId} iteration ${this.served.iteration}`;
    if (done >= AUTO_RESTARTS)
      return {
        kind: "declined",
        why: "limit",
        reason: `${whose} was restarted ${done} times already and does not answer: not restarted again by itself (\`${CLI} model list ${this.served.campaignId}\` shows its jobs; decide: \`${CLI} model restart ${this.served.campaignId} --iteration ${this.served.iteration}\`, \`${CLI} campaign retry-stage\` or \`${CLI} campaign skip-stage\`)`,
      };
    try {
      const restart = await restartServedPolicy(this.db, {
        campaignId: this.served.campaignId,
        iteration: this.served.iteration,
        readyTimeoutMs: this.o.readyTimeoutMs,
        ...(this.o.signal ? { signal: this.o.signal } : {}),
        ...(this.o.progress ? { progress: this.o.progress } : {}),
        ...(this.o.log ? { log: this.o.log } : {}),
      });
      this.served = { ...this.served, url: restart.url };
      return { kind: "restarted", restart, count: done + 1 };
    } catch (err) {
      if (!(err instanceof RestartServedPolicyError)) throw err;
      // Refused: still running (hung), stopped on purpose, superseded. Unconfirmed: the launcher could not be asked.
      // Not ready: the restarted job ended again or did not answer in time (it counts). Each is tried again after the spacing.
      return { kind: "declined", why: err.kind, reason: `not restarted by itself: ${err.message}` };
    }
  }
}

/** The stage's note for an outcome: what ended, how, and where the restarted server answers. */
export function revivalNote(served: Pick<ServedPolicyRef, "campaignId" | "iteration">, outcome: RevivalOutcome): string {
  if (outcome.kind === "declined") return outcome.reason;
  const r = outcome.restart;
  const ended = `${r.previous.state}${r.previous.exitCode !== undefined ? `, exit ${r.previous.exitCode}` : ""}`;
  return (
    `the policy server of ${served.campaignId} iteration ${served.iteration} had ended by itself (job ${r.previous.job}: ${ended}): ` +
    `restarted by itself as ${r.launcher} job ${r.job} (restart ${outcome.count} of at most ${AUTO_RESTARTS}), it answers at ${r.url}${r.urlChanged ? " (a new URL)" : ""}`
  );
}

/** How long a restarted server may take to answer: the served stage's readyTimeoutMinutes (0: no limit, held to a day). */
export function revivalReadyTimeoutMs(readyTimeoutMinutes: number | undefined): number {
  if (readyTimeoutMinutes === undefined) return 60 * 60_000;
  return readyTimeoutMinutes === 0 ? 24 * 60 * 60_000 : readyTimeoutMinutes * 60_000;
}
