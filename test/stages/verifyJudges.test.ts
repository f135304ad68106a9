/**
 * verify.judges run directly (no Temporal) with real PostgreSQL. The judge is SCRIPTED
 * (test/helpers/scriptedJudge.ts answering the sample-check marker: planted verdicts keyed by the
 * case's latest user request and the request's seed, not a model), so each status is observed
 * exactly. Single-turn samples come from the LLM simulator's generator; the multi-turn sample is
 * built by hand (system, user, assistant calls, tool result, assistant text, user, assistant calls).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { and, eq, inArray } from "drizzle-orm";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { insertSampleCheckVotes } from "../../src/db/repos/sampleChecks.js";
import { insertSamples } from "../../src/db/repos/samples.js";
import { samples, sampleCheckVotes } from "../../src/db/schema.js";
import { SAMPLE_CHECK_MARKER } from "../../src/dialogue/protocol.js";
import type { ChatMessage } from "../../src/domain/types.js";
import { StageInputError } from "../../src/framework/stage.js";
import { createRoleClient } from "../../src/llm/client.js";
import { judgeVotesCounted } from "../../src/metrics/toolloopMetrics.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { STAGE_SPECS, type StageConfigOf } from "../../src/stages/specs.js";
import { verifyJudgesHandler } from "../../src/stages/verify/judges/handler.js";
import { EXAMPLE_TOOLS } from "../../src/tools/examples.js";
import { sampleId } from "../../src/util/ids.js";
import { startScriptedJudge, type ScriptedJudge } from "../helpers/scriptedJudge.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { campaignConfig, planAndRun, rawCampaign, seedPool, stageContext, storeSeeds } from "../helpers/selfEvolution.js";

type JudgesStage = StageConfigOf<"verify.judges">;

let res: StageResources;
let judge: ScriptedJudge;
/**
 * Planted verdict per latest user request, per seed ("unreadable": a reply that is not the answer
 * schema; "down": HTTP 500; "tooLong": vLLM's 400 for a prompt longer than the judge model's context).
 */
const plan = new Map<string, Record<number, "CORRECT" | "INCORRECT" | "unreadable" | "down" | "tooLong">>();
const TOO_LONG =
  "This model's maximum context length is 32768 tokens. However, you requested 41022 tokens (40510 in the messages, 512 in the completion). Please reduce the length of the messages or completion.";

before(async () => {
  res = await startStageResources("verify-judges", 17);
  judge = await startScriptedJudge(
    (r) => {
      const users = (r.case.messages as { role: string; content: string }[]).filter((m) => m.role === "user");
      const p = plan.get(users[users.length - 1]?.content ?? "");
      const a = p?.[r.seed ?? 0];
      if (!a || a === "unreadable") return { raw: "I think it is fine" };
      if (a === "down") return { httpStatus: 500 };
      if (a === "tooLong") return { httpStatus: 400, message: TOO_LONG };
      return { verdict: a, analysis: `scripted: ${a} (seed ${r.seed})` };
    },
    { markers: [SAMPLE_CHECK_MARKER] },
  );
});
after(async () => {
  await judge?.close();
  await res?.close();
});

const RUN = Date.now().toString(36);
const COMMITTEE = { members: [{ role: "judge", samples: 3 }], consensus: 2 };
const raw = (stage: Record<string, unknown>) =>
  rawCampaign({ simUrl: "http://127.0.0.1:9/v1", stages: [{ name: "verify.rules" }, { name: "verify.judges", ...stage }] });

