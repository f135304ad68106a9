/**
 * A planted policy error becomes an error seed and is expanded: the policy (a simulator that makes a
 * detectable mistake on every answer) is probed on correct seed labels, the simulated judges call
 * it PRED_WRONG, and expand.errors writes new samples around each seed that keep its call shape
 * (same tools, in order) with other values, verified by rules and the judge committee's label check.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { labelJudgements, samples } from "../../src/db/schema.js";
import { createRoleClient } from "../../src/llm/client.js";
import { startSimulator, type SimulatorHandle } from "../../src/llm/simulator/server.js";
import { labelIsWrong } from "../../src/llm/simulator/truth.js";
import { judgeVotesCounted } from "../../src/metrics/toolloopMetrics.js";
import { decodeToolCalls, labelOf } from "../../src/matching/labelAgreement.js";
import { expandErrorsHandler, type ExpansionProgress } from "../../src/stages/expand/errors/handler.js";
import { probeGreedyHandler } from "../../src/stages/probe/greedy/handler.js";
import { repairLabelsHandler } from "../../src/stages/repair/labels/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { campaignConfig, planAndRun, rawCampaign, seedPool, stageContext, storeSeeds, WEATHER_TOOL, weatherCall } from "../helpers/selfEvolution.js";
import { chatCompletion, startScriptedChatServer } from "../helpers/scriptedChatServer.js";
import { startScriptedJudge } from "../helpers/scriptedJudge.js";
import type { ChatMessage, McpTool } from "../../src/domain/types.js";
import { CALL_SHAPE_VERIFIER, ERROR_EXPANSION_MARKER } from "../../src/expansion/errorExpansion.js";
import { LABEL_CHECK_MARKER } from "../../src/judging/protocol.js";

let res: StageResources;
let faultyPolicy: SimulatorHandle;
before(async () => {
  res = await startStageResources("error-seeds", 23);
  faultyPolicy = await startSimulator({ seed: 5, latencyMs: 1, maxConcurrency: 8, mistakeRate: 1, quiet: true });
});
after(async () => {
  await faultyPolicy?.close();
  await res?.close();
});

test("a planted policy error becomes an error seed and is expanded into verified samples of the same call shape", { timeout: 180_000 }, async () => {
  const db = res.db.db;
  const campaignId = `edde-${Date.now().toString(36)}`;
  const committee = { members: [{ role: "judge", samples: 3 }], consensus: 2 };
  const raw = rawCampaign({
    simUrl: res.sim.url,
    stages: [{ name: "probe.greedy" }, { name: "repair.labels", committee }, { name: "expand.errors", perSeed: 2, committee }],
  }) as { endpoints: Record<string, unknown>; roles: Record<string, unknown> };
  raw.endpoints.faulty = { baseUrl: faultyPolicy.url, maxConcurrency: 8, maxRetries: 1 };
  raw.roles.policy = { endpoint: "faulty", model: "toolloop-sim-policy", temperature: 0 };
  const parsed = parseCampaignConfig(raw);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
  const config = parsed.config;

  const seeds = await seedPool(db, createRoleClient(config, "generator"), campaignId, 4);
  for (const s of seeds) assert.equal(labelIsWrong(s), false, "the seed labels are right (simulator truth)");

  await planAndRun(db, stageContext<StageConfigOf<"probe.greedy">>(db, res.workDir, campaignId, config, "probe.greedy"), probeGreedyHandler);
  await planAndRun(db, stageContext<StageConfigOf<"repair.labels">>(db, res.workDir, campaignId, config, "repair.labels"), repairLabelsHandler);
  const judged = await db.select().from(labelJudgements).where(eq(labelJudgements.campaignId, campaignId));
  const errorSeeds = judged.filter((j) => j.action === "error_seed").map((j) => j.sampleId);
  assert.ok(errorSeeds.length >= 3, `most policy mistakes are judged PRED_WRONG (error seeds: ${errorSeeds.length} of ${judged.length} judged)`);

  const ctx = stageContext<StageConfigOf<"expand.errors">>(db, res.workDir, campaignId, config, "expand.errors");
  const votesBefore = await counterTotal(judgeVotesCounted);
  const reports: ExpansionProgress[] = [];
  const batches = await planAndRun(db, ctx, expandErrorsHandler, (_, d) => reports.push(d as ExpansionProgress));
  const summary = await expandErrorsHandler.finalize!(ctx, batches);
  console.log(`expand.errors on ${errorSeeds.length} error seeds: ${JSON.stringify(summary)}`);
  // The stage's items are its planned seeds (the plan's total counts seeds), its slots the samples asked for.
  assert.equal(summary.items, errorSeeds.length, "items: the seeds planned");
  assert.equal(summary.slots, errorSeeds.length * 2, "slots: perSeed per seed");
  const last = reports[reports.length - 1];
  assert.deepEqual(last && { done: last.done, settled: last.settled }, { done: errorSeeds.length, settled: errorSeeds.length * 2 });
  for (let i = 1; i < reports.length; i++) {
    const [a, b] = [reports[i - 1] as ExpansionProgress, reports[i] as ExpansionProgress];
    assert.ok(
      b.done >= a.done && b.done <= b.seeds && b.done <= Math.floor(b.settled / 2),
      `progress in seeds never runs ahead of its slots (${JSON.stringify(b)})`,
    );
  }

  const expanded = await db
    .select()
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.origin, "expanded")));
  assert.equal(expanded.length, errorSeeds.length * 2, "perSeed samples per error seed");
  const byId = new Map(seeds.map((s) => [s.id, s]));
  let verified = 0;
  for (const e of expanded) {
    assert.equal(e.stage, "expand.errors");
    const provenance = e.metadata.provenance as { stage: string; roles: Record<string, unknown>; simulated: boolean };
    assert.equal(provenance.stage, "expand.errors");
    assert.ok("generator" in provenance.roles);
    assert.equal(provenance.simulated, true, "the simulator generated it");
    const seed = byId.get(e.parentId ?? "");
    assert.ok(seed && errorSeeds.includes(seed.id), "the parent is an error seed");
    const shape = (m: typeof e.messages) => {
      const d = decodeToolCalls(labelOf(m)?.tool_calls);
      return "calls" in d ? d.calls.map((c) => c.name) : ["<bad>"];
    };
    if (e.status !== "verified") continue;
    verified++;
    assert.deepEqual(shape(e.messages), shape(seed.messages), "same tools in the same order");
    assert.notEqual(JSON.stringify(labelOf(e.messages)), JSON.stringify(labelOf(seed.messages)), "other values");
    assert.equal(labelIsWrong(e), false, "a verified expansion's label is right (simulator truth)");
  }
  assert.ok(verified >= expanded.length / 2, `most expansions pass rules and the judges (${verified}/${expanded.length})`);
  // Each committee vote stored with a sample is counted once in the worker's metrics.
  const storedVotes = expanded.reduce((n, e) => n + ((e.metadata.committee as { votes?: unknown[] } | undefined)?.votes?.length ?? 0), 0);
  assert.ok(storedVotes > 0);
  assert.equal((await counterTotal(judgeVotesCounted)) - votesBefore, storedVotes, "each stored committee vote is counted once");
  // A rerun writes nothing new.
  await planAndRun(db, ctx, expandErrorsHandler);
  const again = await db
    .select()
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.origin, "expanded")));
  assert.equal(again.length, expanded.length);
  assert.equal((await counterTotal(judgeVotesCounted)) - votesBefore, storedVotes, "a rerun counts no vote again");
});

async function counterTotal(c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await c.get()).values.reduce((n, v) => n + v.value, 0);
}

test("an expansion whose label needs other calls than its error seed is rejected for its shape, before any judge is asked", { timeout: 60_000 }, async () => {
  const db = res.db.db;
  const campaignId = `edde-shape-${Date.now().toString(36)}`;
  const weather: McpTool = {
    name: "get_weather",
    description: "Current weather in a city",
    inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  };
  const time: McpTool = {
    name: "get_time",
    description: "Current time in a time zone",
    inputSchema: { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] },
  };
  const call = (name: string, args: Record<string, unknown>) => ({ id: "c0", type: "function" as const, function: { name, arguments: JSON.stringify(args) } });
  const seeds = ["Oslo", "Rome"].map((city) => {
    const messages: ChatMessage[] = [
      { role: "user", content: `What is the weather in ${city}?` },
      { role: "assistant", content: null, tool_calls: [call("get_weather", { city })] },
    ];
    return { id: `${campaignId}-${city}`, messages, tools: [weather, time], query: `What is the weather in ${city}?` };
  });
  await storeSeeds(db, campaignId, seeds);
  await db
    .insert(labelJudgements)
    .values(seeds.map((s) => ({ campaignId, iteration: 1, sampleId: s.id, verdict: "PRED_WRONG" as const, action: "error_seed" as const, votes: 1 })));

  // A SCRIPTED generator: variation 0's request is answered with the seed's tool, variation 1's with another offered tool.
  const generator = await startScriptedChatServer("scripted generator", (body) => {
    const messages = body.messages as { role: string; content: string }[];
    const reply = (message: Record<string, unknown>) => chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message });
    if (messages[0]?.content.includes(ERROR_EXPANSION_MARKER)) {
      const block = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(messages[messages.length - 1]!.content)![1]!) as {
        seed: { query: string };
        variation: { index: number };
      };
      return reply({ content: JSON.stringify({ query: `${block.seed.query} (variant ${block.variation.index})` }) });
    }
    const query = messages[messages.length - 1]!.content;
    return reply({
      content: null,
      tool_calls: [/variant 0/.test(query) ? call("get_weather", { city: "Lima" }) : call("get_time", { tz: "UTC" })],
    });
  });
  const judge = await startScriptedJudge(() => ({ verdict: "CORRECT", analysis: "scripted: the label answers the request" }), {
    markers: [LABEL_CHECK_MARKER],
  });
  try {
    const config = campaignConfig({ simUrl: generator.url, judgeUrl: judge.url, stages: [{ name: "expand.errors", perSeed: 2 }] });
    const ctx = stageContext<StageConfigOf<"expand.errors">>(db, res.workDir, campaignId, config, "expand.errors");
    await planAndRun(db, ctx, expandErrorsHandler);
    const expanded = await db
      .select()
      .from(samples)
      .where(and(eq(samples.campaignId, campaignId), eq(samples.origin, "expanded")));
    assert.equal(expanded.length, 4, "perSeed samples per error seed");
    const byVariant = (n: number) => expanded.filter((e) => (e.metadata as { slot: number }).slot === n);
    assert.deepEqual(
      byVariant(0).map((e) => e.status),
      ["verified", "verified"],
      "the seed's tool with other values: verified",
    );
    for (const e of byVariant(1)) {
      assert.equal(e.status, "rejected", "another tool than the seed's: not an expansion of the error");
      const shape = e.verdicts.find((v) => v.verifier === CALL_SHAPE_VERIFIER);
      assert.deepEqual(shape?.reasons, [
        "the label makes calls to get_time; its error seed makes calls to get_weather (an expansion keeps the seed's tools and call count)",
      ]);
      assert.equal((e.metadata as { committee?: unknown }).committee, undefined, "no committee for a sample off its seed's shape");
    }
    assert.equal(judge.requests.length, 2, "the judges check only the two expansions of the seed's shape");
  } finally {
    await generator.close();
    await judge.close();
  }
});

test("a transport failure that fails the batch stops the batch's other generator requests instead of leaving them running", { timeout: 60_000 }, async () => {
  const db = res.db.db;
  const campaignId = `edde-stop-${Date.now().toString(36)}`;
  const weather = WEATHER_TOOL;
  const call = weatherCall;
  const seeds = ["Broken", ...Array.from({ length: 40 }, (_, i) => `City${i}`)].map((city) => {
    const messages: ChatMessage[] = [
      { role: "user", content: `What is the weather in ${city}?` },
      { role: "assistant", content: null, tool_calls: [call(city)] },
    ];
    return { id: `${campaignId}-${city}`, messages, tools: [weather], query: `What is the weather in ${city}?` };
  });
  await storeSeeds(db, campaignId, seeds);
  await db
    .insert(labelJudgements)
    .values(seeds.map((s) => ({ campaignId, iteration: 1, sampleId: s.id, verdict: "PRED_WRONG" as const, action: "error_seed" as const, votes: 1 })));
  // The generator answers the "Broken" seed with a 500 every time (a transport failure that fails the batch), the rest slowly.
  const asked: { at: number; city: string }[] = [];
  const generator = await startScriptedChatServer("scripted generator", async (body) => {
    const text = (body.messages as { content: string }[]).map((m) => m.content).join("\n");
    asked.push({ at: Date.now(), city: /weather in (City\d+|Broken)/.exec(text)?.[1] ?? "(its second request)" });
    if (text.includes("Broken")) return { status: 500, body: { error: { message: "scripted: the generator fell over" } } };
    await new Promise((r) => setTimeout(r, 150));
    return chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message: { content: JSON.stringify({ query: "And in Lima?" }) } });
  });
  try {
    const config = campaignConfig({ simUrl: generator.url, stages: [{ name: "expand.errors", perSeed: 1, batchSize: 100 }] });
    const ctx = stageContext<StageConfigOf<"expand.errors">>(db, res.workDir, campaignId, config, "expand.errors");
    await assert.rejects(planAndRun(db, ctx, expandErrorsHandler), /500|fell over/);
    const failedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    // Requests already sent when it failed may reach the server a moment later; none is sent after. Before: the
    // batch had failed, yet its other items went on asking for 1.5 s and more.
    const late = asked.filter((a) => a.at > failedAt + 100).map((a) => a.city);
    assert.deepEqual(late, [], `${late.length} generator requests after the batch failed`);
  } finally {
    await generator.close();
  }
});

test(
  "an expansion that repeats its seed or a sibling (the server's call ids aside) is settled as a duplicate, not stored again",
  { timeout: 60_000 },
  async () => {
    const db = res.db.db;
    const campaignId = `edde-dup-${Date.now().toString(36)}`;
    const weather: McpTool = {
      name: "get_weather",
      description: "Current weather in a city",
      inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    };
    const call = (city: string, id = "c0") => ({ id, type: "function" as const, function: { name: "get_weather", arguments: JSON.stringify({ city }) } });
    // Seed "Oslo": every variation restates the seed itself. Seed "Rome": every variation writes the same new request.
    const seeds = ["Oslo", "Rome"].map((city) => {
      const messages: ChatMessage[] = [
        { role: "user", content: `What is the weather in ${city}?` },
        { role: "assistant", content: null, tool_calls: [call(city)] },
      ];
      return { id: `${campaignId}-${city}`, messages, tools: [weather], query: `What is the weather in ${city}?` };
    });
    await storeSeeds(db, campaignId, seeds);
    await db
      .insert(labelJudgements)
      .values(seeds.map((s) => ({ campaignId, iteration: 1, sampleId: s.id, verdict: "PRED_WRONG" as const, action: "error_seed" as const, votes: 1 })));
    // A vLLM-like generator: every tool call gets a fresh random id ("chatcmpl-tool-<uuid>").
    const generator = await startScriptedChatServer("scripted generator", (body) => {
      const messages = body.messages as { role: string; content: string }[];
      const reply = (message: Record<string, unknown>) => chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message });
      if (messages[0]?.content.includes(ERROR_EXPANSION_MARKER)) {
        const block = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(messages[messages.length - 1]!.content)![1]!) as { seed: { query: string } };
        return reply({ content: JSON.stringify({ query: block.seed.query.includes("Oslo") ? block.seed.query : "What is the weather in Lima?" }) });
      }
      const city = /weather in (\w+)/.exec(messages[messages.length - 1]!.content)![1]!;
      return reply({ content: null, tool_calls: [call(city, `chatcmpl-tool-${Math.random().toString(16).slice(2)}`)] });
    });
    const judge = await startScriptedJudge(() => ({ verdict: "CORRECT", analysis: "scripted: the label answers the request" }), {
      markers: [LABEL_CHECK_MARKER],
    });
    try {
      const config = campaignConfig({ simUrl: generator.url, judgeUrl: judge.url, stages: [{ name: "expand.errors", perSeed: 3 }] });
      const ctx = stageContext<StageConfigOf<"expand.errors">>(db, res.workDir, campaignId, config, "expand.errors");
      const [result] = await planAndRun(db, ctx, expandErrorsHandler);
      const expanded = await db
        .select()
        .from(samples)
        .where(and(eq(samples.campaignId, campaignId), eq(samples.origin, "expanded")));
      // Before: all six were stored verified (each with other call ids, so another sample id), duplicates 0.
      assert.deepEqual(
        expanded.map((e) => [e.parentId, e.status]),
        [[`${campaignId}-Rome`, "verified"]],
        "one sample: Rome's new request once; Oslo's restatements of the seed none",
      );
      assert.deepEqual({ written: result!.written, duplicates: result!.duplicates, failed: result!.failed }, { written: 1, duplicates: 5, failed: 0 });
    } finally {
      await generator.close();
      await judge.close();
    }
  },
);
