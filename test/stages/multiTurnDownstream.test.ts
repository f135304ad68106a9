/**
 * Multi-turn samples through every stage after synthesis, run directly (no Temporal) on real
 * PostgreSQL and the LLM simulator, with fixture rows in the shape synthesize.multiTurn writes
 * (test/helpers/multiTurnSamples.ts): rules verify them (and reject a broken history), exact dedupe
 * keys them by every user turn and the label, the scoring stages and the probe ask the policy the
 * real message list before the label (tool messages included) and store a score per sample, repair's
 * judges get the full prompt in their case, expand.errors skips a multi_turn seed with its stated
 * reason, and both exports write tool_calls / tool messages (dataset) and Hermes-rendered history
 * with the label's calls as ground truth (verl).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { tableFromIPC } from "apache-arrow";
import { readParquet } from "parquet-wasm";
import type { CampaignConfig } from "../../src/config/campaignConfig.js";
import type { Db } from "../../src/db/client.js";
import { insertLabelJudgement } from "../../src/db/repos/judgements.js";
import { insertPoolMembers } from "../../src/db/repos/pools.js";
import { probeResultsOf } from "../../src/db/repos/probes.js";
import { insertSamples } from "../../src/db/repos/samples.js";
import { listSampleScores } from "../../src/db/repos/scores.js";
import { judgeVotes, samples, selectionExclusions } from "../../src/db/schema.js";
import type { ChatMessage } from "../../src/domain/types.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import { RequestLedger } from "../../src/framework/requestLedger.js";
import type { StageContext, StageEntry } from "../../src/framework/stage.js";
import { parseCaseMessage } from "../../src/judging/protocol.js";
import { type ChatRequest } from "../../src/llm/client.js";
import { dedupeExactHandler } from "../../src/stages/dedupe/exact/handler.js";
import { expandErrorsHandler, MULTI_TURN_SKIP_REASON } from "../../src/stages/expand/errors/handler.js";
import { exportDatasetHandler } from "../../src/stages/export/dataset/handler.js";
import { exportVerlHandler } from "../../src/stages/export/verl/handler.js";
import { probeGreedyHandler } from "../../src/stages/probe/greedy/handler.js";
import { selectNextRoundHandler } from "../../src/stages/select/nextRound/handler.js";
import { listPoolMembers } from "../../src/db/repos/pools.js";
import { repairLabelsHandler } from "../../src/stages/repair/labels/handler.js";
import { scoreConsistencyHandler } from "../../src/stages/score/consistency/handler.js";
import { scorePerplexityHandler } from "../../src/stages/score/perplexity/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { verifyRulesHandler } from "../../src/stages/verify/rules/handler.js";
import { campaignConfig, planAndRun } from "../helpers/selfEvolution.js";
import { insertMultiTurnSamples, multiTurnRows, travelDialogue } from "../helpers/multiTurnSamples.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { canonicalJson } from "../../src/util/ids.js";
import { recordingCreateLlm } from "../helpers/recordingLlm.js";

let res: StageResources;
before(async () => {
  res = await startStageResources("multi-turn-downstream", 17);
});
after(async () => res?.close());

const campaignId = `mtd-${Date.now().toString(36)}`;
/** Every chat request a stage's client sent, with its role. */
const sent: { role: string; req: ChatRequest }[] = [];

function context<S extends StageEntry>(db: Db, config: CampaignConfig, stageName: string, logs: string[] = []): StageContext<S> {
  const stage = config.stages.find((s) => s.name === stageName) as unknown as S;
  const deps = {
    db,
    baseDir: res.workDir,
    log: (m: string) => logs.push(m),
    createLlm: recordingCreateLlm(sent),
  };
  const ledger = new RequestLedger(db, { campaignId, iteration: 1, stage: stageName, batchIndex: null });
  return buildStageContext({ campaignId, iteration: 1, config, stage, signal: new AbortController().signal, deps, ledger }).ctx;
}

