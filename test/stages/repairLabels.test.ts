/**
 * repair.labels run directly (no Temporal) with real PostgreSQL. The judge here is SCRIPTED
 * (test/helpers/scriptedJudge.ts: planted verdicts keyed by the case's user request, not a model), so
 * each verdict's action can be observed exactly; the policy computing perplexities for BOTH_CORRECT is
 * the LLM simulator. A test with the simulator's own judge is in repairLabelsSimJudge.test.ts.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { and, eq, inArray } from "drizzle-orm";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { planSelection } from "../../src/db/repos/stageBatchItems.js";
import { judgeVotesCounted, labelDecisions } from "../../src/metrics/toolloopMetrics.js";
import { judgeVotes, labelJudgements, samples, sampleScores, type JudgeVerdict } from "../../src/db/schema.js";
import { StageInputError } from "../../src/framework/stage.js";
import { createRoleClient } from "../../src/llm/client.js";
import { compareToLabel, labelOf } from "../../src/matching/labelAgreement.js";
import { repairLabelsHandler } from "../../src/stages/repair/labels/handler.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { startScriptedJudge, type ScriptedJudge } from "../helpers/scriptedJudge.js";
import { chatCompletion, chatError, startScriptedChatServer } from "../helpers/scriptedChatServer.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import {
  campaignConfig,
  plantMismatch,
  planAndRun,
  rawCampaign,
  seedPool,
  stageContext,
  storeSeeds,
  withWrongLocation,
  type SeedSample,
  WEATHER_TOOL,
  weatherCall,
} from "../helpers/selfEvolution.js";

type RepairStage = StageConfigOf<"repair.labels">;

let res: StageResources;
let judge: ScriptedJudge;
/** Planted verdict per user request; seeds listed in `dissent` answer differently. */
const plan = new Map<string, { verdict: JudgeVerdict; dissent?: Record<number, JudgeVerdict>; tooLong?: true }>();
/** vLLM's 400 for a prompt longer than the model's context. */
const TOO_LONG =
  "This model's maximum context length is 32768 tokens. However, you requested 41022 tokens (40510 in the messages, 512 in the completion). Please reduce the length of the messages or completion.";

before(async () => {
  res = await startStageResources("repair-labels", 13);
  judge = await startScriptedJudge((r) => {
    const user = (r.case.messages as { role: string; content: string }[]).find((m) => m.role === "user")?.content ?? "";
    const p = plan.get(user);
    if (!p) return { raw: "no plan for this case" };
    if (p.tooLong) return { httpStatus: 400, message: TOO_LONG };
    const verdict = p.dissent?.[r.seed ?? 0] ?? p.verdict;
    return { verdict, analysis: `scripted: ${verdict}` };
  });
});
after(async () => {
  await judge?.close();
  await res?.close();
});

const RUN = Date.now().toString(36);
const COMMITTEE = { members: [{ role: "judge", samples: 3 }], consensus: 2 };

test("repair.labels config: committee default, m > n rejected with its field path", () => {
  const raw = (stage: Record<string, unknown>) =>
    rawCampaign({ simUrl: "http://127.0.0.1:9/v1", stages: [{ name: "probe.greedy" }, { name: "repair.labels", ...stage }] });
  const ok = parseCampaignConfig(raw({}));
  assert.ok(ok.ok, ok.ok ? "" : ok.error.message);
  assert.deepEqual(ok.config.stages[1], { name: "repair.labels", batchSize: 250, committee: { members: [{ role: "judge", samples: 1 }], consensus: 1 } });
  assert.equal(STAGE_HANDLERS["repair.labels"], repairLabelsHandler);
  const bad = parseCampaignConfig(raw({ committee: { members: [{ role: "judge", samples: 1 }], consensus: 2 } }));
  assert.ok(!bad.ok);
  assert.match(bad.error.message, /stages\[1\]\.committee\.consensus: consensus 2 can never be reached: the committee casts 1 vote\(s\) in all/);
  const split = parseCampaignConfig(raw({ committee: { members: [{ role: "judge", samples: 2 }], consensus: 1 } }));
  assert.ok(!split.ok);
  assert.match(split.error.message, /stages\[1\]\.committee\.consensus: consensus 1 of 2 votes lets two verdicts both reach it/);
  const twice = parseCampaignConfig(raw({ committee: { members: [{ role: "judge" }, { role: "judge" }], consensus: 2 } }));
  assert.ok(!twice.ok);
  assert.match(twice.error.message, /stages\[1\]\.committee\.members\[1\]\.role: judge role "judge" is already members\[0\]/);
  const noJudgeRole = parseCampaignConfig({ ...raw({}), roles: { policy: { endpoint: "sim", model: "p" } } });
  assert.ok(!noJudgeRole.ok);
  assert.match(noJudgeRole.error.message, /stages\[1\]\.committee\.members\[0\]\.role: names the role "judge"; add roles\.judge/);
});

