/**
 * One iteration: the configured stages in order. Each stage is planned into batches that run as
 * activities with bounded parallelism; a stage already done (per Postgres) is skipped, a failed
 * stage waits for an operator decision (retryStage / skipStage / abort) unless configured otherwise.
 * The state and the operator surface live in iterationState.ts, one stage's run in stageRunner.ts.
 */
import { ApplicationFailure, CancellationScope, CancelledFailure, condition, isCancellation, patched } from "@temporalio/workflow";
import type { StageRef } from "../activities/types.js";
import type { CampaignPlan } from "../src/config/plan.js";
import { ErrorType } from "../src/framework/errorTypes.js";
import { failureChainMessage } from "../src/status/failureCause.js";
import { bookkeepingActivities, endpointWatchActivities, localBookkeepingActivities, stageActivities } from "./activityOptions.js";
import { abortWaitsForStageWork, codePaths } from "./codePaths.js";
import type { IterationResult, StageStatus } from "./definitions.js";
import { IterationState } from "./iterationState.js";
import { legacyPlan } from "./legacyInput.js";
import { CANCEL_WITHOUT_REASON, firstRealError } from "./operatorSurface.js";
import { runStage } from "./stageRunner.js";

export { PATCH_STAGE_CHUNKS } from "./stageRunner.js";

/**
 * A stage that stopped for a cause that mends itself does not wait for a person: a lost cluster job
 * (ClusterJobLost: its machine went away) runs its next attempt at once, up to LOST_JOB_RETRIES
 * times per stage; an unreachable endpoint (EndpointUnavailable) is retried once it answers again.
 * Both still show as waiting for an operator, with what the iteration does about it.
 */
export const PATCH_STAGE_SELF_RECOVERY = "stage-self-recovery-v1";
export const LOST_JOB_RETRIES = 3;

export interface IterationInput {
  campaignId: string;
  iteration: number;
  /** The config as written: only in workflows started before configs were frozen. */
  config?: unknown;
}

