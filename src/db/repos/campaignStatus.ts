/**
 * What `campaign status` and `campaign list` read from PostgreSQL: the campaign row, its latest
 * iteration, that iteration's stages in plan order with batch progress (done items, items finished
 * within the rate window) and cluster jobs. Reads only; works with no worker running.
 */
import { and, desc, eq, gt, inArray, isNotNull, lt, ne, or, sql } from "drizzle-orm";
import { planOf } from "../../config/frozen.js";
import type { JobClock, JobDeadlines } from "../../framework/jobClock.js";
import type { ContinuationFacts, DbFacts, JobFacts, ScheduledFacts, StageFacts } from "../../status/campaignView.js";
import { batchKey } from "../../status/inflight.js";
import { RATE_WINDOW_MS } from "../../status/progressLine.js";
import type { Db } from "../client.js";
import { continuedPolicyNote } from "../../training/servedPolicy.js";
import { LIVE_SERVE_STATES } from "../../training/servedPolicyJobs.js";
import { campaigns, clusterJobs, iterations, modelVersions, samples, stageBatches, stageRuns, stageSlotOutcomes } from "../schema.js";
import { configForIteration, latestConfig } from "./campaignConfigs.js";
import { lastCompletedIteration, recordedCampaignOutputDir } from "./campaigns.js";
import { REGISTERED_POLICY_KIND, startingPolicy } from "./continuation.js";
import { dialogueProgress } from "./dialogues.js";

/** The stage whose slots `status` counts for a stopped run (src/stages/synthesize/singleTurn). */
const SINGLE_TURN_STAGE = "synthesize.singleTurn";

/** Slots of a slot-numbered stage settled in an iteration: a sample stored under its slot key, or an outcome row. */
async function settledSlotCount(db: Db, campaignId: string, iteration: number, stage: string): Promise<number> {
  const [written] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.iteration, iteration), eq(samples.stage, stage), isNotNull(samples.slotKey)));
  const [other] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(stageSlotOutcomes)
    .where(and(eq(stageSlotOutcomes.campaignId, campaignId), eq(stageSlotOutcomes.iteration, iteration), eq(stageSlotOutcomes.stage, stage)));
  return Number(written?.n ?? 0) + Number(other?.n ?? 0);
}

/** Stage states whose batches may have stored slots without finishing (a failed batch leaves no stage_batches row). */
const SETTLED_SLOT_STATES: ReadonlySet<string> = new Set(["running", "failed", "skipped"]);

/** The stage whose progress `status` reads from its dialogues (src/stages/synthesize/multiTurn). */
const MULTI_TURN_STAGE = "synthesize.multiTurn";

const iso = (d: Date | null | undefined): string | undefined => (d ? d.toISOString() : undefined);

/** The schedule facts of a campaigns row (none for a campaign started by hand). */
function scheduledFacts(row: { scheduleId: string | null; scheduledAt: Date | null; continuesFrom: string | null }): ScheduledFacts | undefined {
  if (!row.scheduleId || !row.scheduledAt) return undefined;
  return { scheduleId: row.scheduleId, scheduledAt: row.scheduledAt.toISOString(), ...(row.continuesFrom ? { continuesFrom: row.continuesFrom } : {}) };
}

/** At most this many passed-over runs are named. */
const MAX_PASSED_OVER = 5;

/** The training stages whose baseModel decides whether a predecessor's policy is continued. */
const TRAINING_STAGES: ReadonlySet<string> = new Set(["train.sft", "train.grpo"]);

/**
 * What a scheduled run reads of the campaign it continues from (its latest completed iteration), the
 * predecessor's policy its training does not start from (trained from another base model than the
 * run's first training stage names, as startingPolicy decides), and the schedule's runs between them
 * that were passed over: running still, registered no policy, or running when this run registered.
 */
