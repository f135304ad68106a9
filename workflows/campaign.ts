/**
 * A campaign: registers its config (frozen once, stored with its tools), then runs iterations as
 * child workflows, continuing as new between iterations so its history stays small however many
 * iterations it runs. Payloads carry the campaign id and config version, never the config.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setDefaultSignalHandler,
  setHandler,
  startChild,
  upsertMemo,
  workflowInfo,
  type ChildWorkflowHandle,
} from "@temporalio/workflow";
import { defineSearchAttributeKey, SearchAttributeType, WorkflowExecutionAlreadyStartedError } from "@temporalio/common";
import type { Activities } from "../activities/index.js";
import type { CampaignPlan } from "../src/config/plan.js";
import { scheduledCampaignId, scheduledTimeOf, type ScheduledRun, type ScheduleInput } from "../src/schedules/scheduledRun.js";
import { ErrorType } from "../src/framework/errorTypes.js";
import { queuePrefixOf, taskQueues } from "../src/taskQueues.js";
import { PATCH_ABORT_WAITS_FOR_REGISTRATION, bookkeepingActivities, localBookkeepingActivities } from "./activityOptions.js";
import { codePaths } from "./codePaths.js";
import {
  abortSignal,
  iterationProgressSignal,
  iterationWorkflowId,
  operatorDecisionSignal,
  pauseSignal,
  resumeSignal,
  retryStageUpdate,
  skipStageUpdate,
  statusQuery,
  type AbortRequest,
  type CampaignStatus,
  type IterationStatus,
  type StageDecision,
} from "./definitions.js";
import { iterationWorkflow } from "./iteration.js";
import {
  ITERATION_ID_WAIT_MS,
  PATCH_ITERATION_ID_WAIT,
  iterationIdHeldMessage,
  iterationIdStillHeldMessage,
  iterationStartBackoffMs,
} from "./iterationStart.js";
import { legacyPlan } from "./legacyInput.js";
import { CANCEL_WITHOUT_REASON, campaignDetails, campaignMemo, firstRealError, iterationSummary } from "./operatorSurface.js";
import { HANDED_OVER, PATCH_HANDOVER_STATUS, SearchAttributeTracker } from "./searchAttributes.js";

export interface CampaignInput {
  /** The config: frozen by the CLI, or as written (a start from the UI). Only on the first run. */
  config?: unknown;
  /** Where relative paths of a config as written resolve (default: the worker's base dir). */
  configDir?: string;
  /** Record a config that differs from the campaign's stored one as a new version (from the next iteration). */
  newConfigVersion?: boolean;
  /** Defaults to config.campaignId, else the workflow id. */
  campaignId?: string;
  /** Carried across continue-as-new; leave unset when starting. */
  iteration?: number;
  registered?: boolean;
  paused?: boolean;
  completedIterations?: CampaignStatus["completedIterations"];
  /** Set by a schedule's action (`toolloop schedule create`): each run is a new campaign named after the schedule and its scheduled time. */
  schedule?: ScheduleInput;
}

export interface CampaignResult {
  campaignId: string;
  state: "completed" | "aborted";
  iterations: CampaignStatus["completedIterations"];
}

/** Keep only the newest summaries in the carried state (continue-as-new input stays small). */
const KEEP_SUMMARIES = 50;