export async function iterationWorkflow(input: IterationInput): Promise<IterationResult> {
  const { campaignId, iteration } = input;
  // Abort ends as Canceled, internal signals unlisted, activity and child summaries (operatorSurface.ts);
  // since the lean-history patch light bookkeeping runs as local activities (codePaths.ts).
  const { retryByCause: byCause, frozenConfig: frozen, operatorSurface: surface, leanHistory: lean } = codePaths();
  // An abort waits for the stage's running activities to stop, so the reports come after the last write.
  const abortWaits = abortWaitsForStageWork();
  const bookkeeping = bookkeepingActivities(byCause);
  const endpointWatch = endpointWatchActivities();
  // Loading the plan, marking the iteration started and planning stages: milliseconds of database work.
  const local = lean ? localBookkeepingActivities() : undefined;
  const light = local ?? bookkeeping;
  const state = new IterationState(campaignId, iteration);
  state.installHandlers(
    surface
      ? { askForCancel: () => CancellationScope.nonCancellable(() => bookkeeping.requestWorkflowCancel({ workflowId: state.workflowId, runId: state.runId })) }
      : undefined,
  );

  // The frozen config's plan for this iteration, recorded in history: replays never re-apply defaults.
  const plan: CampaignPlan = frozen ? await light.loadCampaignPlan({ campaignId, iteration }) : legacyPlan(input.config, campaignId);
  state.setStages(plan.stages.map((s) => s.name));
  state.outputDir = plan.outputDir;
  state.showDetails();
  const status = state.status;
  /** Automatic retries of a stage's lost jobs so far in this run, by stage index. */
  const lostJobRetries = new Map<number, number>();

  if (!surface) await runStages();
  else {
    try {
      await runStages();
    } catch (err) {
      // A cancel request (the campaign's abort, the UI's Cancel button) while no stage scope caught it.
      if (!isCancellation(err)) throw err;
      state.aborted = true;
    }
  }

  const finalState = state.aborted ? "aborted" : "completed";
  status.state = finalState;
  status.currentStage = undefined;
  if (state.aborted && surface) status.lastError = state.abortReason ?? CANCEL_WITHOUT_REASON;
  const samples = await CancellationScope.nonCancellable(() => bookkeeping.finishIteration({ campaignId, iteration, status: finalState }));
  // A completed iteration's last status reaches the campaign in the result (lean path): no last signal.
  const statusInResult = lean && !state.aborted;
  if (!surface) await state.publish();
  else await CancellationScope.nonCancellable(() => state.publish({ toParent: !statusInResult }));
  if (state.aborted && surface) {
    // Ends as Canceled: under the cancel request the campaign (or this workflow, on a direct abort) asked for.
    if (!CancellationScope.current().consideredCancelled) await condition(() => false);
    throw new CancelledFailure(status.lastError ?? CANCEL_WITHOUT_REASON);
  }
  return {
    campaignId,
    iteration,
    state: finalState,
    stages: status.stages.map((s) => ({ name: s.name, state: s.state, counts: s.counts })),
    samples,
    ...(statusInResult ? { status } : {}),
  };

  /**
   * A stage that stopped on an unreachable endpoint waits for the operator and, meanwhile, watches its
   * endpoints (activities: awaitStageEndpoints): when they all answer again before the operator
   * decides, the stage is retried as if the operator had asked. Nothing to watch, or the watch
   * failing, leaves the decision to the operator alone.
   */
  async function waitForEndpointsOrOperator(ref: StageRef, st: StageStatus): Promise<void> {
    let answered = false;
    let watching = true;
    st.recovery = "retries by itself once its endpoints answer GET /models again (asked every few seconds)";
    await state.publish();
    const watch = new CancellationScope();
    const watched = watch
      .run(() => endpointWatch.awaitStageEndpoints(ref))
      .then(
        (r) => {
          answered = r.answered;
        },
        () => undefined,
      )
      .finally(() => {
        watching = false;
      });
    await condition(() => state.decision !== undefined || state.aborted || answered || !watching);
    if (!answered && watching) watch.cancel();
    await watched;
    st.recovery = undefined;
    if (answered && state.decision === undefined && !state.aborted) {
      state.decision = { action: "retry", stage: st.name };
      return;
    }
    await state.publish();
    await condition(() => state.decision !== undefined || state.aborted);
  }

  async function runStages(): Promise<void> {
    await light.startIteration({ campaignId, iteration });

    for (const [i, scheduling] of plan.stages.entries()) {
      if (state.aborted) break;
      const st = status.stages[i] as StageStatus;
      status.currentStage = st.name;
      const acts = stageActivities(scheduling, byCause, abortWaits);
      const ref = { campaignId, iteration, stage: scheduling.name };
      // Planned in the workflow task when that is milliseconds of work (lean path); else on the stage's own queue, as before.
      const planner = local && scheduling.plannedLocally ? local.planStage : acts.planStage;
      const planStage = (r: StageRef, summary: string | undefined) => (summary === undefined ? planner(r) : planner.executeWithOptions({ summary }, [r]));

      for (;;) {
        st.state = "running";
        st.recovery = undefined;
        st.attempts++;
        await state.publish();
        try {
          state.stageScope = new CancellationScope();
          await state.stageScope.run(() =>
            runStage(state, acts, ref, st, {
              parallelism: plan.batchesInParallel,
              scheduling: frozen ? scheduling : undefined,
              summaries: surface,
              lean,
              abortWaits,
              planStage,
            }),
          );
          st.lastError = undefined;
          break;
        } catch (err) {
          if (state.aborted || isCancellation(err)) {
            state.aborted = true;
            break;
          }
          const message = failureChainMessage(err);
          st.lastError = message;
          status.lastError = `${st.name}: ${message}`;
          if (plan.onStageFailure === "fail") {
            st.state = "failed";
            status.state = "failed";
            await bookkeeping.recordStageOutcome({ ...ref, status: "failed", error: message });
            await state.publish();
            throw ApplicationFailure.nonRetryable(`stage ${st.name} failed: ${message}`, ErrorType.stageFailed);
          }
          if (plan.onStageFailure === "skip") {
            state.decision = { action: "skip", stage: st.name };
          } else {
            st.state = "waiting_for_operator";
            await bookkeeping.recordStageOutcome({ ...ref, status: "failed", error: message });
            const cause = surface ? firstRealError(err).type : undefined;
            if (cause === ErrorType.clusterJobLost && (lostJobRetries.get(i) ?? 0) < LOST_JOB_RETRIES && patched(PATCH_STAGE_SELF_RECOVERY)) {
              // A machine crash, not the job's failure: the next attempt resumes from the last checkpoint.
              lostJobRetries.set(i, (lostJobRetries.get(i) ?? 0) + 1);
              st.lastError = `${message}; retried by itself as attempt ${st.attempts + 1} (${lostJobRetries.get(i)} of ${LOST_JOB_RETRIES} automatic retries of lost jobs)`;
              state.decision = { action: "retry", stage: st.name };
            } else if (cause === ErrorType.endpointUnavailable && patched(PATCH_STAGE_SELF_RECOVERY)) {
              await waitForEndpointsOrOperator(ref, st);
            } else {
              await state.publish();
              await condition(() => state.decision !== undefined || state.aborted);
            }
            if (state.aborted) break;
          }
          const d = state.decision;
          state.decision = undefined;
          if (d?.action === "skip") {
            st.state = "skipped";
            await bookkeeping.recordStageOutcome({ ...ref, status: "skipped", error: message });
            break;
          }
          // retry: loop; planning returns only the batches not done yet.
        } finally {
          state.stageScope = undefined;
        }
      }
      if (state.aborted) break;
    }
  }
}
