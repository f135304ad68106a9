/**
 * Runs one stage of an iteration: plan (what is left), its batches — in lanes here, or in chunk
 * children when there are more than one history should hold — and the finalize step.
 */
import { condition, executeChild, patched, startChild, workflowInfo } from "@temporalio/workflow";
import type { BatchCounts, StagePlanResult, StageRef } from "../activities/types.js";
import type { StageScheduling } from "../src/framework/stageSpec.js";
import type { StageActivities } from "./activityOptions.js";
import { runBatchLanes } from "./batchLanes.js";
import { pauseSignal, type StageStatus } from "./definitions.js";
import type { IterationState } from "./iterationState.js";
import { BATCHES_PER_CHILD, stageBatchesWorkflow } from "./stageBatches.js";
import { stageJobWorkflow } from "./stageJob.js";

/** Stages with more pending batches than one child takes run them in child workflows, a chunk each. */
export const PATCH_STAGE_CHUNKS = "stage-chunks-v1";
/** Stages that run one cluster job (training, merge, serving) run it in a stageJob child. */
export const PATCH_CLUSTER_JOB_STAGES = "cluster-job-stages-v1";

/**
 * A paused iteration does not start a cluster job (training, merging, serving: GPUs) until resumed,
 * as it starts no new batch; before it, a job stage reached while paused submitted its job at once.
 * Asked only when the stage starts paused, so runs that are not paused then record no marker.
 */
export const PATCH_PAUSE_HOLDS_JOBS = "pause-holds-cluster-jobs-v1";

/**
 * A cluster-job stage runs its job as the attempt the database counts (the plan's jobAttempt), not
 * the one this workflow run counts: a campaign resumed after a failure or an abort runs a new
 * iteration workflow whose count starts at 1, so it took attempt 1's failed or cancelled job for
 * its own, reported it failed at once and waited for an operator again. Asked only when the plan
 * carries jobAttempt (plans recorded before it do not), so older histories replay as they ran.
 */
export const PATCH_JOB_ATTEMPT_FROM_DATABASE = "job-attempt-from-database-v1";

/** How long one watch activity polls a job, and how often. */
export const JOB_WATCH = { windowSeconds: 300, pollSeconds: 10 } as const;

export interface StageRunOptions {
  parallelism: number;
  /** Passed to chunk children; absent for workflows started before configs were frozen. */
  scheduling: StageScheduling | undefined;
  /** The operator-surface patch: activities and children carry summaries the UI shows. */
  summaries: boolean;
  /** The lean-history patch: implies the stage-chunks and cluster-job-stages patches (codePaths.ts). */
  lean: boolean;
  /** The abort-waits patch (codePaths.ts): a cancelled batch is waited for, here and in chunk children. */
  abortWaits: boolean;
  /** Plans the stage (a local activity on the lean path, else the stage's own activity), with the UI summary if any. */
  planStage(ref: StageRef, summary: string | undefined): Promise<StagePlanResult>;
}

export async function runStage(state: IterationState, acts: StageActivities, ref: StageRef, st: StageStatus, opts: StageRunOptions): Promise<void> {
  const { parallelism, scheduling, summaries, lean, abortWaits } = opts;
  const label = (what: string) => `${ref.stage} ${what} (iteration ${ref.iteration})`;
  const plan = await opts.planStage(ref, summaries ? label("plan") : undefined);
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

  // `lean ||` first: on the lean path these patches are implied and their markers never recorded.
  if (scheduling?.execution === "clusterJob" && (lean || patched(PATCH_CLUSTER_JOB_STAGES))) {
    if (state.status.paused && patched(PATCH_PAUSE_HOLDS_JOBS)) {
      await condition(() => !state.status.paused || state.aborted);
      if (state.aborted) return;
    }
    if (plan.jobAttempt !== undefined && plan.jobAttempt !== st.attempts && patched(PATCH_JOB_ATTEMPT_FROM_DATABASE)) st.attempts = plan.jobAttempt;
    // One job, watched in a history of its own; cancelling this scope cancels the child, which cancels the job.
    const info = workflowInfo();
    const watch = scheduling.jobWatch ?? JOB_WATCH;
    const r = await executeChild(stageJobWorkflow, {
      workflowId: `${info.workflowId}-${ref.stage}-job-a${st.attempts}`,
      taskQueue: info.taskQueue,
      args: [{ ref, attempt: st.attempts, parentWorkflowId: info.workflowId, windowSeconds: watch.windowSeconds, pollSeconds: watch.pollSeconds }],
      ...(summaries ? { staticSummary: label(`cluster job, attempt ${st.attempts}`) } : {}),
    });
    st.batchesDone = 1;
    // The job succeeded: all of it is done, also when it reports no steps (train.merge, serve.policy
    // showed "0 of 1" items once succeeded) or its last steps fell between two polls.
    st.itemsDone = st.itemsTotal;
    st.counts.reusedJob = r.reused ? 1 : 0;
  } else if (plan.pendingBatches.length > BATCHES_PER_CHILD && (lean || patched(PATCH_STAGE_CHUNKS))) {
    // Each chunk's batches run in a child's history; this one records only the children.
    for (let from = 0; from < plan.pendingBatches.length && !state.aborted; from += BATCHES_PER_CHILD) {
      await condition(() => !state.status.paused || state.aborted);
      if (state.aborted) return;
      const chunk = await startChild(stageBatchesWorkflow, {
        workflowId: `${workflowInfo().workflowId}-${ref.stage}-a${st.attempts}-from${plan.pendingBatches[from]}`,
        taskQueue: workflowInfo().taskQueue,
        args: [
          {
            ref,
            batches: plan.pendingBatches.slice(from, from + BATCHES_PER_CHILD),
            parallelism,
            paused: state.status.paused,
            scheduling,
            // In the child's input (its history): the child needs no patch marker of its own.
            ...(abortWaits ? { abortWaits } : {}),
          },
        ],
        ...(summaries
          ? {
              staticSummary: label(
                `batches ${plan.pendingBatches[from]}..${plan.pendingBatches[Math.min(from + BATCHES_PER_CHILD, plan.pendingBatches.length) - 1]}`,
              ),
            }
          : {}),
      });
      state.chunk = chunk;
      // A pause that arrived while the child was starting.
      if (state.status.paused) await chunk.signal(pauseSignal);
      let r: Awaited<ReturnType<typeof stageBatchesWorkflow>>;
      try {
        r = await chunk.result();
      } finally {
        state.chunk = undefined;
      }
      st.batchesDone += r.batchesDone;
      st.itemsDone += r.items;
      addCounts(r.counts);
      state.showDetails();
    }
  } else {
    await runBatchLanes(acts, ref, plan.pendingBatches, parallelism, {
      paused: () => state.status.paused,
      aborted: () => state.aborted,
      waitForAll: abortWaits,
      onBatchDone: (r: BatchCounts) => {
        st.batchesDone++;
        st.itemsDone += r.items;
        addCounts(r);
        state.showDetails();
      },
      ...(summaries ? { summary: (batchIndex: number) => label(`batch ${batchIndex + 1} of ${plan.batches}`) } : {}),
    });
  }
  const summary = summaries ? await acts.completeStage.executeWithOptions({ summary: label("finalize") }, [ref]) : await acts.completeStage(ref);
  st.state = "succeeded";
  st.counts = { ...st.counts, ...numericCounts(summary) };
}

export function numericCounts(r: Record<string, unknown> | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r ?? {})) if (typeof v === "number") out[k] = v;
  return out;
}