export async function campaignWorkflow(input: CampaignInput): Promise<CampaignResult> {
  const info = workflowInfo();
  // Abort ends as Canceled, failures carry the first real error, memo, internal signals unlisted;
  // since the lean-history patch the plan of a later run loads in a local activity (codePaths.ts).
  const { retryByCause: byCause, frozenConfig: frozen, operatorSurface: surface, leanHistory: lean } = codePaths();
  const queues = taskQueues(queuePrefixOf(info.taskQueue));
  const acts = byCause ? bookkeepingActivities(true, queues.default) : legacyCampaignActivities(queues.default);
  const loadCampaignPlan = lean ? localBookkeepingActivities().loadCampaignPlan : acts.loadCampaignPlan;
  const iteration = input?.iteration ?? 1;
  const sa = new SearchAttributeTracker();

  // Workflows started before configs were frozen parse their input themselves (legacyInput.ts).
  const legacy = frozen ? undefined : legacyPlan(input?.config, "");
  // A scheduled run's id and time come from its start (search attribute recorded then): deterministic.
  const scheduled = frozen && input.schedule && !input.registered ? scheduledRunOf(input.schedule, info) : undefined;
  let campaignId = input.campaignId ?? scheduled?.campaignId ?? legacy?.campaignIdInConfig ?? info.workflowId;
  const status: CampaignStatus = {
    campaignId,
    name: legacy?.name ?? "",
    state: "running",
    paused: input.paused ?? false,
    iteration,
    iterationsTotal: legacy?.iterations ?? 0,
    completedIterations: input.completedIterations ?? [],
  };
  let aborted = false;
  let child: ChildWorkflowHandle<typeof iterationWorkflow> | undefined;
  /** The cancel request this workflow asked for (a workflow cannot cancel itself: an activity asks Temporal). */
  let cancelAsked = false;
  let abortReason: string | undefined;
  let plan: CampaignPlan | undefined = legacy;

  const showDetails = () =>
    setCurrentDetails(campaignDetails(status, { configVersion: plan?.configVersion, configHash: plan?.configHash, outputDir: plan?.outputDir }));
  const publish = () => {
    const it = status.currentIteration;
    if ((!aborted && status.state === "running") || status.state === "paused" || status.state === "waiting_for_operator") {
      status.state = it?.state === "waiting_for_operator" ? "waiting_for_operator" : status.paused ? "paused" : "running";
    }
    sa.update({ campaignId, iteration, stage: it?.currentStage ?? "", status: status.state });
    showDetails();
  };
  const askForCancel = () => {
    if (cancelAsked) return;
    cancelAsked = true;
    // Not cancellable: the cancel request it makes may arrive before its own completion.
    CancellationScope.nonCancellable(() => acts.requestWorkflowCancel({ workflowId: info.workflowId, runId: info.runId })).catch((err) =>
      isCancellation(err) ? undefined : log.warn("cancel request failed", { error: String(err) }),
    );
  };
  const recordAbortReason = (reason: string) => {
    if (abortReason) return; // the first reason stays: abort is idempotent
    aborted = true;
    abortReason = reason;
    status.lastError = reason;
    showDetails();
  };
  const forward = (fn: (c: ChildWorkflowHandle<typeof iterationWorkflow>) => Promise<void>) => {
    if (child) fn(child).catch(() => undefined);
  };

  setHandler(statusQuery, () => status);
  setHandler(pauseSignal, () => {
    status.paused = true;
    forward((c) => c.signal(pauseSignal));
    publish();
  });
  setHandler(resumeSignal, () => {
    status.paused = false;
    forward((c) => c.signal(resumeSignal));
    publish();
  });
  setHandler(abortSignal, (req) => {
    if (!surface) {
      aborted = true;
      status.lastError = `aborted by operator${req?.reason ? `: ${req.reason}` : ""}`;
      forward((c) => c.signal(abortSignal, req));
      return;
    }
    // The reason is recorded here; the cancel request (asked for here, or sent by the CLI) does the rest.
    const first = !abortReason;
    recordAbortReason(`aborted by operator${req?.reason ? `: ${req.reason}` : ""}`);
    if (first) forward((c) => c.signal(abortSignal, { reason: req?.reason, viaCampaign: true } satisfies AbortRequest));
    askForCancel();
  });
  // The iteration reports its state at transitions, so the campaign's status tells the truth
  // (waiting_for_operator, paused).
  const onIterationProgress = (s: IterationStatus) => {
    if (s.iteration !== iteration) return;
    status.currentIteration = s;
    publish();
  };
  if (surface) {
    // Internal signals go through the default handler: the UI lists only the operator controls.
    setDefaultSignalHandler((name, ...args) => {
      if (name === iterationProgressSignal.name) onIterationProgress(args[0] as IterationStatus);
      else log.warn("signal not handled by the campaign workflow", { signal: name });
    });
  } else {
    setHandler(iterationProgressSignal, onIterationProgress, {
      description: "internal: progress reports from the iteration child workflow; not an operator control",
    });
  }
  if (frozen) {
    // The iteration owns its stages' state (query it, or filter on its search attributes); a decision
    // sent here is forwarded to it as the same update, and its answer (or refusal) is returned.
    const decide =
      (action: "retry" | "skip") =>
      async (d?: StageDecision): Promise<{ stage: string; accepted: true }> => {
        if (!child) throw new Error(`no iteration is running (state: ${status.state})`);
        try {
          return await acts.forwardStageDecision({ workflowId: child.workflowId, action, stage: d?.stage });
        } catch (err) {
          // The iteration's refusal, as the operator's answer (not "activity task failed").
          const cause = (err as { cause?: unknown }).cause;
          throw new Error(cause instanceof Error ? cause.message : String(err));
        }
      };
    const validator = (_d?: StageDecision) => {
      if (!child) throw new Error(`no iteration is running (state: ${status.state})`);
    };
    setHandler(retryStageUpdate, decide("retry"), { validator });
    setHandler(skipStageUpdate, decide("skip"), { validator });
  } else {
    const operatorDecision = (action: "retry" | "skip") => async (d?: { stage?: string }) => {
      const waiting = status.currentIteration?.stages.find((s) => s.state === "waiting_for_operator");
      const stage = waiting?.name ?? d?.stage ?? "";
      if (child) await child.signal(operatorDecisionSignal, { action, stage: d?.stage });
      return { stage, accepted: true as const };
    };
    const validateDecision = (d?: { stage?: string }) => {
      const waiting = status.currentIteration?.stages.find((s) => s.state === "waiting_for_operator");
      if (!child || !waiting) throw new Error(`no stage is waiting for an operator decision (state: ${status.state})`);
      if (d?.stage !== undefined && d.stage !== waiting.name) throw new Error(`stage "${d.stage}" is not the one waiting ("${waiting.name}")`);
    };
    setHandler(retryStageUpdate, operatorDecision("retry"), { validator: validateDecision });
    setHandler(skipStageUpdate, operatorDecision("skip"), { validator: validateDecision });
  }

  publish();
  if (!surface) return await runCampaign();
  try {
    return await runCampaign();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Aborted: by a cancel request (the CLI's abort, the UI's Cancel button), or the iteration was cancelled alone.
    let cancelled = err;
    if (!CancellationScope.current().consideredCancelled) {
      recordAbortReason(`the iteration workflow ${child?.workflowId ?? ""} was cancelled`);
      askForCancel();
      try {
        await condition(() => false);
      } catch (e) {
        if (!isCancellation(e)) throw e;
        cancelled = e;
      }
    }
    recordAbortReason(CANCEL_WITHOUT_REASON);
    status.state = "aborted";
    sa.update({ status: "aborted" });
    showDetails();
    await CancellationScope.nonCancellable(() => acts.setCampaignStatus({ campaignId, status: "aborted" }));
    // Rethrown under a cancel request, the cancellation ends this workflow as Canceled.
    throw cancelled;
  }

  async function runCampaign(): Promise<CampaignResult> {
    if (frozen) {
      try {
        plan = input.registered ? await loadCampaignPlan({ campaignId, iteration }) : await register();
      } catch (err) {
        // A bad config (or a changed one) fails the campaign with the activity's own message and type.
        const cause = (err as { cause?: unknown }).cause;
        if (cause instanceof ApplicationFailure && cause.nonRetryable)
          throw ApplicationFailure.nonRetryable(cause.message, cause.type ?? undefined, ...(cause.details ?? []));
        throw err;
      }
      if (!plan) throw ApplicationFailure.nonRetryable("registration returned no plan", ErrorType.invalidConfig);
      campaignId = plan.campaignId;
      Object.assign(status, { campaignId, name: plan.name, iterationsTotal: plan.iterations });
      if (surface) {
        Object.assign(status, { configVersion: plan.configVersion, configHash: plan.configHash, outputDir: plan.outputDir });
        upsertMemo(campaignMemo(plan));
      }
      publish();
    } else if (!input.registered) {
      const reg = await acts.registerCampaign({ campaignId, config: input.config });
      if (reg.toolErrors > 0) status.lastError = `${reg.toolErrors} tool definitions rejected; first: ${reg.toolErrorMessages[0] ?? ""}`;
    }
    const iterationsTotal = (plan as CampaignPlan).iterations;

    // A paused campaign does not start its next iteration.
    await condition(() => !status.paused || aborted);

    if (!aborted) child = await startIteration(iterationsTotal);
    if (child) {
      status.iterationWorkflowId = child.workflowId;
      if (status.paused) await child.signal(pauseSignal);
      try {
        const result = await child.result();
        if (result.status) {
          // The lean path's last iteration status comes in the result, not a signal.
          status.currentIteration = result.status;
          showDetails();
        }
        status.completedIterations = [...status.completedIterations, { iteration, state: result.state, samples: result.samples }].slice(-KEEP_SUMMARIES);
        if (result.state === "aborted") aborted = true;
      } catch (err) {
        if (surface && isCancellation(err)) throw err; // the abort path (above)
        status.state = "failed";
        const real = firstRealError(err);
        status.lastError = surface ? real.message : err instanceof Error ? err.message : String(err);
        if (surface && real.type) status.lastErrorType = real.type;
        sa.update({ status: "failed" });
        if (surface) showDetails();
        await acts.setCampaignStatus({ campaignId, status: "failed" });
        // The campaign fails with the stage's own message and type, not "Child Workflow execution failed".
        if (surface) throw ApplicationFailure.nonRetryable(real.message, real.type);
        throw err;
      }
    }

    if (aborted && surface) {
      // An abort that arrived before the iteration started: wait for the cancel request it asked for.
      await condition(() => false);
    }
    if (aborted) {
      status.state = "aborted";
      sa.update({ status: "aborted" });
      await acts.setCampaignStatus({ campaignId, status: "aborted" });
      if (frozen) await condition(allHandlersFinished);
      return { campaignId, state: "aborted", iterations: status.completedIterations };
    }
    if (iteration < iterationsTotal) {
      // An update still being answered would be cut off by continue-as-new.
      if (frozen) await condition(allHandlersFinished);
      // The run that hands over says so: the next run inherits its search attributes and sets its own
      // status at once, and a search for running campaigns no longer lists every closed earlier run.
      if (patched(PATCH_HANDOVER_STATUS)) sa.update({ status: HANDED_OVER });
      await continueAsNew<typeof campaignWorkflow>({
        // The legacy path re-parses its config each run; the frozen path needs only the id.
        ...(frozen ? {} : { config: input.config }),
        campaignId,
        iteration: iteration + 1,
        registered: true,
        paused: status.paused,
        completedIterations: status.completedIterations,
      });
    }
    status.state = "completed";
    sa.update({ status: "completed", stage: "" });
    if (surface) showDetails();
    await acts.setCampaignStatus({ campaignId, status: "completed" });
    if (frozen) await condition(allHandlersFinished);
    return { campaignId, state: "completed", iterations: status.completedIterations };
  }

  /**
   * Registers the campaign (first run only). Since the abort-waits-for-registration patch an abort
   * meanwhile waits until the registration has stopped: its end ("aborted", written on the abort
   * path) then comes after anything the registration writes. Before it the registration was left
   * running (TRY_CANCEL) and could insert the row as running, or mark a rerun's row running again,
   * after the abort was written.
   */
  async function register(): Promise<CampaignPlan | undefined> {
    const waits = byCause && patched(PATCH_ABORT_WAITS_FOR_REGISTRATION);
    const registration = waits ? bookkeepingActivities(true, queues.default, true) : acts;
    const { plan: registered } = await registration.registerCampaign({
      campaignId: input.campaignId ?? scheduled?.campaignId,
      workflowId: info.workflowId,
      config: input.config,
      configDir: input.configDir,
      newConfigVersion: input.newConfigVersion,
      ...(scheduled ? { schedule: scheduled.run } : {}),
    });
    // It finished although cancelled (it does not stop midway): go on to the abort path, not the iteration.
    if (waits && CancellationScope.current().consideredCancelled) await CancellationScope.current().cancelRequested;
    return registered;
  }

  /** This run's iteration child; undefined when an abort arrived while its id was still held (iterationStart.ts). */
  async function startIteration(iterationsTotal: number): Promise<ChildWorkflowHandle<typeof iterationWorkflow> | undefined> {
    const workflowId = iterationWorkflowId(info.workflowId, iteration);
    const errorBefore = status.lastError;
    let waitedMs = 0;
    for (let retry = 0; ; retry++) {
      try {
        const started = await startChild(iterationWorkflow, {
          workflowId,
          taskQueue: info.taskQueue,
          args: [frozen ? { campaignId, iteration } : { campaignId, iteration, config: input.config }],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          ...(surface ? { staticSummary: iterationSummary(campaignId, iteration, iterationsTotal), staticDetails: stagesOf(plan as CampaignPlan) } : {}),
        });
        if (retry > 0) {
          status.lastError = errorBefore;
          showDetails();
          log.info("the earlier run's iteration stopped; this run's iteration started", { workflowId, waitedMs });
        }
        return started;
      } catch (err) {
        if (!patched(PATCH_ITERATION_ID_WAIT)) throw err;
        const held = err instanceof WorkflowExecutionAlreadyStartedError;
        if (held && waitedMs < ITERATION_ID_WAIT_MS) {
          if (retry === 0) {
            status.lastError = iterationIdHeldMessage(workflowId, iteration);
            showDetails();
            log.warn(status.lastError, { workflowId });
            // Its parent close policy asked it already when that run was terminated; asking again
            // covers a run that ended otherwise. It may have stopped since: nothing to cancel then.
            await getExternalWorkflowHandle(workflowId)
              .cancel()
              .catch(() => undefined);
          }
          const pause = iterationStartBackoffMs(retry);
          if (await condition(() => aborted, pause)) return undefined;
          waitedMs += pause;
          continue;
        }
        const message = held
          ? iterationIdStillHeldMessage(workflowId, iteration, waitedMs)
          : `iteration ${iteration} could not be started: ${err instanceof Error ? err.message : String(err)}`;
        status.state = "failed";
        status.lastError = message;
        sa.update({ status: "failed" });
        showDetails();
        await acts.setCampaignStatus({ campaignId, status: "failed" });
        throw ApplicationFailure.nonRetryable(message, ErrorType.iterationNotStarted);
      }
    }
  }
}

