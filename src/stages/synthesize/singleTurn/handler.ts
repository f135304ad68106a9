/**
 * Single-turn synthesis (InfTool): every sample is a numbered slot of the iteration; a batch owns a
 * contiguous range of slots. Every slot's outcome is durable — a sample stored under its slot key,
 * or an outcome row (the model failed, or the sample duplicated one already stored) — so a crashed or
 * retried batch generates only the slots still open, and its counters, read back from the database,
 * count each slot exactly once however many attempts it took. With completeTrajectory on, a sample
 * whose label calls tools is completed (src/synthesis/trajectory.ts) before it is written, so its
 * trajectory is durable with it.
 */
import type { StageConfigOf } from "../../specs.js";
import { insertSamplesWritten, type NewSample } from "../../../db/repos/samples.js";
import { insertSlotOutcomes, settledSlots, type SlotOutcomeRow } from "../../../db/repos/slotOutcomes.js";
import { listTools } from "../../../db/repos/tools.js";
import type { McpTool, SampleKind, SingleTurnKind } from "../../../domain/types.js";
import { isItemFailure } from "../../../llm/errors.js";
import { resolveRole } from "../../../llm/roles.js";
import { planSingleTurnKinds, synthesizeSingleTurn, ToolSelector } from "../../../synthesis/singleTurn.js";
import { completeTrajectory } from "../../../synthesis/trajectory.js";
import { ToolRenderCache } from "../../../synthesis/prompts.js";
import { LlmToolServer } from "../../../dialogue/llmToolServer.js";
import { sampleId, ToolJsonCache } from "../../../util/ids.js";
import { StageInputError, type BatchResult, type StageHandler } from "../../../framework/stage.js";
import { BatchAbort } from "../../../framework/batchAbort.js";
import { WriteBuffer } from "../../../framework/writeBuffer.js";
import { forEachConcurrently } from "../../../util/concurrently.js";

type SynthStage = StageConfigOf<"synthesize.singleTurn">;

/** Heartbeat details (progress for operators; the database, not these, decides what is left to do). */
export interface SynthesisProgress {
  /** Slots of the batch settled so far, this attempt and earlier ones together. */
  settled: number;
  total: number;
  written: number;
  failed: number;
  duplicates: number;
}

export const slotKey = (campaignId: string, iteration: number, slot: number) => `${campaignId}/${iteration}/synthesize.singleTurn/${slot}`;

/**
 * A finished sample waits at most this long (or for this many others) before it is written. A write
 * is three statements (insert, then the slots' outcomes read back): every 200 ms per batch they were
 * most of the database's transactions per LLM request; at 1 s progress still shows every second.
 */
const FLUSH_EVERY = 200;
const FLUSH_AFTER_MS = 1000;

type Settled = { slot: number; row: NewSample } | { slot: number; outcome: "failed"; detail: string };