async function continuationFacts(
  db: Db,
  row: { id: string; scheduleId: string | null; scheduledAt: Date | null; continuesFrom: string | null },
): Promise<ContinuationFacts | undefined> {
  if (!row.scheduleId || !row.scheduledAt) return undefined;
  const facts: ContinuationFacts = {};
  let after: Date | undefined;
  if (row.continuesFrom) {
    const completed = await lastCompletedIteration(db, row.continuesFrom);
    if (completed > 0) facts.upToIteration = completed;
    const cfg = await configForIteration(db, row.id, 1);
    const stages = (cfg?.frozen.config.stages ?? []) as { name: string; baseModel?: unknown }[];
    const baseModel = stages.find((st) => TRAINING_STAGES.has(st.name) && typeof st.baseModel === "string")?.baseModel as string | undefined;
    const passed = baseModel !== undefined ? (await startingPolicy(db, row.id, 1, baseModel)).passedOver : undefined;
    if (passed) facts.policyNotTaken = { id: passed.id, baseModel: passed.baseModel, configuredBaseModel: baseModel as string };
    const from = (await db.select({ at: campaigns.scheduledAt }).from(campaigns).where(eq(campaigns.id, row.continuesFrom)).limit(1))[0];
    after = from?.at ?? undefined;
  }
  const between = await db
    .select({ id: campaigns.id, status: campaigns.status })
    .from(campaigns)
    .where(
      and(
        eq(campaigns.scheduleId, row.scheduleId),
        lt(campaigns.scheduledAt, row.scheduledAt),
        after ? gt(campaigns.scheduledAt, after) : undefined,
        ne(campaigns.id, row.id),
      ),
    )
    .orderBy(desc(campaigns.scheduledAt))
    .limit(MAX_PASSED_OVER);
  const ids = between.map((r) => r.id);
  const trained = new Set(
    ids.length === 0
      ? []
      : (
          await db
            .selectDistinct({ id: modelVersions.campaignId })
            .from(modelVersions)
            .where(and(inArray(modelVersions.campaignId, ids), eq(modelVersions.kind, REGISTERED_POLICY_KIND)))
        ).map((r) => r.id),
  );
  const passedOver = between.map((r) => ({
    campaignId: r.id,
    why: r.status === "running" ? "still running" : !trained.has(r.id) ? "registered no policy" : "still running when this run registered",
  }));
  if (passedOver.length > 0) facts.passedOver = passedOver;
  return facts;
}

/** The warning a finished stage's summary carries (synthesize.multiTurn's when it kept no dialogue: src/dialogue/noneKept.ts). */
function warningOf(result: unknown): string | undefined {
  const w = typeof result === "object" && result !== null ? (result as { warning?: unknown }).warning : undefined;
  return typeof w === "string" && w !== "" ? w : undefined;
}

