/**
 * Activities: thin adapters from Temporal to the stage framework in src/. Built by a factory from
 * their dependencies so tests can pass a real database and a simulator endpoint.
 */
import { ApplicationFailure, Context } from "@temporalio/activity";
import { parseCampaignConfig, type CampaignConfig } from "../src/config/campaignConfig.js";
import type { Db } from "../src/db/client.js";
import { getCampaign, setCampaignStatus, upsertCampaign, upsertIteration } from "../src/db/repos/campaigns.js";
import { countSamples } from "../src/db/repos/samples.js";
import { beginStageRun, finishStageRun, getStageRun, listDoneBatches, recordBatchDone } from "../src/db/repos/stages.js";
import { upsertTools } from "../src/db/repos/tools.js";
import { LlmError } from "../src/llm/client.js";
import { STAGE_HANDLERS } from "../src/stages/registry.js";
import { StageInputError, sumBatchResults, type BatchResult, type StageContext, type StageDeps } from "../src/stages/types.js";
import { loadToolLibrary, toolHash } from "../src/tools/library.js";
import type { BatchCounts, RegisterCampaignInput, RegisterCampaignResult, StagePlanResult, StageRef } from "./types.js";

export interface ActivityDeps extends Omit<StageDeps, "db"> {
  /** Lazily opened database (workers open it once). */
  getDb(): Promise<Db>;
  /** Interval for background heartbeats while a batch waits on slow calls. */
  heartbeatIntervalMs?: number;
}

export function createActivities(deps: ActivityDeps) {
  async function loadConfig(db: Db, campaignId: string): Promise<CampaignConfig> {
    const row = await getCampaign(db, campaignId);
    if (!row) throw ApplicationFailure.nonRetryable(`campaign "${campaignId}" is not registered`, "UnknownCampaign");
    const parsed = parseCampaignConfig(row.config);
    if (!parsed.ok) throw ApplicationFailure.nonRetryable(parsed.error.message, "InvalidCampaignConfig");
    return parsed.config;
  }

  async function stageContext(ref: StageRef, signal: AbortSignal): Promise<{ ctx: StageContext; handler: (typeof STAGE_HANDLERS)[keyof typeof STAGE_HANDLERS] }> {
    const db = await deps.getDb();
    const config = await loadConfig(db, ref.campaignId);
    const stage = config.stages.find((s) => s.name === ref.stage);
    if (!stage) throw ApplicationFailure.nonRetryable(`stage "${ref.stage}" is not in campaign ${ref.campaignId}'s config`, "StageInputError");
    const handler = STAGE_HANDLERS[stage.name];
    return { ctx: { campaignId: ref.campaignId, iteration: ref.iteration, config, stage, deps: { ...deps, db }, signal }, handler };
  }

  /** Heartbeats on a timer while fn runs, so steps without their own progress survive the heartbeat timeout. */
  async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
    const actx = Context.current();
    const timer = setInterval(() => actx.heartbeat(), deps.heartbeatIntervalMs ?? 5000);
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
    const { ctx, handler } = await stageContext(ref, Context.current().cancellationSignal);
    const plan = await wrapErrors(() => handler.plan(ctx));
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
    const { ctx, handler } = await stageContext(ref, Context.current().cancellationSignal);
    const batches = (await listDoneBatches(db, ref)).map((d) => d.result as BatchResult);
    const summary = await wrapErrors(() => (handler.finalize ? handler.finalize(ctx, batches) : Promise.resolve(sumBatchResults(batches))));
    await finishStageRun(db, ref, "succeeded", summary);
    return summary;
  }

  return {
    async registerCampaign(input: RegisterCampaignInput): Promise<RegisterCampaignResult> {
      const parsed = parseCampaignConfig(input.config);
      if (!parsed.ok) throw ApplicationFailure.nonRetryable(parsed.error.message, "InvalidCampaignConfig");
      const db = await deps.getDb();
      const { tools, errors } = await loadToolLibrary(parsed.config.tools.sources, deps.baseDir);
      const messages = errors.map((e) => `${e.source}: ${e.message}`);
      for (const m of messages.slice(0, 50)) deps.log(`[tools] rejected: ${m}`);
      if (tools.length === 0) throw ApplicationFailure.nonRetryable(`no valid tools loaded (${errors.length} rejected): ${messages.slice(0, 3).join("; ")}`, "NoTools");
      await upsertCampaign(db, { id: input.campaignId, name: parsed.config.name, config: input.config });
      await upsertTools(db, input.campaignId, tools.map((t) => ({ tool: t.tool, source: t.source, domain: t.domain, hash: toolHash(t.tool) })));
      return { tools: tools.length, toolErrors: errors.length, toolErrorMessages: messages.slice(0, 10) };
    },

    async startIteration(ref: { campaignId: string; iteration: number }): Promise<void> {
      await upsertIteration(await deps.getDb(), { ...ref, status: "running" });
    },

    async finishIteration(ref: { campaignId: string; iteration: number; status: string }): Promise<Record<string, number>> {
      const db = await deps.getDb();
      const counts = await countSamples(db, ref.campaignId, ref.iteration);
      await upsertIteration(db, { ...ref, summary: { samples: counts } });
      return counts;
    },

    async setCampaignStatus(ref: { campaignId: string; status: string }): Promise<void> {
      await setCampaignStatus(await deps.getDb(), ref.campaignId, ref.status);
    },

    async planStage(ref: StageRef): Promise<StagePlanResult> {
      return withHeartbeat(() => planStage(ref));
    },

    async runStageBatch(ref: StageRef & { batchIndex: number }): Promise<BatchCounts> {
      const db = await deps.getDb();
      const already = (await listDoneBatches(db, ref)).find((d) => d.batchIndex === ref.batchIndex);
      if (already) return already.result as BatchCounts;
      const actx = Context.current();
      const { ctx, handler } = await stageContext(ref, actx.cancellationSignal);
      let latest: unknown = actx.info.heartbeatDetails;
      const timer = setInterval(() => actx.heartbeat(latest), deps.heartbeatIntervalMs ?? 5000);
      try {
        const result = await wrapErrors(() =>
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
    },

    async completeStage(ref: StageRef): Promise<Record<string, unknown>> {
      // finalize may run a long external step (e.g. the bfcl-eval summary): keep heartbeating.
      return withHeartbeat(() => completeStage(ref));
    },

    async recordStageOutcome(ref: StageRef & { status: "failed" | "skipped"; error?: string }): Promise<void> {
      await finishStageRun(await deps.getDb(), ref, ref.status, null, ref.error);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Maps our error kinds onto Temporal's retry semantics. */
async function wrapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StageInputError) throw ApplicationFailure.nonRetryable(err.message, "StageInputError");
    if (err instanceof LlmError) {
      throw ApplicationFailure.create({ message: err.message, type: `LlmError:${err.kind}`, nonRetryable: !err.retryable && err.kind === "client" });
    }
    throw err;
  }
}
