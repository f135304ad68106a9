/**
 * probe.greedy run directly (no Temporal) against the LLM simulator's policy with results in real
 * PostgreSQL: planted wrong labels are mismatches with the matcher's reasons, every verified pool
 * sample gets one row, and a rerun asks the policy nothing.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createRoleClient } from "../../src/llm/client.js";
import { probeResultsOf } from "../../src/db/repos/probes.js";
import { planSelection } from "../../src/db/repos/stageBatchItems.js";
import { insertSamples } from "../../src/db/repos/samples.js";
import { insertPoolMembers } from "../../src/db/repos/pools.js";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { probeGreedyHandler } from "../../src/stages/probe/greedy/handler.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { chatCompletion, chatError, startScriptedChatServer } from "../helpers/scriptedChatServer.js";
import type { ChatMessage, McpTool } from "../../src/domain/types.js";
import {
  campaignConfig,
  planAndRun,
  rawCampaign,
  servePolicyWeights,
  seedPool,
  stageContext,
  storeSeeds,
  withWrongLocation,
  WEATHER_TOOL,
  weatherCall,
} from "../helpers/selfEvolution.js";

type ProbeStage = StageConfigOf<"probe.greedy">;
let res: StageResources;
before(async () => {
  res = await startStageResources("probe-greedy", 11);
});
after(async () => res?.close());

const RUN = Date.now().toString(36);

test("probe.greedy config: defaults and unknown keys rejected with the path", () => {
  const ok = parseCampaignConfig(rawCampaign({ simUrl: "http://127.0.0.1:9/v1", stages: [{ name: "probe.greedy" }] }));
  assert.ok(ok.ok, ok.ok ? "" : ok.error.message);
  assert.deepEqual(ok.config.stages[0], { name: "probe.greedy", batchSize: 1000 });
  assert.equal(STAGE_HANDLERS["probe.greedy"], probeGreedyHandler);
  const bad = parseCampaignConfig(rawCampaign({ simUrl: "http://127.0.0.1:9/v1", stages: [{ name: "probe.greedy", batchSize: 0 }] }));
  assert.ok(!bad.ok);
  assert.match(bad.error.message, /stages\[0\]\.batchSize: expected a positive integer/);
});

test("planted wrong labels are mismatches; every verified pool sample is probed once; a rerun asks nothing", { timeout: 120_000 }, async () => {
  const campaignId = `probe-greedy-${RUN}`;
  const config = campaignConfig({ simUrl: res.sim.url, stages: [{ name: "probe.greedy", batchSize: 4 }] });
  const generator = createRoleClient(config, "generator");
  const db = res.db.db;
  // 8 seed samples in the pool; 3 more whose labels were corrupted on purpose; 1 rejected sample (not probed).
  const seeds = await seedPool(db, generator, campaignId, 8);
  const planted = (await seedPool(db, generator, campaignId, 3, { offset: 8, store: false })).map((s) => withWrongLocation(campaignId, s));
  await storeSeeds(db, campaignId, planted);
  const rejected = withWrongLocation(campaignId, seeds[0]!, "Rejected Town");
  await insertSamples(db, [
    {
      id: rejected.id,
      campaignId,
      iteration: 1,
      kind: "standard",
      origin: "synthesized",
      messages: rejected.messages,
      tools: rejected.tools,
      status: "rejected",
    },
  ]);
  await insertPoolMembers(db, [{ campaignId, iteration: 1, sampleId: rejected.id, reason: "seed" }]);

  const ctx = stageContext<ProbeStage>(db, res.workDir, campaignId, config, "probe.greedy");
  const chats = () => res.sim.stats().byPath["/v1/chat/completions"] ?? 0;
  const start = chats();
  const batches = await planAndRun(db, ctx, probeGreedyHandler);
  assert.equal(chats() - start, 11, "one greedy request per verified pool sample");
  assert.equal(batches.length, 3);
  const sum = (k: string) => batches.reduce((a, b) => a + (b[k] ?? 0), 0);
  assert.equal(sum("items"), 11);
  assert.equal(sum("probed"), 11);

  const rows = await probeResultsOf(
    db,
    campaignId,
    1,
    [...seeds, ...planted, rejected].map((s) => s.id),
  );
  assert.equal(rows.size, 11);
  assert.ok(!rows.has(rejected.id), "a rejected sample is not in the probe");
  for (const p of planted) {
    const r = rows.get(p.id)!;
    assert.equal(r.match, false, `planted wrong label ${p.id} is a mismatch`);
    assert.ok(r.reasons.length > 0, "with the matcher's reasons");
    assert.ok(
      r.prediction.tool_calls?.some((c) => !c.function.arguments.includes("Atlantis")),
      "the policy did not answer with the planted value",
    );
    assert.equal(r.model, "toolloop-sim-policy");
    assert.equal(r.modelVersionId, null);
  }
  const seedMatches = seeds.filter((s) => rows.get(s.id)!.match).length;
  console.log(
    `probe.greedy: ${seedMatches}/${seeds.length} seed labels matched by the simulated policy; ${planted.length}/${planted.length} planted wrong labels mismatched`,
  );
  assert.equal(sum("matched"), seedMatches);
  assert.equal(sum("mismatched"), 11 - seedMatches);

  const summary = (await probeGreedyHandler.finalize!(ctx, batches)) as Record<string, unknown>;
  assert.equal(summary.probed, 11);
  assert.equal(summary.matched, seedMatches);
  assert.equal(summary.mismatched, 11 - seedMatches);
  assert.equal(summary.matchRate, seedMatches / 11);
  const reasons = summary.topMismatchReasons as Record<string, number>;
  assert.ok(Object.keys(reasons).length > 0);
  assert.ok(
    Object.values(reasons).every((n) => n >= 1 && n <= 11 - seedMatches),
    "each reason code counted once per mismatch",
  );

  const mark = chats();
  const lastReport = new Map<number, { done: number; total: number; mismatched: number }>();
  const again = await planAndRun(db, ctx, probeGreedyHandler, (b, d) => lastReport.set(b, d as { done: number; total: number; mismatched: number }));
  assert.equal(chats() - mark, 0, "a rerun asks the policy nothing");
  // The heartbeat counts what is stored: before, a rerun (a retried attempt) reported its batches done with 0 mismatched.
  assert.deepEqual(
    [...lastReport.values()].reduce((a, r) => ({ done: a.done + r.done, mismatched: a.mismatched + r.mismatched }), { done: 0, mismatched: 0 }),
    { done: 11, mismatched: 11 - seedMatches },
  );
  assert.equal(
    again.reduce((a, b) => a + b.reused!, 0),
    11,
  );
  assert.deepEqual(await probeGreedyHandler.finalize!(ctx, again), summary, "the summary is read from the stored rows");
});

test("a sample the policy cannot answer or that has no label still counts as done in the batch's progress", { timeout: 60_000 }, async () => {
  const campaignId = `probe-progress-${RUN}`;
  const weather = WEATHER_TOOL;
  const call = weatherCall;
  const sample = (city: string, labelled = true) => {
    const user: ChatMessage = { role: "user", content: `What is the weather in ${city}?` };
    const messages: ChatMessage[] = labelled ? [user, { role: "assistant", content: null, tool_calls: [call(city)] }] : [user];
    return { id: `${campaignId}-${city}`, messages, tools: [weather], query: user.content as string };
  };
  await storeSeeds(res.db.db, campaignId, [sample("Lima"), sample("Oslo"), sample("Rome", false)]);
  // A SCRIPTED policy: answers Lima with the label's call and refuses Oslo's prompt (a 400: that item fails alone).
  const policy = await startScriptedChatServer("scripted policy", (body) => {
    const messages = body.messages as { role: string; content: string }[];
    const text = messages.map((m) => m.content).join("\n");
    if (text.includes("Oslo")) return chatError(400, "scripted: this prompt is over the context length");
    return chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message: { content: null, tool_calls: [call("Lima")] } });
  });
  try {
    const raw = rawCampaign({ simUrl: policy.url, stages: [{ name: "probe.greedy", batchSize: 10 }] }) as { endpoints: Record<string, unknown> };
    const parsed = parseCampaignConfig(raw);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
    const ctx = stageContext<ProbeStage>(res.db.db, res.workDir, campaignId, parsed.config, "probe.greedy");
    const reports: { done: number; total: number }[] = [];
    const [result] = await planAndRun(res.db.db, ctx, probeGreedyHandler, (_, d) => reports.push(d as { done: number; total: number }));
    assert.deepEqual(
      { probed: result!.probed, matched: result!.matched, failed: result!.failed, unlabelled: result!.unlabelled },
      { probed: 1, matched: 1, failed: 1, unlabelled: 1 },
    );
    assert.deepEqual(reports.at(-1), { done: 3, total: 3, mismatched: 0 }, "the finished batch reports every sample done");
    for (const r of reports) assert.ok(r.done <= r.total);
  } finally {
    await policy.close();
  }
});

test(
  "a retrained policy that cannot answer a sample leaves it unprobed instead of keeping the old weights' mismatch for repair.labels",
  { timeout: 60_000 },
  async () => {
    const campaignId = `probe-retrain-${RUN}`;
    const db = res.db.db;
    const sample = (city: string) => {
      const user: ChatMessage = { role: "user", content: `What is the weather in ${city}?` };
      return {
        id: `${campaignId}-${city}`,
        messages: [user, { role: "assistant", content: null, tool_calls: [weatherCall(city)] }] as ChatMessage[],
        tools: [WEATHER_TOOL],
        query: user.content as string,
      };
    };
    const [lima, oslo] = [sample("Lima"), sample("Oslo")];
    await storeSeeds(db, campaignId, [lima, oslo]);
    // A SCRIPTED policy: the first weights answer every request with the wrong city; the retrained
    // weights answer Lima right and refuse Oslo's prompt (a 400: that item fails alone).
    let retrained = false;
    const policy = await startScriptedChatServer("scripted policy", (body) => {
      const text = (body.messages as { content: string }[]).map((m) => m.content).join("\n");
      if (retrained && text.includes("Oslo")) return chatError(400, "scripted: this prompt is over the context length");
      const city = retrained ? "Lima" : "Atlantis";
      return chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message: { content: null, tool_calls: [weatherCall(city)] } });
    });
    try {
      const parsed = parseCampaignConfig(rawCampaign({ simUrl: policy.url, stages: [{ name: "probe.greedy", batchSize: 10 }] }));
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
      // serve.policy's row: one id for every serving of the iteration; the checkpoint's fingerprint tells the weights apart.
      const serve = (fingerprint: string) => servePolicyWeights(db, { campaignId, url: policy.url }, fingerprint);
      const versionId = await serve("sha256:first-weights");
      const ctx = stageContext<ProbeStage>(db, res.workDir, campaignId, parsed.config, "probe.greedy", 1, versionId);
      const [first] = await planAndRun(db, ctx, probeGreedyHandler);
      assert.equal(first!.mismatched, 2, "the first weights get both wrong");

      // The operator resumes the iteration from train.grpo: new weights served under the same name and version id.
      retrained = true;
      await serve("sha256:retrained-weights");
      const [second] = await planAndRun(db, ctx, probeGreedyHandler);
      assert.deepEqual({ probed: second!.probed, matched: second!.matched, failed: second!.failed }, { probed: 1, matched: 1, failed: 1 });
      const rows = await probeResultsOf(db, campaignId, 1, [lima.id, oslo.id]);
      assert.deepEqual([...rows.keys()], [lima.id], "Oslo has no answer of the weights in force, and no other weights' answer either");
      assert.equal((rows.get(lima.id)!.servedCheckpoint as { fingerprint: string }).fingerprint, "sha256:retrained-weights");
      // What repair.labels would judge: the iteration's mismatches. Before, Oslo's was the first weights' answer.
      const mismatches = await planSelection(db, { campaignId, iteration: 1, stage: "repair.labels" }, { scope: "probeMismatches" }, 250, false);
      assert.equal(mismatches.items, 0);
      const summary = (await probeGreedyHandler.finalize!(ctx, [second!])) as Record<string, unknown>;
      assert.deepEqual([summary.probed, summary.matched, summary.mismatched], [1, 1, 0]);
    } finally {
      await policy.close();
    }
  },
);

test("a transport failure that fails the batch stops the batch's other requests instead of leaving them running", { timeout: 60_000 }, async () => {
  const campaignId = `probe-stop-${RUN}`;
  const weather = WEATHER_TOOL;
  const call = weatherCall;
  const cities = ["Broken", ...Array.from({ length: 40 }, (_, i) => `City${i}`)];
  await storeSeeds(
    res.db.db,
    campaignId,
    cities.map((city) => {
      const user: ChatMessage = { role: "user", content: `What is the weather in ${city}?` };
      return {
        id: `${campaignId}-${city}`,
        messages: [user, { role: "assistant", content: null, tool_calls: [call(city)] }],
        tools: [weather],
        query: user.content as string,
      };
    }),
  );
  // The "Broken" prompt gets a 500 every time (the client's retries spent: a transport failure that fails the batch); the rest answer slowly.
  const asked: { at: number; city: string }[] = [];
  const policy = await startScriptedChatServer("scripted policy", async (body) => {
    const text = (body.messages as { content: string }[]).map((m) => m.content).join("\n");
    asked.push({ at: Date.now(), city: /weather in (City\d+|Broken)/.exec(text)?.[1] ?? "(its second request)" });
    if (text.includes("Broken")) return chatError(500, "scripted: the server fell over");
    await new Promise((r) => setTimeout(r, 150));
    return chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message: { content: null, tool_calls: [call("x")] } });
  });
  try {
    const raw = rawCampaign({ simUrl: policy.url, stages: [{ name: "probe.greedy", batchSize: 100 }] });
    const parsed = parseCampaignConfig(raw);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
    const ctx = stageContext<ProbeStage>(res.db.db, res.workDir, campaignId, parsed.config, "probe.greedy");
    await assert.rejects(planAndRun(res.db.db, ctx, probeGreedyHandler), /500|fell over/);
    const failedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    // Requests already sent when it failed may reach the server a moment later; none is sent after. Before: the
    // batch had failed, yet its other items went on asking for 1.5 s and more.
    const late = asked.filter((a) => a.at > failedAt + 100).map((a) => a.city);
    assert.deepEqual(late, [], `${late.length} policy requests after the batch failed`);
  } finally {
    await policy.close();
  }
});

test("an order id past 2^53 matches only the label's digits, and the stored reasons keep them", { timeout: 60_000 }, async () => {
  const campaignId = `probe-bigint-${RUN}`;
  const orders: McpTool = {
    name: "cancel_order",
    description: "Cancel an order by its id.",
    inputSchema: { type: "object", properties: { order_id: { type: "integer" } }, required: ["order_id"] },
  };
  const LABEL_ID = "12345678901234567890";
  // What the policy answers per prompt: the label's id, and one the same double rounds it to (JSON.parse made them equal).
  const answers: Record<string, string> = { A: LABEL_ID, B: "12345678901234567891" };
  const cancel = (id: string) => ({ id: `call_${id}`, type: "function" as const, function: { name: "cancel_order", arguments: `{"order_id": ${id}}` } });
  await storeSeeds(
    res.db.db,
    campaignId,
    Object.keys(answers).map((order) => {
      const user: ChatMessage = { role: "user", content: `Cancel order ${order}.` };
      return {
        id: `${campaignId}-${order}`,
        messages: [user, { role: "assistant", content: null, tool_calls: [cancel(LABEL_ID)] }],
        tools: [orders],
        query: user.content as string,
      };
    }),
  );
  const policy = await startScriptedChatServer("scripted policy", (body) => {
    const text = (body.messages as { content: string }[]).map((m) => m.content).join("\n");
    const order = /Cancel order (\w)/.exec(text)![1]!;
    return chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message: { content: null, tool_calls: [cancel(answers[order]!)] } });
  });
  try {
    const parsed = parseCampaignConfig(rawCampaign({ simUrl: policy.url, stages: [{ name: "probe.greedy", batchSize: 10 }] }));
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
    const ctx = stageContext<ProbeStage>(res.db.db, res.workDir, campaignId, parsed.config, "probe.greedy");
    const [result] = await planAndRun(res.db.db, ctx, probeGreedyHandler);
    assert.deepEqual({ matched: result!.matched, mismatched: result!.mismatched }, { matched: 1, mismatched: 1 });
    const rows = await probeResultsOf(res.db.db, campaignId, 1, [`${campaignId}-A`, `${campaignId}-B`]);
    assert.equal(rows.get(`${campaignId}-A`)!.match, true);
    const b = rows.get(`${campaignId}-B`)!;
    assert.equal(b.match, false);
    assert.deepEqual(
      b.reasons.map((r) => ({ code: r.code, expected: r.expected, got: r.got })),
      [{ code: "value_error:others", expected: [LABEL_ID], got: "12345678901234567891" }],
    );
  } finally {
    await policy.close();
  }
});

/** vLLM's 400 to a request with tool_choice "auto" when it was started without --enable-auto-tool-choice. */
const AUTO_TOOL_CHOICE_REFUSAL = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set';