const committee = { members: [{ role: "judge", samples: 2 }], consensus: 2 };
let config: CampaignConfig;
/** The two kept dialogues' samples (5 + 5), the exact copy's (5), the broken one. */
let kept: ReturnType<typeof multiTurnRows>;
let copies: ReturnType<typeof multiTurnRows>;
let brokenId: string;
const statusOf = async (db: Db) =>
  new Map((await db.select({ id: samples.id, status: samples.status }).from(samples).where(eq(samples.campaignId, campaignId))).map((r) => [r.id, r.status]));
const promptOfRow = (messages: ChatMessage[]) => messages.slice(0, -1);
// Messages are compared in canonical JSON: jsonb does not keep the key order they were written in.

test("verify.rules and dedupe.exact on multi-turn rows", { timeout: 60_000 }, async () => {
  const db = res.db.db;
  config = campaignConfig({
    simUrl: res.sim.url,
    stages: [
      { name: "verify.rules" },
      { name: "dedupe.exact" },
      { name: "score.perplexity" },
      { name: "score.consistency", k: 2, temperature: 0.7 },
      { name: "probe.greedy" },
      { name: "repair.labels", committee },
      { name: "expand.errors", perSeed: 2, committee },
      // The travel tools include get_current_weather, a BFCL function's signature, which decontamination would leave out.
      { name: "export.dataset", format: "openai-strict", decontaminate: { enabled: false } },
      { name: "export.verl", valFraction: 0, sft: true, decontaminate: { enabled: false } },
      { name: "select.nextRound", seedBudget: 100, nearDuplicate: { threshold: 0.5 }, decontaminate: { enabled: false } },
    ],
  });
  kept = await insertMultiTurnSamples(res.db, [travelDialogue(0, "Lisbon"), travelDialogue(1, "Porto")], { campaignId });
  // Dialogue 2 says exactly what dialogue 0 says (its call ids and tool results differ: context, not content).
  copies = await insertMultiTurnSamples(res.db, [travelDialogue(2, "Lisbon")], { campaignId });
  const broken = multiTurnRows(travelDialogue(3, "Faro"), { campaignId, keep: (seq) => seq === 4 })[0]!;
  broken.messages = broken.messages.map((m) => (m.role === "tool" ? { ...m, tool_call_id: "not-a-call" } : m));
  broken.id = `${broken.id as string}-broken`;
  await insertSamples(db, [broken]);
  brokenId = broken.id;

  const vb = await planAndRun(db, context<StageConfigOf<"verify.rules">>(db, config, "verify.rules"), verifyRulesHandler);
  assert.equal(
    vb.reduce((n, b) => n + (b.verified ?? 0), 0),
    15,
    "every cut of the three well-formed dialogues passes",
  );
  const [row] = await db.select().from(samples).where(eq(samples.id, brokenId));
  assert.equal(row?.status, "rejected");
  assert.match(row!.verdicts.map((v) => v.reasons.join("; ")).join("; "), /tool_call_id "not-a-call" does not answer a pending call/);

  const dctx = context<StageConfigOf<"dedupe.exact">>(db, config, "dedupe.exact");
  const db2 = await planAndRun(db, dctx, dedupeExactHandler);
  const summary = (await dedupeExactHandler.finalize!(dctx, db2)) as { duplicates: number };
  assert.equal(summary.duplicates, 5, "the copy's five cuts duplicate dialogue 0's, cut for cut");
  const status = await statusOf(db);
  const d0 = kept.slice(0, 5);
  d0.forEach((r, i) => {
    const pair = [status.get(r.id as string), status.get(copies[i]!.id as string)].sort();
    assert.deepEqual(pair, ["duplicate", "verified"], `cut ${i}: one of the two kept`);
  });
  for (const r of kept.slice(5)) assert.equal(status.get(r.id as string), "verified", "dialogue 1 (another city) is no duplicate");
  // The verified samples form the pool the scoring stages and the probe read.
  const pool = [...status].filter(([, s]) => s === "verified").map(([id]) => id);
  assert.equal(pool.length, 10);
  await insertPoolMembers(
    db,
    pool.map((sampleId) => ({ campaignId, iteration: 1, sampleId, reason: "seed" as const, weight: 1 })),
  );
});

