/**
 * synthesize.multiTurn run directly (no Temporal) against the LLM simulator playing every role, with
 * dialogues and samples in real PostgreSQL: dialogues are stored turn by turn, a kept dialogue is cut
 * into one sample per accepted assistant turn with the real message list up to it, the summary agrees
 * with the rows, a rerun asks the simulator nothing, and bad config is rejected with the field path.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { after, before, test } from "node:test";
import { parseCampaignConfig, type CampaignConfig } from "../../src/config/campaignConfig.js";
import { dialogueTurnsOf, iterationDialogues } from "../../src/db/repos/dialogues.js";
import { pageSamples } from "../../src/db/repos/samples.js";
import { upsertTools } from "../../src/db/repos/tools.js";
import { dialogues as dialoguesTable } from "../../src/db/schema.js";
import { usageTotals } from "../../src/db/repos/usage.js";
import { dialogueId } from "../../src/dialogue/draws.js";
import type { DialogueTurn } from "../../src/dialogue/types.js";
import type { ChatMessage } from "../../src/domain/types.js";
import { RequestLedger } from "../../src/framework/requestLedger.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import type { BatchResult } from "../../src/framework/stage.js";
import { createRoleClient } from "../../src/llm/client.js";
import type { UsageSink } from "../../src/llm/usage.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { synthesizeMultiTurnHandler, type MultiTurnProgress } from "../../src/stages/synthesize/multiTurn/handler.js";
import type { MultiTurnSummary } from "../../src/stages/synthesize/multiTurn/summary.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { EXAMPLE_TOOLS } from "../../src/tools/examples.js";
import { verifyRules } from "../../src/verification/rules.js";
import { startSimulator, type SimulatorHandle } from "../../src/llm/simulator/server.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

type MultiTurnStage = StageConfigOf<"synthesize.multiTurn">;
const STAGE = "synthesize.multiTurn";
const RUN = Date.now().toString(36);

let res: StageResources;
/** A simulator whose roles misbehave at rates that make every mechanism show in the summary. */
let sim: SimulatorHandle;
before(async () => {
  res = await startStageResources("multi-turn", 5);
  sim = await startSimulator({
    seed: 5,
    latencyMs: 5,
    maxConcurrency: 8,
    quiet: true,
    dialogue: {
      assistantSchemaViolationRate: 0.15,
      assistantDisagreementRate: 0.35,
      plannerBadPlanRate: 0.5,
      userEarlyStopRate: 0.1,
      toolServerErrorRate: 0.05,
    },
  });
});
after(async () => {
  await sim?.close();
  await res?.close();
});

function rawConfig(simUrl: string, stage: Record<string, unknown>): Record<string, unknown> {
  const role = (model: string) => ({ endpoint: "sim", model });
  return {
    name: "multi-turn-it",
    seed: 3,
    endpoints: { sim: { baseUrl: simUrl, maxConcurrency: 8, maxRetries: 1 } },
    roles: {
      planner: role("toolloop-sim-generator"),
      user: role("toolloop-sim-generator"),
      assistant: role("toolloop-sim"),
      toolServer: role("toolloop-sim"),
      negotiator: role("toolloop-sim-judge"),
    },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: STAGE, ...stage }],
  };
}

