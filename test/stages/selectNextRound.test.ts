/**
 * select.nextRound against PostgreSQL with planted rows: the seed round (verified seeds only, BFCL
 * copies excluded), then a later round built from the previous round's scores, judgements and
 * expansions (the mix, retired labels kept out, duplicates and over-budget candidates recorded,
 * consistency weights), each re-run replacing the same rows; copies of samples earlier pools held
 * (the campaign's own, a predecessor's, multi_turn keys) kept out; and the config's messages.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { parseCampaignConfig, type CampaignConfig } from "../../src/config/campaignConfig.js";
import type { DbHandle } from "../../src/db/client.js";
import { previousPoolRound } from "../../src/db/repos/continuation.js";
import { listPoolMembers, type PoolMemberRow } from "../../src/db/repos/pools.js";
import { listExclusions, replaceSelection, type SelectionExclusionRow } from "../../src/db/repos/selection.js";
import { insertSamples, markExactDuplicates, setExactKeys, type NewSample } from "../../src/db/repos/samples.js";
import { campaigns, labelJudgements, poolMembers, sampleScores, samples } from "../../src/db/schema.js";
import { exactDuplicateKey } from "../../src/dedupe/exactKey.js";
import type { ChatMessage, McpTool } from "../../src/domain/types.js";
import type { BatchResult, StageContext } from "../../src/framework/stage.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import { createRoleClient } from "../../src/llm/client.js";
import type { UsageSink } from "../../src/llm/usage.js";
import { selectNextRoundHandler, type SelectionProgress } from "../../src/stages/select/nextRound/handler.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { STAGE_SPECS, type StageConfigOf } from "../../src/stages/specs.js";
import { SeededRandom } from "../../src/util/random.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

type SelectStage = StageConfigOf<"select.nextRound">;

function rawConfig(stage: Record<string, unknown>): Record<string, unknown> {
  return {
    name: "select-it",
    seed: 5,
    endpoints: { sim: { baseUrl: "http://127.0.0.1:9/v1", maxConcurrency: 4 } },
    roles: { generator: { endpoint: "sim", model: "toolloop-sim-generator" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "verify.rules" }, { name: "select.nextRound", ...stage }],
  };
}

function configErrors(stage: Record<string, unknown>): string {
  const r = parseCampaignConfig(rawConfig(stage));
  assert.equal(r.ok, false, `expected ${JSON.stringify(stage)} to be rejected`);
  return r.ok ? "" : r.error.message;
}

test("select.nextRound config: defaults, and bad fields named by path", () => {
  const r = parseCampaignConfig(rawConfig({}));
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  const stage = r.config.stages[1] as SelectStage;
  assert.equal(stage.budget, 2000);
  assert.deepEqual(stage.mix, { high_ppl: 0.4, repaired: 0.2, error_seed: 0.1, expanded: 0.2, unused_seed: 0.1 });
  assert.deepEqual([stage.hardWeight, stage.easyWeight, stage.highPpl.topFraction, stage.nearDuplicate.threshold], [2, 1, 0.5, 0.8]);
  assert.equal(stage.decontaminate.enabled, true);
  assert.equal(STAGE_SPECS.find((s) => s.name === "select.nextRound")?.reads.kind, "external");
  assert.equal(STAGE_HANDLERS["select.nextRound"], selectNextRoundHandler);

  assert.match(
    configErrors({ mix: { high_ppl: 0, repaired: 0, error_seed: 0, expanded: 0, unused_seed: 0 } }),
    /stages\[1\]\.mix: expected at least one share above 0/,
  );
  assert.match(configErrors({ mix: { high_ppl: -1 } }), /stages\[1\]\.mix\.high_ppl: expected a non-negative number/);
  assert.match(configErrors({ mix: { highPpl: 1 } }), /stages\[1\]\.mix/, "unknown sources are rejected");
  assert.match(configErrors({ budget: 0 }), /stages\[1\]\.budget: expected a positive integer/);
  assert.match(configErrors({ seedBudget: 1.5 }), /stages\[1\]\.seedBudget: expected a positive integer/);
  assert.match(configErrors({ highPpl: { topFraction: 0 } }), /stages\[1\]\.highPpl\.topFraction: expected a number above 0/);
  assert.match(configErrors({ hardWeight: 0 }), /stages\[1\]\.hardWeight: expected a positive number/);
  assert.match(configErrors({ nearDuplicate: { threshold: 1.2 } }), /stages\[1\]\.nearDuplicate\.threshold: expected a number between 0 and 1/);
  assert.match(
    configErrors({ decontaminate: { categories: ["simple", "multi_turn_base"] } }),
    /stages\[1\]\.decontaminate\.categories\[1\]: unknown or multi-turn BFCL category "multi_turn_base"/,
  );
  assert.match(configErrors({ decontaminate: { enabled: "yes" } }), /stages\[1\]\.decontaminate\.enabled: expected true or false/);
});

/** A config's warnings less the stage-order one of rawConfig's minimal stage list (verify.rules with nothing before it to read). */
const mixWarnings = (warnings: string[]) => warnings.filter((w) => !w.startsWith("stages[0] (verify.rules) reads"));

test("a mix naming only some sources keeps the others' default shares, and says so with the real split", () => {
  const partial = parseCampaignConfig(rawConfig({ mix: { high_ppl: 0.5, unused_seed: 0.5 } }));
  assert.ok(partial.ok, partial.ok ? "" : partial.error.message);
  assert.deepEqual((partial.config.stages[1] as SelectStage).mix, { high_ppl: 0.5, repaired: 0.2, error_seed: 0.1, expanded: 0.2, unused_seed: 0.5 });
  assert.deepEqual(mixWarnings(partial.warnings), [
    "stages[1].mix: repaired (0.2), error_seed (0.1), expanded (0.2) not given, so they keep their default shares; the budget is split high_ppl 33.3%, repaired 13.3%, error_seed 6.7%, expanded 13.3%, unused_seed 33.3%. Give a source 0 to leave it out",
  ]);
  for (const mix of [
    undefined,
    { high_ppl: 0.5, repaired: 0, error_seed: 0, expanded: 0, unused_seed: 0.5 },
    { high_ppl: 1, repaired: 1, error_seed: 1, expanded: 1, unused_seed: 1 },
  ]) {
    const r = parseCampaignConfig(rawConfig(mix ? { mix } : {}));
    assert.ok(r.ok);
    assert.deepEqual(mixWarnings(r.warnings), [], `no warning for ${JSON.stringify(mix)}`);
  }
});

