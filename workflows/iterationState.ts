/**
 * The iteration's state machine: its status (what `status` queries return), the operator's controls
 * (pause, resume, abort, retryStage, skipStage) as handlers, and the transitions between states.
 * The iteration workflow drives it; the parent hears about transitions only.
 */
import {
  getExternalWorkflowHandle,
  isCancellation,
  log,
  setCurrentDetails,
  setDefaultSignalHandler,
  setHandler,
  workflowInfo,
  type CancellationScope,
  type ChildWorkflowHandle,
} from "@temporalio/workflow";
import {
  abortSignal,
  iterationProgressSignal,
  jobProgressSignal,
  operatorDecisionSignal,
  pauseSignal,
  resumeSignal,
  retryStageUpdate,
  skipStageUpdate,
  statusQuery,
  type IterationStatus,
  type JobProgressReport,
  type StageDecision,
} from "./definitions.js";
import { iterationDetails } from "./operatorSurface.js";
import { SearchAttributeTracker } from "./searchAttributes.js";
import type { stageBatchesWorkflow } from "./stageBatches.js";

export type Decision = { action: "retry" | "skip"; stage: string };

export class IterationState {
  readonly status: IterationStatus;
  aborted = false;
  /** Why the operator aborted (the abort signal's reason). */
  abortReason: string | undefined;
  decision: Decision | undefined;
  /** The running stage's scope: abort cancels it. */
  stageScope: CancellationScope | undefined;
  /** The running chunk child of a large stage: pause and resume follow it there. */
  chunk: ChildWorkflowHandle<typeof stageBatchesWorkflow> | undefined;
  /** The campaign's output folder (from the plan): the details link the iteration's report. */
  outputDir: string | undefined;
  readonly workflowId = workflowInfo().workflowId;
  readonly runId = workflowInfo().runId;
  private readonly sa = new SearchAttributeTracker();
  private readonly parent = workflowInfo().parent;

  constructor(campaignId: string, iteration: number) {
    this.status = { campaignId, iteration, state: "running", paused: false, stages: [] };
  }

  setStages(names: string[]): void {
    this.status.stages = names.map((name) => ({
      name,
      state: "pending",
      batchesTotal: 0,
      batchesDone: 0,
      itemsTotal: 0,
      itemsDone: 0,
      counts: {},
      attempts: 0,
    }));
  }

  waitingStage() {
    return this.status.stages.find((s) => s.state === "waiting_for_operator");
  }

  /**
   * Tells the parent at transitions only, so the campaign's status is current without per-batch
   * events. `toParent: false` refreshes this workflow's own search attributes and details only (the
   * lean path's last status, which the campaign reads from the result).
   */
  async publish(opts: { toParent?: boolean } = {}): Promise<void> {
    const status = this.status;
    if (status.state !== "completed" && status.state !== "aborted" && status.state !== "failed") {
      status.state = this.waitingStage() ? "waiting_for_operator" : status.paused ? "paused" : "running";
    }
    this.sa.update({ campaignId: status.campaignId, iteration: status.iteration, stage: status.currentStage, status: status.state });
    this.showDetails();
    if (this.parent && opts.toParent !== false)
      await getExternalWorkflowHandle(this.parent.workflowId)
        .signal(iterationProgressSignal, status)
        .catch(() => undefined);
  }

  /** The current details the Temporal UI shows (not a command: free to refresh at every batch). */
  showDetails(): void {
    setCurrentDetails(iterationDetails(this.status, this.outputDir));
  }

  /**
   * Registers the operator surface. With `surface` (the operator-surface patch) internal signals go
   * through the default handler, unlisted in the UI, and abort asks for a cancel request (the
   * campaign's, when it forwarded the abort; this workflow's own, when an operator signalled it here).
   */
  installHandlers(surface?: { askForCancel(): Promise<unknown> }): void {
    setHandler(statusQuery, () => this.status);
    // publish() never rejects (the parent signal's failure is caught); chunk children follow pause/resume.
    setHandler(pauseSignal, () => {
      this.status.paused = true;
      this.chunk?.signal(pauseSignal).catch(() => undefined);
      this.publish().catch(() => undefined);
    });
    setHandler(resumeSignal, () => {
      this.status.paused = false;
      this.chunk?.signal(resumeSignal).catch(() => undefined);
      this.publish().catch(() => undefined);
    });
    let cancelAsked = false;
    setHandler(abortSignal, (req) => {
      if (surface && this.abortReason) return; // idempotent: the first reason stays
      this.aborted = true;
      this.status.lastError = `aborted by operator${req?.reason ? `: ${req.reason}` : ""}`;
      this.abortReason = this.status.lastError;
      this.stageScope?.cancel();
      if (surface && !req?.viaCampaign && !cancelAsked) {
        cancelAsked = true;
        surface.askForCancel().catch((err) => (isCancellation(err) ? undefined : log.warn("cancel request failed", { error: String(err) })));
      }
      if (surface) this.showDetails();
    });
    setHandler(retryStageUpdate, (d: StageDecision | undefined) => this.decide("retry", d?.stage), {
      validator: (d: StageDecision | undefined) => this.validateDecision(d?.stage),
    });
    setHandler(skipStageUpdate, (d: StageDecision | undefined) => this.decide("skip", d?.stage), {
      validator: (d: StageDecision | undefined) => this.validateDecision(d?.stage),
    });
    const onJobProgress = (p: JobProgressReport) => {
      const st = this.status.stages.find((s) => s.name === p.stage);
      if (!st) return;
      st.job = { name: p.job, state: p.state, done: p.done, total: p.total, metrics: p.metrics };
      if (p.total !== undefined && p.done !== undefined) {
        st.itemsTotal = p.total;
        st.itemsDone = p.done;
      }
      this.showDetails();
    };
    // Campaigns started before decisions were forwarded as updates still forward them as this signal.
    const onOperatorDecision = (d: { action: "retry" | "skip"; stage?: string }) => {
      try {
        this.decide(d.action, d.stage);
      } catch {
        // A forwarded decision that no longer applies (the stage moved on) is dropped.
      }
    };
    if (surface) {
      setDefaultSignalHandler((name, ...args) => {
        if (name === jobProgressSignal.name) onJobProgress(args[0] as JobProgressReport);
        else if (name === operatorDecisionSignal.name) onOperatorDecision(args[0] as { action: "retry" | "skip"; stage?: string });
        else log.warn("signal not handled by the iteration workflow", { signal: name });
      });
    } else {
      setHandler(jobProgressSignal, onJobProgress);
      setHandler(operatorDecisionSignal, onOperatorDecision);
    }
  }

  private decide(action: "retry" | "skip", stage?: string) {
    const waiting = this.validateDecision(stage);
    this.decision = { action, stage: waiting.name };
    return { stage: waiting.name, accepted: true as const };
  }

  private validateDecision(stage?: string) {
    const waiting = this.waitingStage();
    if (!waiting) throw new Error(`no stage is waiting for an operator decision (state: ${this.status.state})`);
    if (stage !== undefined && stage !== waiting.name) throw new Error(`stage "${stage}" is not the one waiting ("${waiting.name}")`);
    return waiting;
  }
}
