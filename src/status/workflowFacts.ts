/**
 * What Temporal says of a campaign workflow without asking a worker: the latest run's description
 * (status, search attributes, memo), its history (close reason, abort reason, output folder) and
 * whether any worker polls its task queue. Queries are never sent: they need a live worker.
 */
import { scheduledRunCampaignIdOf } from "../schedules/scheduledRun.js";
import { WorkflowNotFoundError, type Client } from "@temporalio/client";
import { defaultPayloadConverter } from "@temporalio/common";
import { CampaignIdKey, CampaignStatusKey, IterationKey, StageKey } from "../../workflows/searchAttributes.js";
import type { ListedWorkflow } from "./campaignList.js";
import type { WorkflowFacts } from "./campaignView.js";
import { historyFacts, type HistoryEventLike } from "./historyFacts.js";
import type { InflightBatch } from "./inflight.js";

/** A poller seen this recently counts as a live worker (an idle worker's long poll lasts about a minute). */
const POLLER_FRESH_MS = 2 * 60_000;
/** temporal.api.enums.v1 values (TASK_QUEUE_KIND_NORMAL, TASK_QUEUE_TYPE_WORKFLOW): @temporalio/proto is not a direct dependency. */
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;
/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED. */
const PENDING_ACTIVITY_STATE_STARTED = 2;
/** Workflow and activity type names (workflows/iteration.ts, stageBatches.ts; activities/index.ts). */
const ITERATION_WORKFLOW = "iterationWorkflow";
const CHUNK_WORKFLOW = "stageBatchesWorkflow";
const BATCH_ACTIVITY = "runStageBatch";
/** Reverse history pages read at most to find the pending batches' inputs (they are among the newest events). */
const MAX_REVERSE_PAGES = 20;

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
    workflowType: desc.type,
    status: desc.status.name,
    taskQueue: desc.taskQueue,
    startTime: desc.startTime.toISOString(),
    ...(desc.closeTime ? { closeTime: desc.closeTime.toISOString() } : {}),
  };
  const sa = desc.typedSearchAttributes;
  const status = sa.get(CampaignStatusKey);
  const stage = sa.get(StageKey);
  const iteration = sa.get(IterationKey);
  const campaignId = sa.get(CampaignIdKey);
  if (campaignId) facts.searchCampaignId = campaignId;
  if (status) facts.searchStatus = status;
  if (stage) facts.searchStage = stage;
  if (typeof iteration === "number") facts.searchIteration = iteration;
  // The iteration the campaign runs now: its child, as Temporal records it (a scheduled run's id is not campaign-<id>).
  const child = (desc.raw.pendingChildren ?? []).find((c) => c.workflowTypeName === ITERATION_WORKFLOW && c.workflowId);
  if (child?.workflowId) facts.iterationWorkflowId = child.workflowId;

  const history = await client.workflow.getHandle(workflowId, desc.runId).fetchHistory();
  const decode = (p: unknown) => defaultPayloadConverter.fromPayload(p as Parameters<typeof defaultPayloadConverter.fromPayload>[0]);
  Object.assign(facts, historyFacts((history.events ?? []) as HistoryEventLike[], decode));
  // The memo (when the workflow sets one) names the output folder as the worker resolved it.
  const memoDir = memoOutputDir(desc.memo);
  if (memoDir) facts.outputDir = memoDir;

  if (opts.checkPollers !== false && facts.status === "RUNNING") facts.workerPolling = await workerPolling(client, desc.taskQueue);
  return facts;
}

/**
 * The batch activities pending in a running iteration workflow and in its running chunk children
 * (workflows/stageBatches.ts), each with its batch (the activity's input, found in the newest
 * history events) and its latest heartbeat details: what `campaign status` and `start --wait` add
 * to the finished batches. Reads Temporal's records only (no query: no worker needed); a workflow
 * that is not running has none.
 */
