/**
 * The evaluate.probe stage: its config, then the handler run directly (no Temporal) against the LLM
 * simulator with scores in real PostgreSQL: rows labelled "toolloop-matcher", the overall_probe row,
 * usage recorded, and a rerun that makes no request at all.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { BFCL_SINGLE_TURN_CATEGORIES, readBfclCategorySync } from "../../src/bfcl/data.js";
import { BFCL_FAST_CATEGORIES, parseCampaignConfig, type CampaignConfig } from "../../src/config/campaignConfig.js";
import type { DbHandle } from "../../src/db/client.js";
import { listBfclScores } from "../../src/db/repos/bfclScores.js";
import { llmUsage } from "../../src/db/schema.js";
import { RequestLedger } from "../../src/framework/requestLedger.js";
import { createRoleClient } from "../../src/llm/client.js";
import type { SimulatorHandle } from "../../src/llm/simulator/server.js";
import { STAGE_SPECS } from "../../src/stages/specs.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { buildStageContext } from "../../src/framework/stageContext.js";
import type { UsageSink } from "../../src/llm/usage.js";
import { evaluateBfclFastHandler, OVERALL_PROBE, PROBE_EVALUATOR, type ProbeProgress } from "../../src/stages/evaluate/bfclFast/handler.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import type { BatchResult, StageContext } from "../../src/framework/stage.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

type ProbeStage = StageConfigOf<"evaluate.bfclFast">;

function rawConfig(stage: Record<string, unknown>, opts: { policy?: boolean; baseUrl?: string } = {}): Record<string, unknown> {
  return {
    name: "probe-it",
    endpoints: { sim: { baseUrl: opts.baseUrl ?? "http://127.0.0.1:9/v1", maxConcurrency: 4 } },
    roles: {
      generator: { endpoint: "sim", model: "toolloop-sim-generator" },
      ...(opts.policy === false ? {} : { policy: { endpoint: "sim", model: "toolloop-sim-policy" } }),
    },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "verify.rules" }, { name: "evaluate.bfclFast", ...stage }],
  };
}

function configErrors(stage: Record<string, unknown>, opts: { policy?: boolean } = {}): string {
  const r = parseCampaignConfig(rawConfig(stage, opts));
  assert.equal(r.ok, false, `expected ${JSON.stringify(stage)} to be rejected`);
  return r.ok ? "" : r.error.message;
}

test("evaluate.bfclFast config: defaults, category validation with the entry's path", () => {
  assert.deepEqual([...BFCL_FAST_CATEGORIES], [...BFCL_SINGLE_TURN_CATEGORIES], "the config's list matches the data module's");
  const r = parseCampaignConfig(rawConfig({}));
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  const stage = r.config.stages[1] as ProbeStage;
  assert.deepEqual(stage, { name: "evaluate.bfclFast", categories: [...BFCL_SINGLE_TURN_CATEGORIES], mode: "strict", batchSize: 1 });
  assert.equal(STAGE_SPECS.find((x) => x.name === "evaluate.bfclFast")?.latency, "llm");
  assert.equal(STAGE_HANDLERS["evaluate.bfclFast"], evaluateBfclFastHandler);

  assert.match(
    configErrors({ categories: ["simple", "simpel"] }),
    /stages\[1\]\.categories\[1\]: unknown or multi-turn BFCL category "simpel"; the fast check scores: simple, multiple/,
  );
  assert.match(configErrors({ categories: ["multi_turn_base"] }), /stages\[1\]\.categories\[0\]: unknown or multi-turn BFCL category "multi_turn_base"/);
  assert.match(configErrors({ categories: [] }), /stages\[1\]\.categories: expected at least one category/);
  assert.match(configErrors({ categories: ["simple", "simple"] }), /stages\[1\]\.categories: expected each category at most once/);
  assert.match(configErrors({ limitPerCategory: 0 }), /stages\[1\]\.limitPerCategory: expected a positive integer/);
  assert.match(configErrors({ mode: "fuzzy" }), /stages\[1\]\.mode: expected "bfcl" or "strict"/);
  assert.match(configErrors({ batchSize: 1.5 }), /stages\[1\]\.batchSize: expected a positive integer/);
  assert.match(configErrors({ threads: 4 }), /stages\[1\]/, "unknown keys are rejected");
});

let db: DbHandle;
let sim: SimulatorHandle;
let workDir: string;
let resources: StageResources | undefined;

before(async () => {
  resources = await startStageResources("probe", 5);
  ({ db, sim, workDir } = resources);
});

after(async () => {
  await resources?.close();
});

function campaign(stage: Record<string, unknown>, opts: { policy?: boolean } = {}): CampaignConfig {
  const parsed = parseCampaignConfig(rawConfig(stage, { ...opts, baseUrl: sim.url }));
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

function context(campaignId: string, config: CampaignConfig, signal = new AbortController().signal): StageContext<ProbeStage> {
  const deps = {
    db: db.db,
    baseDir: workDir,
    log: () => undefined,
    createLlm: (cfg: CampaignConfig, role: string, usage: UsageSink) => createRoleClient(cfg, role, { usage }),
  };
  return buildStageContext({ campaignId, iteration: 1, config, stage: config.stages[1] as ProbeStage, signal, deps, ledger: ledgerOf(campaignId) }).ctx;
}

const ledgers = new Map<string, RequestLedger>();
/** The activity wrapper gives each step a ledger and drains it; these tests call handlers directly. */
function ledgerOf(campaignId: string): RequestLedger {
  let l = ledgers.get(campaignId);
  if (!l) ledgers.set(campaignId, (l = new RequestLedger(db.db, { campaignId, iteration: 1, stage: "evaluate.bfclFast", batchIndex: null })));
  return l;
}