let db: DbHandle;
let resources: StageResources | undefined;
let workDir: string;

before(async () => {
  resources = await startStageResources("select", 3);
  ({ db, workDir } = resources);
});

after(async () => {
  await resources?.close();
});

function context(campaignId: string, iteration: number, config: CampaignConfig): StageContext<SelectStage> {
  const deps = {
    db: db.db,
    baseDir: workDir,
    log: () => undefined,
    createLlm: (cfg: CampaignConfig, role: string, usage: UsageSink) => createRoleClient(cfg, role, { usage }),
  };
  return buildStageContext({ campaignId, iteration, config, stage: config.stages[1] as SelectStage, signal: new AbortController().signal, deps }).ctx;
}

function campaign(stage: Record<string, unknown>): CampaignConfig {
  const parsed = parseCampaignConfig(rawConfig(stage));
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

async function runStage(ctx: StageContext<SelectStage>): Promise<{ result: BatchResult; summary: Record<string, unknown>; reports: SelectionProgress[] }> {
  const plan = await selectNextRoundHandler.plan!(ctx);
  assert.equal(plan.batches, 1);
  const reports: SelectionProgress[] = [];
  const result = await selectNextRoundHandler.runBatch(ctx, 0, { resumeFrom: undefined, report: (d) => reports.push(d) });
  const summary = await selectNextRoundHandler.finalize!(ctx, [result]);
  return { result, summary, reports };
}

const TOOL: McpTool = { name: "lookup_order", description: "Look up an order", inputSchema: { type: "object", properties: { order_id: { type: "string" } } } };
const BFCL_TOOL: McpTool = {
  name: "calculate_triangle_area",
  description: "Area of a triangle",
  inputSchema: { type: "object", properties: { base: { type: "integer" }, height: { type: "integer" }, unit: { type: "string" } } },
};
const VOCAB = Array.from({ length: 500 }, (_, i) => `term${i.toString(36)}`);
const rng = new SeededRandom(99);

function row(
  campaignId: string,
  id: string,
  p: { iteration: number; origin?: string; status?: NewSample["status"]; parentId?: string; query?: string; tools?: McpTool[]; orderId?: string },
): NewSample {
  const query = p.query ?? Array.from({ length: 14 }, () => rng.pick(VOCAB)).join(" ");
  const messages: ChatMessage[] = [
    { role: "user", content: query },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "c0", type: "function", function: { name: "lookup_order", arguments: JSON.stringify({ order_id: p.orderId ?? id }) } }],
    },
  ];
  return {
    id: `${campaignId}-${id}`,
    campaignId,
    iteration: p.iteration,
    kind: "standard",
    origin: p.origin ?? "synthesized",
    stage: "test",
    parentId: p.parentId ? `${campaignId}-${p.parentId}` : null,
    messages,
    tools: p.tools ?? [TOOL],
    status: p.status ?? "verified",
  };
}

const strip = (rows: (PoolMemberRow | SelectionExclusionRow)[]) => rows.map(({ createdAt: _createdAt, ...r }) => r);
const RUN = Date.now().toString(36);