test("verify.judges config: registered after verify.rules, committee default, consensus above n and LoopTool's one-judge default rejected with the field path", () => {
  const names = STAGE_SPECS.map((s) => s.name);
  assert.equal(names.indexOf("verify.judges"), names.indexOf("verify.rules") + 1);
  assert.equal(STAGE_HANDLERS["verify.judges"], verifyJudgesHandler);
  const ok = parseCampaignConfig(raw({}));
  assert.ok(ok.ok, ok.ok ? "" : ok.error.message);
  assert.deepEqual(ok.config.stages[1], {
    name: "verify.judges",
    batchSize: 100,
    committee: { members: [{ role: "judge", samples: 1 }], consensus: 1 },
    noConsensus: "reject",
  });
  // consensus > n.
  const above = parseCampaignConfig(raw({ committee: { members: [{ role: "judge", samples: 3 }], consensus: 4 } }));
  assert.ok(!above.ok);
  assert.match(above.error.message, /stages\[1\]\.committee\.consensus: consensus 4 can never be reached: the committee casts 3 vote\(s\) in all/);
  // The published code's default: one judge, a consensus of two.
  const loopTool = parseCampaignConfig(raw({ committee: { members: [{ role: "judge" }], consensus: 2 } }));
  assert.ok(!loopTool.ok);
  assert.match(
    loopTool.error.message,
    /stages\[1\]\.committee\.consensus: consensus 2 can never be reached: the committee casts 1 vote\(s\) in all \(members' samples summed\); use at most 1/,
  );
  const half = parseCampaignConfig(
    raw({
      committee: {
        members: [
          { role: "judge", samples: 2 },
          { role: "judge2", samples: 2 },
        ],
        consensus: 2,
      },
    }),
  );
  assert.ok(!half.ok);
  assert.match(half.error.message, /stages\[1\]\.committee\.consensus: consensus 2 of 4 votes lets two verdicts both reach it/);
  const badKeep = parseCampaignConfig(raw({ noConsensus: "maybe" }));
  assert.ok(!badKeep.ok);
  assert.match(badKeep.error.message, /stages\[1\]\.noConsensus: expected "keep" or "reject"/);
  const noRole = parseCampaignConfig(raw({ committee: { members: [{ role: "judge" }, { role: "critic", samples: 2 }], consensus: 2 } }));
  assert.ok(!noRole.ok);
  assert.match(noRole.error.message, /stages\[1\]\.committee\.members\[1\]\.role: names the role "critic"; add roles\.critic/);
});

test("a stored config whose committee names an unconfigured role stops the stage with the member's field path", async () => {
  const config = campaignConfig({ simUrl: res.sim.url, stages: [{ name: "verify.rules" }, { name: "verify.judges" }] });
  const broken = {
    ...config,
    stages: config.stages.map((s) => (s.name === "verify.judges" ? { ...s, committee: { members: [{ role: "critic", samples: 1 }], consensus: 1 } } : s)),
  } as typeof config;
  const ctx = stageContext<JudgesStage>(res.db.db, res.workDir, `judges-roles-${RUN}`, broken, "verify.judges");
  await assert.rejects(
    verifyJudgesHandler.runBatch(ctx, 0, { resumeFrom: undefined, report: () => undefined }),
    (e: unknown) => e instanceof StageInputError && /^stages\[1\]\.committee\.members\[0\]\.role: the critic role is not configured/.test(e.message),
  );
});

/** A multi-turn sample built by hand: the label (last message) follows a tool result and a second user turn. */
function multiTurnMessages(): { messages: ChatMessage[]; lastUser: string } {
  const lastUser = "And in Paris, France? In Fahrenheit this time.";
  const call = (id: string, args: Record<string, unknown>) => ({
    id,
    type: "function" as const,
    function: { name: "get_current_weather", arguments: JSON.stringify(args) },
  });
  return {
    lastUser,
    messages: [
      { role: "system", content: "You are a helpful assistant with tools." },
      { role: "user", content: "What's the weather in Lyon, France right now?" },
      { role: "assistant", content: null, tool_calls: [call("call_1", { location: "Lyon, France" })] },
      { role: "tool", tool_call_id: "call_1", content: JSON.stringify({ temperature: 14, unit: "celsius", conditions: "rain" }) },
      { role: "assistant", content: "It is 14 °C and raining in Lyon." },
      { role: "user", content: lastUser },
      { role: "assistant", content: null, tool_calls: [call("call_2", { location: "Paris, France", unit: "fahrenheit" })] },
    ],
  };
}

async function counterTotal(c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await c.get()).values.reduce((a, v) => a + v.value, 0);
}