test("a committee member whose role is not configured is refused with the member's field path; a stored config that lacks it stops the stage", async () => {
  const stages = [{ name: "probe.greedy" }, { name: "repair.labels", committee: { members: [{ role: "judge" }, { role: "judge2" }], consensus: 2 } }];
  const parsed = parseCampaignConfig(rawCampaign({ simUrl: res.sim.url, stages }));
  assert.ok(!parsed.ok);
  assert.match(parsed.error.message, /stages\[1\]\.committee\.members\[1\]\.role: names the role "judge2"; add roles\.judge2/);
  // A config that reached the handler without the check (its roles edited after freezing) still fails clearly.
  const config = campaignConfig({ simUrl: res.sim.url, stages: [stages[0]!, { ...stages[1], committee: { members: [{ role: "judge" }], consensus: 1 } }] });
  const broken = {
    ...config,
    stages: config.stages.map((s) =>
      s.name === "repair.labels"
        ? {
            ...s,
            committee: {
              members: [
                { role: "judge", samples: 1 },
                { role: "judge2", samples: 1 },
              ],
              consensus: 2,
            },
          }
        : s,
    ),
  } as typeof config;
  const ctx = stageContext<RepairStage>(res.db.db, res.workDir, `repair-roles-${RUN}`, broken, "repair.labels");
  await assert.rejects(
    repairLabelsHandler.runBatch(ctx, 0, { resumeFrom: undefined, report: () => undefined }),
    (e: unknown) => e instanceof StageInputError && /^stages\[1\]\.committee\.members\[1\]\.role: the judge2 role is not configured/.test(e.message),
  );
});

/** The sum of a counter over all its label values. */
async function counterTotal(c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await c.get()).values.reduce((a, v) => a + v.value, 0);
}