test("score.perplexity, score.consistency and probe.greedy ask the real message list before the label", { timeout: 120_000 }, async () => {
  const db = res.db.db;
  const status = await statusOf(db);
  const pool = [...kept, ...copies].filter((r) => status.get(r.id as string) === "verified");
  const byPrompt = new Map(pool.map((r) => [canonicalJson(promptOfRow(r.messages)), r]));

  sent.length = 0;
  const pctx = context<StageConfigOf<"score.perplexity">>(db, config, "score.perplexity");
  const pb = await planAndRun(db, pctx, scorePerplexityHandler);
  const psum = (await scorePerplexityHandler.finalize!(pctx, pb)) as { scored: number; failed: number };
  const labelPpl = await listSampleScores(db, { campaignId, iteration: 1 }, "label_ppl");
  console.log(`score.perplexity on ${pool.length} multi-turn samples: ${canonicalJson(psum)}`);
  assert.equal(labelPpl.length, pool.length, "a label perplexity for every multi-turn sample");
  for (const s of labelPpl) {
    const d = s.details as { tokens: number; span: [number, number] };
    assert.ok(Number.isFinite(s.value) && s.value >= 1);
    assert.ok(d.tokens > 0 && d.span[0] > 0, "the span is the label's tokens after the whole rendered history");
  }
  // The scoring request for each sample is the sample's full message list (history + label), tools offered.
  const scoringReqs = sent.filter((x) => x.req.maxTokens === 1);
  assert.equal(scoringReqs.length, pool.length);
  for (const x of scoringReqs) {
    const r = byPrompt.get(canonicalJson(x.req.messages.slice(0, -1)));
    assert.ok(r, "the scored conversation is a sample's real messages");
    assert.deepEqual(x.req.messages, r.messages);
    assert.equal(x.req.tools?.length, r.tools.length);
  }
  const withTools = scoringReqs.filter((x) => x.req.messages.some((m) => m.role === "tool"));
  assert.ok(withTools.length >= 6, "prompts with tool results and earlier calls are scored, not flattened");

  sent.length = 0;
  const cctx = context<StageConfigOf<"score.consistency">>(db, config, "score.consistency");
  const cb = await planAndRun(db, cctx, scoreConsistencyHandler);
  await scoreConsistencyHandler.finalize!(cctx, cb);
  const consistency = await listSampleScores(db, { campaignId, iteration: 1 }, "consistency");
  assert.equal(consistency.length, pool.length);
  assert.equal(sent.length, pool.length * 2, "k = 2 samples per item");
  for (const x of sent) assert.ok(byPrompt.has(canonicalJson(x.req.messages)), "each sample asked with its prompt: every message before the label");

  sent.length = 0;
  const gctx = context<StageConfigOf<"probe.greedy">>(db, config, "probe.greedy");
  await planAndRun(db, gctx, probeGreedyHandler);
  const probes = await probeResultsOf(
    db,
    campaignId,
    1,
    pool.map((r) => r.id as string),
  );
  assert.equal(probes.size, pool.length, "every pool sample probed once");
  assert.equal(sent.length, pool.length);
  for (const x of sent) {
    assert.equal(x.req.temperature, 0);
    assert.ok(byPrompt.has(canonicalJson(x.req.messages)));
  }
  const matched = [...probes.values()].filter((p) => p.match).length;
  console.log(`probe.greedy on multi-turn samples: ${matched}/${probes.size} matched by the simulated policy`);
});

