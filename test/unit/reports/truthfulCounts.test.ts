/**
 * What the report's numbers count, checked on PGlite against rows whose answer is known: rejection
 * reasons count rejected samples (not reasons), score histograms count scores per iteration (a
 * sample scored in several iterations is scored by several policies), and a failed stage is named.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { freezeCampaignConfig } from "../../../src/config/frozen.js";
import { migrateDatabase, openDatabase, type DbHandle } from "../../../src/db/client.js";
import { insertConfigVersion } from "../../../src/db/repos/campaignConfigs.js";
import { and, eq } from "drizzle-orm";
import { insertCampaign, setCampaignStatus, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { bfclScores, clusterJobs, iterations as iterationRows, sampleScores, samples, stageRuns } from "../../../src/db/schema.js";
import { gatherReportData } from "../../../src/reports/data.js";
import { renderReportHtml, reportCharts, shortenMiddle } from "../../../src/reports/html.js";
import { rawCampaign } from "../../helpers/selfEvolution.js";

const TOOL = { name: "get_weather", description: "d", inputSchema: { type: "object" as const, properties: {} } };

async function campaignDb(t: { after: (fn: () => Promise<void>) => void }): Promise<DbHandle> {
  const h = await openDatabase("pglite:memory");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-counts-"));
  t.after(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await migrateDatabase(h);
  const raw = { ...rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }] }), seed: 1, iterations: 3 };
  const frozen = freezeCampaignConfig(raw, { configDir: dir });
  assert.ok(frozen.ok);
  await insertCampaign(h.db, { id: "c", name: "counts", config: raw });
  await insertConfigVersion(h.db, "c", { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
  await upsertIteration(h.db, { campaignId: "c", iteration: 1, status: "completed" });
  return h;
}

const rejected = (id: string, reasons: string[]) => ({
  id,
  campaignId: "c",
  iteration: 1,
  kind: "parallel",
  origin: "synthesized",
  stage: "synthesize.singleTurn",
  messages: [{ role: "user" as const, content: id }],
  tools: [TOOL],
  status: "rejected" as const,
  verdicts: [{ verifier: "rules", ok: false, reasons }],
});

test("rejection reasons count rejected samples: the same reason for two calls of one sample counts once", async (t) => {
  const { db } = await campaignDb(t);
  await db
    .insert(samples)
    .values([
      rejected("s1", ["call[0] missing required parameter <city>", "call[1] missing required parameter <city>"]),
      rejected("s2", ["call[0] missing required parameter <city>"]),
      rejected("s3", ["call[0] missing required parameter <city>", "call[1] unknown parameter <x>"]),
    ]);
  const d = await gatherReportData(db, { campaignId: "c" });
  assert.deepEqual(d.rejectionReasons, [
    { reason: "rules: missing required parameter <city>", n: 3 },
    { reason: "rules: unknown parameter <x>", n: 1 },
  ]);
  const chart = reportCharts(d).charts.find((c) => c.title === "Rejection reasons");
  assert.equal(chart?.config.data.datasets[0]?.label, "rejected samples");
  // No bar can exceed the samples rejected.
  const rejectedSamples = d.funnel.filter((f) => f.status === "rejected").reduce((s, f) => s + f.n, 0);
  assert.equal(rejectedSamples, 3);
  for (const r of d.rejectionReasons) assert.ok(r.n <= rejectedSamples, `${r.reason}: ${r.n} > ${rejectedSamples}`);
});

test("a committee's rejection reasons count samples, not judges: judges giving one reason for a sample make one count, without the judge's name", async (t) => {
  const { db } = await campaignDb(t);
  const committee = (id: string, reasons: string[]) => ({
    ...rejected(id, []),
    verdicts: [
      { verifier: "rules", ok: true, reasons: [] },
      { verifier: "judge-committee", ok: false, reasons },
    ],
  });
  const sameText = 'The answer send_email sets subject to "Welcome aboard"; the request asks for "Invoice for March".';
  await db
    .insert(samples)
    .values([
      committee("s1", [`judge#0: ${sameText}`, `judge#2: ${sameText}`]),
      committee("s2", [`judge#1: ${sameText}`, "judge_b#0: The answer omits the cc argument."]),
    ]);
  const d = await gatherReportData(db, { campaignId: "c" });
  assert.deepEqual(d.rejectionReasons, [
    { reason: `judge-committee: ${sameText}`, n: 2 },
    { reason: "judge-committee: The answer omits the cc argument.", n: 1 },
  ]);
});

test("a failed stage is reported: a banner with its error's tail, the iteration that never finished, a retried stage's attempts", async (t) => {
  const { db } = await campaignDb(t);
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  // The job's last output (the cause) is at the end of a long error.
  const error = `local job j1 failed (exit 1): exited with code 1\n--- last output ---\n${"[stand-in] ignoring an override\n".repeat(60)}ModuleNotFoundError: No module named 'pyarrow'`;
  await db.insert(stageRuns).values([
    { campaignId: "c", iteration: 1, stage: "synthesize.singleTurn", status: "succeeded", attempts: 1, startedAt: at(1), finishedAt: at(2) },
    {
      campaignId: "c",
      iteration: 1,
      stage: "export.verl",
      status: "succeeded",
      attempts: 2,
      error: "ECONNRESET (retried)",
      startedAt: at(3),
      finishedAt: at(4),
    },
    { campaignId: "c", iteration: 1, stage: "train.sft", status: "failed", attempts: 1, error, startedAt: at(5), finishedAt: at(6) },
  ]);
  // onStageFailure "fail": the campaign row says failed, the iteration row was never finished (the
  // fixture's completed row is set back; a completed iteration run again keeps its row).
  await db
    .update(iterationRows)
    .set({ status: "running", finishedAt: null })
    .where(and(eq(iterationRows.campaignId, "c"), eq(iterationRows.iteration, 1)));
  await setCampaignStatus(db, "c", "failed");

  const campaign = await gatherReportData(db, { campaignId: "c" });
  assert.deepEqual(
    campaign.stages?.map((s) => [s.stage, s.status, s.attempts]),
    [
      ["synthesize.singleTurn", "succeeded", 1],
      ["export.verl", "succeeded", 2],
      ["train.sft", "failed", 1],
    ],
  );
  const html = renderReportHtml(campaign, { chartJs: "" });
  const banner = /<div class="banner failed" id="failed-stages">(.*?)<\/div>/s.exec(html)?.[1] ?? "";
  assert.match(banner, /iteration 1, train\.sft \(operator run 1/);
  assert.match(banner, /ModuleNotFoundError: No module named &#39;pyarrow&#39;/, "the cause at the error's end is shown");
  // The iteration row still says running, but the campaign failed: it never finished.
  const iterations = /<table class="iterations">(.*?)<\/table>/s.exec(html)?.[1] ?? "";
  assert.match(iterations, /running: did not finish \(campaign failed; stage train\.sft failed\)/);
  assert.match(iterations, /2 succeeded; failed: train\.sft; operator runs: export\.verl ×2/);

  const iteration = renderReportHtml(await gatherReportData(db, { campaignId: "c", iteration: 1 }), { chartJs: "" });
  assert.match(
    iteration,
    /<tr><th>status \(when generated\)<\/th><td>iteration running: did not finish \(campaign failed; stage train\.sft failed\)<\/td><\/tr>/,
  );
  const stages = /<table class="stages">(.*?)<\/table>/s.exec(iteration)?.[1] ?? "";
  assert.match(stages, /<td>export\.verl<\/td><td>succeeded<\/td><td>2<\/td>/);
  assert.match(stages, /<tr class="failed"><td>train\.sft<\/td><td>failed<\/td><td>1<\/td>/);
  assert.match(stages, /<pre>local job j1 failed[^<]*ModuleNotFoundError/);

  // No failed stage, no banner.
  await db.update(stageRuns).set({ status: "succeeded", error: null }).where(eq(stageRuns.stage, "train.sft"));
  assert.doesNotMatch(renderReportHtml(await gatherReportData(db, { campaignId: "c" }), { chartJs: "" }), /id="failed-stages"/);
});

test("an iteration report's iterations table sums the earlier iterations' stages from stage_runs, not 'none recorded'", async (t) => {
  const { db } = await campaignDb(t);
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  await upsertIteration(db, { campaignId: "c", iteration: 2, status: "completed" });
  await db.insert(stageRuns).values([
    { campaignId: "c", iteration: 1, stage: "synthesize.singleTurn", status: "succeeded", attempts: 1, startedAt: at(1), finishedAt: at(2) },
    { campaignId: "c", iteration: 1, stage: "verify.rules", status: "succeeded", attempts: 1, startedAt: at(3), finishedAt: at(4) },
    { campaignId: "c", iteration: 1, stage: "train.sft", status: "failed", attempts: 2, error: "boom", startedAt: at(5), finishedAt: at(6) },
    { campaignId: "c", iteration: 2, stage: "select.nextRound", status: "succeeded", attempts: 1, startedAt: at(7), finishedAt: at(8) },
  ]);
  const html = renderReportHtml(await gatherReportData(db, { campaignId: "c", iteration: 2 }), { chartJs: "" });
  const iterations = /<table class="iterations">(.*?)<\/table>/s.exec(html)?.[1] ?? "";
  // Before, the iteration report read only its own iteration's stage runs: iteration 1 said "none recorded".
  assert.doesNotMatch(iterations, /none recorded/);
  assert.match(iterations, /iteration 1<\/a><\/td><td>completed<\/td><td>2 succeeded; failed: train\.sft; operator runs: train\.sft ×2<\/td>/);
  assert.match(iterations, /<td>iteration 2<\/td><td>completed<\/td><td>1 succeeded<\/td>/);
  // The iteration's own stage table and failure banner stay its own.
  const stages = /<table class="stages">(.*?)<\/table>/s.exec(html)?.[1] ?? "";
  assert.match(stages, /select\.nextRound/);
  assert.doesNotMatch(stages, /synthesize\.singleTurn|train\.sft/);
  assert.doesNotMatch(html, /id="failed-stages"/);
  // The campaign report still shows every iteration's failure.
  assert.match(renderReportHtml(await gatherReportData(db, { campaignId: "c" }), { chartJs: "" }), /id="failed-stages"/);
});

test("shortenMiddle keeps a long error's head and tail", () => {
  assert.equal(shortenMiddle("short", 10), "short");
  const cut = shortenMiddle(`HEAD${"x".repeat(1000)}TAIL`, 60);
  assert.ok(cut.length <= 60 && cut.startsWith("HEAD") && cut.endsWith("TAIL") && cut.includes(" … "), cut);
});

test("score histograms count scores, per scoring iteration: a sample scored in two iterations is two scores of one sample", async (t) => {
  const { db } = await campaignDb(t);
  await upsertIteration(db, { campaignId: "c", iteration: 2, status: "completed" });
  await db.insert(sampleScores).values([
    { sampleId: "a", model: "p1", metric: "label_ppl", campaignId: "c", iteration: 1, value: 1 },
    { sampleId: "b", model: "p1", metric: "label_ppl", campaignId: "c", iteration: 1, value: 3 },
    { sampleId: "a", model: "p2", metric: "label_ppl", campaignId: "c", iteration: 2, value: 2 },
  ]);
  const campaign = await gatherReportData(db, { campaignId: "c" });
  const [h] = campaign.scores;
  assert.equal(h?.count, 3);
  assert.equal(h?.samples, 2);
  assert.deepEqual(
    h?.iterations?.map((i) => [i.iteration, i.count, i.mean]),
    [
      [1, 2, 2],
      [2, 1, 2],
    ],
  );
  for (let b = 0; b < h!.bins.length; b++)
    assert.equal(
      h!.bins[b]!.n,
      h!.iterations!.reduce((s, i) => s + i.n[b]!, 0),
      `bin ${b}: the iterations' bars add up to it`,
    );
  const chart = reportCharts(campaign).charts.find((c) => c.title === "Score distribution: label_ppl")!;
  assert.deepEqual(
    chart.config.data.datasets.map((d) => d.label),
    ["iteration 1 (2 scores, mean 2)", "iteration 2 (1 score, mean 2)"],
  );
  const y = (chart.config.options as { scales: { y: { stacked: boolean; title: { text: string } } } }).scales.y;
  assert.equal(y.stacked, true);
  assert.equal(y.title.text, "scores (3 of 2 samples, mean 2)");
  assert.doesNotMatch(JSON.stringify(chart.config), /3 samples/, "three scores are not three samples");

  const one = reportCharts(await gatherReportData(db, { campaignId: "c", iteration: 2 })).charts.find((c) => c.title === "Score distribution: label_ppl")!;
  assert.deepEqual(
    one.config.data.datasets.map((d) => [d.label, d.data]),
    [["label_ppl (1 score, iteration 2, mean 2)", [1]]],
  );
});

test("a GRPO job that failed before its first step is named, not reported as 'no GRPO training ran'", async (t) => {
  const { db } = await campaignDb(t);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-grpo-"));
  t.after(() => fs.rmSync(workDir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(workDir, "grpo-a1.log"), "Traceback (most recent call last):\nModuleNotFoundError: No module named 'verl'\n");
  await db.insert(clusterJobs).values({
    name: "grpo-a1",
    campaignId: "c",
    iteration: 1,
    stage: "train.grpo",
    attempt: 1,
    launcher: "local",
    externalId: "1",
    request: { workDir },
    state: "failed",
  });
  const d = await gatherReportData(db, { campaignId: "c" });
  assert.deepEqual(d.reward, []);
  assert.deepEqual(d.rewardNotes, ["grpo-a1 (failed): its log has no training step with a reward score"]);
  const omitted = reportCharts(d).omitted.find((o) => o.title === "Training reward curve");
  assert.equal(omitted?.note, "no training reward could be read (grpo-a1 (failed): its log has no training step with a reward score)");
});

test("the BFCL chart says a toolloop-matcher score is the fast probe's, not bfcl-eval's, and on how many entries it rests", async (t) => {
  const { db } = await campaignDb(t);
  await db.insert(bfclScores).values([
    { campaignId: "c", iteration: 1, evaluator: "toolloop-matcher", category: "simple", correct: 3, total: 8, accuracy: 0.375 },
    { campaignId: "c", iteration: 1, evaluator: "toolloop-matcher", category: "overall_probe", correct: 3, total: 8, accuracy: 0.375 },
  ]);
  const chart = reportCharts(await gatherReportData(db, { campaignId: "c" })).charts.find((c) => c.title === "BFCL scores per category")!;
  assert.match(chart.caption, /toolloop-matcher is the fast probe \(evaluate\.bfclFast, 8 entries per category\), not the official bfcl-eval score/);
  await db.insert(bfclScores).values({ campaignId: "c", iteration: 1, evaluator: "bfcl-eval", category: "multiple", correct: 150, total: 200, accuracy: 0.75 });
  await db.delete(bfclScores).where(eq(bfclScores.evaluator, "toolloop-matcher"));
  const official = reportCharts(await gatherReportData(db, { campaignId: "c" })).charts.find((c) => c.title === "BFCL scores per category")!;
  assert.doesNotMatch(official.caption, /fast probe/);
});

test("bfcl-eval's overall from a run that left categories out and limited the rest is said to be no leaderboard number", async (t) => {
  const { db } = await campaignDb(t);
  // As evaluate.bfcl stores them: a category row with its limit, the group rows with the categories left out.
  await db.insert(bfclScores).values([
    { campaignId: "c", iteration: 1, evaluator: "bfcl-eval", category: "simple", correct: 10, total: 20, accuracy: 0.5, details: { limitPerCategory: 20 } },
    {
      campaignId: "c",
      iteration: 1,
      evaluator: "bfcl-eval",
      category: "overall",
      correct: 10,
      total: 20,
      accuracy: 0.5 / 3 / 5,
      details: { formula: "RULES.md (BFCL v3)", missing: ["java", "javascript", "multiple"], model: "c-iter-1" },
    },
  ]);
  const d = await gatherReportData(db, { campaignId: "c" });
  assert.deepEqual(
    d.bfcl.map((b) => [b.category, b.missing, b.limitPerCategory]),
    [
      ["overall", 3, undefined],
      ["simple", undefined, 20],
    ],
  );
  const overall = reportCharts(d).charts.find((c) => c.title === "BFCL overall scores")!;
  assert.match(overall.caption, /counts 0 \(3 of 17 categories left out\)/);
  assert.match(overall.caption, /Only the first 20 entries of each category were evaluated/);
  assert.equal(d.bfcl.find((b) => b.category === "overall")?.model, "c-iter-1");
  assert.match(overall.caption, /Policy evaluated: iteration 1: c-iter-1\./);
});

test("a stage skipped after it failed (an operator's skip, onStageFailure skip) is named with its error, not counted among the rest", async (t) => {
  const { db } = await campaignDb(t);
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  await db.insert(stageRuns).values([
    { campaignId: "c", iteration: 1, stage: "serve.policy", status: "succeeded", attempts: 1, startedAt: at(1), finishedAt: at(2) },
    {
      campaignId: "c",
      iteration: 1,
      stage: "evaluate.bfcl",
      status: "skipped",
      attempts: 1,
      error: "evaluate.bfcl live_simple: bfcl-eval finished without results for 3 ids",
      startedAt: at(3),
      finishedAt: at(4),
    },
    { campaignId: "c", iteration: 1, stage: "score.perplexity", status: "succeeded", attempts: 1, startedAt: at(5), finishedAt: at(6) },
  ]);
  const html = renderReportHtml(await gatherReportData(db, { campaignId: "c" }), { chartJs: "" });
  const iterations = /<table class="iterations">(.*?)<\/table>/s.exec(html)?.[1] ?? "";
  // Before: "2 succeeded; 1 skipped", and no word of which stage or why anywhere in the campaign report.
  assert.match(iterations, /<td>2 succeeded; skipped: evaluate\.bfcl<\/td>/);
  const banner = /<div class="banner failed" id="failed-stages">(.*?)<\/div>/s.exec(html)?.[1] ?? "";
  assert.match(
    banner,
    /iteration 1, evaluate\.bfcl \(operator run 1, skipped after it failed, [^)]*\): evaluate\.bfcl live_simple: bfcl-eval finished without results/,
  );
});

test("the BFCL category chart says the fast probe's matcher mode and how many of its requests failed and counted as wrong", async (t) => {
  const { db } = await campaignDb(t);
  await db.insert(bfclScores).values([
    {
      campaignId: "c",
      iteration: 1,
      evaluator: "toolloop-matcher",
      category: "simple",
      correct: 12,
      total: 60,
      accuracy: 0.2,
      details: { mode: "strict", limitPerCategory: 60, failedRequests: 24, note: "fast probe (toolloop matcher), not bfcl-eval" },
    },
    {
      campaignId: "c",
      iteration: 1,
      evaluator: "toolloop-matcher",
      category: "multiple",
      correct: 30,
      total: 60,
      accuracy: 0.5,
      details: { mode: "strict", failedRequests: 0 },
    },
  ]);
  const d = await gatherReportData(db, { campaignId: "c" });
  const chart = reportCharts(d).charts.find((c) => c.title === "BFCL scores per category")!;
  assert.match(chart.caption, /evaluate\.bfclFast, matcher mode strict, 60 entries per category/);
  // 24 of simple's 60 answers were refusals: its 20% is not the model's.
  assert.match(chart.caption, /count as wrong answers \(iteration 1: 24\)/);
});