test(
  "each verdict's action: repaired, error seed, dropped, no consensus; every vote stored; resume asks only missing votes",
  { timeout: 180_000 },
  async () => {
    const db = res.db.db;
    const campaignId = `repair-${RUN}`;
    const config = campaignConfig({
      simUrl: res.sim.url,
      judgeUrl: judge.url,
      stages: [{ name: "probe.greedy" }, { name: "repair.labels", batchSize: 4, committee: COMMITTEE }],
    });
    const generator = createRoleClient(config, "generator");
    // Correct samples from the simulator's generator; the cases below plant labels and predictions around them.
    const good = await seedPool(db, generator, campaignId, 4, { store: false });
    const wrong = (s: SeedSample, v = "Atlantis, Nowhere") => withWrongLocation(campaignId, s, v);
    const answerOf = (s: SeedSample) => labelOf(s.messages)!;
    const cases = {
      labelWrong: { sample: wrong(good[0]!), prediction: answerOf(good[0]!), verdict: "LABEL_WRONG" as const },
      predWrong: { sample: good[1]!, prediction: answerOf(wrong(good[1]!)), verdict: "PRED_WRONG" as const },
      bothWrong: { sample: wrong(good[2]!), prediction: answerOf(wrong(good[2]!, "Elsewhere")), verdict: "BOTH_WRONG" as const },
      split: { sample: wrong(good[3]!), prediction: answerOf(good[3]!), verdict: "LABEL_WRONG" as const },
    };
    await storeSeeds(
      db,
      campaignId,
      Object.values(cases).map((c) => c.sample),
    );
    for (const [name, c] of Object.entries(cases)) {
      // Seed 2 always dissents (judge reliability must show it); the split case gets three different verdicts.
      plan.set(c.sample.query, {
        verdict: c.verdict,
        dissent: name === "split" ? { 1: "PRED_WRONG", 2: "BOTH_WRONG" } : { 2: c.verdict === "BOTH_WRONG" ? "PRED_WRONG" : "BOTH_WRONG" },
      });
      const label = labelOf(c.sample.messages)!;
      const agreement = compareToLabel(c.prediction, label, c.sample.tools);
      assert.equal(agreement.agrees, false, `${name}: the planted prediction differs from the label`);
      await plantMismatch(db, campaignId, c.sample.id, c.prediction, agreement.reasons);
    }
    const ctx = stageContext<RepairStage>(db, res.workDir, campaignId, config, "repair.labels");
    const asked = judge.requests.length;
    const metricsBefore = { votes: await counterTotal(judgeVotesCounted), decisions: await counterTotal(labelDecisions) };
    const batches = await planAndRun(db, ctx, repairLabelsHandler);
    assert.equal(judge.requests.length - asked, 12, "three votes per mismatch");
    assert.equal(
      batches.reduce((a, b) => a + b.items, 0),
      4,
    );

    const ids = Object.values(cases).map((c) => c.sample.id);
    const votes = await db.select().from(judgeVotes).where(eq(judgeVotes.campaignId, campaignId));
    assert.equal(votes.length, 12, "every vote is stored");
    assert.equal((await counterTotal(judgeVotesCounted)) - metricsBefore.votes, 12, "each stored vote is counted in the worker's metrics");
    assert.equal((await counterTotal(labelDecisions)) - metricsBefore.decisions, 4, "each decision is counted");
    assert.deepEqual([...new Set(votes.map((v) => v.judge))].sort(), ["judge#0", "judge#1", "judge#2"]);
    assert.ok(votes.every((v) => v.model === "scripted-judge" && v.analysis.startsWith("scripted: ")));

    const judgements = new Map(
      (
        await db
          .select()
          .from(labelJudgements)
          .where(and(eq(labelJudgements.campaignId, campaignId), inArray(labelJudgements.sampleId, ids)))
      ).map((j) => [j.sampleId, j]),
    );
    const j = (c: { sample: SeedSample }) => judgements.get(c.sample.id)!;
    assert.equal(judgements.size, 4);
    for (const row of judgements.values()) assert.equal(row.votes, 3);

    // LABEL_WRONG: a new sample with the prediction as its label, verified by the rules.
    assert.equal(j(cases.labelWrong).verdict, "LABEL_WRONG");
    assert.equal(j(cases.labelWrong).action, "repaired");
    const repairedId = j(cases.labelWrong).resultSampleId!;
    const [repaired] = await db.select().from(samples).where(eq(samples.id, repairedId));
    assert.ok(repaired, "the repaired sample is stored");
    assert.equal(repaired.origin, "repaired");
    assert.equal(repaired.parentId, cases.labelWrong.sample.id);
    assert.equal(repaired.stage, "repair.labels");
    assert.equal(repaired.iteration, 1);
    assert.equal(repaired.status, "verified");
    const provenance = repaired.metadata.provenance as { stage: string; roles: Record<string, { model: string }>; config: unknown; code: { version: string } };
    assert.equal(provenance.stage, "repair.labels");
    assert.equal(provenance.roles.judge?.model, "scripted-judge", "the committee's judges are named with their models");
    assert.ok("policy" in provenance.roles, "the probed policy wrote the new label");
    assert.ok(provenance.code.version);
    assert.deepEqual(repaired.messages.slice(0, -1), cases.labelWrong.sample.messages.slice(0, -1), "same prompt");
    assert.ok(compareToLabel(labelOf(repaired.messages)!, cases.labelWrong.prediction, repaired.tools).agrees, "the prediction is its label");

    assert.deepEqual([j(cases.predWrong).verdict, j(cases.predWrong).action, j(cases.predWrong).resultSampleId], ["PRED_WRONG", "error_seed", null]);
    assert.deepEqual([j(cases.bothWrong).verdict, j(cases.bothWrong).action], ["BOTH_WRONG", "dropped"]);
    assert.deepEqual([j(cases.split).verdict, j(cases.split).action], [null, "no_consensus"]);
    assert.deepEqual((j(cases.split).details as { counts: unknown }).counts, { LABEL_WRONG: 1, PRED_WRONG: 1, BOTH_WRONG: 1 });

    // The error seed is what expand.errors will read.
    const seeds = await planSelection(db, { campaignId, iteration: 1, stage: "expand.errors" }, { scope: "errorSeeds" }, 100, false);
    assert.equal(seeds.items, 1);

    const summary = (await repairLabelsHandler.finalize!(ctx, batches)) as Record<string, unknown>;
    assert.deepEqual(summary.verdicts, { LABEL_WRONG: 1, PRED_WRONG: 1, BOTH_WRONG: 1, none: 1 });
    assert.deepEqual(summary.actions, { repaired: 1, error_seed: 1, dropped: 1, no_consensus: 1 });
    assert.equal(summary.judgeCallsPerMismatch, 3);
    const reliability = summary.judgeReliability as Record<string, { decided: number; agreed: number; rate: number }>;
    assert.deepEqual(reliability["judge#0"], { decided: 3, agreed: 3, rate: 1 });
    assert.deepEqual(reliability["judge#2"], { decided: 3, agreed: 0, rate: 0 }, "the planted dissenter never agrees");

    // A rerun asks the judges nothing and writes nothing.
    const sampleCount = async () => (await db.select({ id: samples.id }).from(samples).where(eq(samples.campaignId, campaignId))).length;
    const before = await sampleCount();
    const mark = judge.requests.length;
    const again = await planAndRun(db, ctx, repairLabelsHandler);
    assert.equal(judge.requests.length - mark, 0, "a rerun asks nothing new");
    assert.equal(
      again.reduce((a, b) => a + (b.resumed ?? 0), 0),
      4,
    );
    assert.equal(await sampleCount(), before);

    // A crash after some votes and the repaired sample, before the judgement rows: only missing votes are asked, nothing is duplicated.
    await db
      .delete(labelJudgements)
      .where(and(eq(labelJudgements.campaignId, campaignId), inArray(labelJudgements.sampleId, [cases.labelWrong.sample.id, cases.predWrong.sample.id])));
    await db
      .delete(judgeVotes)
      .where(and(eq(judgeVotes.campaignId, campaignId), eq(judgeVotes.sampleId, cases.predWrong.sample.id), eq(judgeVotes.judge, "judge#1")));
    const mark2 = judge.requests.length;
    await planAndRun(db, ctx, repairLabelsHandler);
    assert.deepEqual(
      judge.requests.slice(mark2).map((r) => r.seed),
      [1],
      "only the missing vote is asked",
    );
    const after = new Map((await db.select().from(labelJudgements).where(eq(labelJudgements.campaignId, campaignId))).map((r) => [r.sampleId, r]));
    assert.equal(after.size, 4);
    assert.equal(after.get(cases.labelWrong.sample.id)?.resultSampleId, repairedId, "the same repaired sample");
    assert.equal(after.get(cases.predWrong.sample.id)?.action, "error_seed");
    assert.equal(await sampleCount(), before, "no duplicate sample");
    assert.equal((await db.select().from(judgeVotes).where(eq(judgeVotes.campaignId, campaignId))).length, 12);
  },
);

