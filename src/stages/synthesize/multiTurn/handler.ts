/**
 * Multi-turn role-play synthesis (InfTool / LoopTool): every dialogue is a numbered slot of the
 * iteration; a batch owns a contiguous range of slots and runs its open dialogues concurrently, each
 * through the dialogue engine (src/dialogue/engine.ts) with the PostgreSQL store, so a dialogue is
 * stored turn by turn and a crashed or retried batch resumes each one at its last stored turn. A kept
 * dialogue becomes one sample per accepted assistant turn (the dialogue up to it, a real message
 * list), inserted idempotently by `<dialogue>#<seq>`: a retried batch writes each sample once.
 *
 * Throughput: a dialogue is mostly sequential (user, then k voted assistant samples, then tool calls),
 * so one batch keeps as many dialogues in flight as the assistant's endpoint takes requests at once;
 * the endpoint limiter (src/llm) caps the requests themselves (bench/multiTurnThroughput.ts).
 */
import pLimit from "p-limit";
import type { StageConfigOf } from "../../specs.js";
import { dialogueOutcomes, dialogueToolsOf, dialogueTurnsOf, PostgresDialogueStore } from "../../../db/repos/dialogues.js";
import { existingSlotKeys, insertSamples, type NewSample } from "../../../db/repos/samples.js";
import { listTools } from "../../../db/repos/tools.js";
import { simulatedByRole } from "../../../db/repos/usage.js";
import { cutSamples } from "../../../dialogue/cut.js";
import { dialogueId, drawDialogueHeader } from "../../../dialogue/draws.js";
import { countTurns, runDialogue } from "../../../dialogue/engine.js";
import { LlmToolServer } from "../../../dialogue/llmToolServer.js";
import type { DialogueOutcome, DialogueRoles, DialogueTurn } from "../../../dialogue/types.js";
import type { CampaignConfig } from "../../../config/campaignConfig.js";
import type { McpTool } from "../../../domain/types.js";
import { isItemFailure } from "../../../llm/errors.js";
import { resolveRole } from "../../../llm/roles.js";
import { sampleId } from "../../../util/ids.js";
import { StageInputError, type BatchResult, type StageHandler } from "../../../framework/stage.js";
import { BatchAbort } from "../../../framework/batchAbort.js";
import type { SampleProvenance } from "../../../provenance/provenance.js";
import { multiTurnSummary } from "./summary.js";

type MultiTurnConfig = StageConfigOf<"synthesize.multiTurn">;

export const MULTI_TURN_STAGE = "synthesize.multiTurn";

/** Heartbeat details (progress for operators; the database, not these, decides what is left to do). */
export interface MultiTurnProgress {
  /** Dialogues of the batch. */
  total: number;
  /** Dialogues ended so far (this attempt and earlier ones), by outcome. */
  settled: number;
  kept: number;
  dropped: number;
  failed: number;
  /** Dialogues in flight now. */
  running: number;
  /** Messages stored by this attempt. */
  turns: number;
  /** Samples this attempt wrote. */
  samples: number;
}

/** A sample's slot key: the dialogue and the seq of the assistant turn that is its label. */
export const multiTurnSlotKey = (dialogue: string, labelSeq: number) => `${dialogue}#${labelSeq}`;