/** The campaign's facts, or undefined when PostgreSQL has no campaign with this id. */
export async function readCampaignFacts(db: Db, campaignId: string, windowMs = RATE_WINDOW_MS): Promise<DbFacts | undefined> {
  const row = (await db.select().from(campaigns).where(eq(campaigns.id, campaignId)).limit(1))[0];
  if (!row) return undefined;
  const nowRow = await db.execute<{ now: Date | string }>(sql`select now() as now`);
  const nowMs = new Date(resultRows<{ now: Date | string }>(nowRow)[0]?.now ?? Date.now()).getTime();
  const it = (await db.select().from(iterations).where(eq(iterations.campaignId, campaignId)).orderBy(desc(iterations.iteration)).limit(1))[0];
  const latest = await latestConfig(db, campaignId);
  const facts: DbFacts = {
    campaignId,
    name: row.name,
    status: row.status,
    ...(row.workflowId ? { workflowId: row.workflowId } : {}),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    ...(scheduledFacts(row) ? { schedule: scheduledFacts(row), continuation: await continuationFacts(db, row) } : {}),
    stages: [],
    nowMs,
    ...(latest
      ? {
          iterationsTotal: latest.frozen.config.iterations,
          onStageFailure: latest.frozen.config.onStageFailure,
          configHash: latest.sha256,
          outputDirSetting: latest.frozen.config.output.dir,
        }
      : {}),
  };
  const recorded = await recordedCampaignOutputDir(db, campaignId);
  if (recorded) facts.outputDirRecorded = recorded.dir;
  const servers = await livePolicyServers(db, campaignId);
  if (servers.length > 0) facts.policyServers = servers;
  const down = await endedPolicyServer(db, campaignId);
  if (down) facts.policyServerDown = down;
  // Stage rows of an iteration not recorded yet (between registration and startIteration) still tell the truth.
  const n = it?.iteration ?? (await latestStageIteration(db, campaignId));
  if (row.continuesFrom) {
    const inForce = await configForIteration(db, campaignId, n ?? 1);
    const note = inForce ? await continuedPolicyNote(db, campaignId, inForce.frozen.config, n ?? 1) : undefined;
    if (note) facts.continuedPolicy = note;
  }
  if (n === undefined) return facts;
  if (it) facts.iteration = { n, status: it.status, startedAt: it.startedAt.toISOString(), ...(it.finishedAt ? { finishedAt: iso(it.finishedAt) } : {}) };
  else facts.iteration = { n, status: "running", startedAt: new Date(nowMs).toISOString() };

  const runs = await db
    .select()
    .from(stageRuns)
    .where(and(eq(stageRuns.campaignId, campaignId), eq(stageRuns.iteration, n)));
  const windowStart = new Date(nowMs - windowMs);
  const batches = await db
    .select({
      stage: stageBatches.stage,
      batches: sql<number>`count(*)::int`,
      items: sql<number>`coalesce(sum((${stageBatches.result}->>'items')::bigint), 0)::bigint`,
      windowItems: sql<number>`coalesce(sum((${stageBatches.result}->>'items')::bigint) filter (where ${stageBatches.finishedAt} > ${windowStart.toISOString()}::timestamptz), 0)::bigint`,
    })
    .from(stageBatches)
    .where(and(eq(stageBatches.campaignId, campaignId), eq(stageBatches.iteration, n)))
    .groupBy(stageBatches.stage);
  const jobs = await db
    .select()
    .from(clusterJobs)
    .where(and(eq(clusterJobs.campaignId, campaignId), eq(clusterJobs.iteration, n)))
    .orderBy(desc(clusterJobs.attempt));

  // Plan order from the config in force for the iteration; stages run outside it (renamed) follow.
  const cfg = await configForIteration(db, campaignId, n);
  const planned = cfg ? planOf(campaignId, cfg.frozen, cfg.version, cfg.sha256, n).stages.map((s) => s.name) : [];
  const byStart = [...runs].sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime()).map((r) => r.stage);
  const names = [...planned, ...byStart.filter((s) => !planned.includes(s))];

  facts.stages = names.map((name): StageFacts => {
    const r = runs.find((x) => x.stage === name);
    const b = batches.find((x) => x.stage === name);
    const j = jobs.find((x) => x.stage === name);
    return {
      name,
      status: r?.status ?? "pending",
      attempts: r?.attempts ?? 0,
      ...(r?.error ? { error: r.error } : {}),
      ...(warningOf(r?.result) ? { warning: warningOf(r?.result) } : {}),
      ...(r?.batchesTotal != null ? { batchesTotal: r.batchesTotal } : {}),
      batchesDone: Number(b?.batches ?? 0),
      ...(r?.itemsTotal != null ? { itemsTotal: r.itemsTotal } : {}),
      itemsDone: Number(b?.items ?? 0),
      windowItems: Number(b?.windowItems ?? 0),
      ...(r ? { startedAt: r.startedAt.toISOString() } : {}),
      ...(r?.finishedAt ? { finishedAt: r.finishedAt.toISOString() } : {}),
      ...(j ? { job: jobFacts(j) } : {}),
    };
  });
  // Single-turn slots are durable one by one: what a stage stopped mid-batch (an abort) or failed in
  // its batches (waiting for an operator, skipped, or failing the campaign) had stored.
  for (const s of facts.stages)
    if (s.name === SINGLE_TURN_STAGE && SETTLED_SLOT_STATES.has(s.status)) s.settledSlots = await settledSlotCount(db, campaignId, n, s.name);
  // A multi-turn batch runs for minutes: its dialogues, not its batches, show the stage moving.
  for (const s of facts.stages) {
    if (s.name !== MULTI_TURN_STAGE || s.status === "pending") continue;
    const d = await dialogueProgress(db, campaignId, n, windowStart);
    s.dialogues = { running: d.running, kept: d.kept, keptUnfinished: d.keptUnfinished, dropped: d.dropped, failed: d.failed, messages: d.messages };
    s.itemsDone = Math.max(s.itemsDone, d.kept + d.dropped + d.failed);
    if (s.status === "running") s.windowItems = Math.max(s.windowItems, d.settledSince);
  }
  return facts;
}