test(
  "a policy that refuses every probe (vLLM without --enable-auto-tool-choice) fails the stage with the first refusal; once fixed, its samples are asked again",
  { timeout: 60_000 },
  async () => {
    const campaignId = `probe-refused-${RUN}`;
    const db = res.db.db;
    const sample = (city: string, labelled = true) => {
      const user: ChatMessage = { role: "user", content: `What is the weather in ${city}?` };
      const messages: ChatMessage[] = labelled ? [user, { role: "assistant", content: null, tool_calls: [weatherCall(city)] }] : [user];
      return { id: `${campaignId}-${city}`, messages, tools: [WEATHER_TOOL], query: user.content as string };
    };
    // One sample per batch (batchSize 1, in id order): Lima, Oslo, Rome (no label: never asked).
    await storeSeeds(db, campaignId, [sample("Lima"), sample("Oslo"), sample("Rome", false)]);
    let refuse: (text: string) => boolean = () => true;
    const asked: string[] = [];
    const policy = await startScriptedChatServer("scripted policy", (body) => {
      const text = (body.messages as { content: string }[]).map((m) => m.content).join("\n");
      asked.push(text);
      if (refuse(text)) return chatError(400, AUTO_TOOL_CHOICE_REFUSAL);
      return chatCompletion({
        id: `chatcmpl-${Math.random()}`,
        model: String(body.model),
        message: { content: null, tool_calls: [weatherCall(text.includes("Oslo") ? "Oslo" : "Lima")] },
      });
    });
    try {
      const parsed = parseCampaignConfig(rawCampaign({ simUrl: policy.url, stages: [{ name: "probe.greedy", batchSize: 1 }] }));
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
      const ctx = stageContext<ProbeStage>(db, res.workDir, campaignId, parsed.config, "probe.greedy");

      const notes: string[] = [];
      const refused = await planAndRun(db, ctx, probeGreedyHandler, undefined, notes);
      assert.equal(
        refused.reduce((a, b) => a + b.failed!, 0),
        2,
      );
      await assert.rejects(probeGreedyHandler.finalize!(ctx, refused, { firstFailures: notes }), (err: Error) => {
        assert.equal(err.name, "EveryItemFailedError");
        assert.match(
          err.message,
          /^probe\.greedy: no sample succeeded; 2 failed, 2 of them for a reason that is not the sample's own: all 2 refused with HTTP 400\. /,
        );
        assert.match(err.message, /The policy endpoint refuses what every probe sends, chat requests with the samples' tools and tool_choice "auto"/);
        assert.ok(err.message.includes(`sample ${campaignId}-Lima: `) && err.message.includes(AUTO_TOOL_CHOICE_REFUSAL), err.message);
        assert.match(err.message, /start it with --enable-auto-tool-choice --tool-call-parser/);
        return true;
      });
      assert.equal((await probeResultsOf(db, campaignId, 1, [`${campaignId}-Lima`, `${campaignId}-Oslo`])).size, 0);

      // Batch 0 (Lima) still fails every sample, batch 1 (Oslo) succeeds: a partial failure, the stage succeeds.
      refuse = (text) => text.includes("Lima");
      asked.length = 0;
      const partial = await planAndRun(db, ctx, probeGreedyHandler, undefined, []);
      assert.equal(asked.length, 2, "the run after the fix asks both failed samples again");
      const summary = await probeGreedyHandler.finalize!(ctx, partial, { firstFailures: [AUTO_TOOL_CHOICE_REFUSAL] });
      assert.deepEqual([summary.probed, summary.matched, summary.failed, summary.unlabelled], [1, 1, 1, 1]);
    } finally {
      await policy.close();
    }
  },
);

test(
  "a stage whose every probe fails for the sample's own reason (its prompt over the context length) succeeds with them counted",
  { timeout: 60_000 },
  async () => {
    const campaignId = `probe-toolong-${RUN}`;
    const db = res.db.db;
    const user: ChatMessage = { role: "user", content: "What is the weather in Lima?" };
    await storeSeeds(db, campaignId, [
      {
        id: `${campaignId}-Lima`,
        messages: [user, { role: "assistant", content: null, tool_calls: [weatherCall("Lima")] }],
        tools: [WEATHER_TOOL],
        query: user.content as string,
      },
    ]);
    const policy = await startScriptedChatServer("scripted policy", () =>
      chatError(400, "This model's maximum context length is 4096 tokens. However, you requested 5120 tokens (4096 in the messages, 1024 in the completion)."),
    );
    try {
      const parsed = parseCampaignConfig(rawCampaign({ simUrl: policy.url, stages: [{ name: "probe.greedy" }] }));
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
      const ctx = stageContext<ProbeStage>(db, res.workDir, campaignId, parsed.config, "probe.greedy");
      const notes: string[] = [];
      const batches = await planAndRun(db, ctx, probeGreedyHandler, undefined, notes);
      assert.deepEqual(notes, [], "a sample's own failure is not noted");
      const summary = await probeGreedyHandler.finalize!(ctx, batches, { firstFailures: notes });
      assert.deepEqual([summary.probed, summary.failed], [0, 1]);
    } finally {
      await policy.close();
    }
  },
);