test(
  "planted verdicts -> statuses and verdicts; every vote stored; multi-turn judged with its full prompt; a rerun after a crash asks only the missing votes",
  { timeout: 180_000 },
  async () => {
    const db = res.db.db;
    const campaignId = `judges-${RUN}`;
    const config = campaignConfig({
      simUrl: res.sim.url,
      judgeUrl: judge.url,
      stages: [{ name: "verify.rules" }, { name: "verify.judges", batchSize: 100, committee: COMMITTEE }],
    });
    const generator = createRoleClient(config, "generator");
    const seeds = await seedPool(db, generator, campaignId, 5, { store: false });
    await storeSeeds(db, campaignId, seeds);
    const mt = multiTurnMessages();
    const weather = EXAMPLE_TOOLS.map((t) => t.tool).find((t) => t.name === "get_current_weather");
    assert.ok(weather, "the example library has get_current_weather");
    const mtId = sampleId(campaignId, { messages: mt.messages, tools: [weather] });
    await insertSamples(db, [
      {
        id: mtId,
        campaignId,
        iteration: 1,
        kind: "multi_turn",
        origin: "synthesized",
        stage: "synthesize.multiTurn",
        slotKey: `${campaignId}/1/synthesize.multiTurn/0#6`,
        messages: mt.messages,
        tools: [weather],
        status: "verified",
        verdicts: [{ verifier: "rules", ok: true, reasons: [] }],
        metadata: { dialogue: { id: `${campaignId}/1/synthesize.multiTurn/0`, labelSeq: 6, userTurn: 2, round: 0, turns: 2 } },
      },
    ]);
    const [correct, incorrect, split, unreadable, crashy] = seeds;
    plan.set(correct!.query, { 0: "CORRECT", 1: "CORRECT", 2: "INCORRECT" });
    plan.set(incorrect!.query, { 0: "INCORRECT", 1: "CORRECT", 2: "INCORRECT" });
    plan.set(split!.query, { 0: "CORRECT", 1: "INCORRECT", 2: "unreadable" });
    plan.set(unreadable!.query, { 0: "unreadable", 1: "unreadable", 2: "CORRECT" });
    plan.set(mt.lastUser, { 0: "CORRECT", 1: "CORRECT", 2: "CORRECT" });
    // The crash: the judge endpoint fails this sample's last seed on the first attempt.
    plan.set(crashy!.query, { 0: "INCORRECT", 1: "INCORRECT", 2: "down" });
    // An earlier attempt stored the first vote of the correct sample already.
    await insertSampleCheckVotes(db, [
      { campaignId, iteration: 1, sampleId: correct!.id, judge: "judge#0", model: "scripted-judge", verdict: "CORRECT", analysis: "scripted: earlier attempt" },
    ]);

    const ctx = stageContext<JudgesStage>(db, res.workDir, campaignId, config, "verify.judges");
    const asked = judge.requests.length;
    await assert.rejects(planAndRun(db, ctx, verifyJudgesHandler), /planted HTTP 500/, "the judge endpoint failing fails the batch");
    // The batch returns once every committee has settled: the failure stopped the ones still asking, the others' votes are stored.
    const storedAfterCrash = await db.select().from(sampleCheckVotes).where(eq(sampleCheckVotes.campaignId, campaignId));
    assert.ok(!storedAfterCrash.some((v) => v.sampleId === crashy!.id), "the failed sample's committee stored nothing");
    const requestsFirst = judge.requests.length - asked;
    assert.ok(
      !judge.requests.slice(asked).some((r) => r.seed === 0 && r.case.messages && JSON.stringify(r.case.messages).includes(correct!.query)),
      "the stored vote (judge#0 of the correct sample) was not asked again",
    );

    // The endpoint recovers; the rerun asks exactly the votes not stored.
    plan.set(crashy!.query, { 0: "INCORRECT", 1: "INCORRECT", 2: "CORRECT" });
    const metricsBefore = await counterTotal(judgeVotesCounted);
    const beforeRerun = judge.requests.length;
    const batches = await planAndRun(db, ctx, verifyJudgesHandler);
    const missing = 6 * 3 - storedAfterCrash.length;
    // A vote is one request, plus one repair request when the answer was unreadable.
    const asks = judge.requests.slice(beforeRerun).filter((r) => (r.body.messages as unknown[]).length === 2);
    assert.equal(asks.length, missing, `the rerun asks only the ${missing} missing votes (first attempt asked ${requestsFirst})`);
    assert.equal((await counterTotal(judgeVotesCounted)) - metricsBefore, missing, "each vote is counted once in the metrics");
    assert.equal(
      batches.reduce((a, b) => a + b.items, 0),
      6,
    );

    const votes = await db.select().from(sampleCheckVotes).where(eq(sampleCheckVotes.campaignId, campaignId));
    assert.equal(votes.length, 18, "three votes per sample, each stored once");
    assert.deepEqual([...new Set(votes.map((v) => v.judge))].sort(), ["judge#0", "judge#1", "judge#2"]);
    assert.ok(votes.every((v) => v.model === "scripted-judge" && v.analysis.length > 0));
    const unreadableVotes = votes.filter((v) => v.verdict === null);
    assert.equal(unreadableVotes.length, 3, "unreadable answers are stored as null votes with their error");

    const rows = new Map(
      (
        await db
          .select()
          .from(samples)
          .where(and(eq(samples.campaignId, campaignId), inArray(samples.id, [...seeds.map((s) => s.id), mtId])))
      ).map((r) => [r.id, r]),
    );
    const judged = (id: string) => rows.get(id)!.verdicts.find((v) => v.verifier === "judges");
    assert.equal(rows.get(correct!.id)!.status, "verified");
    assert.deepEqual(judged(correct!.id), { verifier: "judges", ok: true, reasons: [] });
    assert.equal(rows.get(incorrect!.id)!.status, "rejected");
    assert.match(judged(incorrect!.id)!.reasons[0]!, /^judged INCORRECT: 1 CORRECT, 2 INCORRECT of 3 votes \(consensus 2\)/);
    assert.equal(rows.get(crashy!.id)!.status, "rejected");
    assert.equal(rows.get(split!.id)!.status, "rejected", "no consensus rejects by default");
    assert.match(judged(split!.id)!.reasons[0]!, /^no consensus \(rejected, noConsensus reject\): 1 CORRECT, 1 INCORRECT of 3 votes/);
    assert.equal(rows.get(unreadable!.id)!.status, "rejected");
    assert.equal(rows.get(mtId)!.status, "verified");
    assert.deepEqual(
      rows.get(mtId)!.verdicts.map((v) => v.verifier),
      ["rules", "judges"],
      "the rules verdict stays next to the judges'",
    );

    // The multi-turn case: the prompt is every message before the label, tool messages included; the label is the last message.
    const mtReq = judge.requests.filter((r) => JSON.stringify(r.case.messages).includes(mt.lastUser));
    assert.ok(mtReq.length >= 3);
    for (const r of mtReq) {
      assert.equal(r.marker, SAMPLE_CHECK_MARKER);
      assert.deepEqual(r.case.messages, mt.messages.slice(0, -1));
      assert.deepEqual(r.case.label, {
        content: null,
        tool_calls: [{ name: "get_current_weather", arguments: { location: "Paris, France", unit: "fahrenheit" } }],
      });
      assert.deepEqual(
        (r.case.tools as { function: { name: string } }[]).map((t) => t.function.name),
        ["get_current_weather"],
      );
    }
    assert.deepEqual([...new Set(mtReq.map((r) => r.seed))].sort(), [0, 1, 2], "each repeated sample of the role is its own request with its own seed");
    // A seed is asked again only when the crash stopped its first ask before the committee's votes were stored.
    const mtStoredAfterCrash = new Set(storedAfterCrash.filter((v) => v.sampleId === mtId).map((v) => v.judge));
    for (const seed of [0, 1, 2]) {
      const positions = mtReq.filter((r) => r.seed === seed).map((r) => judge.requests.indexOf(r));
      const firstAttempt = positions.filter((i) => i < beforeRerun).length;
      const rerun = positions.length - firstAttempt;
      if (mtStoredAfterCrash.has(`judge#${seed}`)) {
        assert.deepEqual({ firstAttempt, rerun }, { firstAttempt: 1, rerun: 0 }, `seed ${seed}: stored after one ask, not asked again`);
      } else {
        assert.ok(firstAttempt <= 1, `seed ${seed}: asked ${firstAttempt} times in the first attempt`);
        assert.equal(rerun, 1, `seed ${seed}: its vote was not stored, so the rerun asks it once`);
      }
    }

    const summary = await verifyJudgesHandler.finalize!(ctx, batches);
    assert.equal(summary.judged, 6);
    assert.deepEqual(summary.verdicts, { CORRECT: 2, INCORRECT: 2, noConsensus: 2 });
    assert.equal(summary.votes, 18);
    assert.equal(summary.unreadableVotes, 3);
    const agreement = summary.judgeAgreement as Record<string, { decided: number; agreed: number }>;
    // Decided cases: correct (C,C,I), incorrect (I,C,I), crashy (I,I,C), multi-turn (C,C,C).
    assert.deepEqual(agreement["judge#0"], { decided: 4, agreed: 4, rate: 1 });
    assert.deepEqual(agreement["judge#1"], { decided: 4, agreed: 3, rate: 0.75 });
    assert.deepEqual(agreement["judge#2"], { decided: 4, agreed: 2, rate: 0.5 });
    const tokens = summary.tokens as Record<string, { requests: number; promptTokens: number }>;
    assert.ok((tokens["judge/scripted-judge"]?.requests ?? 0) >= 17, `judge requests recorded: ${JSON.stringify(tokens)}`);
    assert.ok((tokens["judge/scripted-judge"]?.promptTokens ?? 0) > 0);

    // A second rerun asks nothing and changes nothing.
    const settled = judge.requests.length;
    await planAndRun(db, ctx, verifyJudgesHandler);
    assert.equal(judge.requests.length, settled, "everything stored: no judge is asked again");
  },
);

