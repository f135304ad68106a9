/**
 * One iteration: the configured stages in order. Each stage is planned into batches that run as
 * activities with bounded parallelism; a stage already done (per Postgres) is skipped, a failed
 * stage waits for an operator decision (retryStage / skipStage / abort) unless configured otherwise.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from "@temporalio/workflow";
import type { Activities } from "../activities/index.js";
import type { BatchCounts } from "../activities/types.js";
import { parseCampaignConfig, type CampaignConfig, type StageConfig } from "../src/config/campaignConfig.js";
import { STAGE_CATALOG } from "../src/stages/catalog.js";
import { queuePrefixOf, taskQueues } from "../src/taskQueues.js";
import {
  abortSignal,
  iterationProgressSignal,
  operatorDecisionSignal,
  pauseSignal,
  resumeSignal,
  retryStageUpdate,
  skipStageUpdate,
  statusQuery,
  type IterationResult,
  type IterationStatus,
  type StageDecision,
  type StageStatus,
} from "./definitions.js";
import { SearchAttributeTracker } from "./searchAttributes.js";

export interface IterationInput {
  campaignId: string;
  iteration: number;
  config: unknown;
}

const queues = () => taskQueues(queuePrefixOf(workflowInfo().taskQueue));

const bookkeepingActivities = () => proxyActivities<Activities>({
  taskQueue: queues().default,
  startToCloseTimeout: "2 minutes",
  retry: { initialInterval: "1s", maximumInterval: "30s", backoffCoefficient: 2, nonRetryableErrorTypes: ["InvalidCampaignConfig", "UnknownCampaign", "StageInputError"] },
});

function stageActivities(stage: StageConfig) {
  const sched = STAGE_CATALOG[stage.name];
  return proxyActivities<Activities>({
    taskQueue: queues()[sched.latency],
    startToCloseTimeout: `${sched.batchTimeoutMinutes} minutes`,
    heartbeatTimeout: "20 seconds",
    retry: {
      initialInterval: "2s",
      backoffCoefficient: 2,
      maximumInterval: "1 minute",
      maximumAttempts: 3,
      nonRetryableErrorTypes: ["InvalidCampaignConfig", "UnknownCampaign", "StageInputError", "LlmError:client"],
    },
  });
}

type Decision = { action: "retry" | "skip"; stage: string };

export async function iterationWorkflow(input: IterationInput): Promise<IterationResult> {
  const parsed = parseCampaignConfig(input.config);
  if (!parsed.ok) throw ApplicationFailure.nonRetryable(parsed.error.message, "InvalidCampaignConfig", parsed.error.issues);
  const config: CampaignConfig = parsed.config;
  const { campaignId, iteration } = input;

  const status: IterationStatus = {
    campaignId,
    iteration,
    state: "running",
    paused: false,
    stages: config.stages.map((s) => ({ name: s.name, state: "pending", batchesTotal: 0, batchesDone: 0, itemsTotal: 0, itemsDone: 0, counts: {}, attempts: 0 })),
  };
  let aborted = false;
  let decision: Decision | undefined;
  let stageScope: CancellationScope | undefined;
  const sa = new SearchAttributeTracker();
  const parent = workflowInfo().parent;
  const bookkeeping = bookkeepingActivities();

  const waitingStage = () => status.stages.find((s) => s.state === "waiting_for_operator");
  const refreshState = () => {
    if (status.state === "completed" || status.state === "aborted" || status.state === "failed") return;
    status.state = waitingStage() ? "waiting_for_operator" : status.paused ? "paused" : "running";
  };
  // Tell the parent at transitions only, so the campaign's status is current without per-batch events.
  const publish = async () => {
    refreshState();
    sa.update({ campaignId, iteration, stage: status.currentStage, status: status.state });
    if (parent) await getExternalWorkflowHandle(parent.workflowId).signal(iterationProgressSignal, status).catch(() => undefined);
  };

  const decide = (action: "retry" | "skip", stage?: string) => {
    const waiting = waitingStage();
    if (!waiting) throw new Error(`no stage is waiting for an operator decision (state: ${status.state})`);
    if (stage !== undefined && stage !== waiting.name) throw new Error(`stage "${stage}" is not the one waiting ("${waiting.name}")`);
    decision = { action, stage: waiting.name };
    return { stage: waiting.name, accepted: true as const };
  };

  setHandler(statusQuery, () => status);
  setHandler(pauseSignal, () => {
    status.paused = true;
    void publish();
  });
  setHandler(resumeSignal, () => {
    status.paused = false;
    void publish();
  });
  setHandler(abortSignal, (req) => {
    aborted = true;
    status.lastError = `aborted by operator${req?.reason ? `: ${req.reason}` : ""}`;
    stageScope?.cancel();
  });
  setHandler(retryStageUpdate, (d: StageDecision | undefined) => decide("retry", d?.stage), { validator: (d: StageDecision | undefined) => validateDecision(d?.stage) });
  setHandler(skipStageUpdate, (d: StageDecision | undefined) => decide("skip", d?.stage), { validator: (d: StageDecision | undefined) => validateDecision(d?.stage) });
  setHandler(operatorDecisionSignal, (d) => {
    try {
      decide(d.action, d.stage);
    } catch {
      // A forwarded decision that no longer applies (the stage moved on) is dropped.
    }
  });
  function validateDecision(stage?: string) {
    const waiting = waitingStage();
    if (!waiting) throw new Error(`no stage is waiting for an operator decision (state: ${status.state})`);
    if (stage !== undefined && stage !== waiting.name) throw new Error(`stage "${stage}" is not the one waiting ("${waiting.name}")`);
  }

  await bookkeeping.startIteration({ campaignId, iteration });

  for (const [i, stageConfig] of config.stages.entries()) {
    if (aborted) break;
    const st = status.stages[i] as StageStatus;
    status.currentStage = st.name;
    const acts = stageActivities(stageConfig);
    const ref = { campaignId, iteration, stage: stageConfig.name };

    for (;;) {
      st.state = "running";
      st.attempts++;
      await publish();
      try {
        stageScope = new CancellationScope();
        await stageScope.run(() => runStage(acts, ref, st, config.concurrency.batchesInParallel));
        st.lastError = undefined;
        break;
      } catch (err) {
        if (aborted || isCancellation(err)) {
          aborted = true;
          break;
        }
        const message = describe(err);
        st.lastError = message;
        status.lastError = `${st.name}: ${message}`;
        if (config.onStageFailure === "fail") {
          st.state = "failed";
          status.state = "failed";
          await bookkeeping.recordStageOutcome({ ...ref, status: "failed", error: message });
          await publish();
          throw ApplicationFailure.nonRetryable(`stage ${st.name} failed: ${message}`, "StageFailed");
        }
        if (config.onStageFailure === "skip") {
          decision = { action: "skip", stage: st.name };
        } else {
          st.state = "waiting_for_operator";
          await bookkeeping.recordStageOutcome({ ...ref, status: "failed", error: message });
          await publish();
          await condition(() => decision !== undefined || aborted);
          if (aborted) break;
        }
        const d = decision as Decision | undefined;
        decision = undefined;
        if (d?.action === "skip") {
          st.state = "skipped";
          await bookkeeping.recordStageOutcome({ ...ref, status: "skipped", error: message });
          break;
        }
        // retry: loop; planning returns only the batches not done yet.
      } finally {
        stageScope = undefined;
      }
    }
    if (aborted) break;
  }

  status.state = aborted ? "aborted" : "completed";
  status.currentStage = undefined;
  const samples = await CancellationScope.nonCancellable(() =>
    bookkeeping.finishIteration({ campaignId, iteration, status: status.state }),
  );
  await publish();
  return {
    campaignId,
    iteration,
    state: aborted ? "aborted" : "completed",
    stages: status.stages.map((s) => ({ name: s.name, state: s.state, counts: s.counts })),
    samples,
  };

  async function runStage(acts: ReturnType<typeof stageActivities>, ref: { campaignId: string; iteration: number; stage: string }, st: StageStatus, parallelism: number) {
    const plan = await acts.planStage(ref);
    if (plan.alreadyDone) {
      st.state = plan.status;
      st.counts = numericCounts(plan.result);
      return;
    }
    st.batchesTotal = plan.batches;
    st.batchesDone = plan.batches - plan.pendingBatches.length;
    st.itemsTotal = plan.items;
    st.itemsDone = plan.doneItems;
    st.counts = { ...plan.doneCounts };

    const queue = [...plan.pendingBatches];
    let firstError: unknown;
    const lane = async () => {
      while (queue.length > 0 && firstError === undefined) {
        // Pause holds back new batches; batches in flight finish.
        await condition(() => !status.paused || aborted);
        if (aborted) return;
        // Another lane may have taken the last batch while this one waited on the pause condition.
        const batchIndex = queue.shift();
        if (batchIndex === undefined) return;
        try {
          const r: BatchCounts = await acts.runStageBatch({ ...ref, batchIndex });
          st.batchesDone++;
          st.itemsDone += r.items;
          for (const [k, v] of Object.entries(r)) st.counts[k] = (st.counts[k] ?? 0) + v;
        } catch (err) {
          firstError ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallelism, Math.max(1, queue.length)) }, lane));
    if (firstError !== undefined) throw firstError;
    const summary = await acts.completeStage(ref);
    st.state = "succeeded";
    st.counts = { ...st.counts, ...numericCounts(summary) };
  }
}

function numericCounts(r: Record<string, unknown> | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r ?? {})) if (typeof v === "number") out[k] = v;
  return out;
}

function describe(err: unknown): string {
  let e: unknown = err;
  const parts: string[] = [];
  // ActivityFailure wraps the ApplicationFailure that carries the real message.
  while (e instanceof Error) {
    parts.push(e.message);
    e = (e as Error & { cause?: unknown }).cause;
  }
  return parts.filter((p) => p && p !== "Activity task failed").join(": ") || String(err);
}
