/**
 * A campaign: registers its config and tools, then runs iterations as child workflows, continuing
 * as new between iterations so its history stays small however many iterations it runs.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  continueAsNew,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
  condition,
  type ChildWorkflowHandle,
} from "@temporalio/workflow";
import type { Activities } from "../activities/index.js";
import { parseCampaignConfig } from "../src/config/campaignConfig.js";
import { ErrorType } from "../src/errorTypes.js";
import { queuePrefixOf, taskQueues } from "../src/taskQueues.js";
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
  type CampaignStatus,
} from "./definitions.js";
import { bookkeepingActivities, retryByCause } from "./activityOptions.js";
import { iterationWorkflow } from "./iteration.js";
import { SearchAttributeTracker } from "./searchAttributes.js";

export interface CampaignInput {
  /** The campaign config as written (JSON); validated here and in every activity. */
  config: unknown;
  /** Defaults to config.campaignId, else the workflow id. */
  campaignId?: string;
  /** Carried across continue-as-new; leave unset when starting. */
  iteration?: number;
  registered?: boolean;
  paused?: boolean;
  completedIterations?: CampaignStatus["completedIterations"];
}

export interface CampaignResult {
  campaignId: string;
  state: "completed" | "aborted";
  iterations: CampaignStatus["completedIterations"];
}

const campaignActivities = (taskQueue: string, byCause: boolean) =>
  byCause
    ? bookkeepingActivities(true, taskQueue)
    : proxyActivities<Activities>({
        taskQueue,
        startToCloseTimeout: "10 minutes",
        retry: { initialInterval: "1s", maximumInterval: "30s", backoffCoefficient: 2, nonRetryableErrorTypes: [ErrorType.invalidConfig, ErrorType.noTools] },
      });

/** Keep only the newest summaries in the carried state (continue-as-new input stays small). */
const KEEP_SUMMARIES = 50;

export async function campaignWorkflow(input: CampaignInput): Promise<CampaignResult> {
  const parsed = parseCampaignConfig(input?.config);
  if (!parsed.ok) {
    throw ApplicationFailure.nonRetryable(`InvalidCampaignConfig: ${parsed.error.message}`, ErrorType.invalidConfig, parsed.error.issues);
  }
  const config = parsed.config;
  const info = workflowInfo();
  const campaignId = input.campaignId ?? config.campaignId ?? info.workflowId;
  const iteration = input.iteration ?? 1;
  const sa = new SearchAttributeTracker();
  const queues = taskQueues(queuePrefixOf(info.taskQueue));
  const acts = campaignActivities(queues.default, retryByCause());

  const status: CampaignStatus = {
    campaignId,
    name: config.name,
    state: "running",
    paused: input.paused ?? false,
    iteration,
    iterationsTotal: config.iterations,
    completedIterations: input.completedIterations ?? [],
  };
  let aborted = false;
  let child: ChildWorkflowHandle<typeof iterationWorkflow> | undefined;

  const publish = () => {
    const it = status.currentIteration;
    if (!aborted && status.state === "running" || status.state === "paused" || status.state === "waiting_for_operator") {
      status.state = it?.state === "waiting_for_operator" ? "waiting_for_operator" : status.paused ? "paused" : "running";
    }
    sa.update({ campaignId, iteration, stage: it?.currentStage ?? "", status: status.state });
  };
  const forward = (fn: (c: ChildWorkflowHandle<typeof iterationWorkflow>) => Promise<void>) => {
    if (child) fn(child).catch(() => undefined);
  };

  setHandler(statusQuery, () => status);
  setHandler(iterationProgressSignal, (s) => {
    if (s.iteration !== iteration) return;
    status.currentIteration = s;
    publish();
  });
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
    aborted = true;
    status.lastError = `aborted by operator${req?.reason ? `: ${req.reason}` : ""}`;
    forward((c) => c.signal(abortSignal, req));
  });
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

  publish();
  if (!input.registered) {
    const reg = await acts.registerCampaign({ campaignId, config: input.config });
    if (reg.toolErrors > 0) status.lastError = `${reg.toolErrors} tool definitions rejected; first: ${reg.toolErrorMessages[0] ?? ""}`;
  }

  // A paused campaign does not start its next iteration.
  await condition(() => !status.paused || aborted);

  if (!aborted) {
    child = await startChild(iterationWorkflow, {
      workflowId: iterationWorkflowId(info.workflowId, iteration),
      taskQueue: info.taskQueue,
      args: [{ campaignId, iteration, config: input.config }],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    });
    status.iterationWorkflowId = child.workflowId;
    if (status.paused) await child.signal(pauseSignal);
    try {
      const result = await child.result();
      status.completedIterations = [...status.completedIterations, { iteration, state: result.state, samples: result.samples }].slice(-KEEP_SUMMARIES);
      if (result.state === "aborted") aborted = true;
    } catch (err) {
      status.state = "failed";
      status.lastError = err instanceof Error ? err.message : String(err);
      sa.update({ status: "failed" });
      await acts.setCampaignStatus({ campaignId, status: "failed" });
      throw err;
    }
  }

  if (aborted) {
    status.state = "aborted";
    sa.update({ status: "aborted" });
    await acts.setCampaignStatus({ campaignId, status: "aborted" });
    return { campaignId, state: "aborted", iterations: status.completedIterations };
  }
  if (iteration < config.iterations) {
    await continueAsNew<typeof campaignWorkflow>({
      config: input.config,
      campaignId,
      iteration: iteration + 1,
      registered: true,
      paused: status.paused,
      completedIterations: status.completedIterations,
    });
  }
  status.state = "completed";
  sa.update({ status: "completed", stage: "" });
  await acts.setCampaignStatus({ campaignId, status: "completed" });
  return { campaignId, state: "completed", iterations: status.completedIterations };
}
