/**
 * score.perplexity and score.consistency run directly (no Temporal) against the LLM simulator with
 * real PostgreSQL: samples synthesized by the simulator, half of them given a corrupted label, put in
 * the iteration's pool and planned the way the framework plans a selection. Rows written with the
 * policy's model and version, a rerun that sends nothing and writes nothing new, per-sample failures
 * that do not stop the batch, transport failures that do, and the easy/hard split of consistency.
 *
 * Relies on the simulator's /tokenize rendering messages + tools without the generation prompt exactly
 * like the chat endpoint's prompt_logprobs, and on its label-aware logprobs, for the label-PPL rows and
 * the PPL ordering.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseCampaignConfig, type CampaignConfig } from "../../src/config/campaignConfig.js";
import type { DbHandle } from "../../src/db/client.js";
import { insertPoolMembers } from "../../src/db/repos/pools.js";
import { insertSamples, type NewSample, type SampleRow } from "../../src/db/repos/samples.js";
import { samples } from "../../src/db/schema.js";
import { inArray } from "drizzle-orm";
import { listSampleScores } from "../../src/db/repos/scores.js";
import { scoredPool } from "../../src/db/repos/selection.js";
import { planSelection } from "../../src/db/repos/stageBatchItems.js";
import type { ChatMessage, McpTool, ToolCall } from "../../src/domain/types.js";
import type { BatchResult, StageContext, StageEntry, StageHandler } from "../../src/framework/stage.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import { createRoleClient, type ChatRequest } from "../../src/llm/client.js";
import type { SimulatorHandle } from "../../src/llm/simulator/server.js";
import { labelOf } from "../../src/matching/labelAgreement.js";
import { selectToolsForSlot, synthesizeSingleTurn } from "../../src/synthesis/singleTurn.js";
import { EXAMPLE_TOOLS } from "../../src/tools/examples.js";
import { scoreConsistencyHandler } from "../../src/stages/score/consistency/handler.js";
import { scorePerplexityHandler } from "../../src/stages/score/perplexity/handler.js";
import type { ScoringProgress } from "../../src/stages/score/scoringBatch.js";
import { STAGE_SPECS, type StageConfigOf } from "../../src/stages/specs.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { recordingCreateLlm } from "../helpers/recordingLlm.js";
import { chatCompletion, chatError, startScriptedChatServer } from "../helpers/scriptedChatServer.js";
import { servePolicyWeights, weatherCall, weatherSample } from "../helpers/selfEvolution.js";

const RUN = Date.now().toString(36);
const N = 12;
const POLICY_VERSION = "mv-scoring-test";

let resources: StageResources | undefined;
let db: DbHandle;
let sim: SimulatorHandle;

before(async () => {
  resources = await startStageResources("scoring", 11);
  ({ db, sim } = resources);
});
after(async () => {
  await resources?.close();
});

function campaign(stage: Record<string, unknown>, baseUrl = sim.url): CampaignConfig {
  const r = parseCampaignConfig({
    name: "scoring-it",
    endpoints: { sim: { baseUrl, maxConcurrency: 8, maxRetries: 0, timeoutMs: 10_000 } },
    roles: { generator: { endpoint: "sim", model: "toolloop-sim-generator" }, policy: { endpoint: "sim", model: "toolloop-sim-policy" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "verify.rules" }, stage],
  });
  if (!r.ok) throw r.error;
  return r.config;
}

/** Chat requests the stage's policy client sent (a wrapper records them; the client is the real one). */
const sent: { role: string; req: ChatRequest }[] = [];

function context<S extends StageEntry>(campaignId: string, config: CampaignConfig, logs: string[] = [], policyVersionId = POLICY_VERSION): StageContext<S> {
  const deps = {
    db: db.db,
    baseDir: resources!.workDir,
    log: (m: string) => logs.push(m),
    createLlm: recordingCreateLlm(sent),
  };
  return buildStageContext({
    campaignId,
    iteration: 1,
    config,
    stage: config.stages[1] as unknown as S,
    signal: new AbortController().signal,
    deps,
    policyVersionId,
  }).ctx;
}