export async function readInflightBatches(client: Client, iterationWorkflowId: string): Promise<InflightBatch[]> {
  const decode = payloadDecoder(client);
  const out: InflightBatch[] = [];
  const read = async (workflowId: string, runId?: string): Promise<readonly { workflowId?: string | null; workflowTypeName?: string | null }[]> => {
    let desc: Awaited<ReturnType<ReturnType<Client["workflow"]["getHandle"]>["describe"]>>;
    try {
      desc = await client.workflow.getHandle(workflowId, runId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return [];
      throw err;
    }
    if (desc.status.name !== "RUNNING") return [];
    const pending = (desc.raw.pendingActivities ?? []).filter((a) => a.activityType?.name === BATCH_ACTIVITY && a.activityId);
    if (pending.length > 0) {
      const inputs = await scheduledInputs(client, workflowId, desc.runId, new Set(pending.map((a) => a.activityId as string)), decode);
      for (const a of pending) {
        const ref = inputs.get(a.activityId as string) as { iteration?: unknown; stage?: unknown; batchIndex?: unknown } | undefined;
        if (typeof ref?.iteration !== "number" || typeof ref.stage !== "string" || typeof ref.batchIndex !== "number") continue;
        const payload = a.heartbeatDetails?.payloads?.[0];
        const failed = a.lastFailure;
        out.push({
          iteration: ref.iteration,
          stage: ref.stage,
          batchIndex: ref.batchIndex,
          details: payload ? await decode(payload).catch(() => undefined) : undefined,
          running: Number(a.state) === PENDING_ACTIVITY_STATE_STARTED,
          ...(failed
            ? { lastFailure: { attempt: Number(a.attempt ?? 0), type: failed.applicationFailureInfo?.type ?? "", message: failed.message ?? "" } }
            : {}),
        });
      }
    }
    return desc.raw.pendingChildren ?? [];
  };
  const children = await read(iterationWorkflowId);
  for (const c of children) if (c.workflowTypeName === CHUNK_WORKFLOW && c.workflowId) await read(c.workflowId);
  return out;
}

type PayloadLike = Parameters<Client["options"]["loadedDataConverter"]["payloadConverter"]["fromPayload"]>[0];

/** The client's own data converter: its codecs (decoded last to first), then its payload converter. */
function payloadDecoder(client: Client): (payload: unknown) => Promise<unknown> {
  const { payloadConverter, payloadCodecs } = client.options.loadedDataConverter;
  return async (payload) => {
    let p = payload as PayloadLike;
    for (const codec of [...payloadCodecs].reverse()) p = (await codec.decode([p]))[0] as PayloadLike;
    return payloadConverter.fromPayload(p);
  };
}

/**
 * The first input of the activities scheduled under these ids, from the run's history read newest
 * first: a pending activity was scheduled recently (lanes take batches in order), so a page or two
 * usually finds them all, however long the history.
 */
async function scheduledInputs(
  client: Client,
  workflowId: string,
  runId: string,
  ids: Set<string>,
  decode: (payload: unknown) => Promise<unknown>,
): Promise<Map<string, unknown>> {
  const found = new Map<string, unknown>();
  let nextPageToken: Uint8Array | undefined;
  for (let page = 0; page < MAX_REVERSE_PAGES && found.size < ids.size; page++) {
    const r = await client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 200,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const e of r.history?.events ?? []) {
      const a = e.activityTaskScheduledEventAttributes;
      if (!a?.activityId || !ids.has(a.activityId) || found.has(a.activityId)) continue;
      const payload = a.input?.payloads?.[0];
      found.set(a.activityId, payload ? await decode(payload).catch(() => undefined) : undefined);
    }
    if (!r.nextPageToken || r.nextPageToken.length === 0) break;
    nextPageToken = r.nextPageToken;
  }
  return found;
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
      // A schedule's run no worker has started has no CampaignId yet: the id it will register under.
      campaignId:
        sa || scheduledRunCampaignIdOf(w.workflowId) || (w.workflowId.startsWith("campaign-") ? w.workflowId.slice("campaign-".length) : w.workflowId),
      startTime: w.startTime.toISOString(),
      status: w.status.name,
      ...(w.closeTime ? { closeTime: w.closeTime.toISOString() } : {}),
    });
    // One page only: the iterator would fetch the next one.
    if (out.length >= opts.limit) break;
  }
  return out;
}