test("the seed round, then a later round from scores, judgements and expansions; re-runs replace the same rows", { timeout: 120_000 }, async () => {
  const c = `select-${RUN}`;
  const sid = (s: string) => `${c}-${s}`;
  // Iteration 1: 24 verified seeds (one asks a BFCL question, one offers a BFCL function), one rejected, one duplicate.
  const seeds = Array.from({ length: 22 }, (_, i) => row(c, `seed${String(i).padStart(2, "0")}`, { iteration: 1 }));
  seeds.push(row(c, "bfclquery", { iteration: 1, query: "Find the area of a triangle with a base of 10 units and height of 5 units." }));
  seeds.push(row(c, "bfcltool", { iteration: 1, tools: [TOOL, BFCL_TOOL] }));
  seeds.push(row(c, "rejected", { iteration: 1, status: "rejected" }), row(c, "dup", { iteration: 1, status: "duplicate" }));
  await insertSamples(db.db, seeds);

  const config1 = campaign({ seedBudget: 30, decontaminate: { categories: ["simple"] } });
  const first = await runStage(context(c, 1, config1));
  const pool1 = await listPoolMembers(db.db, c, 1);
  assert.equal(pool1.length, 22, "every clean verified seed fits in the seed budget");
  assert.ok(pool1.every((m) => m.reason === "seed" && m.weight === 1));
  assert.ok(!pool1.some((m) => [sid("rejected"), sid("dup")].includes(m.sampleId)), "only verified seeds");
  const excl1 = await listExclusions(db.db, c, 1);
  assert.deepEqual(
    excl1.map((e) => [e.sampleId, e.reason, (e.details as { bfclId: string }).bfclId]),
    [
      [sid("bfclquery"), "contaminated_query", "simple_0"],
      [sid("bfcltool"), "contaminated_signature", "simple_0"],
    ],
  );
  assert.deepEqual(first.summary.composition, { seed: { n: 22, weight: 22 } });
  assert.deepEqual(first.summary.exclusions, { contaminated_query: 1, contaminated_signature: 1 });
  assert.deepEqual(first.summary.budget, { budget: 30, used: 22, share: 22 / 30 });
  assert.ok(first.reports.some((r) => r.phase === "done" && r.selected === 22 && r.excluded === 2));

  const again1 = await runStage(context(c, 1, config1));
  assert.deepEqual(strip(await listPoolMembers(db.db, c, 1)), strip(pool1), "a re-run writes the same pool");
  assert.deepEqual(strip(await listExclusions(db.db, c, 1)), strip(excl1));
  assert.deepEqual(again1.result, first.result);

  // What iteration 1 learned: label PPLs of the pool (seed00..02 highest), consistency classes, judgements, a repair, expansions.
  const members = pool1.map((m) => m.sampleId).sort();
  await db.db.insert(sampleScores).values(
    members.map((id, i) => ({
      campaignId: c,
      iteration: 1,
      sampleId: id,
      metric: "label_ppl" as const,
      model: "policy",
      value: 100 - i,
      details: { tokens: 10 },
    })),
  );
  await db.db.insert(sampleScores).values([
    { campaignId: c, iteration: 1, sampleId: sid("seed04"), metric: "consistency", model: "policy", value: 0.2, details: { k: 5, agree: 1, class: "hard" } },
    { campaignId: c, iteration: 1, sampleId: sid("seed05"), metric: "consistency", model: "policy", value: 1, details: { k: 5, agree: 5, class: "easy" } },
  ]);
  const exp03a = row(c, "exp03a", { iteration: 1, origin: "expanded", parentId: "seed03", orderId: "X" });
  const exp03aQuery = (exp03a.messages as ChatMessage[])[0]!.content as string;
  await insertSamples(db.db, [
    row(c, "repair02", { iteration: 1, origin: "repaired", parentId: "seed02" }),
    row(c, "kept01", { iteration: 1, origin: "repaired", parentId: "seed01" }),
    exp03a,
    // The same question (up to case and spacing) and the same answer as exp03a: an exact duplicate.
    row(c, "exp03b", { iteration: 1, origin: "expanded", parentId: "seed03", orderId: "X", query: `  ${exp03aQuery.toUpperCase()}` }),
    row(c, "exp03c", { iteration: 1, origin: "expanded", parentId: "seed03", status: "rejected" }),
    ...Array.from({ length: 6 }, (_, i) => row(c, `new${i}`, { iteration: 2 })),
  ]);
  await db.db.insert(labelJudgements).values([
    { campaignId: c, iteration: 1, sampleId: sid("seed00"), verdict: "BOTH_WRONG", action: "dropped", votes: 3 },
    { campaignId: c, iteration: 1, sampleId: sid("seed01"), verdict: "BOTH_CORRECT", action: "kept_prediction", votes: 3, resultSampleId: sid("kept01") },
    { campaignId: c, iteration: 1, sampleId: sid("seed02"), verdict: "LABEL_WRONG", action: "repaired", votes: 3, resultSampleId: sid("repair02") },
    { campaignId: c, iteration: 1, sampleId: sid("seed03"), verdict: "PRED_WRONG", action: "error_seed", votes: 3 },
  ]);

  // Iteration 2: budget 12 -> quotas high_ppl 5, repaired 3, error_seed 1, expanded 2, unused_seed 1.
  const config2 = campaign({ budget: 12, easyWeight: 0.5, highPpl: { topFraction: 0.75 }, decontaminate: { categories: ["simple"] } });
  const second = await runStage(context(c, 2, config2));
  const pool2 = await listPoolMembers(db.db, c, 2);
  const byReason = (reason: string) =>
    pool2
      .filter((m) => m.reason === reason)
      .map((m) => m.sampleId.slice(c.length + 1))
      .sort();
  assert.deepEqual(byReason("repaired"), ["kept01", "repair02"], "the repair and the kept prediction (one short of 3)");
  assert.deepEqual(byReason("error_seed"), ["seed03"]);
  const expanded = byReason("expanded");
  assert.equal(expanded.length, 1, "one of the two duplicate expansions; the rejected one is no candidate");
  assert.ok(["exp03a", "exp03b"].includes(expanded[0]!));
  // high_ppl walks seed00.. by PPL: seed00-02 retired, seed03 already an error seed; 5 by quota + 2 of the room left.
  assert.deepEqual(byReason("high_ppl"), ["seed04", "seed05", "seed06", "seed07", "seed08", "seed09", "seed10"]);
  const unused = byReason("unused_seed");
  assert.equal(unused.length, 1);
  assert.match(unused[0]!, /^new[0-5]$/, "an unused seed is never a sample of an earlier pool nor a BFCL copy");
  assert.equal(pool2.length, 12);

  const weightOf = (s: string) => pool2.find((m) => m.sampleId === sid(s))?.weight;
  assert.deepEqual([weightOf("seed04"), weightOf("seed05"), weightOf("seed06")], [2, 0.5, 1], "hard 2, easy easyWeight, unscored 1");
  assert.deepEqual(
    { ...(pool2.find((m) => m.sampleId === sid("kept01"))?.details as object) },
    { originalSampleId: sid("seed01"), verdict: "BOTH_CORRECT", action: "kept_prediction" },
  );
  assert.equal((pool2.find((m) => m.sampleId === sid("seed09"))?.details as { redistributed?: boolean }).redistributed, true);

  const excl2 = await listExclusions(db.db, c, 2);
  const reasons = (reason: string) =>
    excl2
      .filter((e) => e.reason === reason)
      .map((e) => e.sampleId.slice(c.length + 1))
      .sort();
  assert.deepEqual(reasons("label_retired"), ["seed00", "seed01", "seed02"]);
  assert.deepEqual(
    excl2
      .filter((e) => e.reason === "label_retired")
      .map((e) => (e.details as { action: string }).action)
      .sort(),
    ["dropped", "kept_prediction", "repaired"],
  );
  const dup = excl2.filter((e) => e.reason === "duplicate");
  assert.equal(dup.length, 1);
  assert.equal((dup[0]!.details as { keptSampleId: string }).keptSampleId, sid(expanded[0]!));
  assert.deepEqual(reasons("over_budget"), ["seed11", "seed12", "seed13", "seed14", "seed15", "seed16"], "the top 17 of 22 by PPL are candidates");
  for (const r of ["contaminated_query", "contaminated_signature"]) assert.ok(reasons(r).every((id) => id === "bfclquery" || id === "bfcltool"));
  assert.equal(excl2.length, 3 + 1 + 6 + reasons("contaminated_query").length + reasons("contaminated_signature").length);

  assert.deepEqual(second.summary.budget, { budget: 12, used: 12, share: 1 });
  assert.deepEqual(Object.fromEntries(Object.entries(second.summary.composition as Record<string, { n: number }>).map(([k, v]) => [k, v.n])), {
    repaired: 2,
    error_seed: 1,
    expanded: 1,
    high_ppl: 7,
    unused_seed: 1,
  });
  assert.deepEqual((second.summary.sources as Record<string, unknown>).high_ppl, { quota: 5, candidates: 17, selected: 7 });
  console.log(`select.nextRound iteration 2 summary: ${JSON.stringify(second.summary)}`);

  await runStage(context(c, 2, config2));
  assert.deepEqual(strip(await listPoolMembers(db.db, c, 2)), strip(pool2), "a re-run of the later round writes the same pool");
  assert.deepEqual(strip(await listExclusions(db.db, c, 2)), strip(excl2));
  assert.deepEqual(strip(await listPoolMembers(db.db, c, 1)), strip(pool1), "the earlier pool is untouched");
});

