/**
 * Activities: thin adapters from Temporal to the stage framework in src/. Built by a factory from
 * their dependencies so tests can pass a real database and a simulator endpoint.
 */
import { ApplicationFailure, Context } from "@temporalio/activity";
import { parseCampaignConfig, type CampaignConfig } from "../src/config/campaignConfig.js";
import type { Db } from "../src/db/client.js";
import { getCampaign, setCampaignStatus, upsertCampaign, upsertIteration } from "../src/db/repos/campaigns.js";
import type { CampaignRowStatus, IterationRowStatus } from "../src/db/schema.js";
import { countSamples } from "../src/db/repos/samples.js";
import { beginStageRun, finishStageRun, getStageRun, listDoneBatches, recordBatchDone } from "../src/db/repos/stages.js";
import { upsertTools } from "../src/db/repos/tools.js";
import { ErrorType } from "../src/errorTypes.js";
import { STAGE_HANDLERS } from "../src/stages/registry.js";
import { RequestLedger } from "../src/stages/requestLedger.js";
import { sumBatchResults, type BatchResult, type StageContext, type StageDeps } from "../src/stages/types.js";
import { loadToolLibrary } from "../src/tools/library.js";
import { toolHash } from "../src/tools/hash.js";
import { FAILURE_BUDGET, withFailurePolicy } from "./failurePolicy.js";
import type { BatchCounts, RegisterCampaignInput, RegisterCampaignResult, StagePlanResult, StageRef } from "./types.js";

export interface ActivityDeps extends Omit<StageDeps, "db"> {
  /** Lazily opened database (workers open it once). */
  getDb(): Promise<Db>;
  /** Interval for background heartbeats while a batch waits on slow calls (default 1 s: the heartbeat timeout is short so a lost worker's batches move on fast). */
  heartbeatIntervalMs?: number;
  /** Application failures an activity may have before it gives up (infrastructure failures are not counted). */
  failureBudget?: { batch: number; bookkeeping: number };
}