const chatRequests = () => sim.stats().byPath["/v1/chat/completions"] ?? 0;
const RUN = Date.now().toString(36);
const CATEGORIES = ["simple", "irrelevance", "live_simple"];
const LIMIT = 5;

test("evaluate.probe scores categories against the simulator, stores toolloop-matcher rows, and a rerun makes no request", { timeout: 120_000 }, async () => {
  const campaignId = `probe-${RUN}`;
  const ctx = context(campaignId, campaign({ categories: CATEGORIES, limitPerCategory: LIMIT, batchSize: 2 }));
  const plan = await evaluateBfclFastHandler.plan!(ctx);
  assert.deepEqual(plan, { batches: 2, items: 15 });

  const start = chatRequests();
  const reports: ProbeProgress[] = [];
  const batches: BatchResult[] = [];
  for (let b = 0; b < plan.batches; b++)
    batches.push(await evaluateBfclFastHandler.runBatch(ctx, b, { resumeFrom: undefined, report: (d) => reports.push(d) }));
  assert.equal(chatRequests() - start, 15, "one chat request per probed entry");
  assert.deepEqual(
    batches.map((b) => [b.items, b.probed, b.reused, b.categories]),
    [
      [10, 10, 0, 2],
      [5, 5, 0, 1],
    ],
  );
  assert.ok(
    reports.some((r) => r.done === 10 && r.total === 10 && r.finished.length === 2),
    "batch 0 reports completion",
  );
  assert.ok(
    reports.some((r) => r.category === "simple" && r.done > 0 && r.done < 10),
    "progress inside a category is reported",
  );

  const rows = await listBfclScores(db.db, campaignId, 1);
  assert.ok(
    rows.every((r) => r.evaluator === PROBE_EVALUATOR),
    "every row is labelled with the matcher evaluator",
  );
  const byCategory = new Map(rows.map((r) => [r.category, r]));
  for (const c of CATEGORIES) {
    const row = byCategory.get(c);
    assert.ok(row, `row for ${c}`);
    assert.equal(row.total, Math.min(LIMIT, readBfclCategorySync(c).length));
    assert.equal(row.accuracy, row.correct / row.total);
    assert.equal(row.details?.mode, "strict");
    assert.equal(row.details?.limitPerCategory, LIMIT);
    // Every answer came from the simulator, and the row says so in a column reports read.
    assert.equal(row.simulated, true, `${c} is marked simulated`);
    assert.equal(row.details?.simulatedResponses, row.total);
    // Which model the numbers are of (in a loop, the iteration's served policy): recorded with them.
    assert.equal(row.details?.model, "toolloop-sim-policy");
    assert.equal(row.details?.endpoint, sim.url);
  }
  assert.equal(
    batches.reduce((a, b) => a + (b.correct ?? 0), 0),
    CATEGORIES.reduce((a, c) => a + (byCategory.get(c)?.correct ?? 0), 0),
  );
  assert.ok(
    CATEGORIES.some((c) => (byCategory.get(c)?.correct ?? 0) > 0),
    "the simulator's policy gets some entries right",
  );

  const summary = (await evaluateBfclFastHandler.finalize?.(ctx, batches)) as Record<string, unknown>;
  const overall = (await listBfclScores(db.db, campaignId, 1, PROBE_EVALUATOR)).find((r) => r.category === OVERALL_PROBE);
  assert.ok(overall, "overall_probe row");
  assert.equal(overall.total, 15);
  assert.equal(
    overall.correct,
    CATEGORIES.reduce((a, c) => a + (byCategory.get(c)?.correct ?? 0), 0),
  );
  assert.equal(overall.accuracy, overall.correct / 15);
  assert.match(String(overall.details?.note), /NOT the BFCL leaderboard formula/);
  assert.equal(overall.simulated, true, "overall_probe of simulated categories is simulated");
  assert.equal(summary.simulated, true);
  assert.match(String(summary.simulatedNote), /toolloop LLM simulator/);
  assert.equal(summary.evaluator, PROBE_EVALUATOR);
  assert.equal(summary.overallProbe, overall.accuracy);
  assert.equal(summary.mode, "strict");
  assert.equal(summary.model, "toolloop-sim-policy");
  assert.equal(overall.details?.model, "toolloop-sim-policy");

  await ledgerOf(campaignId).drain();
  const usage = await db.db
    .select()
    .from(llmUsage)
    .where(and(eq(llmUsage.campaignId, campaignId), eq(llmUsage.stage, "evaluate.bfclFast")));
  assert.deepEqual(
    usage.map((u) => [u.role, u.requests]),
    [["policy", 15]],
  );

  // Resumability: every category is stored for this iteration and evaluator, so nothing is asked again.
  const mark = chatRequests();
  const again: BatchResult[] = [];
  for (let b = 0; b < plan.batches; b++) again.push(await evaluateBfclFastHandler.runBatch(ctx, b, { resumeFrom: undefined, report: () => undefined }));
  assert.equal(chatRequests() - mark, 0, "a rerun makes zero chat requests");
  assert.deepEqual(
    again.map((b) => [b.items, b.probed, b.reused]),
    [
      [10, 0, 10],
      [5, 0, 5],
    ],
  );

  // A stored row from another matcher mode is not reused: the numbers would mean something else.
  const bfclMode = context(campaignId, campaign({ categories: ["irrelevance"], limitPerCategory: LIMIT, mode: "bfcl" }));
  const redo = await evaluateBfclFastHandler.runBatch(bfclMode, 0, { resumeFrom: undefined, report: () => undefined });
  assert.deepEqual([redo.probed, redo.reused], [5, 0]);
  assert.equal(chatRequests() - mark, 5);

  // Nor is one of another model (a config version naming another roles.policy, re-running the iteration): its numbers are that model's.
  const otherConfig = campaign({ categories: ["simple", "irrelevance"], limitPerCategory: LIMIT, batchSize: 1 });
  otherConfig.roles.policy = { ...otherConfig.roles.policy!, model: "toolloop-sim-policy-b" };
  const other = context(campaignId, otherConfig);
  const markOther = chatRequests();
  const reprobed = await evaluateBfclFastHandler.runBatch(other, 0, { resumeFrom: undefined, report: () => undefined });
  assert.deepEqual([reprobed.probed, reprobed.reused], [5, 0]);
  assert.equal(chatRequests() - markOther, 5);
  const simple = (await listBfclScores(db.db, campaignId, 1, PROBE_EVALUATOR)).find((r) => r.category === "simple");
  assert.equal(simple?.details?.model, "toolloop-sim-policy-b");
  // The first model's finalize no longer finds a "simple" score of its own: the stored one is model b's.
  await assert.rejects(
    evaluateBfclFastHandler.finalize!(context(campaignId, campaign({ categories: ["simple"], limitPerCategory: LIMIT })), []),
    /no toolloop-matcher score \(mode strict\) of model "toolloop-sim-policy" stored for category "simple"/,
  );
});