/** A different value of the same type for the first argument of the first call: a label the policy would not produce. */
function corrupt(calls: readonly ToolCall[]): ToolCall[] {
  return calls.map((c, i) => {
    if (i > 0) return c;
    const args = JSON.parse(c.function.arguments) as Record<string, unknown>;
    const key = Object.keys(args)[0];
    if (key === undefined) return c;
    const v = args[key];
    args[key] = typeof v === "number" ? v + 17 : typeof v === "boolean" ? !v : typeof v === "string" ? `${v} Springfield` : ["changed"];
    return { ...c, function: { ...c.function, arguments: JSON.stringify(args) } };
  });
}

interface Planted {
  campaignId: string;
  /** Sample ids whose label is the simulator's own answer / was corrupted. */
  clean: string[];
  corrupted: string[];
}

/** N single-turn samples written by the simulator, every other one with a corrupted label, all in iteration 1's pool. */
async function plantPool(campaignId: string, extra: NewSample[] = []): Promise<Planted> {
  const generator = createRoleClient(campaign({ name: "score.perplexity" }), "generator");
  const library: McpTool[] = EXAMPLE_TOOLS.map((e) => e.tool);
  const rows: NewSample[] = [];
  const clean: string[] = [];
  const corrupted: string[] = [];
  for (let slot = 0; rows.length < N; slot++) {
    const { targets, offered } = selectToolsForSlot(library, {
      kind: "standard",
      seed: 5,
      iteration: 1,
      slotIndex: slot,
      toolsPerSample: 3,
      maxParallelCalls: 2,
    });
    const s = await synthesizeSingleTurn({ kind: "standard", targets, offered, generator });
    const label = labelOf(s.messages);
    if (!label?.tool_calls?.length) continue;
    const bad = rows.length % 2 === 1;
    const messages: ChatMessage[] = bad
      ? [...s.messages.slice(0, -1), { role: "assistant", content: label.content, tool_calls: corrupt(label.tool_calls) }]
      : s.messages;
    const id = `${campaignId}-${String(rows.length).padStart(2, "0")}${bad ? "-bad" : ""}`;
    (bad ? corrupted : clean).push(id);
    rows.push({ id, campaignId, iteration: 1, kind: "standard", origin: "synthesized", status: "verified", tools: s.tools, messages });
  }
  await insertSamples(db.db, [...rows, ...extra]);
  await insertPoolMembers(
    db.db,
    [...rows, ...extra].map((r) => ({ campaignId, iteration: 1, sampleId: r.id as string, reason: "seed" as const, weight: 1 })),
  );
  return { campaignId, clean, corrupted };
}

async function runStage<S extends StageEntry>(
  handler: StageHandler<S, ScoringProgress>,
  ctx: StageContext<S>,
): Promise<{ batches: BatchResult[]; summary: Record<string, unknown>; reports: ScoringProgress[] }> {
  const spec = STAGE_SPECS.find((s) => s.name === ctx.stage.name)!;
  assert.equal(spec.reads.kind, "samples");
  if (spec.reads.kind !== "samples") throw new Error("unreachable");
  const plan = await planSelection(
    db.db,
    { campaignId: ctx.campaignId, iteration: ctx.iteration, stage: ctx.stage.name },
    spec.reads.selection(ctx.stage as never),
    ctx.stage.batchSize,
    false,
  );
  const reports: ScoringProgress[] = [];
  const batches: BatchResult[] = [];
  // Each batch's first noted failure, kept for finalize as the framework keeps it (StageNotes).
  const firstFailures: string[] = [];
  for (let b = 0; b < plan.batches; b++) {
    let first: string | undefined;
    batches.push(await handler.runBatch(ctx, b, { resumeFrom: undefined, report: (d) => reports.push(d), noteFailure: (m) => void (first ??= m) }));
    if (first !== undefined) firstFailures.push(first);
  }
  return { batches, reports, summary: (await handler.finalize!(ctx, batches, { firstFailures })) as Record<string, unknown> };
}