test("an empty pool (every sample rejected or excluded) stops the stage with the reason instead of training on nothing", { timeout: 60_000 }, async () => {
  const c = `select-empty-${RUN}`;
  await insertSamples(db.db, [
    ...Array.from({ length: 3 }, (_, i) => row(c, `rej${i}`, { iteration: 1, status: "rejected" })),
    row(c, "dup", { iteration: 1, status: "duplicate" }),
    row(c, "bfclquery", { iteration: 1, query: "Find the area of a triangle with a base of 10 units and height of 5 units." }),
  ]);
  const config = campaign({ seedBudget: 10, decontaminate: { categories: ["simple"] } });
  await assert.rejects(runStage(context(c, 1, config)), (err: Error) => {
    assert.equal(err.name, "StageInputError", "not retried: a retry selects the same nothing");
    assert.match(err.message, /the pool of iteration 1 is empty \(budget 10\)/);
    assert.match(err.message, /Candidates: seed 1; excluded: 1 contaminated_query/);
    assert.match(err.message, /The campaign's samples: .*3 rejected/);
    assert.match(err.message, /1 duplicate/);
    assert.match(err.message, /sample lineage/);
    return true;
  });
  assert.deepEqual(await listPoolMembers(db.db, c, 1), []);
  assert.deepEqual(
    (await listExclusions(db.db, c, 1)).map((e) => [e.sampleId, e.reason]),
    [[`${c}-bfclquery`, "contaminated_query"]],
    "the exclusions that emptied the pool are stored for the operator",
  );
});

test(
  "a long loop whose seeds run out: each pool is smaller than the last and its summary warns with the figures (a full pool does not)",
  { timeout: 120_000 },
  async () => {
    const c = `select-dry-${RUN}`;
    // 14 verified seeds; budget 10 with the demo's shares: the seeds last one round after the first, then only high_ppl is left.
    await insertSamples(
      db.db,
      Array.from({ length: 14 }, (_, i) => row(c, `seed${String(i).padStart(2, "0")}`, { iteration: 1 })),
    );
    const config = campaign({
      seedBudget: 10,
      budget: 10,
      mix: { high_ppl: 0.35, repaired: 0.15, error_seed: 0.1, expanded: 0.2, unused_seed: 0.2 },
      highPpl: { topFraction: 0.6 },
      decontaminate: { enabled: false },
    });
    const sizes: number[] = [];
    const warnings: (string | undefined)[] = [];
    for (let it = 1; it <= 5; it++) {
      const { summary } = await runStage(context(c, it, config));
      const pool = await listPoolMembers(db.db, c, it);
      sizes.push(pool.length);
      warnings.push(summary.warning as string | undefined);
      // The iteration's policy scores every label of its pool (what the next high_ppl ranks).
      await db.db
        .insert(sampleScores)
        .values(pool.map((m, i) => ({ campaignId: c, iteration: it, sampleId: m.sampleId, metric: "label_ppl" as const, model: "p", value: 10 + i })));
    }
    assert.deepEqual(sizes, [10, 10, 6, 4, 3], "the pool shrinks once the unused seeds are gone: the top 60% of the last pool each round");
    assert.equal(warnings[0], undefined, "a full first pool warns of nothing");
    assert.equal(warnings[1], undefined, "a full pool warns of nothing");
    assert.match(warnings[2] ?? "", /^the pool filled 6 of its budget 10 \(60%\); the pool before it had 10; short of their quota: /);
    assert.match(warnings[2] ?? "", /unused_seed 0 of 2 \(no candidate\)/);
    assert.match(warnings[2] ?? "", /repaired 0 of 2 \(no candidate\)/);
    assert.match(warnings[2] ?? "", /each round trains on fewer \(high_ppl keeps the top 60% of the last pool\)/);
    assert.match(warnings[4] ?? "", /^the pool filled 3 of its budget 10 \(30%\); the pool before it had 4;/);
  },
);

test("a round whose pool has no label_ppl score at all says so, even when the other sources fill the budget", { timeout: 60_000 }, async () => {
  const c = `select-unscored-${RUN}`;
  await insertSamples(
    db.db,
    Array.from({ length: 12 }, (_, i) => row(c, `seed${String(i).padStart(2, "0")}`, { iteration: 1 })),
  );
  const config = campaign({
    seedBudget: 4,
    budget: 4,
    mix: { high_ppl: 0.5, repaired: 0, error_seed: 0, expanded: 0, unused_seed: 0.5 },
    decontaminate: { enabled: false },
  });
  await runStage(context(c, 1, config));
  // Iteration 1's score.perplexity scored none of its pool (e.g. an endpoint without prompt_logprobs: every sample failed).
  const second = await runStage(context(c, 2, config));
  assert.equal((await listPoolMembers(db.db, c, 2)).length, 4, "the unused seeds fill high_ppl's share: the pool is full");
  assert.equal(
    second.summary.warning,
    "high_ppl had no candidate: none of the 4 samples of the previous pool (iteration 1) has a label_ppl score, so its quota of 2 went to the other sources; " +
      "check that score.perplexity ran in that round and why it scored nothing (its summary's failed count; the worker log names each sample's reason)",
  );
  // One member of pool 2 scored: high_ppl has its candidate, and nothing is said.
  const [scoredMember] = await listPoolMembers(db.db, c, 2);
  await db.db.insert(sampleScores).values({ campaignId: c, iteration: 2, sampleId: scoredMember!.sampleId, metric: "label_ppl", model: "p", value: 3 });
  const third = await runStage(context(c, 3, config));
  assert.equal(third.summary.warning, undefined);
  assert.ok((await listPoolMembers(db.db, c, 3)).some((m) => m.reason === "high_ppl" && m.sampleId === scoredMember!.sampleId));
});

test(
  "a round after an iteration without a pool (its select.nextRound skipped) builds on the latest pool before it, with that round's scores, judgements and expansions",
  { timeout: 60_000 },
  async () => {
    const c = `select-gap-${RUN}`;
    const sid = (s: string) => `${c}-${s}`;
    await insertSamples(
      db.db,
      Array.from({ length: 6 }, (_, i) => row(c, `seed${i}`, { iteration: 1 })),
    );
    const config = campaign({
      seedBudget: 6,
      budget: 4,
      mix: { high_ppl: 1, repaired: 1, error_seed: 1, expanded: 1, unused_seed: 0 },
      highPpl: { topFraction: 1 },
      decontaminate: { enabled: false },
    });
    await runStage(context(c, 1, config));
    assert.equal((await listPoolMembers(db.db, c, 1)).length, 6);
    // Iteration 1's round, keyed by iteration 1: the pool's label PPLs, a repair, an error seed and its expansion.
    await db.db
      .insert(sampleScores)
      .values(
        [0, 1, 2, 3, 4, 5].map((i) => ({ campaignId: c, iteration: 1, sampleId: sid(`seed${i}`), metric: "label_ppl" as const, model: "p", value: 10 + i })),
      );
    await insertSamples(db.db, [
      row(c, "repair0", { iteration: 1, origin: "repaired", parentId: "seed0" }),
      row(c, "exp1", { iteration: 1, origin: "expanded", parentId: "seed1" }),
    ]);
    await db.db.insert(labelJudgements).values([
      { campaignId: c, iteration: 1, sampleId: sid("seed0"), verdict: "LABEL_WRONG", action: "repaired", votes: 3, resultSampleId: sid("repair0") },
      { campaignId: c, iteration: 1, sampleId: sid("seed1"), verdict: "PRED_WRONG", action: "error_seed", votes: 3 },
    ]);
    // Iteration 2 made no pool (its select.nextRound was skipped), so nothing of its round was scored or judged.
    const third = await runStage(context(c, 3, config));
    const pool3 = await listPoolMembers(db.db, c, 3);
    const byReason = Object.fromEntries(
      ["high_ppl", "repaired", "error_seed", "expanded"].map((r) => [
        r,
        pool3
          .filter((m) => m.reason === r)
          .map((m) => m.sampleId.slice(c.length + 1))
          .sort(),
      ]),
    );
    assert.deepEqual(
      byReason,
      { high_ppl: ["seed5"], repaired: ["repair0"], error_seed: ["seed1"], expanded: ["exp1"] },
      "iteration 1's round, not an empty iteration 2",
    );
    assert.equal(third.result.previous_pool, 6);
    assert.equal(third.result.previous_pool_scored, 6);
    assert.equal(third.summary.warning, undefined, "no shortfall, no unscored previous pool");
    assert.deepEqual(await previousPoolRound(db.db, c, 3), { campaignId: c, iteration: 1 });
    assert.deepEqual(await previousPoolRound(db.db, c, 4), { campaignId: c, iteration: 3 });
    assert.deepEqual(await previousPoolRound(db.db, c, 1), undefined);
  },
);

/** A copy of `of` under another id (another iteration, origin or parent): the same question and answer, so the same exact key. */
function copyOf(of: NewSample, campaignId: string, id: string, p: { iteration: number; origin?: string; parentId?: string }): NewSample {
  return {
    ...of,
    id: `${campaignId}-${id}`,
    campaignId,
    iteration: p.iteration,
    origin: p.origin ?? "synthesized",
    parentId: p.parentId ? `${campaignId}-${p.parentId}` : null,
  };
}

test(
  "a sample an earlier pool held does not come back under another id: a later seed or an expansion with its exact key is excluded, the earlier member itself carries over",
  { timeout: 60_000 },
  async () => {
    const c = `select-repeat-${RUN}`;
    const sid = (s: string) => `${c}-${s}`;
    const seeds = Array.from({ length: 6 }, (_, i) => row(c, `s${i}`, { iteration: 1 }));
    await insertSamples(db.db, seeds);
    const config = campaign({
      seedBudget: 6,
      budget: 20,
      mix: { high_ppl: 1, repaired: 1, error_seed: 1, expanded: 1, unused_seed: 1 },
      decontaminate: { enabled: false },
    });
    await runStage(context(c, 1, config));
    assert.equal((await listPoolMembers(db.db, c, 1)).length, 6);
    // Iteration 1's round: label PPL s0 > s1 > ... > s5 (high_ppl takes the top half: s0, s1, s2), s3's label
    // found wrong (dropped), s4 an error seed whose expansion came out as a copy of s0.
    await db.db
      .insert(sampleScores)
      .values(seeds.map((s, i) => ({ campaignId: c, iteration: 1, sampleId: s.id, metric: "label_ppl" as const, model: "p", value: 100 - i })));
    await db.db.insert(labelJudgements).values([
      { campaignId: c, iteration: 1, sampleId: sid("s3"), verdict: "BOTH_WRONG", action: "dropped", votes: 3 },
      { campaignId: c, iteration: 1, sampleId: sid("s4"), verdict: "PRED_WRONG", action: "error_seed", votes: 3 },
    ]);
    await insertSamples(db.db, [
      copyOf(seeds[0]!, c, "exp4", { iteration: 1, origin: "expanded", parentId: "s4" }),
      // Iteration 2 synthesized again: copies of s3 (its label was dropped) and of s5 (already learned: low PPL), two new samples.
      copyOf(seeds[3]!, c, "t3", { iteration: 2 }),
      copyOf(seeds[5]!, c, "t5", { iteration: 2 }),
      row(c, "n0", { iteration: 2 }),
      row(c, "n1", { iteration: 2 }),
    ]);
    // dedupe.exact compares an iteration's samples with each other only: it leaves t3 and t5 verified.
    const all = await db.db.select().from(samples).where(eq(samples.campaignId, c));
    await setExactKeys(
      db.db,
      all.map((s) => ({ id: s.id, exactKey: exactDuplicateKey(s) })),
    );
    assert.equal((await markExactDuplicates(db.db, c, 2)).duplicates, 0);

    const second = await runStage(context(c, 2, config));
    const pool2 = await listPoolMembers(db.db, c, 2);
    assert.deepEqual(
      pool2.map((m) => [m.sampleId.slice(c.length + 1), m.reason]).sort(),
      [
        ["n0", "unused_seed"],
        ["n1", "unused_seed"],
        ["s0", "high_ppl"],
        ["s1", "high_ppl"],
        ["s2", "high_ppl"],
        ["s4", "error_seed"],
      ],
      "no copy of an earlier member under another id; s0 carries over as itself, not as the expansion that copied it",
    );
    const repeats = (await listExclusions(db.db, c, 2)).filter((e) => e.reason === "earlier_pool_duplicate");
    assert.deepEqual(
      repeats.map((e) => [e.sampleId.slice(c.length + 1), e.details]),
      [
        ["exp4", { source: "expanded", earlierSampleId: sid("s0"), earlierCampaignId: c, earlierIteration: 1 }],
        ["t3", { source: "unused_seed", earlierSampleId: sid("s3"), earlierCampaignId: c, earlierIteration: 1, earlierLabelRetired: "dropped" }],
        ["t5", { source: "unused_seed", earlierSampleId: sid("s5"), earlierCampaignId: c, earlierIteration: 1 }],
      ],
    );
    assert.equal((second.summary.exclusions as Record<string, number>).earlier_pool_duplicate, 3, "the stage summary counts them");
    // t3 and t5 stay verified samples (lineage shows why no pool took them), and stay out of later pools too.
    await insertSamples(db.db, [row(c, "n2", { iteration: 3 })]);
    await runStage(context(c, 3, config));
    assert.ok(!(await listPoolMembers(db.db, c, 3)).some((m) => [sid("t3"), sid("t5"), sid("exp4")].includes(m.sampleId)));
  },
);

test("a continuing campaign's new samples that copy a member of its predecessor's pools stay out of its first pool", { timeout: 60_000 }, async () => {
  const a = `select-pred-${RUN}`;
  const b = `select-cont-${RUN}`;
  const { seedsA, config } = await scoredFirstRun([a, b]);
  // b synthesizes a copy of a3 (a member of a's pool that b's high_ppl does not carry over) and one new sample.
  await insertSamples(db.db, [copyOf(seedsA[3]!, b, "copy3", { iteration: 1 }), row(b, "fresh", { iteration: 1 })]);
  const first = await runStage(context(b, 1, config));
  assert.deepEqual((await listPoolMembers(db.db, b, 1)).map((m) => m.sampleId).sort(), [`${a}-a0`, `${a}-a1`, `${b}-fresh`].sort());
  assert.deepEqual(
    (await listExclusions(db.db, b, 1)).map((e) => [e.sampleId, e.reason, e.details]),
    [[`${b}-copy3`, "earlier_pool_duplicate", { source: "unused_seed", earlierSampleId: `${a}-a3`, earlierCampaignId: a, earlierIteration: 1 }]],
  );
  assert.equal((first.summary.exclusions as Record<string, number>).earlier_pool_duplicate, 1);
});

/**
 * Campaigns `ids`, each continuing from the one before, and the first one's round: its four seeds
 * selected, then scored with label PPLs 10..7, so that a next round carries the top half (a0, a1).
 */
async function scoredFirstRun(ids: string[]) {
  const a = ids[0]!;
  await db.db.insert(campaigns).values(ids.map((id, i) => ({ id, name: id, config: {}, ...(i > 0 ? { continuesFrom: ids[i - 1]! } : {}) })));
  const seedsA = Array.from({ length: 4 }, (_, i) => row(a, `a${i}`, { iteration: 1 }));
  await insertSamples(db.db, seedsA);
  const config = campaign({
    seedBudget: 4,
    budget: 10,
    mix: { high_ppl: 1, repaired: 0, error_seed: 0, expanded: 0, unused_seed: 1 },
    highPpl: { topFraction: 0.5 },
    decontaminate: { enabled: false },
  });
  await runStage(context(a, 1, config));
  await db.db
    .insert(sampleScores)
    .values(seedsA.map((s, i) => ({ campaignId: a, iteration: 1, sampleId: s.id, metric: "label_ppl" as const, model: "p", value: 10 - i })));
  return { seedsA, config };
}

/** a, b and c, each continuing from the one before, after a's scored round (scoredFirstRun). */
async function lineageOfThree(tag: string) {
  const [a, b, c] = [`select-${tag}-a-${RUN}`, `select-${tag}-b-${RUN}`, `select-${tag}-c-${RUN}`];
  return { a, b, c, ...(await scoredFirstRun([a, b, c])) };
}

test(
  "a lineage of three runs: the third's copy of the first's pool member, which the second did not carry, stays out of its pool",
  { timeout: 60_000 },
  async () => {
    const { a, b, c, seedsA, config } = await lineageOfThree("line");
    // b carries a0 and a1 (the top half by label PPL) and takes one new sample: a3 is in none of b's pools.
    await insertSamples(db.db, [row(b, "b0", { iteration: 1 })]);
    await runStage(context(b, 1, config));
    assert.deepEqual((await listPoolMembers(db.db, b, 1)).map((m) => m.sampleId).sort(), [`${a}-a0`, `${a}-a1`, `${b}-b0`].sort());
    // c synthesizes a copy of a3, a copy of b0 and one new sample.
    await insertSamples(db.db, [
      copyOf(seedsA[3]!, c, "copyA3", { iteration: 1 }),
      copyOf(
        (
          await db.db
            .select()
            .from(samples)
            .where(eq(samples.id, `${b}-b0`))
        )[0] as NewSample,
        c,
        "copyB0",
        { iteration: 1 },
      ),
      row(c, "fresh", { iteration: 1 }),
    ]);
    const third = await runStage(context(c, 1, config));
    assert.deepEqual(
      (await listPoolMembers(db.db, c, 1)).map((m) => m.sampleId),
      [`${c}-fresh`],
    );
    assert.deepEqual(
      (await listExclusions(db.db, c, 1)).map((e) => [e.sampleId, e.reason, e.details]),
      [
        [`${c}-copyA3`, "earlier_pool_duplicate", { source: "unused_seed", earlierSampleId: `${a}-a3`, earlierCampaignId: a, earlierIteration: 1 }],
        [`${c}-copyB0`, "earlier_pool_duplicate", { source: "unused_seed", earlierSampleId: `${b}-b0`, earlierCampaignId: b, earlierIteration: 1 }],
      ],
      "a's pools count too, two hops back",
    );
    assert.equal((third.summary.exclusions as Record<string, number>).earlier_pool_duplicate, 2);
  },
);

test(
  "a lineage of three runs: a label the first run's judges retired stays retired in the third, named with the run and iteration that retired it",
  { timeout: 60_000 },
  async () => {
    const { a, b, c, seedsA, config } = await lineageOfThree("ret");
    // a's judges found a3's label wrong and dropped it.
    await db.db.insert(labelJudgements).values([{ campaignId: a, iteration: 1, sampleId: `${a}-a3`, verdict: "BOTH_WRONG", action: "dropped", votes: 3 }]);
    // b carries a0 and a1 (the top half by label PPL) and takes one new sample: a3 is in none of b's pools, and b judged nothing of it.
    await insertSamples(db.db, [row(b, "b0", { iteration: 1 })]);
    await runStage(context(b, 1, config));
    assert.deepEqual((await listPoolMembers(db.db, b, 1)).map((m) => m.sampleId).sort(), [`${a}-a0`, `${a}-a1`, `${b}-b0`].sort());

    // c synthesizes a copy of a3: kept out as a copy, and said to copy a retired label.
    await insertSamples(db.db, [copyOf(seedsA[3]!, c, "copyA3", { iteration: 1 }), row(c, "fresh", { iteration: 1 })]);
    await runStage(context(c, 1, config));
    const copyExclusion = async () => (await listExclusions(db.db, c, 1)).find((e) => e.sampleId === `${c}-copyA3`);
    assert.deepEqual((await copyExclusion())?.details, {
      source: "unused_seed",
      earlierSampleId: `${a}-a3`,
      earlierCampaignId: a,
      earlierIteration: 1,
      earlierLabelRetired: "dropped",
    });

    // b's pool held a3 after all (a pool written by hand, or before its selection looked at a's judgements) and scored it
    // highest: c's high_ppl offers a3 itself, which no earlier-pool check stops (the member carries over as itself).
    await db.db.insert(poolMembers).values({ campaignId: b, iteration: 1, sampleId: `${a}-a3`, reason: "high_ppl", weight: 1, details: {} });
    await db.db.insert(sampleScores).values([
      { campaignId: b, iteration: 1, sampleId: `${a}-a3`, metric: "label_ppl", model: "p", value: 99 },
      { campaignId: b, iteration: 1, sampleId: `${a}-a0`, metric: "label_ppl", model: "p", value: 5 },
    ]);
    await runStage(context(c, 1, config));
    const pool = (await listPoolMembers(db.db, c, 1)).map((m) => m.sampleId);
    assert.ok(!pool.includes(`${a}-a3`), `a3's retired label came back: ${pool.join(", ")}`);
    assert.deepEqual(
      (await listExclusions(db.db, c, 1)).filter((e) => e.reason === "label_retired").map((e) => [e.sampleId, e.details]),
      [[`${a}-a3`, { source: "high_ppl", action: "dropped", campaignId: a, iteration: 1, resultSampleId: null }]],
      "named with the run and iteration whose judges retired it",
    );
    assert.equal(((await copyExclusion())?.details as Record<string, unknown>).earlierLabelRetired, "dropped");
  },
);

test(
  "a new seed that paraphrases an earlier pool member stays out of later pools, named with the member; an expansion and a dialogue's own later cut do not count",
  { timeout: 60_000 },
  async () => {
    const c = `select-para-${RUN}`;
    const sid = (s: string) => `${c}-${s}`;
    const config = campaign({
      seedBudget: 10,
      budget: 10,
      mix: { high_ppl: 0, repaired: 0, error_seed: 0, expanded: 1, unused_seed: 1 },
      decontaminate: { enabled: false },
    });
    const seeds = [
      ...Array.from({ length: 3 }, (_, i) => row(c, `s${i}`, { iteration: 1 })),
      multiTurnRow(c, "d1-cut1", { iteration: 1, dialogue: "d1", context: "Let me check.", result: '{"status":"shipped"}' }),
    ];
    await insertSamples(db.db, seeds);
    await runStage(context(c, 1, config));
    assert.equal((await listPoolMembers(db.db, c, 1)).length, 4);
    const queryOf = (i: number) => (seeds[i]!.messages[0] as { content: string }).content;
    await db.db.insert(labelJudgements).values([{ campaignId: c, iteration: 1, sampleId: sid("s0"), verdict: "PRED_WRONG", action: "error_seed", votes: 3 }]);
    await insertSamples(db.db, [
      // An expansion of s0 that reads much like it: a variation of its error seed by design, so it may enter.
      row(c, "exp0", { iteration: 1, origin: "expanded", parentId: "s0", query: `${queryOf(0)} today` }),
      // Iteration 2's synthesis: s1's request with one word more and another order (not s1's exact key), and new samples.
      row(c, "para1", { iteration: 2, query: `${queryOf(1)} please` }),
      // Another dialogue asking what d1 asked, and d1's own later cut (its turns are d1-cut1's, so not its paraphrase).
      multiTurnRow(c, "d2-cut1", { iteration: 2, dialogue: "d2", context: "Sure, one moment.", result: '{"status":"delayed"}' }),
      multiTurnRow(c, "d1-cut2", { iteration: 2, dialogue: "d1", context: "Let me check.", result: '{"status":"in transit"}' }),
      row(c, "fresh", { iteration: 2 }),
    ]);
    const second = await runStage(context(c, 2, config));
    assert.deepEqual((await listPoolMembers(db.db, c, 2)).map((m) => [m.sampleId.slice(c.length + 1), m.reason]).sort(), [
      ["d1-cut2", "unused_seed"],
      ["exp0", "expanded"],
      ["fresh", "unused_seed"],
    ]);
    const exclusions = await listExclusions(db.db, c, 2);
    assert.deepEqual(
      exclusions.map((e) => [e.sampleId.slice(c.length + 1), e.reason, { ...(e.details as Record<string, unknown>), similarity: undefined }]),
      [
        [
          "d2-cut1",
          "earlier_pool_near_duplicate",
          { source: "unused_seed", earlierSampleId: sid("d1-cut1"), earlierCampaignId: c, earlierIteration: 1, similarity: undefined },
        ],
        [
          "para1",
          "earlier_pool_near_duplicate",
          { source: "unused_seed", earlierSampleId: sid("s1"), earlierCampaignId: c, earlierIteration: 1, similarity: undefined },
        ],
      ],
    );
    const similarity = (id: string) => (exclusions.find((e) => e.sampleId === sid(id))?.details as { similarity: number }).similarity;
    assert.equal(similarity("d2-cut1"), 1, "the same user turns");
    assert.ok(similarity("para1") >= 0.8 && similarity("para1") < 1, `one word more: ${similarity("para1")}`);
    assert.equal((second.summary.exclusions as Record<string, number>).earlier_pool_near_duplicate, 2);
  },
);

test("seeds loaded after the first prefix are checked for paraphrases of earlier pool members too", { timeout: 60_000 }, async () => {
  const c = `select-para-more-${RUN}`;
  const config = campaign({
    seedBudget: 1,
    budget: 2,
    mix: { high_ppl: 0, repaired: 0, error_seed: 0, expanded: 0, unused_seed: 1 },
    decontaminate: { enabled: false },
  });
  const held = row(c, "held", { iteration: 1 });
  await insertSamples(db.db, [held]);
  await runStage(context(c, 1, config));
  // More paraphrases than the first prefix of seeds loaded (the budget + 256), and one new sample.
  const query = (held.messages[0] as { content: string }).content;
  const paraphrases = Array.from({ length: 300 }, (_, i) => row(c, `para${String(i).padStart(3, "0")}`, { iteration: 2, query: `${query} ${VOCAB[i]}` }));
  await insertSamples(db.db, [...paraphrases, row(c, "fresh", { iteration: 2 })]);
  const second = await runStage(context(c, 2, config));
  assert.deepEqual(
    (await listPoolMembers(db.db, c, 2)).map((m) => m.sampleId),
    [`${c}-fresh`],
  );
  assert.equal((second.summary.exclusions as Record<string, number>).earlier_pool_near_duplicate, 300);
});

test(
  "a selection that loads more seeds reads each earlier pool of the lineage once, and checks the later seeds against every run's members",
  { timeout: 60_000 },
  async () => {
    const a = `select-once-a-${RUN}`;
    const b = `select-once-b-${RUN}`;
    const c = `select-once-c-${RUN}`;
    await db.db.insert(campaigns).values([
      { id: a, name: "a", config: {} },
      { id: b, name: "b", config: {}, continuesFrom: a },
      { id: c, name: "c", config: {}, continuesFrom: b },
    ]);
    // Three members in each of a's and b's pools, read two at a time: two pages each, and one (empty) of c's own.
    const held = [
      ...Array.from({ length: 3 }, (_, i) => row(a, `h${i}`, { iteration: 1 })),
      ...Array.from({ length: 3 }, (_, i) => row(b, `h${i}`, { iteration: 1 })),
    ];
    await insertSamples(db.db, held);
    for (const [campaignId, members] of [
      [a, held.slice(0, 3)],
      [b, held.slice(3)],
    ] as const)
      await replaceSelection(
        db.db,
        campaignId,
        1,
        members.map((m) => ({ sampleId: m.id, reason: "seed" as const, weight: 1, details: {} })),
        [],
      );
    // c's seeds: 600 paraphrases of those six members, more than its first two prefixes (budget + 256, then twice that), and one new sample.
    const paraphrases = Array.from({ length: 600 }, (_, i) =>
      row(c, `para${String(i).padStart(3, "0")}`, { iteration: 1, query: `${(held[i % 6]!.messages[0] as { content: string }).content} ${VOCAB[i % 500]}` }),
    );
    await insertSamples(db.db, [...paraphrases, row(c, "fresh", { iteration: 1 })]);
    // A budget of two for one new sample: the selection walks every seed, loading more twice.
    const config = campaign({
      seedBudget: 1,
      budget: 2,
      batchSize: 2,
      mix: { high_ppl: 0, repaired: 0, error_seed: 0, expanded: 0, unused_seed: 1 },
      decontaminate: { enabled: false },
    });
    const first = await runStage(context(c, 1, config));
    assert.deepEqual(
      (await listPoolMembers(db.db, c, 1)).map((m) => m.sampleId),
      [`${c}-fresh`],
    );
    assert.equal((first.summary.exclusions as Record<string, number>).earlier_pool_near_duplicate, 600, "every paraphrase, of a's members as of b's");
    assert.equal(first.result.earlier_pool_runs, 3);
    assert.equal(first.result.earlier_pool_pages, 2 + 2 + 1, "one pass over the earlier pools, not one more per seed load");
  },
);

/** A multi_turn sample cut after a tool result: the user's request, the call, its result and the answer. */
function multiTurnRow(campaignId: string, id: string, p: { iteration: number; dialogue: string; context: string; result: string }): NewSample {
  const messages: ChatMessage[] = [
    { role: "user", content: "Where is my order 42?" },
    { role: "assistant", content: p.context },
    { role: "user", content: "Please look it up." },
    { role: "assistant", content: null, tool_calls: [{ id: "c0", type: "function", function: { name: "lookup_order", arguments: '{"order_id":"42"}' } }] },
    { role: "tool", tool_call_id: "c0", content: p.result },
    { role: "assistant", content: "Your order is on its way." },
  ];
  return {
    id: `${campaignId}-${id}`,
    campaignId,
    iteration: p.iteration,
    kind: "multi_turn",
    origin: "synthesized",
    stage: "test",
    messages,
    tools: [TOOL],
    status: "verified",
    metadata: { dialogue: { id: `${campaignId}-${p.dialogue}` } },
  };
}

test(
  "multi_turn samples are keyed as dedupe.exact keys them: a later dialogue's copy of an earlier member's exchange is excluded",
  { timeout: 60_000 },
  async () => {
    const c = `select-mt-${RUN}`;
    const config = campaign({
      seedBudget: 10,
      budget: 10,
      mix: { high_ppl: 0, repaired: 0, error_seed: 0, expanded: 0, unused_seed: 1 },
      decontaminate: { enabled: false },
    });
    await insertSamples(db.db, [multiTurnRow(c, "shipped", { iteration: 1, dialogue: "d1", context: "Let me check.", result: '{"status":"shipped"}' })]);
    await runStage(context(c, 1, config));
    await insertSamples(db.db, [
      // The same exchange after other small talk: the same sample to dedupe.exact (exact key v2).
      multiTurnRow(c, "shipped-again", { iteration: 2, dialogue: "d2", context: "Sure, one moment.", result: '{"status":"shipped"}' }),
      row(c, "fresh", { iteration: 2 }),
    ]);
    const rows = await db.db.select().from(samples).where(eq(samples.campaignId, c));
    const keyOf = (id: string) => exactDuplicateKey(rows.find((r) => r.id === `${c}-${id}`)!);
    assert.equal(keyOf("shipped"), keyOf("shipped-again"), "one exact key");

    await runStage(context(c, 2, config));
    assert.deepEqual(
      (await listPoolMembers(db.db, c, 2)).map((m) => m.sampleId),
      [`${c}-fresh`],
    );
    assert.deepEqual(
      (await listExclusions(db.db, c, 2)).map((e) => [e.sampleId, e.reason]),
      [[`${c}-shipped-again`, "earlier_pool_duplicate"]],
    );
  },
);