/**
 * Relies on the simulator's label perplexity (/tokenize spans that agree with prompt_logprobs).
 */
test("BOTH_CORRECT keeps the higher-perplexity answer: the label when it is harder, else the prediction as a new sample", { timeout: 120_000 }, async () => {
  const db = res.db.db;
  const campaignId = `repair-ppl-${RUN}`;
  const config = campaignConfig({ simUrl: res.sim.url, judgeUrl: judge.url, stages: [{ name: "probe.greedy" }, { name: "repair.labels" }] });
  const generator = createRoleClient(config, "generator");
  const good = await seedPool(db, generator, campaignId, 5, { offset: 4, store: false });
  const answerOf = (s: SeedSample) => labelOf(s.messages)!;
  // Planted stored label PPLs: very high (the label must stay) and the lowest possible, 1 (the prediction must win);
  // the third label's PPL is computed by the policy like the predictions'.
  const cases = {
    keepLabel: { sample: good[0]!, prediction: answerOf(withWrongLocation(campaignId, good[0]!, "Oslo, Norway")), storedPpl: 1e6 },
    keepPrediction: { sample: good[1]!, prediction: answerOf(withWrongLocation(campaignId, good[1]!, "Rome, Italy")), storedPpl: 1 },
    computed: { sample: good[2]!, prediction: answerOf(withWrongLocation(campaignId, good[2]!, "Lima, Peru")), storedPpl: undefined },
    // Stored under the same model name, but measured on a served checkpoint (a retrain's weights under that name), not this policy.
    otherWeights: {
      sample: good[3]!,
      prediction: answerOf(withWrongLocation(campaignId, good[3]!, "Quito, Ecuador")),
      storedPpl: 1e6,
      servedCheckpoint: { modelVersionId: `${campaignId}:0:served`, path: "/old", fingerprint: "sha256:old", engine: "vllm" },
    },
    // Stored by score.perplexity with endOfTurnTokens this stage does not set: its span ended by another rule.
    otherEndOfTurn: {
      sample: good[4]!,
      prediction: answerOf(withWrongLocation(campaignId, good[4]!, "Bern, Switzerland")),
      storedPpl: 1e6,
      endOfTurnTokens: ["<|turn_end|>"],
    },
  };
  await storeSeeds(
    db,
    campaignId,
    Object.values(cases).map((c) => c.sample),
  );
  for (const c of Object.values(cases)) {
    plan.set(c.sample.query, { verdict: "BOTH_CORRECT" });
    await plantMismatch(db, campaignId, c.sample.id, c.prediction, []);
    if (c.storedPpl !== undefined)
      await db.insert(sampleScores).values({
        campaignId,
        iteration: 1,
        sampleId: c.sample.id,
        metric: "label_ppl",
        model: "toolloop-sim-policy",
        modelVersionId: null,
        value: c.storedPpl,
        details: "servedCheckpoint" in c ? { servedCheckpoint: c.servedCheckpoint } : "endOfTurnTokens" in c ? { endOfTurnTokens: c.endOfTurnTokens } : null,
      });
  }
  const ctx = stageContext<RepairStage>(db, res.workDir, campaignId, config, "repair.labels");
  await planAndRun(db, ctx, repairLabelsHandler);
  const rows = new Map((await db.select().from(labelJudgements).where(eq(labelJudgements.campaignId, campaignId))).map((r) => [r.sampleId, r]));
  const pplOf = (c: { sample: SeedSample }) =>
    (rows.get(c.sample.id)!.details as { perplexity: { label: number; prediction: number; labelFrom: string } }).perplexity;
  console.log(`BOTH_CORRECT perplexities: ${JSON.stringify(Object.fromEntries(Object.entries(cases).map(([k, c]) => [k, pplOf(c)])))}`);

  assert.equal(pplOf(cases.keepLabel).labelFrom, "sample_scores");
  assert.equal(pplOf(cases.otherWeights).labelFrom, "computed", "a label perplexity of other weights is not reused");
  // Before: reused, so the label's span and the prediction's ended by different rules.
  assert.equal(pplOf(cases.otherEndOfTurn).labelFrom, "computed", "a label perplexity whose span ended by other end-of-turn tokens is not reused");
  assert.deepEqual([rows.get(cases.keepLabel.sample.id)!.action, rows.get(cases.keepLabel.sample.id)!.resultSampleId], ["kept_label", null]);
  const kp = pplOf(cases.keepPrediction);
  assert.ok(kp.prediction > kp.label, "a prediction's PPL exceeds the planted minimum");
  const keptPrediction = rows.get(cases.keepPrediction.sample.id)!;
  assert.equal(keptPrediction.action, "kept_prediction");
  const [kept] = await db.select().from(samples).where(eq(samples.id, keptPrediction.resultSampleId!));
  assert.equal(kept?.origin, "repaired");
  assert.equal(kept?.parentId, cases.keepPrediction.sample.id);
  assert.ok(compareToLabel(labelOf(kept.messages)!, cases.keepPrediction.prediction, kept.tools).agrees);
  // Computed both ways: the action follows the numbers.
  const c = pplOf(cases.computed);
  assert.equal(c.labelFrom, "computed");
  assert.equal(rows.get(cases.computed.sample.id)!.action, c.prediction > c.label ? "kept_prediction" : "kept_label");
});