/** serve.policy jobs last recorded live whose served version was not stopped: servers that may hold GPUs. */
export async function livePolicyServers(db: Db, campaignId: string): Promise<NonNullable<DbFacts["policyServers"]>> {
  const rows = await db
    .select({ iteration: clusterJobs.iteration, job: clusterJobs.name, url: modelVersions.url, stoppedAt: modelVersions.stoppedAt })
    .from(clusterJobs)
    .leftJoin(modelVersions, and(eq(modelVersions.jobName, clusterJobs.name), eq(modelVersions.kind, "served")))
    .where(and(eq(clusterJobs.campaignId, campaignId), eq(clusterJobs.stage, "serve.policy"), inArray(clusterJobs.state, LIVE_SERVE_STATES)))
    .orderBy(clusterJobs.iteration);
  return rows.filter((r) => !r.stoppedAt).map((r) => ({ iteration: r.iteration, job: r.job, ...(r.url ? { url: r.url } : {}) }));
}

/**
 * The campaign's newest served version, when its job is recorded as ended by itself (not cancelled:
 * a `model stop` or a newer iteration's server stopped it on purpose): the server later stages call
 * is not running. Only what PostgreSQL records; asking the launcher is the caller's.
 */
export async function endedPolicyServer(db: Db, campaignId: string): Promise<DbFacts["policyServerDown"]> {
  const rows = await db
    .select({
      iteration: modelVersions.iteration,
      url: modelVersions.url,
      job: clusterJobs.name,
      launcher: clusterJobs.launcher,
      state: clusterJobs.state,
      exitCode: clusterJobs.exitCode,
      message: clusterJobs.message,
    })
    .from(modelVersions)
    .innerJoin(clusterJobs, eq(clusterJobs.name, modelVersions.jobName))
    .where(and(eq(modelVersions.campaignId, campaignId), eq(modelVersions.kind, "served")))
    .orderBy(desc(modelVersions.iteration))
    .limit(1);
  const r = rows[0];
  if (!r || LIVE_SERVE_STATES.includes(r.state) || r.state === "cancelled") return undefined;
  return {
    iteration: r.iteration,
    job: r.job,
    launcher: r.launcher,
    state: r.state,
    ...(r.exitCode !== null ? { exitCode: r.exitCode } : {}),
    ...(r.message ? { message: r.message } : {}),
    ...(r.url ? { url: r.url } : {}),
  };
}

/**
 * Which of these batches have their stage_batches row (finished), as `batchKey`s: a batch whose
 * activity Temporal still lists as pending may have written its row a moment ago.
 */
export async function finishedBatchKeys(db: Db, campaignId: string, iteration: number, batches: { stage: string; batchIndex: number }[]): Promise<Set<string>> {
  const out = new Set<string>();
  const stages = [...new Set(batches.map((b) => b.stage))];
  if (stages.length === 0) return out;
  const rows = await db
    .select({ stage: stageBatches.stage, batchIndex: stageBatches.batchIndex })
    .from(stageBatches)
    .where(
      and(
        eq(stageBatches.campaignId, campaignId),
        eq(stageBatches.iteration, iteration),
        inArray(stageBatches.stage, stages),
        inArray(
          stageBatches.batchIndex,
          batches.map((b) => b.batchIndex),
        ),
      ),
    );
  for (const r of rows) out.add(batchKey(r.stage, r.batchIndex));
  return out;
}

function jobFacts(j: typeof clusterJobs.$inferSelect): JobFacts {
  const p = (j.progress ?? {}) as {
    done?: unknown;
    total?: unknown;
    metrics?: unknown;
    clock?: JobClock;
    watch?: Partial<JobDeadlines> & { completion?: unknown };
  };
  const metrics: Record<string, number> = {};
  if (p.metrics && typeof p.metrics === "object") for (const [k, v] of Object.entries(p.metrics)) if (typeof v === "number") metrics[k] = v;
  return {
    name: j.name,
    state: j.state,
    ...(j.message ? { message: j.message.split("\n")[0] } : {}),
    ...(typeof p.done === "number" ? { done: p.done } : {}),
    ...(typeof p.total === "number" ? { total: p.total } : {}),
    ...(Object.keys(metrics).length > 0 ? { metrics } : {}),
    ...(p.watch && (p.watch.completion === "exit" || p.watch.completion === "ready")
      ? {
          watch: {
            completion: p.watch.completion,
            ...(p.clock?.runningSince ? { runningSince: p.clock.runningSince } : {}),
            ...(p.clock?.advancedAt ? { advancedAt: p.clock.advancedAt } : {}),
            ...(typeof p.watch.readyTimeoutMs === "number" ? { readyTimeoutMs: p.watch.readyTimeoutMs } : {}),
            ...(typeof p.watch.stallTimeoutMs === "number" ? { stallTimeoutMs: p.watch.stallTimeoutMs } : {}),
          },
        }
      : {}),
  };
}

