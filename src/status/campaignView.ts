/**
 * A campaign's true state, from what PostgreSQL recorded and what Temporal says of the workflow
 * (its execution status, search attributes and close event) — no query, so no worker is needed.
 * Pure: the readers (src/db/repos/campaignStatus.ts, src/status/workflowFacts.ts) gather the facts.
 */
import { spokenDuration } from "../framework/jobClock.js";
import type { RootCause } from "./failureCause.js";
import { shownItemsDone, stageProgress, type StageProgress } from "./progressLine.js";

/**
 * `no_workflow`: PostgreSQL says the campaign runs, but Temporal (asked, and answering) has no
 * workflow for it, so nothing runs it (the Temporal state was lost, e.g. a dev server restarted
 * without its database file, or the history passed the namespace's retention).
 */
export const CAMPAIGN_STATES = [
  "running",
  "paused",
  "waiting_for_operator",
  "completed",
  "failed",
  "aborted",
  "terminated",
  "timed_out",
  "no_workflow",
] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

/** What Temporal says of the campaign workflow's latest run. */
export interface WorkflowFacts {
  workflowId: string;
  runId: string;
  /** The workflow type (campaignWorkflow; an iteration's id given for a campaign's is another type). */
  workflowType?: string;
  /** RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW, ... */
  status: string;
  taskQueue: string;
  startTime?: string;
  closeTime?: string;
  /** The CampaignId search attribute: the id the campaign registered under (set by the workflow once it runs). */
  searchCampaignId?: string;
  /** Search attributes the workflow keeps current: CampaignStatus, Stage, Iteration. */
  searchStatus?: string;
  searchStage?: string;
  searchIteration?: number;
  /** FAILED: the first real error of the close event's failure. */
  failure?: RootCause;
  /** TERMINATED: the reason given to terminate. */
  terminateReason?: string;
  /** The operator's abort (signal reason, or the cancel request's reason). */
  abortReason?: string;
  /** COMPLETED: the result's state (old workflows ended an abort as Completed with state "aborted"). */
  resultState?: string;
  /** The campaign's output folder, from the memo or the plan the registration returned. */
  outputDir?: string;
  /** Whether a worker polled the workflow task queue recently; undefined when unknown. */
  workerPolling?: boolean;
  /** No worker has taken a workflow task of this (first) run: nothing of the campaign has run yet. */
  noWorkerYet?: true;
  /** The iteration workflow the campaign runs now (its pending child). */
  iterationWorkflowId?: string;
  /** An earlier run's iteration still holds the id this run's iteration needs (historyFacts.ts). */
  iterationIdHeld?: string;
}

export interface JobFacts {
  name: string;
  state: string;
  message?: string;
  done?: number;
  total?: number;
  metrics?: Record<string, number>;
  /** What its watcher timed (src/framework/jobClock.ts) and the deadlines it acts on. */
  watch?: { completion: "exit" | "ready"; runningSince?: string; advancedAt?: string; readyTimeoutMs?: number; stallTimeoutMs?: number };
  /** Said under a running job: how long a server has been starting, or how long a job has been quiet. */
  note?: string;
}

/** A job quiet this long is worth a line (a step every few minutes is normal). */
const QUIET_NOTE_MS = 5 * 60_000;

/**
 * How long a running server has been starting, or a running job quiet, against the deadline that stops
 * it; for a queued job, the scheduler's reason where the launcher explained it.
 */
export function jobWatchNote(job: JobFacts, nowMs: number): string | undefined {
  const w = job.watch;
  // Queued with the scheduler's explanation (Slurm holding it for its partition, and whether it may still start).
  if (job.state === "pending") return job.message && /^\S+ \([^)]*\): \S/.test(job.message) ? `queued: ${job.message}` : undefined;
  if (job.state !== "running" || !w) return undefined;
  const spoken = (ms: number) => spokenDuration(Math.max(0, ms));
  if (w.completion === "ready") {
    if (!w.runningSince) return undefined;
    const starting = nowMs - Date.parse(w.runningSince);
    return `not serving yet after ${spoken(starting)}${w.readyTimeoutMs ? ` (cancelled at ${spoken(w.readyTimeoutMs)}: readyTimeoutMinutes)` : ""}`;
  }
  if (!w.advancedAt) return undefined;
  const quiet = nowMs - Date.parse(w.advancedAt);
  if (quiet < QUIET_NOTE_MS) return undefined;
  return `no new step or output for ${spoken(quiet)}${w.stallTimeoutMs ? ` (cancelled as hung at ${spoken(w.stallTimeoutMs)}: stallTimeoutMinutes)` : ""}`;
}