export const synthesizeMultiTurnHandler: StageHandler<MultiTurnConfig, MultiTurnProgress> = {
  name: "synthesize.multiTurn",

  async plan(ctx) {
    return { batches: Math.ceil(ctx.stage.dialogues / ctx.stage.batchSize), items: ctx.stage.dialogues };
  },

  async runBatch(ctx, batchIndex, progress): Promise<BatchResult> {
    const { db } = ctx.deps;
    const { stage, campaignId, iteration, config } = ctx;
    const start = batchIndex * stage.batchSize;
    const end = Math.min(stage.dialogues, start + stage.batchSize);
    if (start >= end) throw new StageInputError(`batch ${batchIndex} is outside the plan (dialogues ${stage.dialogues}, batchSize ${stage.batchSize})`);

    const library = (await listTools(db, campaignId)).map((r) => r.tool);
    if (library.length === 0) throw new StageInputError(`campaign ${campaignId} has no tools loaded`);

    const slots = range(start, end);
    const ids = slots.map((s) => dialogueId(campaignId, iteration, s));
    const before = await dialogueOutcomes(db, ids);
    const state: MultiTurnProgress = { total: end - start, settled: 0, kept: 0, dropped: 0, failed: 0, running: 0, turns: 0, samples: 0 };
    for (const o of before.values()) countOutcome(state, o);
    progress.report({ ...state });

    const roles: DialogueRoles = {
      planner: ctx.llm("planner"),
      user: ctx.llm("user"),
      assistant: ctx.llm("assistant"),
      ...(stage.voting.negotiator ? { negotiator: ctx.llm(stage.voting.negotiator) } : {}),
    };
    const executor = new LlmToolServer(ctx.llm("toolServer"));
    const store = new PostgresDialogueStore(db);
    const provenanceRoles = ["planner", "user", "assistant", "toolServer", ...(stage.voting.negotiator ? [stage.voting.negotiator] : [])];
    /**
     * A dialogue's samples are simulated when any of its roles' answers came from the simulator, in
     * this attempt (the step's own record) or in an earlier one that this attempt resumes or whose
     * settled dialogues it writes the samples of without asking anything (the request ledger's record).
     */
    let earlier: Promise<boolean> | undefined;
    const provenance = async () => {
      earlier ??= simulatedByRole(db, campaignId, { iteration, stage: MULTI_TURN_STAGE }).then((byRole) => provenanceRoles.some((r) => byRole[r] === true));
      return ctx.sampleProvenance(provenanceRoles, { alsoSimulated: await earlier });
    };
    // Stop the whole batch on the first transport failure: the endpoint is down, retrying per dialogue is waste.
    const batch = new BatchAbort(ctx.signal);

    /**
     * Cuts a kept dialogue into samples and writes them (idempotent by slot key). The tools are the
     * dialogue's stored ones, the tools its calls were made to: drawn again, they follow the library
     * as it is now, which a restart after a tool file was edited or added has changed.
     */
    const writeSamples = async (id: string, outcome: DialogueOutcome, provenance: SampleProvenance) => {
      const tools = (await dialogueToolsOf(db, [id])).get(id);
      if (!tools) throw new Error(`dialogue ${id}: no stored header to cut samples from`);
      const rows = sampleRows({ campaignId, iteration, dialogue: id, tools, outcome, turns: await dialogueTurnsOf(db, id), provenance });
      return (await insertSamples(db, rows)).size;
    };

    const todo = slots.filter((_, i) => !before.has(ids[i] as string));
    const limit = pLimit(dialoguesInFlight(config, todo.length));
    await Promise.all(
      todo.map((slot) =>
        limit(async () => {
          if (batch.signal.aborted) return;
          const header = drawDialogueHeader({ campaignId, iteration, slot, seed: config.seed, library, stage });
          state.running++;
          let outcome: DialogueOutcome;
          try {
            outcome = await runDialogue({
              header,
              stage,
              roles,
              executor,
              store,
              signal: batch.signal,
              onTurn: () => {
                state.turns++;
                progress.report({ ...state });
              },
            });
          } catch (err) {
            if (batch.signal.aborted) return;
            // A request the endpoint refuses for good (a 400: prompt too long, unknown parameter): the
            // dialogue fails with what it stored; transport failures and a misconfigured endpoint stop the batch instead.
            if (!isItemFailure(err)) return batch.fail(err);
            outcome = { status: "failed", detail: err.message.slice(0, 2000), finished: false, ...countTurns(await dialogueTurnsOf(db, header.id)) };
            await store.finish(header.id, outcome);
          } finally {
            state.running--;
          }
          if (outcome.status === "kept") state.samples += await writeSamples(header.id, outcome, await provenance());
          countOutcome(state, outcome);
          progress.report({ ...state });
        }).catch(batch.fail),
      ),
    );
    batch.close();

    // Kept dialogues an earlier attempt ended may have lost their samples to the crash: write what is missing.
    for (const [id, outcome] of before) {
      if (outcome.status !== "kept") continue;
      state.samples += await writeSamples(id, outcome, await provenance());
    }

    // Counters from the database: each dialogue and sample once, whichever attempt settled it.
    const final = await dialogueOutcomes(db, ids);
    if (final.size !== ids.length) throw new Error(`batch ${batchIndex}: ${ids.length - final.size} dialogues left without an outcome after all work finished`);
    const result: BatchResult = { items: ids.length, kept: 0, dropped: 0, failed: 0, samples: 0, duplicates: 0 };
    const cutKeys: string[] = [];
    for (const [id, o] of final) {
      (result[o.status] as number)++;
      if (o.status === "kept")
        for (const t of await dialogueTurnsOf(db, id)) if (t.kind === "assistant" && t.accepted) cutKeys.push(multiTurnSlotKey(id, t.seq));
    }
    result.samples = (await existingSlotKeys(db, cutKeys)).size;
    result.duplicates = cutKeys.length - result.samples;
    progress.report({ ...state, running: 0 });
    return result;
  },

  async finalize(ctx, batches) {
    const summary = await multiTurnSummary(ctx.deps.db, { campaignId: ctx.campaignId, iteration: ctx.iteration, batches });
    if (summary.warning) ctx.deps.log(`synthesize.multiTurn: warning: ${ctx.campaignId} iteration ${ctx.iteration}: ${summary.warning}`);
    return summary;
  },
};

/**
 * Dialogues one batch keeps in flight: each mostly waits on one request at a time, so as many as the
 * assistant's endpoint takes requests at once keeps it busy (the voted turns' k samples fill the rest).
 */
export function dialoguesInFlight(config: CampaignConfig, todo: number): number {
  return Math.max(1, Math.min(todo, resolveRole(config, "assistant").endpoint.maxConcurrency));
}

/** The samples of a kept dialogue: one per accepted assistant turn: the messages up to and including it, the label last. */
export function sampleRows(p: {
  campaignId: string;
  iteration: number;
  dialogue: string;
  tools: McpTool[];
  outcome: DialogueOutcome;
  turns: DialogueTurn[];
  provenance: SampleProvenance;
}): NewSample[] {
  const bySeq = new Map(p.turns.map((t) => [t.seq, t]));
  return cutSamples(p.turns).map((cut): NewSample => {
    const label = bySeq.get(cut.labelSeq);
    if (label?.kind !== "assistant") throw new Error(`dialogue ${p.dialogue}: sample label seq ${cut.labelSeq} is not an assistant turn`);
    return {
      id: sampleId(p.campaignId, { messages: cut.messages, tools: p.tools }),
      campaignId: p.campaignId,
      iteration: p.iteration,
      kind: "multi_turn",
      origin: "synthesized",
      stage: MULTI_TURN_STAGE,
      slotKey: multiTurnSlotKey(p.dialogue, cut.labelSeq),
      messages: cut.messages,
      tools: p.tools,
      status: "pending",
      metadata: {
        dialogue: { id: p.dialogue, labelSeq: cut.labelSeq, userTurn: label.userTurn, round: label.round, turns: p.outcome.userTurns },
        provenance: p.provenance,
      },
    };
  });
}

function countOutcome(state: MultiTurnProgress, o: DialogueOutcome): void {
  state.settled++;
  state[o.status]++;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}