test("a mismatch longer than the judge model's context is left undecided, saying why; the batch goes on", { timeout: 120_000 }, async () => {
  const db = res.db.db;
  const campaignId = `repair-long-${RUN}`;
  const config = campaignConfig({
    simUrl: res.sim.url,
    judgeUrl: judge.url,
    stages: [{ name: "probe.greedy" }, { name: "repair.labels", batchSize: 4, committee: COMMITTEE }],
  });
  const good = await seedPool(db, createRoleClient(config, "generator"), campaignId, 3, { store: false });
  const long = withWrongLocation(campaignId, good[0]!);
  const fixable = withWrongLocation(campaignId, good[1]!);
  const rambling = good[2]!;
  await storeSeeds(db, campaignId, [long, fixable, rambling]);
  plan.set(long.query, { verdict: "LABEL_WRONG", tooLong: true });
  plan.set(fixable.query, { verdict: "LABEL_WRONG" });
  // Both right by the judges, but the prediction (an answer longer than the policy's context) cannot be scored.
  plan.set(rambling.query, { verdict: "BOTH_CORRECT" });
  for (const [s, prediction] of [
    [long, labelOf(good[0]!.messages)!],
    [fixable, labelOf(good[1]!.messages)!],
    [rambling, { content: "very ".repeat(40_000) + "long answer" }],
  ] as const) {
    await plantMismatch(db, campaignId, s.id, prediction, compareToLabel(prediction, labelOf(s.messages)!, s.tools).reasons);
  }
  const ctx = stageContext<RepairStage>(db, res.workDir, campaignId, config, "repair.labels");
  // Before, the 400 was a client error that failed the batch, and every retry failed on the same case.
  const batches = await planAndRun(db, ctx, repairLabelsHandler);
  const rows = new Map((await db.select().from(labelJudgements).where(eq(labelJudgements.campaignId, campaignId))).map((r) => [r.sampleId, r]));
  const undecided = rows.get(long.id)!;
  assert.deepEqual([undecided.verdict, undecided.action, undecided.resultSampleId, undecided.votes], [null, "no_consensus", null, 0]);
  assert.match(
    String((undecided.details as { notJudged?: string }).notJudged),
    /^the case does not fit the judge model's context: .*maximum context length is 32768/,
  );
  assert.equal(rows.get(fixable.id)?.action, "repaired", "the batch's other mismatch is decided as usual");
  assert.equal(
    batches.reduce((a, b) => a + ((b.tooLongForJudges as number | undefined) ?? 0), 0),
    1,
  );
  const summary = (await repairLabelsHandler.finalize!(ctx, batches)) as Record<string, unknown>;
  assert.equal(summary.tooLongForJudges, 1, "the summary counts it, from the stored rows");
  assert.deepEqual(summary.actions, { repaired: 1, no_consensus: 1, kept_label: 1 });
  // Before, the policy's 400 failed the batch as well.
  const kept = rows.get(rambling.id)!;
  assert.equal(kept.action, "kept_label");
  assert.match(
    String((kept.details as { perplexity?: { notComputed?: string } }).perplexity?.notComputed),
    /^does not fit the policy model's context: .*maximum context length/,
  );
});