export interface StageFacts {
  name: string;
  /** stage_runs status, or pending when the stage has no row yet. */
  status: "pending" | "running" | "succeeded" | "failed" | "skipped";
  attempts: number;
  error?: string;
  /** What the stage's stored summary warns of (synthesize.multiTurn: no dialogue kept, by drop reason). */
  warning?: string;
  batchesTotal?: number;
  batchesDone: number;
  itemsTotal?: number;
  /** Items of finished batches, plus those of running batches (inFlight.items) when Temporal was read. */
  itemsDone: number;
  /** Items of batches finished within the rate window (src/status/progressLine.ts). */
  windowItems: number;
  /**
   * Batches running now, from their activities' heartbeats (src/status/inflight.ts): how many, the
   * items they settled (already in itemsDone), and whether one is running on a worker now.
   */
  inFlight?: { batches: number; items: number; running: boolean };
  startedAt?: string;
  finishedAt?: string;
  job?: JobFacts;
  /** synthesize.multiTurn: the iteration's dialogues by status and the messages stored so far. */
  dialogues?: DialogueFacts;
  /**
   * synthesize.singleTurn while its stage_runs row says running, failed or skipped: the slots its
   * batches have settled (a sample or an outcome stored per slot), finished batches or not. What a
   * stage stopped by an abort or a terminate, or failed in its batches, did: its cancelled or failed
   * batches leave no stage_batches row.
   */
  settledSlots?: number;
}

export interface DialogueFacts {
  running: number;
  kept: number;
  /** Of the kept, those that ended before the user said done (keepUnfinished); absent from facts read before it was counted. */
  keptUnfinished?: number;
  dropped: number;
  failed: number;
  /**
   * Messages stored across the iteration's dialogues (every dialogue_turns row: system, user, assistant
   * (rejected ones included) and tool messages); not user turns, which the stage summary's turnLengths counts.
   */
  messages: number;
}

/** A campaign a schedule started (campaigns.schedule_id, scheduled_at, continues_from). */
export interface ScheduledFacts {
  scheduleId: string;
  /** ISO 8601 UTC: the time the schedule started the run for. */
  scheduledAt: string;
  /** The schedule's earlier campaign this one trains and selects from; absent: it started from scratch. */
  continuesFrom?: string;
}

/**
 * How a scheduled run continues (`campaign status` only): what it reads of the campaign it continues
 * from, and why a policy or a run of its schedule was not taken. "continues from X" alone left an
 * operator guessing which round of X, and why the policy trained from was not X's, or X not the latest run.
 */
export interface ContinuationFacts {
  /** The predecessor's latest completed iteration, which its pool and policy are read up to; absent: it completed none (what it made at all). */
  upToIteration?: number;
  /** The predecessor's policy training does not start from: trained from another base model than the run's training stage names. */
  policyNotTaken?: { id: string; baseModel: string; configuredBaseModel: string };
  /** The schedule's runs after the predecessor (or before this run, with none) that were passed over, and why. */
  passedOver?: { campaignId: string; why: string }[];
}

/** What PostgreSQL recorded of the campaign. */
export interface DbFacts {
  campaignId: string;
  name: string;
  /** campaigns.status: running, completed, failed, aborted, terminated. */
  status: string;
  /** The campaign workflow's id when registration recorded it (a scheduled run's is not campaign-<id>). */
  workflowId?: string;
  createdAt: string;
  updatedAt: string;
  /** Set when a schedule started it. */
  schedule?: ScheduledFacts;
  /** A continuing campaign before it serves its own policy: which policy its stages call, and why (src/training/servedPolicy.ts). */
  continuedPolicy?: string;
  /** Set when a schedule started it: what it continues (up to which iteration) and what it passed over. */
  continuation?: ContinuationFacts;
  iterationsTotal?: number;
  onStageFailure?: string;
  configHash?: string;
  /** The config's output.dir as written (relative paths resolve against the worker's base dir). */
  outputDirSetting?: string;
  /** The campaign's output folder where the worker recorded writing an iteration report (summary.report.path). */
  outputDirRecorded?: string;
  iteration?: { n: number; status: string; startedAt: string; finishedAt?: string };
  stages: StageFacts[];
  /** Policy servers (serve.policy jobs) last recorded running and not stopped: they outlive the campaign. */
  policyServers?: { iteration: number; job: string; url?: string }[];
  /**
   * The campaign's newest served version, when its server ended by itself (a crash, a kill, a time
   * limit; recorded by `model list`, `model stop`, `model restart` or `campaign status` asking its
   * launcher): what the launcher said, so the view names it and the command that brings it back.
   */
  policyServerDown?: { iteration: number; job: string; launcher: string; state: string; exitCode?: number; message?: string; url?: string };
  /** The database's clock, so rates never mix two clocks. */
  nowMs: number;
}