async function latestStageIteration(db: Db, campaignId: string): Promise<number | undefined> {
  const rows = await db
    .select({ n: sql<number | null>`max(${stageRuns.iteration})` })
    .from(stageRuns)
    .where(eq(stageRuns.campaignId, campaignId));
  const n = rows[0]?.n;
  return n === null || n === undefined ? undefined : Number(n);
}

export interface CampaignListRow {
  campaignId: string;
  name: string;
  status: string;
  /** The campaign workflow's id when registration recorded it. */
  workflowId?: string;
  createdAt: string;
  updatedAt: string;
  /** Set when a schedule started it. */
  schedule?: ScheduledFacts;
  iteration?: number;
  iterationsTotal?: number;
  /** The stage running or failed last in the latest iteration. */
  stage?: string;
  stageStatus?: string;
  stageError?: string;
}

/** The newest campaigns first (by last update), with their latest iteration and stage. */
export async function listCampaignRows(db: Db, opts: { limit: number; since?: Date }): Promise<CampaignListRow[]> {
  const rows = await db
    .select()
    .from(campaigns)
    .where(opts.since ? gt(campaigns.updatedAt, opts.since) : undefined)
    .orderBy(desc(campaigns.updatedAt), desc(campaigns.createdAt))
    .limit(opts.limit);
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const its = await db
    .select({ campaignId: iterations.campaignId, n: sql<number>`max(${iterations.iteration})::int` })
    .from(iterations)
    .where(inArray(iterations.campaignId, ids))
    .groupBy(iterations.campaignId);
  // The latest stage run per campaign (in its latest iteration): what an operator looks at first.
  const stages = await db
    .selectDistinctOn([stageRuns.campaignId], {
      campaignId: stageRuns.campaignId,
      iteration: stageRuns.iteration,
      stage: stageRuns.stage,
      status: stageRuns.status,
      error: stageRuns.error,
    })
    .from(stageRuns)
    .where(inArray(stageRuns.campaignId, ids))
    .orderBy(stageRuns.campaignId, desc(stageRuns.iteration), desc(stageRuns.startedAt));
  const out: CampaignListRow[] = [];
  for (const r of rows) {
    const cfg = await latestConfig(db, r.id);
    const it = its.find((x) => x.campaignId === r.id);
    const st = stages.find((x) => x.campaignId === r.id);
    const n = it ? Number(it.n) : st?.iteration;
    out.push({
      campaignId: r.id,
      name: r.name,
      status: r.status,
      ...(r.workflowId ? { workflowId: r.workflowId } : {}),
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
      ...(scheduledFacts(r) ? { schedule: scheduledFacts(r) } : {}),
      ...(n !== undefined ? { iteration: n } : {}),
      ...(cfg ? { iterationsTotal: cfg.frozen.config.iterations } : {}),
      ...(st && st.iteration === n ? { stage: st.stage, stageStatus: st.status, ...(st.error ? { stageError: st.error } : {}) } : {}),
    });
  }
  return out;
}

/**
 * Which of these campaign workflows PostgreSQL has a campaign for (by campaign id or by the workflow
 * id registration recorded): one query for a whole `campaign list` page.
 */
export async function registeredCampaigns(
  db: Db,
  candidates: { campaignId: string; workflowId: string }[],
): Promise<{ ids: Set<string>; workflowIds: Set<string> }> {
  const ids = new Set<string>();
  const workflowIds = new Set<string>();
  if (candidates.length === 0) return { ids, workflowIds };
  const rows = await db
    .select({ id: campaigns.id, workflowId: campaigns.workflowId })
    .from(campaigns)
    .where(
      or(
        inArray(
          campaigns.id,
          candidates.map((c) => c.campaignId),
        ),
        inArray(
          campaigns.workflowId,
          candidates.map((c) => c.workflowId),
        ),
      ),
    );
  for (const r of rows) {
    ids.add(r.id);
    if (r.workflowId) workflowIds.add(r.workflowId);
  }
  return { ids, workflowIds };
}

/** Rows of db.execute(): node-postgres returns { rows }, PGlite returns { rows } too; some drivers an array. */
function resultRows<T>(r: unknown): T[] {
  if (Array.isArray(r)) return r as T[];
  return ((r as { rows?: T[] }).rows ?? []) as T[];
}
