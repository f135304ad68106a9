/**
 * What Temporal says of a campaign workflow without asking a worker: the latest run's description
 * (status, search attributes, memo), its history (close reason, abort reason, output folder) and
 * whether any worker polls its task queue. Queries are never sent: they need a live worker.
 */
import { WorkflowNotFoundError, type Client } from "@temporalio/client";
import { defaultPayloadConverter } from "@temporalio/common";
import { CampaignIdKey, CampaignStatusKey, IterationKey, StageKey } from "../../workflows/searchAttributes.js";
import type { ListedWorkflow } from "./campaignList.js";
import type { WorkflowFacts } from "./campaignView.js";
import { historyFacts, type HistoryEventLike } from "./historyFacts.js";

/** A poller seen this recently counts as a live worker (an idle worker's long poll lasts about a minute). */
const POLLER_FRESH_MS = 2 * 60_000;
/** temporal.api.enums.v1 values (TASK_QUEUE_KIND_NORMAL, TASK_QUEUE_TYPE_WORKFLOW): @temporalio/proto is not a direct dependency. */
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/** The facts of the workflow's latest run, or undefined when Temporal has no such workflow. */
export async function readWorkflowFacts(client: Client, workflowId: string, opts: { checkPollers?: boolean } = {}): Promise<WorkflowFacts | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  let desc: Awaited<ReturnType<typeof handle.describe>>;
  try {
    desc = await handle.describe();
    // A handle without a run id describes the newest run; a run closing as continued-as-new in
    // between is followed to its successor.
    for (let n = 0; desc.status.name === "CONTINUED_AS_NEW" && n < 5; n++) {
      await new Promise((r) => setTimeout(r, 100));
      desc = await handle.describe();
    }
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const facts: WorkflowFacts = {
    workflowId,
    runId: desc.runId,
    status: desc.status.name,
    taskQueue: desc.taskQueue,
    startTime: desc.startTime.toISOString(),
    ...(desc.closeTime ? { closeTime: desc.closeTime.toISOString() } : {}),
  };
  const sa = desc.typedSearchAttributes;
  const status = sa.get(CampaignStatusKey);
  const stage = sa.get(StageKey);
  const iteration = sa.get(IterationKey);
  if (status) facts.searchStatus = status;
  if (stage) facts.searchStage = stage;
  if (typeof iteration === "number") facts.searchIteration = iteration;

  const history = await client.workflow.getHandle(workflowId, desc.runId).fetchHistory();
  const decode = (p: unknown) => defaultPayloadConverter.fromPayload(p as Parameters<typeof defaultPayloadConverter.fromPayload>[0]);
  Object.assign(facts, historyFacts((history.events ?? []) as HistoryEventLike[], decode));
  // The memo (when the workflow sets one) names the output folder as the worker resolved it.
  const memoDir = memoOutputDir(desc.memo);
  if (memoDir) facts.outputDir = memoDir;

  if (opts.checkPollers !== false && facts.status === "RUNNING") facts.workerPolling = await workerPolling(client, desc.taskQueue);
  return facts;
}

function memoOutputDir(memo: Record<string, unknown> | undefined): string | undefined {
  for (const [k, v] of Object.entries(memo ?? {})) if (/^output_?dir$/i.test(k) && typeof v === "string" && v) return v;
  return undefined;
}

/** Whether any worker polled the workflow task queue lately; undefined when the server does not say. */
async function workerPolling(client: Client, taskQueue: string): Promise<boolean | undefined> {
  try {
    const r = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
      taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
    });
    const now = Date.now();
    return (r.pollers ?? []).some((p) => {
      const t = p.lastAccessTime;
      if (!t) return false;
      const ms = Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
      return now - ms < POLLER_FRESH_MS;
    });
  } catch {
    return undefined;
  }
}

/**
 * The newest campaign workflows on one workflow task queue, from one visibility query (one page of
 * at most `limit`): what `campaign list` adds for campaigns PostgreSQL has no record of.
 */
export async function listCampaignWorkflows(client: Client, opts: { taskQueue: string; limit: number }): Promise<ListedWorkflow[]> {
  const quote = (v: string) => `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  const query = `WorkflowType = 'campaignWorkflow' AND TaskQueue = ${quote(opts.taskQueue)}`;
  const out: ListedWorkflow[] = [];
  for await (const w of client.workflow.list({ query, pageSize: opts.limit })) {
    const sa = w.typedSearchAttributes.get(CampaignIdKey);
    out.push({
      workflowId: w.workflowId,
      campaignId: sa || (w.workflowId.startsWith("campaign-") ? w.workflowId.slice("campaign-".length) : w.workflowId),
      startTime: w.startTime.toISOString(),
      status: w.status.name,
      ...(w.closeTime ? { closeTime: w.closeTime.toISOString() } : {}),
    });
    // One page only: the iterator would fetch the next one.
    if (out.length >= opts.limit) break;
  }
  return out;
}