test("repair.labels gives the judges the whole dialogue; expand.errors skips a multi_turn seed with its reason", { timeout: 120_000 }, async () => {
  const db = res.db.db;
  const status = await statusOf(db);
  const pool = [...kept, ...copies].filter((r) => status.get(r.id as string) === "verified");
  const probes = await probeResultsOf(
    db,
    campaignId,
    1,
    pool.map((r) => r.id as string),
  );
  sent.length = 0;
  const rctx = context<StageConfigOf<"repair.labels">>(db, config, "repair.labels");
  await planAndRun(db, rctx, repairLabelsHandler);
  const mismatched = [...probes.values()].filter((p) => !p.match);
  const votes = await db.select().from(judgeVotes).where(eq(judgeVotes.campaignId, campaignId));
  assert.equal(votes.length, mismatched.length * 2, "two votes per mismatch");
  const judgeReqs = sent.filter((x) => x.role === "judge");
  for (const x of judgeReqs) {
    const last = x.req.messages[x.req.messages.length - 1]!;
    const c = parseCaseMessage(last.content ?? "")!;
    const messages = c.messages as ChatMessage[];
    assert.ok(
      pool.some((r) => canonicalJson(promptOfRow(r.messages)) === canonicalJson(messages)),
      "the case carries the sample's full prompt",
    );
  }
  // A repaired multi-turn label stays multi_turn, with the dialogue's metadata.
  const repaired = await db
    .select()
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.origin, "repaired")));
  for (const r of repaired) {
    assert.equal(r.kind, "multi_turn");
    assert.ok((r.metadata as { dialogue?: unknown }).dialogue, "the dialogue metadata travels with the repair");
  }
  console.log(`repair.labels on ${mismatched.length} multi-turn mismatches: ${votes.length} votes, ${repaired.length} repaired samples`);

  // expand.errors: a multi_turn error seed is skipped, counted and explained; nothing is generated for it.
  // A sample the committee did not judge (the policy matched it), planted as an error seed.
  const seed = pool.find((r) => probes.get(r.id as string)?.match)!;
  const planted = await insertLabelJudgement(db, {
    campaignId,
    iteration: 1,
    sampleId: `${seed.id as string}`,
    verdict: "PRED_WRONG",
    action: "error_seed",
    votes: 2,
    resultSampleId: null,
    details: { planted: true },
  });
  assert.ok(planted);
  sent.length = 0;
  const logs: string[] = [];
  const ectx = context<StageConfigOf<"expand.errors">>(db, config, "expand.errors", logs);
  const eb = await planAndRun(db, ectx, expandErrorsHandler);
  const esum = (await expandErrorsHandler.finalize!(ectx, eb)) as Record<string, unknown>;
  assert.ok((esum.skippedMultiTurnSeeds as number) >= 1);
  assert.equal(esum.skippedReason, MULTI_TURN_SKIP_REASON);
  assert.ok(logs.some((l) => l.includes(MULTI_TURN_SKIP_REASON)));
  assert.equal(sent.filter((x) => x.role === "generator").length, 0, "nothing generated for a multi_turn seed");
  const expanded = await db
    .select()
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.origin, "expanded")));
  assert.equal(expanded.length, 0);
});