export interface StageView extends Omit<StageFacts, "status"> {
  /**
   * The row's status, except `stopped`: the row still says running but the campaign has ended
   * (aborted, failed, terminated, timed out), so nothing runs and no rate or ETA is shown.
   */
  status: StageFacts["status"] | "stopped";
  progress?: StageProgress;
}

export interface CampaignView {
  campaignId: string;
  name: string;
  state: CampaignState;
  /** Why it ended or stopped: the root error, the abort or terminate reason, the failed stage's error. */
  reason?: string;
  /** Temporal's own word for the execution (RUNNING, FAILED, CANCELED, ...), when known. */
  workflowStatus?: string;
  workflowId?: string;
  runId?: string;
  /** The schedule that started it, the time it was scheduled for and the campaign it continues from. */
  schedule?: ScheduledFacts;
  /** Which policy the stages before serve.policy call while the campaign it continues from decides it, and why. */
  continuedPolicy?: string;
  continuation?: ContinuationFacts;
  iteration?: number;
  iterationsTotal?: number;
  iterationStatus?: string;
  stages: StageView[];
  waitingStage?: string;
  /** Commands that apply in this state, ready to paste. */
  nextCommands: { command: string; what: string }[];
  outputDir?: string;
  /** The campaign report, when the file exists. */
  reportPath?: string;
  configHash?: string;
  createdAt?: string;
  updatedAt?: string;
  /** Caveats: a source that could not be read, no worker polling. */
  notes: string[];
}

/** Temporal's execution status names mapped to a campaign state (RUNNING needs more facts). */
const CLOSED: Record<string, CampaignState> = {
  FAILED: "failed",
  CANCELLED: "aborted",
  CANCELED: "aborted",
  TERMINATED: "terminated",
  TIMED_OUT: "timed_out",
};

const RUNNING_STATES = new Set<string>(["running", "paused", "waiting_for_operator"]);

/** States in which no work runs any more: a stage or iteration row still marked running was cut short. */
export const ENDED_STATES: ReadonlySet<CampaignState> = new Set<CampaignState>(["completed", "failed", "aborted", "terminated", "timed_out", "no_workflow"]);

/** The command operators type, in the next commands and notes this view suggests. */
export const CLI = "toolloop";

export function nextCommandsFor(state: CampaignState, campaignId: string): CampaignView["nextCommands"] {
  const id = /^[A-Za-z0-9._-]+$/.test(campaignId) ? campaignId : JSON.stringify(campaignId);
  switch (state) {
    case "waiting_for_operator":
      return [
        { command: `${CLI} campaign retry-stage ${id}`, what: "re-run the stage's unfinished batches (finished ones are kept)" },
        { command: `${CLI} campaign skip-stage ${id}`, what: "leave the stage as it is and go on with the next one" },
        { command: `${CLI} campaign abort ${id}`, what: "cancel the campaign" },
      ];
    case "paused":
      return [
        { command: `${CLI} campaign resume ${id}`, what: "start new batches and iterations again" },
        { command: `${CLI} campaign abort ${id}`, what: "cancel the campaign" },
      ];
    case "running":
      return [
        { command: `${CLI} campaign status ${id} --watch`, what: "follow the progress" },
        { command: `${CLI} campaign pause ${id}`, what: "stop starting new batches" },
      ];
    // An abort is how an operator leaves a stage that needs a config fix (a retry cannot change the
    // config): the campaign then runs again as a failed one does, with --config-version for the fixed config.
    case "failed":
    case "aborted":
    case "terminated":
    case "timed_out":
    case "no_workflow":
      return [{ command: `${CLI} campaign start --config <file> --id ${id}`, what: "run it again: finished stages and batches are not redone" }];
    default:
      return [];
  }
}

/** A running stage whose batches Temporal holds, none of them started on a worker now (their worker went away). */
function stalledBatches(s: StageView, state: CampaignState): boolean {
  return state === "running" && s.status === "running" && s.inFlight !== undefined && s.inFlight.batches > 0 && !s.inFlight.running;
}