test("a transport failure that fails the batch stops the batch's other judge requests instead of leaving them running", { timeout: 60_000 }, async () => {
  const db = res.db.db;
  const campaignId = `repair-stop-${RUN}`;
  const weather = WEATHER_TOOL;
  const call = weatherCall;
  const cities = ["Broken", ...Array.from({ length: 40 }, (_, i) => `City${i}`)];
  const seeds = cities.map((city): SeedSample => {
    const user = { role: "user" as const, content: `What is the weather in ${city}?` };
    return {
      id: `${campaignId}-${city}`,
      messages: [user, { role: "assistant" as const, content: null, tool_calls: [call(city)] }],
      tools: [weather],
      query: user.content,
    };
  });
  await storeSeeds(db, campaignId, seeds);
  for (const s of seeds) await plantMismatch(db, campaignId, s.id, { content: null, tool_calls: [call("Nowhere")] }, []);
  // The judge answers "Broken" with a 500 every time (a transport failure that fails the batch) and the rest slowly.
  const asked: { at: number; city: string }[] = [];
  const slowJudge = await startScriptedChatServer("scripted judge", async (body) => {
    const text = (body.messages as { content: string }[]).map((m) => m.content).join("\n");
    asked.push({ at: Date.now(), city: /weather in (City\d+|Broken)/.exec(text)?.[1] ?? "(its second request)" });
    if (text.includes("Broken")) return chatError(500, "scripted: the judge fell over");
    await new Promise((r) => setTimeout(r, 150));
    return chatCompletion({
      id: `chatcmpl-${Math.random()}`,
      model: String(body.model),
      message: { content: JSON.stringify({ verdict: "PRED_WRONG", analysis: "scripted" }) },
    });
  });
  try {
    const parsed = parseCampaignConfig(rawCampaign({ simUrl: res.sim.url, judgeUrl: slowJudge.url, stages: [{ name: "repair.labels", batchSize: 100 }] }));
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
    const ctx = stageContext<RepairStage>(db, res.workDir, campaignId, parsed.config, "repair.labels");
    await assert.rejects(planAndRun(db, ctx, repairLabelsHandler), /500|fell over/);
    const failedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    // Requests already sent when it failed may reach the server a moment later; none is sent after. Before: the
    // batch had failed, yet its other items went on asking for 1.5 s and more.
    const late = asked.filter((a) => a.at > failedAt + 100).map((a) => a.city);
    assert.deepEqual(late, [], `${late.length} judge requests after the batch failed`);
  } finally {
    await slowJudge.close();
  }
});

