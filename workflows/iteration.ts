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
  patched,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
} from "@temporalio/workflow";
import type { BatchCounts } from "../activities/types.js";
import { parseCampaignConfig, type CampaignConfig } from "../src/config/campaignConfig.js";
import { ErrorType } from "../src/errorTypes.js";
import { bookkeepingActivities, retryByCause, stageActivities, type StageActivities } from "./activityOptions.js";
import { runBatchLanes } from "./batchLanes.js";
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
import { BATCHES_PER_CHILD, stageBatchesWorkflow } from "./stageBatches.js";

export interface IterationInput {
  campaignId: string;
  iteration: number;
  config: unknown;
}

/** Stages with more pending batches than one child takes run them in child workflows, a chunk each. */
export const PATCH_STAGE_CHUNKS = "stage-chunks-v1";

type Decision = { action: "retry" | "skip"; stage: string };

export async function iterationWorkflow(input: IterationInput): Promise<IterationResult> {
  const parsed = parseCampaignConfig(input.config);
  if (!parsed.ok) throw ApplicationFailure.nonRetryable(parsed.error.message, ErrorType.invalidConfig, parsed.error.issues);
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
  const byCause = retryByCause();
  const bookkeeping = bookkeepingActivities(byCause);
  let chunk: ChildWorkflowHandle<typeof stageBatchesWorkflow> | undefined;

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
  // publish() never rejects (the parent signal's failure is caught); chunk children follow pause/resume.
  setHandler(pauseSignal, () => {
    status.paused = true;
    chunk?.signal(pauseSignal).catch(() => undefined);
    publish().catch(() => undefined);
  });
  setHandler(resumeSignal, () => {
    status.paused = false;
    chunk?.signal(resumeSignal).catch(() => undefined);
    publish().catch(() => undefined);
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
    const acts = stageActivities(stageConfig, byCause);
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
          throw ApplicationFailure.nonRetryable(`stage ${st.name} failed: ${message}`, ErrorType.stageFailed);
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

  const finalState = aborted ? "aborted" : "completed";
  status.state = finalState;
  status.currentStage = undefined;
  const samples = await CancellationScope.nonCancellable(() =>
    bookkeeping.finishIteration({ campaignId, iteration, status: finalState }),
  );
  await publish();
  return {
    campaignId,
    iteration,
    state: finalState,
    stages: status.stages.map((s) => ({ name: s.name, state: s.state, counts: s.counts })),
    samples,
  };

  async function runStage(acts: StageActivities, ref: { campaignId: string; iteration: number; stage: string }, st: StageStatus, parallelism: number) {
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
    const addCounts = (counts: Record<string, number>) => {
      for (const [k, v] of Object.entries(counts)) st.counts[k] = (st.counts[k] ?? 0) + v;
    };

    if (plan.pendingBatches.length > BATCHES_PER_CHILD && patched(PATCH_STAGE_CHUNKS)) {
      // Each chunk's batches run in a child's history; this one records only the children.
      for (let from = 0; from < plan.pendingBatches.length && !aborted; from += BATCHES_PER_CHILD) {
        await condition(() => !status.paused || aborted);
        if (aborted) return;
        chunk = await startChild(stageBatchesWorkflow, {
          workflowId: `${workflowInfo().workflowId}-${ref.stage}-a${st.attempts}-from${plan.pendingBatches[from]}`,
          taskQueue: workflowInfo().taskQueue,
          args: [{ ref, batches: plan.pendingBatches.slice(from, from + BATCHES_PER_CHILD), parallelism, paused: status.paused }],
        });
        // A pause that arrived while the child was starting.
        if (status.paused) await chunk.signal(pauseSignal);
        let r: Awaited<ReturnType<typeof stageBatchesWorkflow>>;
        try {
          r = await chunk.result();
        } finally {
          chunk = undefined;
        }
        st.batchesDone += r.batchesDone;
        st.itemsDone += r.items;
        addCounts(r.counts);
      }
    } else {
      await runBatchLanes(acts, ref, plan.pendingBatches, parallelism, {
        paused: () => status.paused,
        aborted: () => aborted,
        onBatchDone: (r: BatchCounts) => {
          st.batchesDone++;
          st.itemsDone += r.items;
          addCounts(r);
        },
      });
    }
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