test(
  "evaluate.bfclFast: the former name is accepted with a warning; a missing policy role, a batch outside the plan, an aborted batch",
  { timeout: 60_000 },
  async () => {
    const former = parseCampaignConfig({
      ...rawConfig({}, { baseUrl: sim.url }),
      stages: [{ name: "verify.rules" }, { name: "evaluate.probe", categories: ["simple"] }],
    });
    assert.ok(former.ok);
    assert.equal(former.config.stages[1]?.name, "evaluate.bfclFast");
    // Less the stage-order warning of this minimal config (verify.rules with nothing before it to read).
    assert.deepEqual(
      former.warnings.filter((w) => !w.startsWith("stages[0] (verify.rules) reads")),
      ['stages[1].name: "evaluate.probe" is deprecated; it is now "evaluate.bfclFast" (same stage, same options)'],
    );
    // Validation refuses a config whose stage calls a role it does not configure.
    assert.match(
      configErrors({ categories: ["simple"] }, { policy: false }),
      /roles\.policy: stages\[1\] \(evaluate\.bfclFast\) calls the policy role; add roles\.policy/,
    );

    const ctx = context(`probe-plan-${RUN}`, campaign({ categories: ["simple"], limitPerCategory: 2 }));
    await assert.rejects(evaluateBfclFastHandler.runBatch(ctx, 1, { resumeFrom: undefined, report: () => undefined }), /batch 1 is outside the plan/);
    await assert.rejects(
      evaluateBfclFastHandler.finalize!(ctx, []),
      /no toolloop-matcher score \(mode strict\) of model "toolloop-sim-policy" stored for category "simple"/,
    );

    const abort = new AbortController();
    abort.abort(new Error("worker stopped"));
    const mark = chatRequests();
    await assert.rejects(
      evaluateBfclFastHandler.runBatch(context(`probe-abort-${RUN}`, campaign({ categories: ["simple"], limitPerCategory: 2 }), abort.signal), 0, {
        resumeFrom: undefined,
        report: () => undefined,
      }),
      /worker stopped/,
    );
    assert.equal(chatRequests() - mark, 0);
    assert.equal((await listBfclScores(db.db, `probe-abort-${RUN}`, 1)).length, 0);
  },
);