/**
 * A vLLM-shaped policy for perplexities only: ChatML with Hermes tool calls, one token per
 * whitespace-separated piece, /tokenize and chat prompt_logprobs rendered alike; a piece holding
 * `impossible` gets vLLM's -inf (written -9999), every other piece -0.25.
 */
async function startImpossibleTokenPolicy(): Promise<{ url: string; close(): Promise<void> }> {
  type Json = Record<string, unknown>;
  const render = (messages: Json[], tools: unknown, addGenerationPrompt: boolean) => {
    let out = tools ? `<|im_start|>system\n# Tools ${JSON.stringify(tools)}<|im_end|>\n` : "";
    for (const m of messages) {
      const calls = ((m.tool_calls as Json[] | undefined) ?? []).map((c) => {
        const fn = c.function as Json;
        return `\n<tool_call>\n{"name": "${String(fn.name)}", "arguments": ${JSON.stringify(JSON.parse(String(fn.arguments)))}}\n</tool_call>`;
      });
      out += `<|im_start|>${String(m.role)}\n${typeof m.content === "string" ? m.content : ""}${calls.join("")}<|im_end|>\n`;
    }
    return addGenerationPrompt ? out + "<|im_start|>assistant\n" : out;
  };
  // Special tokens whole, as a tokenizer's added tokens.
  const pieces = (text: string) => text.match(/<\|[a-z_]+\|>|\n|[^\S\n]+|(?:(?!<\|[a-z_]+\|>)\S)+/g) ?? [];
  const idOf = (piece: string) => 100 + ([...piece].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 30000);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json;
      const ps = pieces(render(body.messages as Json[], body.tools, body.add_generation_prompt !== false));
      const reply: Json =
        req.url === "/tokenize"
          ? { count: ps.length, max_model_len: 32768, tokens: ps.map(idOf), token_strs: body.return_token_strs ? ps : null }
          : {
              id: "x",
              object: "chat.completion",
              model: body.model,
              choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "length", logprobs: null }],
              usage: { prompt_tokens: ps.length, completion_tokens: 1, total_tokens: ps.length + 1 },
              prompt_logprobs: ps.map((p, i) =>
                i === 0 ? null : { [String(idOf(p))]: { logprob: p.includes("impossible") ? -9999 : -0.25, rank: 1, decoded_token: p } },
              ),
            };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close: () => new Promise((r) => server.close(() => r())) };
}