const sum = (batches: BatchResult[], k: string) => batches.reduce((s, b) => s + (b[k] ?? 0), 0);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("score.consistency", () => {
  it("splits items the policy answers like their label (easy) from corrupted ones (hard); a rerun sends nothing", { timeout: 120_000 }, async () => {
    const planted = await plantPool(`cons-${RUN}`);
    const config = campaign({ name: "score.consistency", k: 4, temperature: 0.7, batchSize: 5 });
    sent.length = 0;
    const first = await runStage(scoreConsistencyHandler, context(planted.campaignId, config));
    assert.equal(sum(first.batches, "items"), N);
    assert.equal(sum(first.batches, "scored"), N);
    assert.equal(sum(first.batches, "failed"), 0);
    assert.equal(sent.length, N * 4, "k requests per item");
    const seedsPerPrompt = new Map<string, number[]>();
    for (const { req } of sent) {
      assert.equal(req.temperature, 0.7);
      const key = JSON.stringify(req.messages);
      seedsPerPrompt.set(key, [...(seedsPerPrompt.get(key) ?? []), req.seed as number]);
    }
    for (const seeds of seedsPerPrompt.values()) assert.deepEqual([...seeds].sort(), [0, 1, 2, 3], "each of an item's k requests has its own seed");

    const rows = await listSampleScores(db.db, { campaignId: planted.campaignId, iteration: 1 }, "consistency");
    assert.equal(rows.length, N);
    const byId = new Map(rows.map((r) => [r.sampleId, r]));
    for (const r of rows) {
      assert.equal(r.model, "toolloop-sim-policy");
      assert.equal(r.modelVersionId, POLICY_VERSION);
      const d = r.details as { k: number; agree: number; temperature: number; class: string };
      assert.equal(d.k, 4);
      assert.equal(r.value, d.agree / 4);
      assert.equal(d.temperature, 0.7);
    }
    const classOf = (id: string) => (byId.get(id)!.details as { class: string }).class;
    console.log(
      `consistency: clean ${planted.clean.map((id) => byId.get(id)!.value).join(",")}; corrupted ${planted.corrupted.map((id) => byId.get(id)!.value).join(",")}`,
    );
    assert.ok(
      planted.corrupted.every((id) => classOf(id) === "hard"),
      "a corrupted label is never reproduced: hard",
    );
    assert.ok(
      planted.clean.filter((id) => classOf(id) === "easy").length >= planted.clean.length / 2,
      "most labels the simulated policy wrote itself are easy",
    );
    assert.deepEqual(first.summary.classes, {
      easy: rows.filter((r) => (r.details as { class: string }).class === "easy").length,
      medium: rows.filter((r) => (r.details as { class: string }).class === "medium").length,
      hard: rows.filter((r) => (r.details as { class: string }).class === "hard").length,
    });

    sent.length = 0;
    const again = await runStage(scoreConsistencyHandler, context(planted.campaignId, config));
    assert.equal(sent.length, 0, "a rerun sends no request");
    assert.equal(sum(again.batches, "skipped"), N);
    assert.equal(sum(again.batches, "scored"), 0);
    const rowsAgain = await listSampleScores(db.db, { campaignId: planted.campaignId, iteration: 1 }, "consistency");
    assert.deepEqual(
      rowsAgain.map((r) => [r.sampleId, r.value, r.createdAt.getTime()]),
      rows.map((r) => [r.sampleId, r.value, r.createdAt.getTime()]),
      "a rerun writes nothing",
    );
  });

  it("after an attempt that scored part of a batch, the summary counts every stored score once (scored = rows)", { timeout: 120_000 }, async () => {
    const planted = await plantPool(`cons-resume-${RUN}`);
    const config = campaign({ name: "score.consistency", k: 2, batchSize: 5 });
    const ctx = context<StageConfigOf<"score.consistency">>(planted.campaignId, config);
    // An earlier attempt of batch 0 scored 3 samples before it was killed (its result never reported).
    const first3 = [...planted.clean, ...planted.corrupted].sort().slice(0, 3);
    const firstRows = (await db.db.select().from(samples).where(inArray(samples.id, first3))) as SampleRow[];
    const partial: StageContext<StageConfigOf<"score.consistency">> = { ...ctx, batchSamples: async () => firstRows };
    await scoreConsistencyHandler.runBatch(partial, 0, { resumeFrom: undefined, report: () => undefined });
    const resumed = await runStage(scoreConsistencyHandler, ctx);
    const rows = await listSampleScores(db.db, { campaignId: planted.campaignId, iteration: 1 }, "consistency");
    assert.equal(rows.length, N);
    assert.equal(sum(resumed.batches, "scored"), N - 3, "the batches' last attempts scored the rest");
    assert.equal(sum(resumed.batches, "skipped"), 3);
    assert.deepEqual(
      [resumed.summary.items, resumed.summary.scored, resumed.summary.failed, resumed.summary.skipped],
      [N, N, 0, 3],
      "the stage summary: every sample scored once, none failed",
    );
    assert.equal((resumed.summary.consistency as { n: number }).n, N);
  });

  it(
    "a retrained policy that cannot score a sample leaves it unscored instead of keeping the old weights' score for the next selection",
    { timeout: 60_000 },
    async () => {
      const campaignId = `cons-retrain-${RUN}`;
      const sample = (city: string) => weatherSample(campaignId, city);
      const [lima, oslo] = [sample("Lima"), sample("Oslo")];
      await insertSamples(db.db, [lima, oslo]);
      await insertPoolMembers(
        db.db,
        [lima, oslo].map((r) => ({ campaignId, iteration: 1, sampleId: r.id as string, reason: "seed" as const })),
      );
      // A SCRIPTED policy: the first weights answer every request with the wrong city (hard); the
      // retrained weights answer Lima right (easy) and refuse Oslo's prompt (a 400: that item fails alone).
      let retrained = false;
      const policy = await startScriptedChatServer("scripted policy", (body) => {
        const text = (body.messages as { content: string }[]).map((m) => m.content).join("\n");
        if (retrained && text.includes("Oslo")) return chatError(400, "scripted: this prompt is over the context length");
        const city = retrained ? "Lima" : "Atlantis";
        return chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message: { content: null, tool_calls: [weatherCall(city)] } });
      });
      try {
        const config = campaign({ name: "score.consistency", k: 2, batchSize: 10 }, policy.url);
        // serve.policy's row: one id for every serving of the iteration; the checkpoint's fingerprint tells the weights apart.
        const serve = (fingerprint: string) => servePolicyWeights(db.db, { campaignId, url: policy.url }, fingerprint);
        const versionId = await serve("sha256:first-weights");
        const ctx = context<StageConfigOf<"score.consistency">>(campaignId, config, [], versionId);
        const first = await runStage(scoreConsistencyHandler, ctx);
        assert.deepEqual(first.summary.classes, { easy: 0, medium: 0, hard: 2 }, "the first weights get both wrong");

        // The operator resumes the iteration from train.grpo: new weights served under the same name and version id.
        retrained = true;
        await serve("sha256:retrained-weights");
        const second = await runStage(scoreConsistencyHandler, ctx);
        assert.deepEqual([sum(second.batches, "scored"), sum(second.batches, "failed")], [1, 1]);
        const rows = await listSampleScores(db.db, { campaignId, iteration: 1 }, "consistency");
        assert.deepEqual(
          rows.map((r) => [
            r.sampleId,
            (r.details as { class: string }).class,
            (r.details as { servedCheckpoint: { fingerprint: string } }).servedCheckpoint.fingerprint,
          ]),
          [[lima.id, "easy", "sha256:retrained-weights"]],
          "Oslo has no score of the weights in force, and no other weights' score either",
        );
        // What the next round's select.nextRound reads. Before, Oslo was classed hard by the first weights (and weighed hardWeight).
        const pool = new Map((await scoredPool(db.db, campaignId, 1)).map((p) => [p.sampleId, p.consistencyClass]));
        assert.deepEqual([pool.get(lima.id as string), pool.get(oslo.id as string)], ["easy", null]);
        assert.deepEqual([second.summary.scored, second.summary.failed, second.summary.classes], [1, 1, { easy: 1, medium: 0, hard: 0 }]);
      } finally {
        await policy.close();
      }
    },
  );

  it(
    "a policy that refuses every request fails the stage with the first refusal; once fixed, its samples are asked again, and a batch that fails all beside one that scores is a partial failure",
    { timeout: 60_000 },
    async () => {
      const campaignId = `cons-refused-${RUN}`;
      const sample = (city: string) => weatherSample(campaignId, city);
      const rows = [sample("Lima"), sample("Oslo")];
      await insertSamples(db.db, rows);
      await insertPoolMembers(
        db.db,
        rows.map((r) => ({ campaignId, iteration: 1, sampleId: r.id as string, reason: "seed" as const })),
      );
      const refusal = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set';
      let refuse: (text: string) => boolean = () => true;
      let asked = 0;
      const policy = await startScriptedChatServer("scripted policy", (body) => {
        const text = (body.messages as { content: string }[]).map((m) => m.content).join("\n");
        asked++;
        if (refuse(text)) return chatError(400, refusal);
        return chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message: { content: null, tool_calls: [weatherCall("Oslo")] } });
      });
      try {
        // One sample per batch, in id order: Lima, then Oslo.
        const config = campaign({ name: "score.consistency", k: 2, batchSize: 1 }, policy.url);
        const ctx = context<StageConfigOf<"score.consistency">>(campaignId, config);
        await assert.rejects(runStage(scoreConsistencyHandler, ctx), (err: Error) => {
          assert.equal(err.name, "EveryItemFailedError");
          assert.match(
            err.message,
            /^score\.consistency: no sample succeeded; 2 failed, 2 of them for a reason that is not the sample's own: all 2 refused with HTTP 400\. /,
          );
          assert.match(err.message, /The policy endpoint refuses what every sample sends/);
          assert.ok(err.message.includes(`sample ${campaignId}-Lima: consistency: `) && err.message.includes(refusal), err.message);
          assert.match(err.message, /--enable-auto-tool-choice --tool-call-parser/);
          return true;
        });
        assert.equal((await listSampleScores(db.db, { campaignId, iteration: 1 }, "consistency")).length, 0);

        // Lima's batch still fails all it has, Oslo's scores: the stage succeeds with the failure counted.
        refuse = (text) => text.includes("Lima");
        asked = 0;
        const partial = await runStage(scoreConsistencyHandler, ctx);
        assert.equal(asked, 4, "both samples are asked again (k = 2 each)");
        assert.deepEqual([partial.summary.items, partial.summary.scored, partial.summary.failed], [2, 1, 1]);
      } finally {
        await policy.close();
      }
    },
  );

  it("a transport failure fails the batch instead of counting samples failed", { timeout: 60_000 }, async () => {
    const campaignId = `cons-down-${RUN}`;
    await plantPool(campaignId);
    const down = campaign({ name: "score.consistency" }, "http://127.0.0.1:9/v1");
    await assert.rejects(runStage(scoreConsistencyHandler, context(campaignId, down)), /connection|network|fetch/i);
    assert.equal((await listSampleScores(db.db, { campaignId, iteration: 1 }, "consistency")).length, 0);
  });
});