export function createActivities(deps: ActivityDeps) {
  async function loadConfig(db: Db, campaignId: string): Promise<CampaignConfig> {
    const row = await getCampaign(db, campaignId);
    if (!row) throw ApplicationFailure.nonRetryable(`campaign "${campaignId}" is not registered`, ErrorType.unknownCampaign);
    const parsed = parseCampaignConfig(row.config);
    if (!parsed.ok) throw ApplicationFailure.nonRetryable(parsed.error.message, ErrorType.invalidConfig);
    return parsed.config;
  }

  const heartbeatIntervalMs = deps.heartbeatIntervalMs ?? 1000;
  const budget = deps.failureBudget ?? FAILURE_BUDGET;
  const asBatch = { getDb: deps.getDb, budget: budget.batch };
  const asBookkeeping = { getDb: deps.getDb, budget: budget.bookkeeping };

  /**
   * The stage's context for one step (plan, a batch, finalize): its role clients record every
   * request in a ledger that is drained before the step returns, whether it succeeded or not.
   */
  async function withStageContext<T>(
    ref: StageRef & { batchIndex?: number },
    fn: (ctx: StageContext, handler: (typeof STAGE_HANDLERS)[keyof typeof STAGE_HANDLERS]) => Promise<T>,
  ): Promise<T> {
    const db = await deps.getDb();
    const config = await loadConfig(db, ref.campaignId);
    const stage = config.stages.find((s) => s.name === ref.stage);
    if (!stage) throw ApplicationFailure.nonRetryable(`stage "${ref.stage}" is not in campaign ${ref.campaignId}'s config`, ErrorType.stageInput);
    const handler = STAGE_HANDLERS[stage.name];
    const ledger = new RequestLedger(db, { campaignId: ref.campaignId, iteration: ref.iteration, stage: ref.stage, batchIndex: ref.batchIndex ?? null });
    const ctx: StageContext = {
      campaignId: ref.campaignId,
      iteration: ref.iteration,
      config,
      stage,
      deps: { ...deps, db },
      signal: Context.current().cancellationSignal,
      llm: (role) => deps.createLlm(config, role, ledger),
    };
    let result: T;
    try {
      result = await fn(ctx, handler);
    } catch (err) {
      // Outcomes of requests already made are still written; the step's own error is what matters.
      await ledger.drain().catch((drainErr: unknown) => deps.log(`[usage] request ledger not fully written: ${String(drainErr)}`));
      throw err;
    }
    await ledger.drain();
    return result;
  }

  /** Heartbeats on a timer while fn runs, so steps without their own progress survive the heartbeat timeout. */
  async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
    const actx = Context.current();
    const timer = setInterval(() => actx.heartbeat(), heartbeatIntervalMs);
    try {
      return await fn();
    } finally {
      clearInterval(timer);
    }
  }

  async function planStage(ref: StageRef): Promise<StagePlanResult> {
    const db = await deps.getDb();
    const existing = await getStageRun(db, ref);
    if (existing && (existing.status === "succeeded" || existing.status === "skipped")) {
      return { alreadyDone: true, status: existing.status, result: (existing.result as Record<string, unknown> | null) ?? null };
    }
    const plan = await withStageContext(ref, (ctx, handler) => handler.plan(ctx));
    await beginStageRun(db, ref, plan.batches);
    const done = await listDoneBatches(db, ref);
    const doneSet = new Set(done.map((d) => d.batchIndex));
    const pendingBatches: number[] = [];
    for (let b = 0; b < plan.batches; b++) if (!doneSet.has(b)) pendingBatches.push(b);
    const doneCounts = sumBatchResults(done.map((d) => d.result as BatchResult));
    return { alreadyDone: false, batches: plan.batches, items: plan.items, pendingBatches, doneItems: doneCounts.items ?? 0, doneCounts };
  }

  async function completeStage(ref: StageRef): Promise<Record<string, unknown>> {
    const db = await deps.getDb();
    const batches = (await listDoneBatches(db, ref)).map((d) => d.result as BatchResult);
    const summary = await withStageContext(ref, (ctx, handler) => (handler.finalize ? handler.finalize(ctx, batches) : Promise.resolve(sumBatchResults(batches))));
    await finishStageRun(db, ref, "succeeded", summary);
    return summary;
  }

  return {
    // Bookkeeping heartbeats too: a lost worker's activity is retried within seconds, not at its start-to-close timeout.
    registerCampaign: (input: RegisterCampaignInput) => withFailurePolicy(asBookkeeping, () => withHeartbeat(() => registerCampaign(input))),

    async startIteration(ref: { campaignId: string; iteration: number }): Promise<void> {
      await withFailurePolicy(asBookkeeping, () => withHeartbeat(async () => upsertIteration(await deps.getDb(), { ...ref, status: "running" })));
    },

    finishIteration: (ref: { campaignId: string; iteration: number; status: Exclude<IterationRowStatus, "running"> }): Promise<Record<string, number>> =>
      withFailurePolicy(asBookkeeping, () =>
        withHeartbeat(async () => {
          const db = await deps.getDb();
          const counts = await countSamples(db, ref.campaignId, ref.iteration);
          await upsertIteration(db, { ...ref, summary: { samples: counts } });
          return counts;
        }),
      ),

    async setCampaignStatus(ref: { campaignId: string; status: Exclude<CampaignRowStatus, "running"> }): Promise<void> {
      await withFailurePolicy(asBookkeeping, () => withHeartbeat(async () => setCampaignStatus(await deps.getDb(), ref.campaignId, ref.status)));
    },

    planStage: (ref: StageRef): Promise<StagePlanResult> => withFailurePolicy(asBookkeeping, () => withHeartbeat(() => planStage(ref))),

    runStageBatch: (ref: StageRef & { batchIndex: number }): Promise<BatchCounts> => withFailurePolicy(asBatch, () => runStageBatch(ref)),

    // finalize may run a long external step (e.g. the bfcl-eval summary): keep heartbeating.
    completeStage: (ref: StageRef): Promise<Record<string, unknown>> => withFailurePolicy(asBatch, () => withHeartbeat(() => completeStage(ref))),

    async recordStageOutcome(ref: StageRef & { status: "failed" | "skipped"; error?: string }): Promise<void> {
      await withFailurePolicy(asBookkeeping, () => withHeartbeat(async () => finishStageRun(await deps.getDb(), ref, ref.status, null, ref.error)));
    },
  };

  async function registerCampaign(input: RegisterCampaignInput): Promise<RegisterCampaignResult> {
    const parsed = parseCampaignConfig(input.config);
    if (!parsed.ok) throw ApplicationFailure.nonRetryable(parsed.error.message, ErrorType.invalidConfig);
    const db = await deps.getDb();
    const { tools, errors } = await loadToolLibrary(parsed.config.tools.sources, deps.baseDir);
    const messages = errors.map((e) => `${e.source}: ${e.message}`);
    for (const m of messages.slice(0, 50)) deps.log(`[tools] rejected: ${m}`);
    if (tools.length === 0) throw ApplicationFailure.nonRetryable(`no valid tools loaded (${errors.length} rejected): ${messages.slice(0, 3).join("; ")}`, ErrorType.noTools);
    await upsertCampaign(db, { id: input.campaignId, name: parsed.config.name, config: input.config });
    await upsertTools(db, input.campaignId, tools.map((t) => ({ tool: t.tool, source: t.source, domain: t.domain, hash: toolHash(t.tool) })));
    return { tools: tools.length, toolErrors: errors.length, toolErrorMessages: messages.slice(0, 10) };
  }

  async function runStageBatch(ref: StageRef & { batchIndex: number }): Promise<BatchCounts> {
    const db = await deps.getDb();
    const already = (await listDoneBatches(db, ref)).find((d) => d.batchIndex === ref.batchIndex);
    if (already) return already.result as BatchCounts;
    const actx = Context.current();
    let latest: unknown = actx.info.heartbeatDetails;
    const timer = setInterval(() => actx.heartbeat(latest), heartbeatIntervalMs);
    try {
      const result = await withStageContext(ref, (ctx, handler) =>
        handler.runBatch(ctx, ref.batchIndex, {
          resumeFrom: actx.info.heartbeatDetails,
          report: (d: unknown) => {
            latest = d;
            actx.heartbeat(d);
          },
        }),
      );
      await recordBatchDone(db, ref, ref.batchIndex, result);
      return result as BatchCounts;
    } finally {
      clearInterval(timer);
    }
  }
}

export type Activities = ReturnType<typeof createActivities>;