/** A running campaign whose abort was asked for: all that is left is to see it end. */
function abortingCommands(campaignId: string): CampaignView["nextCommands"] {
  const id = /^[A-Za-z0-9._-]+$/.test(campaignId) ? campaignId : JSON.stringify(campaignId);
  return [{ command: `${CLI} campaign status ${id} --watch`, what: "follow it until the abort has ended it" }];
}

/**
 * An ended campaign keeps its policy servers (a completed one's last server is its product; a
 * scheduled run continuing it calls it): the command that stops them, with what runs.
 */
export function stopServersCommand(
  state: CampaignState,
  campaignId: string,
  servers: NonNullable<DbFacts["policyServers"]>,
): CampaignView["nextCommands"][number] {
  const id = /^[A-Za-z0-9._-]+$/.test(campaignId) ? campaignId : JSON.stringify(campaignId);
  const which = servers.map((s) => `iteration ${s.iteration}${s.url ? ` at ${s.url}` : ""}`).join(", ");
  const why = state === "completed" ? "kept running as the campaign's product" : `left running when it ${state === "aborted" ? "was aborted" : "ended"}`;
  return { command: `${CLI} model stop ${id}`, what: `stop its policy server (${which}; ${why}) when nothing calls it any more` };
}

/** `failed (exit 137: exited with code 137 …)`: how a server ended, as its launcher said. */
export function serverEndText(d: { state: string; exitCode?: number; message?: string }): string {
  const code = d.exitCode !== undefined && !(d.message ?? "").includes(`code ${d.exitCode}`) ? `exit ${d.exitCode}` : undefined;
  const detail = [code, d.message].filter(Boolean).join(": ");
  return `${d.state}${detail ? ` (${detail})` : ""}`;
}

/** The note and command for a campaign whose newest policy server ended by itself. */
export function policyServerDownNote(campaignId: string, d: NonNullable<DbFacts["policyServerDown"]>): string {
  return `the policy server of iteration ${d.iteration}${d.url ? ` (${d.url})` : ""} is not running: its ${d.launcher} launcher says job ${d.job} ${serverEndText(d)}; stages that call the policy role fail until \`${restartServerCommand(campaignId, d).command}\` brings it back`;
}

export function restartServerCommand(campaignId: string, d: NonNullable<DbFacts["policyServerDown"]>): CampaignView["nextCommands"][number] {
  const id = /^[A-Za-z0-9._-]+$/.test(campaignId) ? campaignId : JSON.stringify(campaignId);
  return {
    command: `${CLI} model restart ${id} --iteration ${d.iteration}`,
    what: `bring back the policy server of iteration ${d.iteration} (it ended by itself: ${serverEndText(d)}), same URL and model name; then \`${CLI} campaign retry-stage ${id}\` if a stage waits on it`,
  };
}

export interface ViewInput {
  campaignId: string;
  db?: DbFacts;
  wf?: WorkflowFacts;
  notes?: string[];
  /** The report file's path when it exists (the caller checks the file system). */
  reportPath?: string;
  /** Temporal was asked and answered that it has no workflow for the campaign (not: Temporal unreachable). */
  workflowMissing?: { namespace: string; workflowId: string };
}

/**
 * What to know of a running campaign no worker has run yet (WorkflowFacts.noWorkerYet): what is sent
 * to it waits in its history until a worker on its task queue starts it, and how to end it without one.
 */
export function noWorkerYetNote(wf: Pick<WorkflowFacts, "workflowId" | "taskQueue" | "workerPolling">): string {
  // workerPolling reads Temporal's pollers of the last minutes: a worker stopped a minute ago still counts.
  const polling =
    wf.workerPolling === false
      ? `no worker has polled task queue ${wf.taskQueue} recently`
      : wf.workerPolling
        ? `a worker polled task queue ${wf.taskQueue} in the last minutes`
        : `task queue ${wf.taskQueue}`;
  return (
    `no worker has run this campaign yet (${polling}): it starts, and what was sent to it (pause, resume, abort) takes effect, when a worker on that queue picks it up (\`${CLI} worker\`); ` +
    `to end it now without a worker: temporal workflow terminate --workflow-id ${wf.workflowId} --reason "<why>"`
  );
}