/** The iteration child's static details: its stages in order. */
function stagesOf(plan: CampaignPlan): string {
  return `Stages: ${plan.stages.map((s) => s.name).join(" → ")}`;
}

/** Set by the server on every run a schedule starts (trigger and backfill included). */
const ScheduledStartTimeKey = defineSearchAttributeKey("TemporalScheduledStartTime", SearchAttributeType.DATETIME);

/** The scheduled run this start is: the schedule's id and the time it was scheduled for (else the start time). */
function scheduledRunOf(schedule: ScheduleInput, info: ReturnType<typeof workflowInfo>): { campaignId: string; run: ScheduledRun } {
  const fromAttribute = scheduledTimeOf(info.typedSearchAttributes.get(ScheduledStartTimeKey));
  const time = fromAttribute ?? info.startTime;
  return {
    campaignId: scheduledCampaignId(schedule.id, time),
    run: { scheduleId: schedule.id, scheduledTime: time.toISOString(), timeSource: fromAttribute ? "TemporalScheduledStartTime" : "workflowStartTime" },
  };
}

/** The bookkeeping proxy workflows used before retry-by-cause (their histories replay with it). */
function legacyCampaignActivities(taskQueue: string) {
  return proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: "10 minutes",
    retry: { initialInterval: "1s", maximumInterval: "30s", backoffCoefficient: 2, nonRetryableErrorTypes: [ErrorType.invalidConfig, ErrorType.noTools] },
  });
}
