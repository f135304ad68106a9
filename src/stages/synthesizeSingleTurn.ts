/**
 * Single-turn synthesis (InfTool): every sample is a numbered slot of the iteration; a batch owns a
 * contiguous range of slots. A slot's sample is written once (unique slot key), so a crashed or
 * retried batch only generates the slots that are missing.
 */
import { setMaxListeners } from "node:events";
import pLimit from "p-limit";
import type { StageConfig } from "../config/campaignConfig.js";
import { existingSlotKeys, insertSamples, type NewSample } from "../db/repos/samples.js";
import { listTools } from "../db/repos/tools.js";
import { addUsage } from "../db/repos/usage.js";
import type { McpTool, SampleKind } from "../domain/types.js";
import { LlmError, UsageAccumulator } from "../llm/client.js";
import { planSingleTurnKinds, selectToolsForSlot, synthesizeSingleTurn } from "../synthesis/singleTurn.js";
import { sampleId } from "../util/ids.js";
import { StageInputError, type BatchResult, type StageHandler } from "./types.js";

type SynthStage = Extract<StageConfig, { name: "synthesize.singleTurn" }>;

/** Heartbeat details: every slot below `nextSlot` is durably done (written, already there, or failed). */
export interface SynthesisProgress {
  nextSlot: number;
  written: number;
  existing: number;
  failed: number;
  /** Slots whose sample had the same content (hence the same id) as one already stored: kept once. */
  duplicates?: number;
}

export const slotKey = (campaignId: string, iteration: number, slot: number) => `${campaignId}/${iteration}/synthesize.singleTurn/${slot}`;

const FLUSH_EVERY = 50;

export const synthesizeSingleTurnStage: StageHandler<SynthStage, SynthesisProgress> = {
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

    const resume = progress.resumeFrom;
    const state: SynthesisProgress =
      resume && resume.nextSlot >= start && resume.nextSlot <= end ? { ...resume } : { nextSlot: start, written: 0, existing: 0, failed: 0, duplicates: 0 };

    const slots = range(state.nextSlot, end);
    const present = await existingSlotKeys(db, slots.map((s) => slotKey(campaignId, iteration, s)));
    // done[i] flips when slot start+i is durable; nextSlot is the low-water mark reported in heartbeats.
    const done = new Array<boolean>(end - start).fill(false);
    for (let s = start; s < state.nextSlot; s++) done[s - start] = true;
    const markDone = (slot: number) => {
      done[slot - start] = true;
      while (state.nextSlot < end && done[state.nextSlot - start]) state.nextSlot++;
    };
    for (const s of slots) {
      if (present.has(slotKey(campaignId, iteration, s))) {
        state.existing++;
        markDone(s);
      }
    }
    progress.report({ ...state });

    const usage = new UsageAccumulator();
    const generator = ctx.deps.createLlm(config, "generator", usage);
    // Stop the whole batch on the first transport failure: the endpoint is down, retrying per slot is waste.
    const batchAbort = new AbortController();
    // Every in-flight request listens on this signal; their number is bounded by the endpoint limit.
    setMaxListeners(0, batchAbort.signal);
    const onOuterAbort = () => batchAbort.abort(ctx.signal.reason);
    ctx.signal.addEventListener("abort", onOuterAbort, { once: true });

    let buffer: { slot: number; row: NewSample }[] = [];
    let flushing: Promise<void> = Promise.resolve();
    const flush = () => {
      const chunk = buffer;
      buffer = [];
      flushing = flushing.then(async () => {
        if (chunk.length === 0) return;
        const inserted = await insertSamples(db, chunk.map((c) => c.row));
        state.written += inserted;
        state.duplicates = (state.duplicates ?? 0) + chunk.length - inserted;
        for (const c of chunk) markDone(c.slot);
        progress.report({ ...state });
      });
      return flushing;
    };

    let fatal: unknown;
    const limit = pLimit(Math.max(1, config.endpoints[config.roles.generator.endpoint]?.maxConcurrency ?? 8));
    const todo = slots.filter((s) => !present.has(slotKey(campaignId, iteration, s)));
    await Promise.all(
      todo.map((slot) =>
        limit(async () => {
          if (batchAbort.signal.aborted) return;
          const kind = kinds[slot] as SampleKind;
          const { targets, offered } = selectToolsForSlot(library, {
            kind,
            seed: config.seed,
            iteration,
            slotIndex: slot,
            toolsPerSample: stage.toolsPerSample,
            maxParallelCalls: stage.maxParallelCalls,
          });
          try {
            const s = await synthesizeSingleTurn({ kind, targets, offered, generator, signal: batchAbort.signal });
            buffer.push({ slot, row: toRow(campaignId, iteration, slot, s.kind, s.messages, s.tools, s.metadata) });
            if (buffer.length >= FLUSH_EVERY) void flush();
          } catch (err) {
            if (batchAbort.signal.aborted) return;
            if (err instanceof LlmError && !err.retryable) {
              // The model could not produce a usable answer for this slot: count it and move on.
              state.failed++;
              await flushing;
              markDone(slot);
              return;
            }
            fatal ??= err;
            batchAbort.abort(err);
          }
        }),
      ),
    );
    ctx.signal.removeEventListener("abort", onOuterAbort);
    await flush();
    await addUsage(db, { campaignId, iteration, stage: stage.name }, usage.drain());
    if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error("cancelled");
    if (fatal) throw fatal;
    return { items: end - start, written: state.written, existing: state.existing, failed: state.failed, duplicates: state.duplicates ?? 0 };
  },
};

function toRow(
  campaignId: string,
  iteration: number,
  slot: number,
  kind: SampleKind,
  messages: NewSample["messages"],
  tools: McpTool[],
  metadata: Record<string, unknown>,
): NewSample {
  return {
    id: sampleId(campaignId, { messages, tools }),
    campaignId,
    iteration,
    kind,
    origin: "synthesized",
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