test(
  "BOTH_CORRECT with an answer the policy gives no probability (vLLM's -inf): that answer is the harder one, not a failed batch",
  { timeout: 60_000 },
  async () => {
    const db = res.db.db;
    const campaignId = `repair-inf-${RUN}`;
    const weather = WEATHER_TOOL;
    const call = weatherCall;
    const seeds = ["Paris", "Quito"].map((city): SeedSample => {
      const user = { role: "user" as const, content: `What is the weather in ${city} today?` };
      return {
        id: `${campaignId}-${city}`,
        messages: [user, { role: "assistant" as const, content: null, tool_calls: [call(city)] }],
        tools: [weather],
        query: user.content,
      };
    });
    await storeSeeds(db, campaignId, seeds);
    // Paris: the prediction holds the impossible token; Quito: the label does.
    await plantMismatch(db, campaignId, seeds[0]!.id, { content: null, tool_calls: [call("impossible")] }, []);
    seeds[1]!.messages[1] = { role: "assistant", content: null, tool_calls: [call("impossible")] };
    await db.update(samples).set({ messages: seeds[1]!.messages }).where(eq(samples.id, seeds[1]!.id));
    await plantMismatch(db, campaignId, seeds[1]!.id, { content: null, tool_calls: [call("Quito")] }, []);
    for (const s of seeds) plan.set(s.query, { verdict: "BOTH_CORRECT" });
    const policy = await startImpossibleTokenPolicy();
    try {
      const raw = rawCampaign({ simUrl: res.sim.url, judgeUrl: judge.url, stages: [{ name: "repair.labels" }] }) as {
        endpoints: Record<string, unknown>;
        roles: Record<string, unknown>;
      };
      raw.endpoints.vllm = { baseUrl: policy.url, maxConcurrency: 4, maxRetries: 0 };
      raw.roles.policy = { endpoint: "vllm", model: "scripted-policy" };
      const parsed = parseCampaignConfig(raw);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
      const ctx = stageContext<RepairStage>(db, res.workDir, campaignId, parsed.config, "repair.labels");
      // Before: the impossible answer scored perplexity Infinity and keepHigherPerplexity threw a plain Error that failed the batch.
      await planAndRun(db, ctx, repairLabelsHandler);
      const rows = new Map((await db.select().from(labelJudgements).where(eq(labelJudgements.campaignId, campaignId))).map((r) => [r.sampleId, r]));
      const paris = rows.get(seeds[0]!.id)!;
      const quito = rows.get(seeds[1]!.id)!;
      assert.equal(paris.action, "kept_prediction");
      assert.equal(quito.action, "kept_label");
      const ppl = (r: typeof paris) => (r.details as { perplexity: { label: unknown; prediction: unknown } }).perplexity;
      assert.equal(ppl(paris).prediction, "Infinity", "written as text: JSON has no Infinity");
      assert.equal(ppl(quito).label, "Infinity");
      assert.ok(typeof ppl(paris).label === "number" && Number.isFinite(ppl(paris).label));
    } finally {
      await policy.close();
    }
  },
);