describe("score.perplexity", () => {
  const campaignId = `ppl-${RUN}`;
  const key = { campaignId, iteration: 1 };
  const noLabel: NewSample = {
    id: `${campaignId}-nolabel`,
    campaignId,
    iteration: 1,
    kind: "standard",
    origin: "synthesized",
    status: "verified",
    tools: [],
    messages: [{ role: "user", content: "hello" }],
  };
  let planted: Planted;
  let first: Awaited<ReturnType<typeof runStage>>;
  const logs: string[] = [];
  const config = () => campaign({ name: "score.perplexity", batchSize: 5 });

  it("writes own PPL per pool sample; a sample without a label fails alone, with its reason", { timeout: 120_000 }, async () => {
    planted = await plantPool(campaignId, [noLabel]);
    first = await runStage(scorePerplexityHandler, context(campaignId, config(), logs));
    console.log(`score.perplexity summary: ${JSON.stringify(first.summary)}`);
    for (const l of logs.slice(0, 2)) console.log(`log: ${l}`);
    assert.equal(sum(first.batches, "items"), N + 1);
    const lastReport = first.reports.at(-1)!;
    assert.equal(lastReport.done, lastReport.total);
    assert.ok(
      first.reports.some((r) => r.failures.some((f) => f.sampleId === noLabel.id && /no assistant message/.test(f.reason))),
      "the unlabelled sample's reason is reported",
    );
    assert.ok(!(await listSampleScores(db.db, key, "label_ppl")).some((r) => r.sampleId === noLabel.id), "no label_ppl row for a sample without a label");
    const own = await listSampleScores(db.db, key, "own_ppl");
    assert.equal(own.length, N + 1, "own-output PPL needs no label: every sample has one");
    for (const r of own) {
      const d = r.details as { tokens: number; meanLogprob: number; model: string };
      assert.equal(r.model, "toolloop-sim-policy");
      assert.equal(r.modelVersionId, POLICY_VERSION);
      assert.equal(r.iteration, 1);
      assert.ok(d.tokens > 0 && Math.abs(r.value - Math.exp(-d.meanLogprob)) < 1e-9);
    }
    assert.equal((first.summary.ownPpl as { n: number }).n, N + 1);
  });

  // Relies on the simulator's /tokenize (tools, add_generation_prompt) rendering exactly like the chat
  // endpoint's prompt_logprobs, and on logprobs that follow the simulated policy.
  it(
    "writes the label PPL of every labelled sample over exactly its span, higher for corrupted labels; a rerun retries only the failure",
    { timeout: 120_000 },
    async () => {
      assert.ok(first, "the previous test scored the pool");
      const label = await listSampleScores(db.db, key, "label_ppl");
      assert.equal(label.length, N, `label_ppl rows for every labelled sample; failures: ${logs.slice(0, 2).join(" | ")}`);
      assert.equal(sum(first.batches, "failed"), 1);
      for (const r of label) {
        const d = r.details as { tokens: number; meanLogprob: number; span: [number, number]; model: string };
        assert.equal(r.model, "toolloop-sim-policy");
        assert.equal(r.modelVersionId, POLICY_VERSION);
        assert.equal(d.model, "toolloop-sim-policy");
        assert.equal(d.tokens, d.span[1] - d.span[0]);
        assert.ok(Math.abs(r.value - Math.exp(-d.meanLogprob)) < 1e-9);
      }
      const ppl = new Map(label.map((r) => [r.sampleId, r.value]));
      const cleanMean = mean(planted.clean.map((id) => ppl.get(id)!));
      const corruptedMean = mean(planted.corrupted.map((id) => ppl.get(id)!));
      console.log(`label PPL: clean mean ${cleanMean.toFixed(3)}, corrupted mean ${corruptedMean.toFixed(3)}`);
      assert.ok(corruptedMean > cleanMean, "a corrupted label has a higher PPL than the policy's own kind of label");

      sent.length = 0;
      const again = await runStage(scorePerplexityHandler, context(campaignId, config()));
      assert.equal(sent.length, 0, "a rerun sends no chat request: the only failure has no label to score");
      assert.equal(sum(again.batches, "skipped"), N);
      assert.equal(sum(again.batches, "failed"), 1);
      assert.equal((await listSampleScores(db.db, key, "label_ppl")).length, N);
      assert.deepEqual(
        [again.summary.items, again.summary.scored, again.summary.failed],
        [N + 1, N, 1],
        "the summary after a rerun counts the stored scores (both metrics: N), not the rerun's own (0)",
      );
    },
  );
});