test("noConsensus keep: a sample the committee cannot decide stays verified, with the reason recorded", { timeout: 120_000 }, async () => {
  const db = res.db.db;
  const campaignId = `judges-keep-${RUN}`;
  const config = campaignConfig({
    simUrl: res.sim.url,
    judgeUrl: judge.url,
    stages: [{ name: "verify.rules" }, { name: "verify.judges", committee: COMMITTEE, noConsensus: "keep" }],
  });
  const [s] = await seedPool(db, createRoleClient(config, "generator"), campaignId, 1, { store: false, offset: 7 });
  await storeSeeds(db, campaignId, [s!]);
  plan.set(s!.query, { 0: "CORRECT", 1: "INCORRECT", 2: "unreadable" });
  await planAndRun(db, stageContext<JudgesStage>(db, res.workDir, campaignId, config, "verify.judges"), verifyJudgesHandler);
  const [row] = await db.select().from(samples).where(eq(samples.id, s!.id));
  assert.equal(row!.status, "verified");
  const v = row!.verdicts.find((x) => x.verifier === "judges")!;
  assert.equal(v.ok, true);
  assert.match(v.reasons[0]!, /^no consensus \(kept, noConsensus keep\)/);
});

test(
  "a multi-turn sample longer than the judge model's context is settled by the noConsensus policy with the reason; the batch and its other samples go on",
  { timeout: 120_000 },
  async () => {
    const db = res.db.db;
    const campaignId = `judges-long-${RUN}`;
    const config = campaignConfig({
      simUrl: res.sim.url,
      judgeUrl: judge.url,
      stages: [{ name: "verify.rules" }, { name: "verify.judges", committee: COMMITTEE }],
    });
    const [s] = await seedPool(db, createRoleClient(config, "generator"), campaignId, 1, { store: false, offset: 11 });
    await storeSeeds(db, campaignId, [s!]);
    plan.set(s!.query, { 0: "CORRECT", 1: "CORRECT", 2: "CORRECT" });
    const mt = multiTurnMessages();
    const long = { ...mt, lastUser: "And the forecast for the whole of next month, day by day?" };
    const messages = mt.messages.map((m) => (m.role === "user" && m.content === mt.lastUser ? { ...m, content: long.lastUser } : m));
    const weather = EXAMPLE_TOOLS.map((t) => t.tool).find((t) => t.name === "get_current_weather")!;
    const mtId = sampleId(campaignId, { messages, tools: [weather] });
    await insertSamples(db, [
      {
        id: mtId,
        campaignId,
        iteration: 1,
        kind: "multi_turn",
        origin: "synthesized",
        stage: "synthesize.multiTurn",
        slotKey: `${campaignId}/1/synthesize.multiTurn/0#6`,
        messages,
        tools: [weather],
        status: "verified",
        verdicts: [{ verifier: "rules", ok: true, reasons: [] }],
        metadata: { dialogue: { id: `${campaignId}/1/synthesize.multiTurn/0`, labelSeq: 6, userTurn: 2, round: 0, turns: 2 } },
      },
    ]);
    plan.set(long.lastUser, { 0: "tooLong", 1: "tooLong", 2: "tooLong" });
    const ctx = stageContext<JudgesStage>(db, res.workDir, campaignId, config, "verify.judges");
    const batches = await planAndRun(db, ctx, verifyJudgesHandler);
    const rows = new Map((await db.select().from(samples).where(eq(samples.campaignId, campaignId))).map((r) => [r.id, r]));
    assert.equal(rows.get(s!.id)!.status, "verified", "the other sample of the batch was judged");
    const long1 = rows.get(mtId)!;
    assert.equal(long1.status, "rejected", "noConsensus reject (the default): a sample no judge could read is not kept as judged");
    const v = long1.verdicts.find((x) => x.verifier === "judges")!;
    assert.equal(v.ok, false);
    assert.match(
      v.reasons[0]!,
      /^not judged \(rejected, noConsensus reject\): the sample does not fit the judge model's context: .*maximum context length is 32768/,
    );
    const summary = await verifyJudgesHandler.finalize!(ctx, batches);
    assert.equal(summary.judged, 1);
    assert.equal(summary.tooLongForJudges, 1, "the summary counts the samples no judge could read");
  },
);