export const synthesizeSingleTurnHandler: StageHandler<SynthStage, SynthesisProgress> = {
  name: "synthesize.singleTurn",

  async plan(ctx) {
    return { batches: Math.ceil(ctx.stage.count / ctx.stage.batchSize), items: ctx.stage.count };
  },

  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    const { db } = ctx.deps;
    const { stage, campaignId, iteration, config } = ctx;
    const start = batchIndex * stage.batchSize;
    const end = Math.min(stage.count, start + stage.batchSize);
    if (start >= end) throw new StageInputError(`batch ${batchIndex} is outside the plan (count ${stage.count}, batchSize ${stage.batchSize})`);

    const library = (await listTools(db, campaignId)).map((r) => r.tool);
    if (library.length === 0) throw new StageInputError(`campaign ${campaignId} has no tools loaded`);
    const kinds = planSingleTurnKinds({ count: stage.count, mix: stage.mix, seed: config.seed, iteration });
    // Per batch, not per slot: the library's order and rankings, and each tool's canonical JSON for ids.
    const selector = new ToolSelector(library, {
      seed: config.seed,
      iteration,
      toolsPerSample: stage.toolsPerSample,
      maxParallelCalls: stage.maxParallelCalls,
    });
    const toolJson = new ToolJsonCache();
    const toolRender = new ToolRenderCache();

    const slots = range(start, end);
    const keys = slots.map((s) => slotKey(campaignId, iteration, s));
    const before = await settledSlots(db, keys);
    const state: SynthesisProgress = { settled: 0, total: end - start, written: 0, failed: 0, duplicates: 0 };
    for (const outcome of before.values()) countOutcome(state, outcome);
    progress.report({ ...state });

    const generator = ctx.llm("generator");
    // Configs frozen before completeTrajectory existed have none: off.
    const trajectories = (stage.completeTrajectory as typeof stage.completeTrajectory | undefined) ?? { enabled: false, maxRounds: 4 };
    const toolServer = trajectories.enabled ? new LlmToolServer(ctx.llm("toolServer")) : undefined;
    const roles = toolServer ? ["generator", "toolServer"] : ["generator"];
    // Stop the whole batch on the first transport failure: the endpoint is down, retrying per slot is waste.
    const batch = new BatchAbort(ctx.signal);
    const fail = batch.fail;

    // Finished slots are written in small groups, one write at a time, in order.
    const writeSettled = async (chunk: Settled[]) => {
      const rows = chunk.flatMap((c) => ("row" in c ? [c.row] : []));
      // By slot key, not id: two slots of one write may produce the same content (one id); one is written.
      const written = (await insertSamplesWritten(db, rows)).slotKeys;
      const outcomes: SlotOutcomeRow[] = [];
      for (const c of chunk) {
        const key = slotKey(campaignId, iteration, c.slot);
        if ("outcome" in c) outcomes.push({ slotKey: key, campaignId, iteration, stage: stage.name, slot: c.slot, outcome: "failed", detail: c.detail });
        else if (!written.has(key))
          outcomes.push({ slotKey: key, campaignId, iteration, stage: stage.name, slot: c.slot, outcome: "duplicate", detail: c.row.id as string });
      }
      // A row not written is either a duplicate of stored content or a slot another attempt settled
      // meanwhile (a zombie attempt after a heartbeat timeout): the slot key tells which.
      const settledElsewhere = await settledSlots(
        db,
        outcomes.filter((o) => o.outcome === "duplicate").map((o) => o.slotKey),
      );
      await insertSlotOutcomes(
        db,
        outcomes.filter((o) => !settledElsewhere.has(o.slotKey)),
      );
      const now = await settledSlots(
        db,
        chunk.map((c) => slotKey(campaignId, iteration, c.slot)),
      );
      for (const outcome of now.values()) countOutcome(state, outcome);
      progress.report({ ...state });
    };
    const writes = new WriteBuffer<Settled>(writeSettled, fail, { every: FLUSH_EVERY, afterMs: FLUSH_AFTER_MS });
    const settle = (item: Settled) => writes.push(item);

    const todo = slots.filter((s, i) => !before.has(keys[i] as string));
    await forEachConcurrently(todo, resolveRole(config, "generator").endpoint.maxConcurrency, async (slot) => {
      if (batch.signal.aborted) return;
      const kind = kinds[slot] as SingleTurnKind;
      const { targets, offered } = selector.select(kind, slot);
      try {
        const s = await synthesizeSingleTurn({ kind, targets, offered, generator, signal: batch.signal, toolRender });
        const label = s.messages[s.messages.length - 1];
        const trajectory =
          toolServer && label?.role === "assistant" && (label.tool_calls?.length ?? 0) > 0
            ? await completeTrajectory({
                sessionId: slotKey(campaignId, iteration, slot),
                messages: s.messages,
                tools: s.tools,
                agent: generator,
                executor: toolServer,
                maxRounds: trajectories.maxRounds,
                signal: batch.signal,
              })
            : undefined;
        const provenance = await ctx.sampleProvenance(roles);
        settle({
          slot,
          row: toRow(campaignId, iteration, slot, s.kind, s.messages, s.tools, { ...s.metadata, ...(trajectory ? { trajectory } : {}), provenance }, toolJson),
        });
      } catch (err) {
        if (batch.signal.aborted) return;
        // The model could not produce a usable answer for this slot: record it and move on.
        if (isItemFailure(err)) settle({ slot, outcome: "failed", detail: err.message.slice(0, 2000) });
        else fail(err);
      }
    });
    await writes.flush();
    batch.close();
    // Counters from the database: each slot once, whichever attempt settled it.
    const final: SynthesisProgress = { settled: 0, total: end - start, written: 0, failed: 0, duplicates: 0 };
    for (const outcome of (await settledSlots(db, keys)).values()) countOutcome(final, outcome);
    progress.report({ ...final });
    if (final.settled !== end - start) throw new Error(`batch ${batchIndex}: ${end - start - final.settled} slots left unsettled after all work finished`);
    return { items: end - start, written: final.written, failed: final.failed, duplicates: final.duplicates };
  },
};

function countOutcome(state: SynthesisProgress, outcome: "written" | "failed" | "duplicate"): void {
  state.settled++;
  if (outcome === "written") state.written++;
  else if (outcome === "failed") state.failed++;
  else state.duplicates++;
}

function toRow(
  campaignId: string,
  iteration: number,
  slot: number,
  kind: SampleKind,
  messages: NewSample["messages"],
  tools: McpTool[],
  metadata: Record<string, unknown>,
  toolJson: ToolJsonCache,
): NewSample {
  return {
    id: sampleId(campaignId, { messages, tools }, toolJson),
    campaignId,
    iteration,
    kind,
    origin: "synthesized",
    stage: "synthesize.singleTurn",
    slotKey: slotKey(campaignId, iteration, slot),
    messages,
    tools,
    status: "pending",
    metadata: { ...metadata, slot },
  };
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}
