/**
 * Gathering a report's data (src/reports/data.ts) on PGlite: the campaign and iteration scopes, the
 * figures per chart, the reward curve read from a training job's log, and the errors for unknown ids.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { eq } from "drizzle-orm";
import { freezeCampaignConfig } from "../../../src/config/frozen.js";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { insertConfigVersion } from "../../../src/db/repos/campaignConfigs.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { upsertLlmRequests } from "../../../src/db/repos/usage.js";
import {
  bfclScores,
  clusterJobs,
  stageRuns,
  judgeVotes,
  labelJudgements,
  modelVersions,
  poolMembers,
  probeResults,
  samples,
  sampleCheckVotes,
  sampleScores,
  selectionExclusions,
  tools,
} from "../../../src/db/schema.js";
import { judgeVoteCounts, scoreHistogramBins, scoreValues } from "../../../src/db/repos/reportData.js";
import { gatherReportData, histograms, jobLogPath, rewardPointsOf, UnknownCampaignError } from "../../../src/reports/data.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";
import type { ChatMessage } from "../../../src/domain/types.js";

const TOOL = { name: "get_weather", description: "d", inputSchema: { type: "object" as const, properties: {} } };

test("report data: per-chart figures for the campaign and for one iteration, the reward curve from the job log", async () => {
  const h = await openDatabase("pglite:memory");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-data-"));
  try {
    await migrateDatabase(h);
    const db = h.db;
    const raw = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), seed: 42, iterations: 2 };
    const frozen = freezeCampaignConfig(raw, { configDir: dir });
    assert.ok(frozen.ok);
    await insertCampaign(db, { id: "c", name: "self-evolution-it", config: raw });
    await insertCampaign(db, { id: "other", name: "other", config: raw });
    await insertConfigVersion(db, "c", { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
    await upsertIteration(db, { campaignId: "c", iteration: 1, status: "completed" });
    await upsertIteration(db, { campaignId: "c", iteration: 2, status: "running" });
    await db.insert(tools).values({ campaignId: "c", name: "get_weather", domain: "weather", source: "example", definition: TOOL, hash: "h" });
    const sample = (campaignId: string, id: string, iteration: number, status: "verified" | "rejected", reasons: string[] = []) => ({
      id,
      campaignId,
      iteration,
      kind: "standard",
      origin: "synthesized",
      stage: "synthesize.singleTurn",
      messages: [{ role: "user" as const, content: id }],
      tools: [TOOL],
      status,
      verdicts: reasons.length ? [{ verifier: "rules", ok: false, reasons }] : [],
    });
    await db
      .insert(samples)
      .values([
        sample("c", "s1", 1, "verified"),
        sample("c", "s2", 1, "rejected", ["call[0] missing argument <city>"]),
        sample("c", "s3", 2, "verified"),
        sample("c", "s4", 2, "rejected", ["call[1] missing argument <city>"]),
        sample("other", "o1", 1, "rejected", ["not ours"]),
      ]);
    // A passing verdict's note is no rejection reason; a judges' rejection is named as the judges'.
    await db
      .update(samples)
      .set({
        verdicts: [
          { verifier: "rules", ok: false, reasons: ["call[1] missing argument <city>"] },
          { verifier: "style", ok: true, reasons: ["note: optional argument <units> left out"] },
          { verifier: "judges", ok: false, reasons: ["judged INCORRECT: 0 CORRECT, 3 INCORRECT of 3 votes (consensus 2)"] },
        ],
      })
      .where(eq(samples.id, "s4"));
    await upsertLlmRequests(db, [
      {
        id: "r1",
        campaignId: "c",
        iteration: 1,
        stage: "synthesize.singleTurn",
        batchIndex: 0,
        role: "generator",
        model: "g",
        status: "ok",
        promptTokens: 100,
        completionTokens: 10,
        finished: true,
      },
      {
        id: "r2",
        campaignId: "c",
        iteration: 2,
        stage: "synthesize.singleTurn",
        batchIndex: 0,
        role: "generator",
        model: "g",
        status: "failed",
        promptTokens: 0,
        completionTokens: 0,
        finished: true,
      },
      {
        id: "r3",
        campaignId: "other",
        iteration: 1,
        stage: "x",
        batchIndex: 0,
        role: "generator",
        model: "g",
        status: "ok",
        promptTokens: 999,
        completionTokens: 9,
        finished: true,
      },
    ]);
    await db.insert(sampleScores).values([
      { sampleId: "s1", model: "p", metric: "label_ppl", campaignId: "c", iteration: 1, value: 1.5 },
      { sampleId: "s1", model: "p", metric: "consistency", campaignId: "c", iteration: 1, value: 1 },
      { sampleId: "s3", model: "p", metric: "label_ppl", campaignId: "c", iteration: 2, value: 2.5 },
    ]);
    await db.insert(probeResults).values([
      { campaignId: "c", iteration: 1, sampleId: "s1", model: "p", match: false, prediction: {}, reasons: [] },
      { campaignId: "c", iteration: 2, sampleId: "s3", model: "p", match: true, prediction: {}, reasons: [] },
    ]);
    await db.insert(judgeVotes).values([
      { campaignId: "c", iteration: 1, sampleId: "s1", judge: "judge#0", model: "j", verdict: "LABEL_WRONG", analysis: "" },
      { campaignId: "c", iteration: 1, sampleId: "s1", judge: "judge#1", model: "j", verdict: null, analysis: "???" },
    ]);
    await db.insert(labelJudgements).values({ campaignId: "c", iteration: 1, sampleId: "s1", verdict: null, action: "no_consensus", votes: 2 });
    await db.insert(bfclScores).values([
      { campaignId: "c", iteration: 1, evaluator: "toolloop-matcher", category: "simple", correct: 5, total: 10, accuracy: 0.5 },
      { campaignId: "c", iteration: 2, evaluator: "toolloop-matcher", category: "simple", correct: 7, total: 10, accuracy: 0.7 },
    ]);
    await db.insert(poolMembers).values([
      { campaignId: "c", iteration: 1, sampleId: "s1", reason: "seed" },
      { campaignId: "c", iteration: 2, sampleId: "s3", reason: "high_ppl" },
    ]);
    await db.insert(selectionExclusions).values({ campaignId: "c", iteration: 2, sampleId: "s2", reason: "duplicate" });
    await db.insert(modelVersions).values({ id: "c:1:checkpoint", campaignId: "c", iteration: 1, kind: "checkpoint", baseModel: "b", simulated: true });
    // Two attempts of iteration 1's training: the second resumed at step 2 and redid it; a Ray job's log is not on disk.
    const workDir = path.join(dir, "grpo");
    fs.mkdirSync(workDir);
    fs.writeFileSync(
      path.join(workDir, "job-a1.log"),
      "Training from scratch\nstep:0 - val-core/x/reward/mean@1:0.1\nstep:1 - critic/score/mean:0.25 - critic/rewards/mean:0.25\nstep:2 - critic/score/mean:0.3\nTraceback...\n",
    );
    fs.writeFileSync(path.join(workDir, "job-a2.log"), "resuming\nstep:2 - critic/score/mean:0.35\nstep:3 - critic/score/mean:0.5 - training/global_step:3\n");
    const job = (name: string, attempt: number, launcher: string) => ({
      name,
      campaignId: "c",
      iteration: 1,
      stage: "train.grpo",
      attempt,
      launcher,
      externalId: "1",
      request: { workDir },
      state: "succeeded" as const,
    });
    await db.insert(clusterJobs).values([job("job-a1", 1, "local"), job("job-a2", 2, "local"), job("job-r", 3, "ray")]);

    const all = await gatherReportData(db, { campaignId: "c" }, { now: new Date("2026-01-01T00:00:00Z") });
    assert.equal(all.generatedAt, "2026-01-01T00:00:00.000Z");
    assert.deepEqual(all.config && { seed: all.config.seed, iterations: all.config.iterations, version: all.config.version, hash: all.config.hash }, {
      seed: 42,
      iterations: 2,
      version: 1,
      hash: frozen.hash,
    });
    assert.deepEqual(
      all.config?.roles.map((r) => r.role),
      ["generator", "judge", "policy"],
    );
    assert.deepEqual(
      all.iterations.map((i) => [i.iteration, i.status]),
      [
        [1, "completed"],
        [2, "running"],
      ],
    );
    assert.deepEqual(all.funnel, [
      { stage: "synthesize.singleTurn", kind: "standard", status: "rejected", n: 2 },
      { stage: "synthesize.singleTurn", kind: "standard", status: "verified", n: 2 },
    ]);
    assert.deepEqual(all.rejectionReasons, [
      { reason: "rules: missing argument <city>", n: 2 },
      { reason: "judges: judged INCORRECT: 0 CORRECT, 3 INCORRECT of 3 votes (consensus 2)", n: 1 },
    ]);
    assert.deepEqual(all.usage, [{ role: "generator", model: "g", requests: 2, failures: 1, outcomeUnknown: 0, promptTokens: 100, completionTokens: 10 }]);
    assert.deepEqual(all.kindDomain, [{ kind: "standard", domain: "weather", n: 2 }]);
    assert.deepEqual(
      all.scores.map((s) => [s.metric, s.count]),
      [
        ["consistency", 1],
        ["label_ppl", 2],
      ],
    );
    assert.deepEqual(all.judgeVotes, [
      { stage: "repair.labels", model: "j", verdict: "LABEL_WRONG", n: 1 },
      { stage: "repair.labels", model: "j", verdict: "unreadable", n: 1 },
    ]);
    assert.deepEqual(all.labelJudgements, [{ verdict: "no consensus", action: "no_consensus", n: 1 }]);
    assert.deepEqual(all.probe, [
      { iteration: 1, matched: 0, mismatched: 1 },
      { iteration: 2, matched: 1, mismatched: 0 },
    ]);
    assert.equal(all.bfcl.length, 2);
    assert.deepEqual(all.exclusions, [{ iteration: 2, reason: "duplicate", n: 1 }]);
    assert.equal(all.simulated.training, true);
    assert.deepEqual(
      all.simulated.llm,
      { simulated: 0, total: 2, otherAnswers: 1 },
      "the ledger records which requests the simulator answered, and which others got an answer",
    );
    assert.deepEqual(all.reward, [
      {
        iteration: 1,
        points: [
          { step: 1, score: 0.25, reward: 0.25 },
          { step: 2, score: 0.35 },
          { step: 3, score: 0.5 },
        ],
      },
    ]);
    assert.deepEqual(all.rewardNotes, ["job-r: its log is kept by the ray scheduler, not on this machine's disk"]);

    // Iteration 1 only: its own samples and scores; figures across iterations stop at it.
    const one = await gatherReportData(db, { campaignId: "c", iteration: 1 });
    assert.equal(one.iteration, 1);
    assert.equal(one.iterationStatus, "completed", "an iteration report carries its own iteration's status");
    assert.equal(all.iterationStatus, undefined);
    assert.deepEqual(
      one.funnel.map((f) => [f.status, f.n]),
      [
        ["rejected", 1],
        ["verified", 1],
      ],
    );
    assert.deepEqual(one.usage[0]?.requests, 1);
    assert.deepEqual(
      one.bfcl.map((b) => b.iteration),
      [1],
    );
    assert.deepEqual(
      one.pool.map((p) => p.reason),
      ["seed"],
    );
    assert.deepEqual(one.exclusions, []);
    assert.deepEqual(
      one.iterations.map((i) => i.iteration),
      [1],
    );

    await assert.rejects(
      gatherReportData(db, { campaignId: "nope" }),
      (e: Error) => e instanceof UnknownCampaignError && /no campaign with id "nope"/.test(e.message),
    );
    await assert.rejects(gatherReportData(db, { campaignId: "c", iteration: 9 }), /campaign c has no iteration 9/);
  } finally {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("judges' verdicts count the votes of every committee: verify.judges, repair.labels and expand.errors (in its samples' metadata)", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const db = h.db;
    const raw = rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] });
    for (const id of ["c", "other"]) await insertCampaign(db, { id, name: id, config: raw });
    const check = (campaignId: string, iteration: number, sampleId: string, judge: string, verdict: "CORRECT" | "INCORRECT" | null) => ({
      campaignId,
      iteration,
      sampleId,
      judge,
      model: "sim-judge",
      verdict,
      analysis: "",
    });
    await db
      .insert(sampleCheckVotes)
      .values([
        check("c", 1, "s1", "judge#0", "CORRECT"),
        check("c", 1, "s1", "judge#1", "INCORRECT"),
        check("c", 2, "s2", "judge#0", "CORRECT"),
        check("c", 2, "s2", "judge#1", null),
        check("other", 1, "o1", "judge#0", "CORRECT"),
      ]);
    await db
      .insert(judgeVotes)
      .values({ campaignId: "c", iteration: 2, sampleId: "s1", judge: "judge#0", model: "sim-judge", verdict: "PRED_WRONG", analysis: "" });
    const expanded = (id: string, iteration: number, votes: unknown) => ({
      id,
      campaignId: "c",
      iteration,
      kind: "standard",
      origin: "expanded",
      stage: "expand.errors",
      messages: [{ role: "user" as const, content: id }],
      tools: [TOOL],
      status: "verified" as const,
      metadata: votes === undefined ? {} : { committee: { verdict: "CORRECT", votes } },
    });
    await db.insert(samples).values([
      expanded("e1", 2, [
        { judge: "judge#0", model: "big-judge", verdict: "CORRECT" },
        { judge: "judge#1", model: "big-judge", verdict: "CORRECT" },
        { judge: "judge#2", model: "big-judge", verdict: null },
      ]),
      // Failed the rules: no committee ran, nothing to count.
      expanded("e2", 2, undefined),
    ]);
    assert.deepEqual(await judgeVoteCounts(db, { campaignId: "c" }), [
      { stage: "expand.errors", model: "big-judge", verdict: "CORRECT", n: 2 },
      { stage: "expand.errors", model: "big-judge", verdict: "unreadable", n: 1 },
      { stage: "repair.labels", model: "sim-judge", verdict: "PRED_WRONG", n: 1 },
      { stage: "verify.judges", model: "sim-judge", verdict: "CORRECT", n: 2 },
      { stage: "verify.judges", model: "sim-judge", verdict: "INCORRECT", n: 1 },
      { stage: "verify.judges", model: "sim-judge", verdict: "unreadable", n: 1 },
    ]);
    assert.deepEqual(await judgeVoteCounts(db, { campaignId: "c", iteration: 1 }), [
      { stage: "verify.judges", model: "sim-judge", verdict: "CORRECT", n: 1 },
      { stage: "verify.judges", model: "sim-judge", verdict: "INCORRECT", n: 1 },
    ]);
  } finally {
    await h.close();
  }
});

test("samples per domain: a sample counts under the tool it calls (multi-turn tools are offered shuffled), else its first offered tool", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const db = h.db;
    await insertCampaign(db, { id: "mt", name: "mt", config: rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }) });
    const stock = { name: "get_stock", description: "d", inputSchema: { type: "object" as const, properties: {} } };
    await db.insert(tools).values([
      { campaignId: "mt", name: "get_weather", domain: "weather", source: "example", definition: TOOL, hash: "h1" },
      { campaignId: "mt", name: "get_stock", domain: "finance", source: "example", definition: stock, hash: "h2" },
    ]);
    const weatherCall = { id: "c1", type: "function" as const, function: { name: "get_weather", arguments: "{}" } };
    const row = (id: string, kind: string, messages: ChatMessage[]) => ({
      id,
      campaignId: "mt",
      iteration: 1,
      kind,
      origin: "synthesized",
      stage: "synthesize.multiTurn",
      messages,
      tools: [stock, TOOL],
      status: "verified" as const,
    });
    await db.insert(samples).values([
      // The label calls get_weather; the dialogue offered get_stock first.
      row("m1", "multi_turn", [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: null, tool_calls: [weatherCall] },
      ]),
      // A text answer over the get_weather result.
      row("m2", "multi_turn", [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: null, tool_calls: [weatherCall] },
        { role: "tool", tool_call_id: "c1", content: "sunny" },
        { role: "assistant", content: "Sunny." },
      ]),
      // No call at all: the first offered tool's domain.
      row("i1", "irrelevance", [
        { role: "user", content: "A joke?" },
        { role: "assistant", content: "No tool for that." },
      ]),
    ]);
    const d = await gatherReportData(db, { campaignId: "mt" });
    assert.deepEqual(d.kindDomain, [
      { kind: "irrelevance", domain: "finance", n: 1 },
      { kind: "multi_turn", domain: "weather", n: 2 },
    ]);
  } finally {
    await h.close();
  }
});

test("job log paths: local and Slurm logs are under the job's workDir, Ray's are not on disk", () => {
  const base = { name: "j", iteration: 1, request: { workDir: "/w" } };
  assert.equal(jobLogPath({ ...base, launcher: "local", externalId: "12" }), "/w/j.log");
  assert.equal(jobLogPath({ ...base, launcher: "slurm", externalId: "12" }), "/w/j-12.log");
  assert.equal(jobLogPath({ ...base, launcher: "slurm", externalId: null }), undefined);
  assert.equal(jobLogPath({ ...base, launcher: "ray", externalId: "raysubmit_1" }), undefined);
  assert.equal(jobLogPath({ ...base, launcher: "local", externalId: "1", request: null }), undefined);
});

test("tokens and requests per role: a role's models in the order the campaign first used them (policy iter-2 before iter-10)", async () => {
  const h = await openDatabase("pglite:memory");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-usage-"));
  try {
    await migrateDatabase(h);
    const db = h.db;
    const raw = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), seed: 42, iterations: 12 };
    await insertCampaign(db, { id: "c", name: "twelve", config: raw });
    // A twelve-iteration loop: each iteration's evaluation asks the policy it served (c-iter-N), the judge every iteration.
    const rows = [];
    for (let it = 1; it <= 12; it++) {
      await upsertIteration(db, { campaignId: "c", iteration: it, status: "completed" });
      for (const [role, model] of [
        ["policy", `c-iter-${it}`],
        ["judge", "j"],
      ] as const)
        rows.push({
          id: `r-${it}-${role}`,
          campaignId: "c",
          iteration: it,
          stage: "evaluate.bfclFast",
          batchIndex: 0,
          role,
          model,
          status: "ok" as const,
          promptTokens: it,
          completionTokens: 1,
          finished: true,
        });
    }
    await upsertLlmRequests(db, rows);
    const data = await gatherReportData(db, { campaignId: "c" });
    assert.deepEqual(
      data.usage.map((u) => `${u.role} ${u.model} ${u.promptTokens}`),
      ["judge j 78", ...Array.from({ length: 12 }, (_, i) => `policy c-iter-${i + 1} ${i + 1}`)],
    );
  } finally {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a stage's summary warning reaches the report's stage rows; a stage without one has none", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const db = h.db;
    await insertCampaign(db, { id: "w", name: "w", config: rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }) });
    await upsertIteration(db, { campaignId: "w", iteration: 9, status: "completed" });
    await db.insert(stageRuns).values([
      {
        campaignId: "w",
        iteration: 9,
        stage: "select.nextRound",
        status: "succeeded",
        result: { budget: { budget: 100, used: 15 }, warning: "the pool filled 15 of its budget 100 (15%)" },
      },
      { campaignId: "w", iteration: 9, stage: "export.dataset", status: "succeeded", result: { written: 15 } },
    ]);
    const data = await gatherReportData(db, { campaignId: "w", iteration: 9 });
    assert.deepEqual(
      data.stages?.map((s) => [s.stage, s.warning]),
      [
        ["export.dataset", undefined],
        ["select.nextRound", "the pool filled 15 of its budget 100 (15%)"],
      ],
    );
  } finally {
    await h.close();
  }
});

test("score histograms are counted in SQL, not from a row per score, with the figures the per-value histograms give", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const db = h.db;
    await insertCampaign(db, { id: "hist", name: "hist", config: rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }) });
    await insertCampaign(db, { id: "other", name: "other", config: rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }) });
    const rows: (typeof sampleScores.$inferInsert)[] = [];
    // Twelve iterations; a sample stays in several pools (scored once per iteration); label_ppl has outliers,
    // own_ppl a value on a bin edge, consistency one value only; a NaN and infinities are left out.
    for (let it = 1; it <= 12; it++) {
      await upsertIteration(db, { campaignId: "hist", iteration: it, status: "completed" });
      for (let i = 0; i < 40; i++) {
        const sampleId = `s${(it * 7 + i) % 90}`;
        rows.push({
          campaignId: "hist",
          iteration: it,
          sampleId,
          metric: "label_ppl",
          model: "p",
          value: 1 + ((i * 37 + it * 11) % 101) / 7 + (i === 3 ? 60 : 0),
        });
        rows.push({ campaignId: "hist", iteration: it, sampleId, metric: "own_ppl", model: "p", value: i % 2 === 0 ? 1 : 1 + i / 20 });
        rows.push({ campaignId: "hist", iteration: it, sampleId, metric: "consistency", model: "p", value: 0.75 });
      }
    }
    rows.push({ campaignId: "hist", iteration: 2, sampleId: "nan", metric: "label_ppl", model: "p", value: Number.NaN });
    rows.push({ campaignId: "hist", iteration: 2, sampleId: "inf", metric: "label_ppl", model: "p", value: Number.POSITIVE_INFINITY });
    rows.push({ campaignId: "hist", iteration: 3, sampleId: "-inf", metric: "own_ppl", model: "p", value: Number.NEGATIVE_INFINITY });
    rows.push({ campaignId: "other", iteration: 1, sampleId: "x", metric: "label_ppl", model: "p", value: 1000 });
    for (let i = 0; i < rows.length; i += 200) await db.insert(sampleScores).values(rows.slice(i, i + 200));
    const round = (hs: ReturnType<typeof histograms>) =>
      hs.map((x) => ({ ...x, mean: Number(x.mean.toPrecision(10)), iterations: x.iterations?.map((i) => ({ ...i, mean: Number(i.mean.toPrecision(10)) })) }));
    for (const scope of [{ campaignId: "hist" }, { campaignId: "hist", iteration: 5 }]) {
      const data = await gatherReportData(db, scope);
      const expected = histograms(await scoreValues(db, scope));
      assert.deepEqual(round(data.scores), round(expected), JSON.stringify(scope));
    }
    // What the report reads: a row per (metric, iteration, bin) at most, not the 1,443 scores.
    const binRows = await scoreHistogramBins(db, { campaignId: "hist" }, 20);
    assert.ok(binRows.length <= 3 * 12 * 20, `${binRows.length} rows`);
    assert.equal(
      binRows.reduce((n, r) => n + r.n, 0),
      1440,
      "every finite score counted once",
    );
    const all = await gatherReportData(db, { campaignId: "hist" });
    assert.deepEqual(
      all.scores.map((x) => [x.metric, x.count, x.samples, x.bins.length, x.iterations?.length, x.scale]),
      [
        ["consistency", 480, 90, 1, 12, undefined],
        ["label_ppl", 480, 90, 20, 12, "log"],
        ["own_ppl", 480, 90, 20, 12, undefined],
      ],
      "label_ppl spans 1 to 75 (log-spaced bins, SQL and JavaScript alike); own_ppl 1 to 2.95",
    );
  } finally {
    await h.close();
  }
});

test("a job log is parsed once while it stays the same: each iteration's report rebuild reads only the logs that changed", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-logs-"));
  try {
    const log = path.join(dir, "tl-c-i1-train-grpo-a1.log");
    fs.writeFileSync(log, "noise\nstep:1 - critic/score/mean:0.25 - critic/rewards/mean:0.5\nstep:2 - critic/score/mean:0.50 - critic/rewards/mean:0.6\n");
    const written = new Date("2026-01-01T00:00:00Z");
    fs.utimesSync(log, written, written);
    assert.deepEqual(await rewardPointsOf(log), [
      { step: 1, score: 0.25, reward: 0.5 },
      { step: 2, score: 0.5, reward: 0.6 },
    ]);
    // The same size and modification time: the parsed points are reused, the file is not read again.
    fs.writeFileSync(log, "noise\nstep:1 - critic/score/mean:0.99 - critic/rewards/mean:0.5\nstep:2 - critic/score/mean:0.50 - critic/rewards/mean:0.6\n");
    fs.utimesSync(log, written, written);
    assert.equal((await rewardPointsOf(log))?.[0]?.score, 0.25, "not read again");
    // A log that grew (a running job, a resumed one) is read again.
    fs.appendFileSync(log, "step:3 - critic/score/mean:0.75 - critic/rewards/mean:0.7\n");
    assert.deepEqual(
      (await rewardPointsOf(log))?.map((p) => [p.step, p.score]),
      [
        [1, 0.99],
        [2, 0.5],
        [3, 0.75],
      ],
    );
    assert.equal(await rewardPointsOf(path.join(dir, "missing.log")), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