test("export.dataset writes OpenAI rows with tool_calls and tool messages; export.verl renders the history for verl", { timeout: 60_000 }, async () => {
  const db = res.db.db;
  const status = await statusOf(db);
  const verified = [...kept, ...copies].filter((r) => status.get(r.id as string) === "verified");

  const xctx = context<StageConfigOf<"export.dataset">>(db, config, "export.dataset");
  const xb = await planAndRun(db, xctx, exportDatasetHandler);
  const repairedVerified = [...status].filter(([id, s]) => s === "verified" && !verified.some((r) => r.id === id)).length;
  assert.equal(xb[0]?.rows, verified.length + repairedVerified);
  const lines = (await readFile(path.join(xctx.outputDir(), "dataset.jsonl"), "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { messages: Record<string, unknown>[] });
  const final = lines.find((l) => l.messages.filter((m) => m.role === "tool").length === 4);
  assert.ok(final, "the last cut, with all four tool results in its prompt, is exported whole");
  for (const m of final.messages.filter((x) => x.role === "tool")) assert.match(m.tool_call_id as string, /^d[0-2]_c[1-4]$/);
  assert.ok(final.messages.some((m) => Array.isArray(m.tool_calls) && m.tool_calls.length === 3));

  const vctx = context<StageConfigOf<"export.verl">>(db, config, "export.verl");
  const vb = await planAndRun(db, vctx, exportVerlHandler);
  assert.equal(vb[0]?.skipped, 0);
  assert.equal(vb[0]?.train, verified.length + repairedVerified);
  const dir = path.join(vctx.outputDir(), "verl");
  const table = tableFromIPC(readParquet(new Uint8Array(await readFile(path.join(dir, "train.parquet")))).intoIPCStream());
  const prompts = table.getChild("prompt")!.toArray() as { toArray(): { role: string; content: string }[] }[];
  const truths = (table.getChild("reward_model")!.toArray() as { ground_truth: string }[]).map((r) => JSON.parse(r.ground_truth) as { calls: unknown[] });
  let withHistory = 0;
  prompts.forEach((p, i) => {
    const msgs = p.toArray().map((m) => ({ role: String(m.role), content: String(m.content) }));
    for (const m of msgs) assert.ok(["system", "user", "assistant"].includes(m.role), `verl prompt roles only (found ${m.role})`);
    if (msgs.some((m) => m.content.startsWith("<tool_response>"))) {
      withHistory++;
      assert.ok(msgs.some((m) => m.role === "assistant" && m.content.includes("<tool_call>")));
    }
    assert.ok(Array.isArray(truths[i]!.calls));
  });
  assert.ok(withHistory >= 6, `prompts carry earlier calls and results as Hermes blocks (${withHistory})`);
  assert.ok(
    truths.some((t) => t.calls.length === 3),
    "the parallel label's three calls are the ground truth",
  );
  const sft = (await readFile(path.join(dir, "sft.jsonl"), "utf8")).trim().split("\n");
  assert.equal(sft.length, verified.length + repairedVerified);
});

test("select.nextRound compares all user turns across dialogues, never a dialogue's cuts with each other", { timeout: 60_000 }, async () => {
  const db = res.db.db;
  const sctx = context<StageConfigOf<"select.nextRound">>(db, config, "select.nextRound");
  await selectNextRoundHandler.runBatch(sctx, 0, { resumeFrom: undefined, report: () => undefined });
  const members = await listPoolMembers(db, campaignId, 1);
  const excluded = await db.select().from(selectionExclusions).where(eq(selectionExclusions.campaignId, campaignId));
  const dialogueOf = new Map([...kept, ...copies].map((r) => [r.id as string, (r.metadata as { dialogue: { id: string } }).dialogue.id]));
  const near = excluded.filter((e) => e.reason === "near_duplicate");
  assert.ok(near.length > 0, "dialogue 1 asks what dialogue 0 asks (another city): some cuts are near-duplicates");
  for (const e of near) {
    const keptId = (e.details as { keptSampleId: string }).keptSampleId;
    assert.ok(dialogueOf.has(e.sampleId) && dialogueOf.has(keptId));
    assert.notEqual(dialogueOf.get(e.sampleId), dialogueOf.get(keptId), "a near-duplicate of another dialogue's cut, never of its own");
  }
  assert.equal(members.length + near.length, 10, "every verified synthesized cut is either in the pool or a near-duplicate");
  console.log(`select.nextRound on two near-identical dialogues (10 cuts): ${members.length} in the pool, ${near.length} near-duplicates`);
});
