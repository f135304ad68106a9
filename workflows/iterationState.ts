/**
 * The iteration's state machine: its status (what `status` queries return), the operator's controls
 * (pause, resume, abort, retryStage, skipStage) as handlers, and the transitions between states.
 * The iteration workflow drives it; the parent hears about transitions only.
 */
import { getExternalWorkflowHandle, setHandler, workflowInfo, type CancellationScope, type ChildWorkflowHandle } from "@temporalio/workflow";
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
  type StageDecision,
} from "./definitions.js";
import { SearchAttributeTracker } from "./searchAttributes.js";
import type { stageBatchesWorkflow } from "./stageBatches.js";

export type Decision = { action: "retry" | "skip"; stage: string };

export class IterationState {
  readonly status: IterationStatus;
  aborted = false;
  decision: Decision | undefined;
  /** The running stage's scope: abort cancels it. */
  stageScope: CancellationScope | undefined;
  /** The running chunk child of a large stage: pause and resume follow it there. */
  chunk: ChildWorkflowHandle<typeof stageBatchesWorkflow> | undefined;
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

  /** Tells the parent at transitions only, so the campaign's status is current without per-batch events. */
  async publish(): Promise<void> {
    const status = this.status;
    if (status.state !== "completed" && status.state !== "aborted" && status.state !== "failed") {
      status.state = this.waitingStage() ? "waiting_for_operator" : status.paused ? "paused" : "running";
    }
    this.sa.update({ campaignId: status.campaignId, iteration: status.iteration, stage: status.currentStage, status: status.state });
    if (this.parent)
      await getExternalWorkflowHandle(this.parent.workflowId)
        .signal(iterationProgressSignal, status)
        .catch(() => undefined);
  }

  /** Registers the operator surface. */
  installHandlers(): void {
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
    setHandler(abortSignal, (req) => {
      this.aborted = true;
      this.status.lastError = `aborted by operator${req?.reason ? `: ${req.reason}` : ""}`;
      this.stageScope?.cancel();
    });
    setHandler(retryStageUpdate, (d: StageDecision | undefined) => this.decide("retry", d?.stage), {
      validator: (d: StageDecision | undefined) => this.validateDecision(d?.stage),
    });
    setHandler(skipStageUpdate, (d: StageDecision | undefined) => this.decide("skip", d?.stage), {
      validator: (d: StageDecision | undefined) => this.validateDecision(d?.stage),
    });
    setHandler(jobProgressSignal, (p) => {
      const st = this.status.stages.find((s) => s.name === p.stage);
      if (!st) return;
      st.job = { name: p.job, state: p.state, done: p.done, total: p.total, metrics: p.metrics };
      if (p.total !== undefined && p.done !== undefined) {
        st.itemsTotal = p.total;
        st.itemsDone = p.done;
      }
    });
    // Campaigns started before decisions were forwarded as updates still forward them as this signal.
    setHandler(operatorDecisionSignal, (d) => {
      try {
        this.decide(d.action, d.stage);
      } catch {
        // A forwarded decision that no longer applies (the stage moved on) is dropped.
      }
    });
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
