/**
 * One iteration: the configured stages in order. Each stage is planned into batches that run as
 * activities with bounded parallelism; a stage already done (per Postgres) is skipped, a failed
 * stage waits for an operator decision (retryStage / skipStage / abort) unless configured otherwise.
 * The state and the operator surface live in iterationState.ts, one stage's run in stageRunner.ts.
 */
import { ApplicationFailure, CancellationScope, CancelledFailure, condition, isCancellation } from "@temporalio/workflow";
import type { StageRef } from "../activities/types.js";
import type { CampaignPlan } from "../src/config/plan.js";
import { ErrorType } from "../src/framework/errorTypes.js";
import { failureChainMessage } from "../src/status/failureCause.js";
import { bookkeepingActivities, localBookkeepingActivities, stageActivities } from "./activityOptions.js";
import { abortWaitsForStageWork, codePaths } from "./codePaths.js";
import type { IterationResult, StageStatus } from "./definitions.js";
import { IterationState } from "./iterationState.js";
import { legacyPlan } from "./legacyInput.js";
import { CANCEL_WITHOUT_REASON } from "./operatorSurface.js";
import { runStage } from "./stageRunner.js";

export { PATCH_STAGE_CHUNKS } from "./stageRunner.js";

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
            await state.publish();
            await condition(() => state.decision !== undefined || state.aborted);
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