function config(stage: Record<string, unknown>): CampaignConfig {
  const parsed = parseCampaignConfig(rawConfig(sim.url, stage));
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

function context(campaignId: string, cfg: CampaignConfig) {
  const db = res.db.db;
  const ledger = new RequestLedger(db, { campaignId, iteration: 1, stage: STAGE, batchIndex: null });
  const deps = {
    db,
    baseDir: res.workDir,
    log: () => undefined,
    createLlm: (c: CampaignConfig, role: string, usage: UsageSink) => createRoleClient(c, role, { usage }),
  };
  const stage = cfg.stages[0] as unknown as MultiTurnStage;
  const { ctx } = buildStageContext({ campaignId, iteration: 1, config: cfg, stage, signal: new AbortController().signal, deps, ledger });
  return { ctx, ledger };
}

async function loadTools(campaignId: string): Promise<void> {
  await upsertTools(
    res.db.db,
    campaignId,
    EXAMPLE_TOOLS.map(({ tool, domain }) => ({ tool, domain, source: "example", hash: tool.name })),
  );
}

test("config: registered; m > k and an empty persona list are rejected with the field path", () => {
  assert.equal(STAGE_HANDLERS[STAGE], synthesizeMultiTurnHandler);
  const bad = parseCampaignConfig(rawConfig("http://127.0.0.1:9/v1", { dialogues: 4, voting: { k: 3, m: 4 }, personas: [] }));
  assert.ok(!bad.ok);
  assert.match(bad.error.message, /stages\[0\]\.voting\.m: m 4 can never be reached: only k = 3 candidates are sampled/);
  assert.match(bad.error.message, /stages\[0\]\.personas: expected at least one persona/);
  const badTurns = parseCampaignConfig(rawConfig("http://127.0.0.1:9/v1", { dialogues: 4, turns: { mean: 9, max: 4 } }));
  assert.ok(!badTurns.ok);
  assert.match(badTurns.error.message, /stages\[0\]\.turns\.mean: expected mean <= max/);
  const noNegotiator = rawConfig("http://127.0.0.1:9/v1", { dialogues: 4, voting: { negotiator: "referee" } });
  const missing = parseCampaignConfig(noNegotiator);
  assert.ok(!missing.ok);
  assert.match(missing.error.message, /referee/);
});

test("dialogues stored turn by turn, samples cut per accepted turn, summary from the rows, a rerun asks nothing", { timeout: 300_000 }, async () => {
  const campaignId = `multi-turn-${RUN}`;
  await loadTools(campaignId);
  const cfg = config({ dialogues: 16, batchSize: 6, turns: { mean: 4, max: 8 }, maxRejectedTurns: 1, voting: { k: 3, m: 2, negotiator: "negotiator" } });
  const { ctx, ledger } = context(campaignId, cfg);
  const db = res.db.db;
  const chats = () => sim.stats().byPath["/v1/chat/completions"] ?? 0;

  const plan = await synthesizeMultiTurnHandler.plan!(ctx);
  assert.deepEqual(plan, { batches: 3, items: 16 });
  const reports: MultiTurnProgress[] = [];
  const batches: BatchResult[] = [];
  const started = chats();
  for (let b = 0; b < plan.batches; b++)
    batches.push(await synthesizeMultiTurnHandler.runBatch(ctx, b, { resumeFrom: undefined, report: (d) => reports.push(d) }));
  await ledger.drain();
  const requests = chats() - started;
  assert.deepEqual(
    batches.map((b) => b.items),
    [6, 6, 4],
  );
  assert.ok(
    reports.some((r) => r.turns > 0 && r.running > 0),
    "progress is reported per turn while dialogues run",
  );

  // Dialogues: every slot has one, each stored as a contiguous run of turns.
  const dialogues = await iterationDialogues(db, campaignId, 1);
  assert.deepEqual(
    dialogues.map((d) => d.id),
    Array.from({ length: 16 }, (_, i) => dialogueId(campaignId, 1, i)),
  );
  const kept = dialogues.filter((d) => d.status === "kept");
  assert.ok(kept.length > 0, "some dialogues are kept");
  const turnsOf = new Map<string, DialogueTurn[]>();
  for (const d of dialogues) {
    assert.notEqual(d.status, "running");
    const turns = await dialogueTurnsOf(db, d.id);
    turnsOf.set(d.id, turns);
    assert.deepEqual(
      turns.map((t) => t.seq),
      turns.map((_, i) => i),
      `${d.id}: turns stored with contiguous seqs`,
    );
    if (turns.length > 0) assert.equal(turns[0]?.kind, "system");
    if (d.status === "kept") assert.equal(d.outcome?.userTurns, turns.filter((t) => t.kind === "user").length, `${d.id}: outcome counts the stored user turns`);
  }

  // Samples: one per accepted assistant turn of a kept dialogue, the stored messages up to it.
  const samples = await pageSamples(db, { campaignId, iteration: 1, limit: 10_000 });
  const expected = kept.flatMap((d) => (turnsOf.get(d.id) ?? []).filter((t) => t.kind === "assistant" && t.accepted).map((t) => ({ d: d.id, seq: t.seq })));
  assert.ok(samples.length > 0);
  assert.ok(samples.length <= expected.length);
  assert.equal(samples.length + batches.reduce((a, b) => a + (b.duplicates ?? 0), 0), expected.length, "every cut written once or counted a duplicate");
  for (const s of samples) {
    assert.equal(s.kind, "multi_turn");
    assert.equal(s.origin, "synthesized");
    assert.equal(s.stage, STAGE);
    const meta = s.metadata as {
      dialogue: { id: string; labelSeq: number; userTurn: number; round: number; turns: number };
      provenance: { simulated?: boolean };
    };
    assert.equal(s.slotKey, `${meta.dialogue.id}#${meta.dialogue.labelSeq}`);
    const turns = turnsOf.get(meta.dialogue.id) ?? [];
    assert.deepEqual(
      s.messages,
      turns.slice(0, meta.dialogue.labelSeq + 1).map((t) => t.message),
      "the stored messages up to the label, as they are",
    );
    const label = turns[meta.dialogue.labelSeq];
    assert.ok(label?.kind === "assistant" && label.accepted, "the label is an accepted assistant turn");
    assert.equal(meta.dialogue.userTurn, label.userTurn);
    assert.equal(meta.dialogue.round, label.round);
    assert.equal(meta.dialogue.turns, dialogues.find((d) => d.id === meta.dialogue.id)?.outcome?.userTurns);
    assert.equal(meta.provenance.simulated, true, "the simulator's answers are marked simulated");
    assert.deepEqual(s.tools, await dialogueHeaderTools(meta.dialogue.id), "the dialogue's offered tools");
  }
  const roles = (m: ChatMessage[]) => m.map((x) => x.role);
  assert.ok(
    samples.some((s) => roles(s.messages).includes("tool") && roles(s.messages).filter((r) => r === "user").length >= 2),
    "real message lists: tool results and several user turns in one sample, nothing flattened",
  );
  assert.ok(
    samples.some((s) => s.messages.some((m) => m.role === "assistant" && (m.tool_calls?.length ?? 0) > 0)),
    "assistant tool_calls in the prompts",
  );
  const rules = samples.map((s) => verifyRules({ kind: "multi_turn", messages: s.messages, tools: s.tools }));
  const failing = rules.filter((v) => !v.ok);
  assert.equal(failing.length, 0, `every cut passes verify.rules: ${JSON.stringify(failing.slice(0, 3))}`);

  // The summary agrees with the rows and the request ledger.
  const summary = (await synthesizeMultiTurnHandler.finalize!(ctx, batches)) as MultiTurnSummary;
  assert.equal(summary.dialogues.attempted, 16);
  assert.equal(summary.dialogues.kept, kept.length);
  assert.equal(summary.dialogues.kept + summary.dialogues.dropped + summary.dialogues.failed, 16);
  assert.equal(summary.dialogues.dropped, dialogues.filter((d) => d.status === "dropped").length);
  for (const [reason, n] of Object.entries(summary.dropReasons))
    assert.equal(dialogues.filter((d) => d.outcome?.dropReason === reason).length, n, `drop reason ${reason}`);
  // The misbehaving roles show: schema violations revised, disagreements negotiated, some dialogues dropped.
  assert.ok(summary.reflections > 0, "reflections counted");
  assert.ok(summary.negotiations > 0, "negotiations counted");
  assert.ok(summary.dialogues.dropped > 0, `dropped dialogues counted: ${JSON.stringify(summary)}`);
  assert.equal(summary.reflections, allReflections(turnsOf));
  assert.equal(summary.negotiations, [...turnsOf.values()].flat().filter((t) => t.kind === "assistant" && t.review.negotiation).length);
  assert.equal(
    Object.values(summary.turnLengths.histogram).reduce((a, b) => a + b, 0),
    kept.length,
  );
  for (const [turns, n] of Object.entries(summary.turnLengths.histogram))
    assert.equal(kept.filter((d) => d.outcome?.userTurns === Number(turns)).length, n, `histogram bucket ${turns}`);
  assert.equal(
    Object.values(summary.dropReasons).reduce((a, b) => a + b, 0),
    summary.dialogues.dropped,
  );
  const allTurns = [...turnsOf.values()].flat();
  assert.equal(summary.assistantTurns.accepted, allTurns.filter((t) => t.kind === "assistant" && t.accepted).length);
  assert.equal(summary.assistantTurns.rejected, allTurns.filter((t) => t.kind === "assistant" && !t.accepted).length);
  assert.equal(
    Object.values(summary.assistantTurns.rejectionReasons).reduce((a, b) => a + b, 0),
    summary.assistantTurns.rejected,
  );
  assert.equal(summary.toolCalls.total, allTurns.filter((t) => t.kind === "tool").length);
  assert.equal(summary.samples.written, samples.length);
  const usage = await usageTotals(db, { campaignId, iteration: 1, stage: STAGE });
  const ledgerRequests = usage.reduce((a, u) => a + Number(u.requests), 0);
  assert.equal(ledgerRequests, requests, "every request to the simulator is in the ledger");
  assert.equal(
    Object.values(summary.tokensByRole).reduce((a, r) => a + r.requests, 0),
    ledgerRequests,
  );
  for (const role of ["planner", "user", "assistant", "toolServer"]) assert.ok((summary.tokensByRole[role]?.requests ?? 0) > 0, `${role} made requests`);
  assert.ok((summary.tokensByRole.assistant?.promptTokens ?? 0) > 0, "tokens per role");
  console.log(
    `multiTurn: ${kept.length}/16 kept, ${samples.length} samples, ${requests} requests (${(requests / 16).toFixed(1)} per dialogue), ${summary.reflections} reflections, ${summary.negotiations} negotiations, ` +
      `turns ${JSON.stringify(summary.turnLengths)}, drops ${JSON.stringify(summary.dropReasons)}, rejections ${JSON.stringify(summary.assistantTurns.rejectionReasons)}`,
  );

  // A rerun (every dialogue settled) asks the simulator nothing and writes nothing new.
  const mark = chats();
  const again: BatchResult[] = [];
  for (let b = 0; b < plan.batches; b++) again.push(await synthesizeMultiTurnHandler.runBatch(ctx, b, { resumeFrom: undefined, report: () => undefined }));
  assert.equal(chats() - mark, 0, "a rerun asks nothing");
  assert.deepEqual(again, batches, "the batch counters are read from the rows");
  assert.equal((await pageSamples(db, { campaignId, iteration: 1, limit: 10_000 })).length, samples.length);
});

function allReflections(turns: Map<string, DialogueTurn[]>): number {
  let n = 0;
  for (const t of [...turns.values()].flat()) if (t.kind === "assistant") n += t.review.candidates.filter((c) => c.reflection).length;
  return n;
}

/** The tools a dialogue offered (its header row). */
async function dialogueHeaderTools(id: string) {
  const [row] = await res.db.db.select({ tools: dialoguesTable.tools }).from(dialoguesTable).where(eq(dialoguesTable.id, id));
  return row?.tools;
}
