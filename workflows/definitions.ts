/**
 * Names and payload types of the operator surface: queries, signals and updates of both workflows.
 * Importable from the client side (CLI) too: define* functions need no workflow context.
 */
import { defineQuery, defineSignal, defineUpdate } from "@temporalio/workflow";

export type StageState = "pending" | "running" | "waiting_for_operator" | "succeeded" | "skipped" | "failed";

export interface StageStatus {
  name: string;
  state: StageState;
  batchesTotal: number;
  batchesDone: number;
  itemsTotal: number;
  itemsDone: number;
  /** Sum of the batch counters (written, failed, verified, rejected, ...). */
  counts: Record<string, number>;
  attempts: number;
  lastError?: string;
  /** While waiting for an operator: what the iteration is doing to recover by itself, if anything. */
  recovery?: string;
  /** For cluster-job stages: the job being watched and its latest progress. */
  job?: { name: string; state: string; done?: number; total?: number; metrics?: Record<string, number> };
}

export type RunState = "running" | "paused" | "waiting_for_operator" | "completed" | "aborted" | "failed";

export interface IterationStatus {
  campaignId: string;
  iteration: number;
  state: RunState;
  paused: boolean;
  currentStage?: string;
  stages: StageStatus[];
  lastError?: string;
}

export interface IterationResult {
  campaignId: string;
  iteration: number;
  state: "completed" | "aborted";
  stages: { name: string; state: StageState; counts: Record<string, number> }[];
  samples: Record<string, number>;
  /** The iteration's final status (lean-history path): what its last progress signal carried before. */
  status?: IterationStatus;
}

export interface CampaignStatus {
  campaignId: string;
  name: string;
  state: RunState;
  paused: boolean;
  iteration: number;
  iterationsTotal: number;
  iterationWorkflowId?: string;
  /** Last status the running iteration reported (at stage transitions). */
  currentIteration?: IterationStatus;
  completedIterations: { iteration: number; state: string; samples: Record<string, number> }[];
  lastError?: string;
  /** Since the operator-surface patch: the frozen config (version, sha256) and the campaign's output folder. */
  configVersion?: number;
  configHash?: string;
  outputDir?: string;
  /** Since the operator-surface patch: the error type of lastError when the campaign failed (e.g. StageFailed). */
  lastErrorType?: string;
}

export interface StageDecision {
  /** Stage name; defaults to the stage currently waiting. */
  stage?: string;
}

export interface AbortRequest {
  reason?: string;
  /** Set when the campaign forwards its abort to the iteration: the campaign's cancellation ends the child. */
  viaCampaign?: boolean;
}

export const statusQuery = defineQuery<IterationStatus | CampaignStatus>("status");
export const pauseSignal = defineSignal("pause");
export const resumeSignal = defineSignal("resume");
export const abortSignal = defineSignal<[AbortRequest?]>("abort");
export const retryStageUpdate = defineUpdate<{ stage: string; accepted: true }, [StageDecision]>("retryStage");
export const skipStageUpdate = defineUpdate<{ stage: string; accepted: true }, [StageDecision]>("skipStage");

/**
 * Internal signals. Since the operator-surface patch they reach the workflows through a default
 * signal handler, so the UI's handler lists (the `__temporal_workflow_metadata` query) show only the
 * operator controls above.
 */
/** Child -> parent: the iteration's status at stage transitions (a handful per iteration). */
export const iterationProgressSignal = defineSignal<[IterationStatus]>("iterationProgress");
/** Parent -> child: forwards an operator decision received by the campaign workflow. */
export const operatorDecisionSignal = defineSignal<[{ action: "retry" | "skip"; stage?: string }]>("operatorDecision");

export const iterationWorkflowId = (campaignWorkflowId: string, iteration: number) => `${campaignWorkflowId}-iter-${iteration}`;
export const campaignWorkflowId = (campaignId: string) => `campaign-${campaignId}`;

/** A cluster job's progress (state, steps, latest metrics), from its watching child to the iteration. */
export interface JobProgressReport {
  stage: string;
  job: string;
  state: string;
  done?: number;
  total?: number;
  metrics?: Record<string, number>;
}
/** Child (stageJob) -> iteration: after each watch window. */
export const jobProgressSignal = defineSignal<[JobProgressReport]>("jobProgress");