export function campaignView(input: ViewInput): CampaignView {
  const { db, wf } = input;
  const notes = [...(input.notes ?? [])];
  if (db?.policyServerDown) notes.push(policyServerDownNote(db.campaignId, db.policyServerDown));
  const failedStage =
    db?.iteration?.status === "running" || db?.iteration?.status === "failed" ? [...db.stages].reverse().find((s) => s.status === "failed") : undefined;
  const stageFailure = failedStage ? `stage ${failedStage.name} failed: ${failedStage.error ?? "(no message recorded)"}` : undefined;

  let state: CampaignState;
  let reason: string | undefined;
  if (wf) {
    const closed = CLOSED[wf.status];
    if (closed) {
      state = closed;
      if (closed === "failed") reason = wf.failure?.message ?? stageFailure;
      else if (closed === "aborted") reason = wf.abortReason ?? "canceled (no reason given)";
      else if (closed === "terminated") reason = wf.terminateReason ? `terminated: ${wf.terminateReason}` : "terminated (no reason given)";
      else reason = "the workflow ran past its execution timeout";
    } else if (wf.status === "COMPLETED") {
      const said = wf.resultState ?? wf.searchStatus ?? db?.status;
      state = said === "aborted" ? "aborted" : "completed";
      if (state === "aborted") reason = wf.abortReason ?? "aborted (no reason given)";
    } else {
      // RUNNING: a failed stage row in the running iteration means it waits (the search attribute can
      // lag: the worker may have stopped between recording the failure and publishing it); else the
      // workflow's own search attribute (paused).
      if (failedStage) state = "waiting_for_operator";
      else if (wf.searchStatus && RUNNING_STATES.has(wf.searchStatus)) state = wf.searchStatus as CampaignState;
      else state = "running";
      if (wf.abortReason) {
        reason = wf.noWorkerYet
          ? `abort requested (${wf.abortReason}); no worker has run the campaign yet, so it ends when one picks it up`
          : `abort requested (${wf.abortReason}); the running work is being cancelled`;
      }
      if (wf.iterationIdHeld)
        notes.push(
          `this run waits for ${wf.iterationIdHeld}, an iteration left from an earlier run of this campaign (terminated or reset), to stop: it was asked to, and this run starts its own iteration once it has, going on from where that one got to (the stages below)`,
        );
      if (wf.noWorkerYet) notes.push(noWorkerYetNote(wf));
      else if (wf.workerPolling === false)
        notes.push(
          `no worker has polled task queue ${wf.taskQueue} recently: the campaign makes no progress until one runs (\`${CLI} worker\`); this status comes from PostgreSQL and Temporal's records`,
        );
    }
  } else if (db && input.workflowMissing && RUNNING_STATES.has(db.status)) {
    state = "no_workflow";
    reason = `PostgreSQL records the campaign as ${db.status}, but Temporal (namespace ${input.workflowMissing.namespace}) has no workflow ${input.workflowMissing.workflowId}: nothing runs it (Temporal's state was lost, or the history passed the retention period)`;
  } else if (db) {
    state = db.status === "running" ? (failedStage ? "waiting_for_operator" : "running") : (db.status as CampaignState);
    if (db.status === "failed") reason = stageFailure;
    if (input.workflowMissing)
      notes.push(
        `Temporal (namespace ${input.workflowMissing.namespace}) has no workflow ${input.workflowMissing.workflowId}: its history may have passed the retention period`,
      );
  } else {
    throw new Error("campaignView needs PostgreSQL or Temporal facts");
  }

  const ended = ENDED_STATES.has(state);
  const abortRequested = !ended && wf?.status === "RUNNING" && wf.abortReason !== undefined;
  const stages: StageView[] = (db?.stages ?? []).map((facts) => {
    // Slots stored by batches that never finished (cancelled or failed), at most the stage's total.
    const stored = Math.min(Math.max(facts.itemsDone, facts.settledSlots ?? 0), facts.itemsTotal ?? Number.POSITIVE_INFINITY);
    // The workflow's end (a cancel, a terminate) does not close its stage rows.
    // A stopped stage's cancelled batches finished nothing, but what they stored is there: count it.
    // So does a failed (or then skipped) stage's: 0/120 over 22 stored samples while it waited for an operator.
    const s: StageView =
      ended && facts.status === "running"
        ? { ...facts, status: "stopped", itemsDone: stored }
        : facts.status === "failed" || facts.status === "skipped"
          ? { ...facts, itemsDone: stored }
          : { ...facts, itemsDone: facts.itemsTotal === undefined ? facts.itemsDone : shownItemsDone(facts.status, facts.itemsDone, facts.itemsTotal) };
    const note = s.job && s.status === "running" && db ? jobWatchNote(s.job, db.nowMs) : undefined;
    if (note && s.job) s.job = { ...s.job, note };
    const timed = s.itemsTotal !== undefined && s.itemsTotal > 0 && !s.job;
    if (!timed || s.status === "pending") return s;
    const running = s.status === "running";
    // On a stage's first run every item it counts was settled after its start (a retried or resumed
    // stage's running batches carry items an earlier run settled, at unknown times).
    const sinceStart = running && s.inFlight && s.inFlight.items > 0 && s.attempts <= 1 ? { items: s.itemsDone, live: s.inFlight.running } : undefined;
    const progress = stageProgress({
      done: s.itemsDone,
      total: s.itemsTotal as number,
      windowItems: running ? s.windowItems : 0,
      nowMs: db?.nowMs ?? 0,
      startedAtMs: s.startedAt ? Date.parse(s.startedAt) : undefined,
      ...(sinceStart ? { sinceStart } : {}),
    });
    // Paused: batches in flight finish (a real rate) but nothing new starts until resume, so no ETA.
    if (state === "paused" && s.status === "running" && progress.done < progress.total) delete progress.etaSeconds;
    // Its batches wait to be run again (their worker stopped heartbeating): nothing advances, so no rate or ETA.
    if (stalledBatches(s, state)) {
      delete progress.etaSeconds;
      delete progress.ratePerSec;
    }
    return { ...s, progress };
  });
  const iterationStatus = db?.iteration ? (ended && db.iteration.status === "running" ? "stopped" : db.iteration.status) : undefined;

  for (const s of stages)
    if (stalledBatches(s, state))
      notes.push(
        `no batch of ${s.name} runs on a worker now: ${s.inFlight!.batches === 1 ? "its batch waits" : `its ${s.inFlight!.batches} batches wait`} to be run again (their worker stopped heartbeating, or an attempt failed and waits out its backoff); it goes on once a worker takes ${s.inFlight!.batches === 1 ? "it" : "them"} (is one running? \`${CLI} worker\`)`,
      );

  let waitingStage: string | undefined;
  if (state === "waiting_for_operator") {
    waitingStage = failedStage?.name ?? wf?.searchStage;
    reason ??= stageFailure ?? (waitingStage ? `stage ${waitingStage} failed` : undefined);
  }

  return {
    campaignId: db?.campaignId ?? input.campaignId,
    name: db?.name ?? "",
    state,
    ...(reason !== undefined ? { reason } : {}),
    ...(wf ? { workflowStatus: wf.status, workflowId: wf.workflowId, runId: wf.runId } : {}),
    ...(db?.schedule ? { schedule: db.schedule } : {}),
    ...(db?.continuedPolicy ? { continuedPolicy: db.continuedPolicy } : {}),
    ...(db?.schedule && db.continuation ? { continuation: db.continuation } : {}),
    ...(db?.iteration || wf?.searchIteration !== undefined ? { iteration: db?.iteration?.n ?? wf?.searchIteration } : {}),
    ...(db?.iterationsTotal !== undefined ? { iterationsTotal: db.iterationsTotal } : {}),
    ...(iterationStatus !== undefined ? { iterationStatus } : {}),
    stages,
    ...(waitingStage ? { waitingStage } : {}),
    nextCommands: [
      ...(db?.policyServerDown && state === "waiting_for_operator" ? [restartServerCommand(db.campaignId, db.policyServerDown)] : []),
      // An abort asked for and not done yet: pausing, resuming or handling a stage of it would be undone by the abort.
      ...(abortRequested ? abortingCommands(db?.campaignId ?? input.campaignId) : nextCommandsFor(state, db?.campaignId ?? input.campaignId)),
      ...(db?.policyServerDown && state !== "waiting_for_operator" ? [restartServerCommand(db.campaignId, db.policyServerDown)] : []),
      ...(ended && db?.policyServers?.length ? [stopServersCommand(state, db.campaignId, db.policyServers)] : []),
    ],
    ...(wf?.outputDir || db?.outputDirRecorded ? { outputDir: wf?.outputDir || db?.outputDirRecorded } : {}),
    ...(input.reportPath ? { reportPath: input.reportPath } : {}),
    ...(db?.configHash ? { configHash: db.configHash } : {}),
    ...(db ? { createdAt: db.createdAt, updatedAt: db.updatedAt } : {}),
    notes,
  };
}