describe("score.perplexity against an endpoint that cannot score", () => {
  /** weatherSample, or with its question only (no label to score). */
  const plantedSample = (campaignId: string, city: string, labelled = true): NewSample => {
    const s = weatherSample(campaignId, city);
    return labelled ? s : { ...s, messages: s.messages.slice(0, 1) };
  };
  async function plant(rows: NewSample[]): Promise<void> {
    await insertSamples(db.db, rows);
    await insertPoolMembers(
      db.db,
      rows.map((r) => ({ campaignId: r.campaignId, iteration: 1, sampleId: r.id as string, reason: "seed" as const })),
    );
  }
  /**
   * A SCRIPTED OpenAI-compatible server with vLLM's /tokenize whose chat completions carry no
   * prompt_logprobs (it ignores the parameter), until `supportsPromptLogprobs` turns them on.
   */
  async function serverWithoutPromptLogprobs() {
    const state = { supportsPromptLogprobs: false, chats: 0 };
    const server = await startScriptedChatServer(
      "scripted policy",
      (body) => {
        state.chats++;
        const reply = chatCompletion({ id: `chatcmpl-${Math.random()}`, model: String(body.model), message: { content: "ok" } });
        if (state.supportsPromptLogprobs)
          (reply.body as Record<string, unknown>).prompt_logprobs = [null, ...[2, 3, 4, 5].map((t) => ({ [t]: { logprob: -0.5 } }))];
        return reply;
      },
      // The prompt renders as tokens 1 2 (3 with the generation prompt), the labelled conversation as 1 2 3 4 5, ending the turn with <|im_end|>.
      {
        "/tokenize": (body) => ({
          status: 200,
          body: body.add_generation_prompt
            ? { tokens: [1, 2, 3] }
            : { tokens: [1, 2, 3, 4, 5], token_strs: body.return_token_strs ? ["<|im_start|>", "user", "<|im_start|>", "ok", "<|im_end|>"] : null },
        }),
      },
    );
    return { server, state };
  }

  it("fails the stage with the first failure when no sample was scored; once the endpoint is fixed, its samples are scored", { timeout: 60_000 }, async () => {
    const campaignId = `ppl-nologprobs-${RUN}`;
    // A sample without a label fails for its own reason beside the endpoint's failures: the stage still fails.
    await plant([plantedSample(campaignId, "Lima"), plantedSample(campaignId, "Oslo"), plantedSample(campaignId, "Rome", false)]);
    const { server, state } = await serverWithoutPromptLogprobs();
    try {
      const ctx = context<StageConfigOf<"score.perplexity">>(campaignId, campaign({ name: "score.perplexity", ownOutput: false }, server.url));
      await assert.rejects(runStage(scorePerplexityHandler, ctx), (err: Error) => {
        assert.equal(err.name, "EveryItemFailedError");
        assert.match(
          err.message,
          /^score\.perplexity: no sample succeeded; 3 failed, 2 of them for a reason that is not the sample's own: all 2 answered, but without what the stage reads\. /,
        );
        assert.match(err.message, /The policy endpoint answers the scoring requests without what scoring reads: a prompt_logprobs list/);
        assert.match(err.message, /The first: sample \S+-(Lima|Oslo): label_ppl: LLM policy \(toolloop-sim-policy\): the response has no prompt_logprobs list/);
        assert.match(err.message, /must support vLLM's prompt_logprobs/);
        return true;
      });

      state.supportsPromptLogprobs = true;
      state.chats = 0;
      const fixed = await runStage(scorePerplexityHandler, ctx);
      assert.equal(state.chats, 2, "the samples that failed are asked again");
      assert.deepEqual([fixed.summary.items, fixed.summary.scored, fixed.summary.failed], [3, 2, 1]);
    } finally {
      await server.close();
    }
  });

  it(
    "an endpoint that scores labels but gives no chat logprobs fails on own_ppl alone, saying so and naming ownOutput: false",
    { timeout: 60_000 },
    async () => {
      const campaignId = `ppl-noownlogprobs-${RUN}`;
      await plant([plantedSample(campaignId, "Lima"), plantedSample(campaignId, "Oslo")]);
      const { server, state } = await serverWithoutPromptLogprobs();
      state.supportsPromptLogprobs = true;
      try {
        const ctx = context<StageConfigOf<"score.perplexity">>(campaignId, campaign({ name: "score.perplexity", ownOutput: true }, server.url));
        // Before: "no sample succeeded; ... Check the policy endpoint: it must support vLLM's prompt_logprobs and /tokenize, ..."
        // with ownOutput: false in parentheses, though every label was scored and only own_ppl had failed.
        await assert.rejects(runStage(scorePerplexityHandler, ctx), (err: Error) => {
          assert.equal(err.name, "EveryItemFailedError");
          assert.match(
            err.message,
            /^score\.perplexity: own-output scoring \(own_ppl, ownOutput: true\) failed for every sample, 2 of them for a reason that is not the sample's own, while the label perplexity \(label_ppl\) was scored for 2\. /,
          );
          assert.match(
            err.message,
            /The first: sample \S+-(Lima|Oslo): own_ppl: LLM policy \(toolloop-sim-policy\): the response has no choices\[0\]\.logprobs\.content/,
          );
          assert.match(err.message, /set `ownOutput: false` on this stage/);
          assert.doesNotMatch(err.message, /no sample succeeded|prompt_logprobs and \/tokenize/);
          return true;
        });
        assert.equal((await listSampleScores(db.db, { campaignId, iteration: 1 }, "label_ppl")).length, 2, "the label scores are kept");
        assert.equal((await listSampleScores(db.db, { campaignId, iteration: 1 }, "own_ppl")).length, 0);
      } finally {
        await server.close();
      }
    },
  );

  it(
    "a policy whose end-of-turn token is on no built-in list: the summary and the worker log say how many, naming endOfTurnTokens; set, it rescores",
    { timeout: 60_000 },
    async () => {
      const campaignId = `ppl-eot-${RUN}`;
      await plant([plantedSample(campaignId, "Lima"), plantedSample(campaignId, "Oslo")]);
      const strs = ["<|turn|>", "user", "<|turn|>", "ok", "<|turn_end|>", "\n"];
      let chats = 0;
      const server = await startScriptedChatServer(
        "scripted policy",
        (body) => {
          chats++;
          const reply = chatCompletion({ id: `chatcmpl-${chats}`, model: String(body.model), message: { content: "ok" } });
          (reply.body as Record<string, unknown>).prompt_logprobs = [null, ...[2, 3, 4, 5, 6].map((t) => ({ [t]: { logprob: t === 6 ? -0.001 : -0.5 } }))];
          return reply;
        },
        {
          "/tokenize": (body) => ({
            status: 200,
            body: body.add_generation_prompt ? { tokens: [1, 2, 3] } : { tokens: [1, 2, 3, 4, 5, 6], token_strs: body.return_token_strs ? strs : null },
          }),
        },
      );
      try {
        // Before: every row's details said endOfTurn: null and nothing else did; the near-certain newline was averaged in.
        const logs: string[] = [];
        const unset = await runStage(
          scorePerplexityHandler,
          context<StageConfigOf<"score.perplexity">>(campaignId, campaign({ name: "score.perplexity", ownOutput: false }, server.url), logs),
        );
        assert.equal(unset.summary.withoutEndOfTurn, 2);
        const warning = String(unset.summary.warning);
        assert.match(warning, /^2 of 2 label_ppl scores found no end-of-turn token/);
        assert.match(warning, /turn ends with "ok" "<\|turn_end\|>" "\\n"/);
        assert.match(warning, /set stages\[1\]\.endOfTurnTokens/);
        assert.ok(
          logs.some((l) => l.startsWith(`score.perplexity: warning: ${campaignId} iteration 1: 2 of 2`)),
          logs.join("\n"),
        );
        const whole = await listSampleScores(db.db, { campaignId, iteration: 1 }, "label_ppl");
        assert.deepEqual(
          whole.map((r) => (r.details as { tokens: number }).tokens),
          [3, 3],
        );

        chats = 0;
        const set = await runStage(
          scorePerplexityHandler,
          context<StageConfigOf<"score.perplexity">>(
            campaignId,
            campaign({ name: "score.perplexity", ownOutput: false, endOfTurnTokens: ["<|turn_end|>"] }, server.url),
          ),
        );
        assert.equal(chats, 2, "scores made without the setting are made again with it");
        assert.equal(set.summary.withoutEndOfTurn, 0);
        assert.equal(set.summary.warning, undefined);
        for (const r of await listSampleScores(db.db, { campaignId, iteration: 1 }, "label_ppl")) {
          const d = r.details as { tokens: number; endOfTurn: string; endOfTurnTokens: string[] };
          assert.deepEqual([d.tokens, d.endOfTurn, d.endOfTurnTokens], [2, "<|turn_end|>", ["<|turn_end|>"]]);
          assert.ok(Math.abs(r.value - Math.exp(0.5)) < 1e-9, "the newline after the end token is left out");
        }
      } finally {
        await server.close();
      }
    },
  );

  it("succeeds with them counted when every sample failed for its own reason (no label)", { timeout: 60_000 }, async () => {
    const campaignId = `ppl-unlabelled-${RUN}`;
    await plant([plantedSample(campaignId, "Lima", false), plantedSample(campaignId, "Oslo", false)]);
    const { server } = await serverWithoutPromptLogprobs();
    try {
      const ctx = context<StageConfigOf<"score.perplexity">>(campaignId, campaign({ name: "score.perplexity", ownOutput: false }, server.url));
      const r = await runStage(scorePerplexityHandler, ctx);
      assert.deepEqual([r.summary.items, r.summary.scored, r.summary.failed], [2, 0, 2]);
    } finally {
      await server.close();
    }
  });
});
