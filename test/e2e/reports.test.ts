/**
 * Reports end to end: a small two-iteration loop (synthesis, rules, selection, stand-in training
 * (SIMULATED), BFCL fast check, scoring, probing, repair, expansion) on the LLM simulator with a real
 * worker, dev server and PostgreSQL. finishIteration writes each iteration's report and the campaign
 * report; they open in headless Chromium from disk and through `toolloop report serve` with no
 * console errors and no failed requests, and every chart canvas holds a Chart with data and paint.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import { and, eq } from "drizzle-orm";
import type { Browser } from "puppeteer-core";
import { iterationSteps, iterations, samples } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { campaignOutputDir, campaignReportPath, iterationReportPath } from "../../src/output/layout.js";
import { stopServedPolicies } from "../../src/training/servedPolicyJobs.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { selfEvolvingLoopConfig } from "../helpers/loopCampaign.js";
import { checkReportPage, launchChromium, type PageCheck } from "../helpers/reportBrowser.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";
import { REPO_ROOT } from "../helpers/trainVenv.js";

const CLI = path.join(REPO_ROOT, "dist", "src", "cli", "main.js");

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
let browser: Browser;
const campaignId = `reports-${Date.now().toString(36)}`;

before(async () => {
  env = await createTestEnv("reports");
  sim = await startSimulator({ seed: 5, latencyMs: 1, maxConcurrency: 32, mistakeRate: 0.2, silentMistakeRate: 0.15, judgeErrorRate: 0.1, quiet: true });
  workers = await env.startWorkers();
  browser = await launchChromium();
});
after(async () => {
  const launcher = { kind: "local" as const, stateDir: path.join(env.workDir, "local-jobs") };
  await stopServedPolicies(env.db.db, campaignId, launcher, () => undefined).catch(() => undefined);
  await browser?.close();
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

function loopConfig() {
  return selfEvolvingLoopConfig({
    simUrl: sim.url,
    workDir: env.workDir,
    campaignId,
    sizes: {
      iterations: 2,
      count: 60,
      synthBatch: 30,
      verifyBatch: 60,
      seedBudget: 30,
      budget: 36,
      standin: { stepSeconds: "0.01", mistakeRate: 0.2, serveSeed: 3, grpoEpochs: 2 },
      bfclCategories: ["simple", "parallel"],
      bfclLimit: 5,
      scoreBatch: 40,
      consistencyK: 2,
      repairBatch: 20,
      perSeed: 1,
    },
  });
}

function assertPageRenders(page: PageCheck, what: string, expectTitles: string[]): void {
  assert.deepEqual(page.consoleErrors, [], `${what}: console errors`);
  assert.deepEqual(page.failedRequests, [], `${what}: failed requests`);
  assert.ok(page.charts.length > 0, `${what}: charts`);
  for (const c of page.charts) {
    assert.ok(c.type, `${what} / ${c.title}: a Chart instance on the canvas`);
    assert.ok(c.datasets > 0 && c.points > 0, `${what} / ${c.title}: data (${JSON.stringify(c)})`);
    assert.ok(c.paintedPixels > 500, `${what} / ${c.title}: painted (${c.paintedPixels} pixels)`);
  }
  const titles = page.charts.map((c) => c.title);
  for (const t of expectTitles) assert.ok(titles.includes(t), `${what} has the chart "${t}" (has ${titles.join(", ")})`);
  assert.match(page.bannerText ?? "", /SIMULATED: .*stand-in trainer/, `${what}: the simulated banner`);
}

const cliEnv = () => ({ ...process.env, DATABASE_URL: env.databaseUrl, FORCE_COLOR: "0" });

test("reports of a two-iteration loop: written after each iteration, every chart drawn, from disk and served", { timeout: 900_000 }, async (t) => {
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: loopConfig(), campaignId }],
  });
  const result = await handle.result();
  assert.equal(result.state, "completed", JSON.stringify(result));

  // finishIteration wrote both iteration reports and the campaign report, and recorded the path.
  const dir = campaignOutputDir(env.workDir, ".toolloop/output", campaignId);
  for (const it of [1, 2]) {
    assert.ok(fs.existsSync(iterationReportPath(dir, it)), `iteration ${it}'s report is written`);
    const [row] = await env.db.db
      .select()
      .from(iterations)
      .where(and(eq(iterations.campaignId, campaignId), eq(iterations.iteration, it)));
    assert.deepEqual((row?.summary as { report?: unknown }).report, { path: iterationReportPath(dir, it) });
    // The iteration's own steps, as Temporal ran them (local activities on the lean path), each with its calls and automatic retries.
    const steps = /<table class="iteration-steps">(.*?)<\/table>/s.exec(fs.readFileSync(iterationReportPath(dir, it), "utf8"))?.[1] ?? "";
    for (const step of [...(it === 1 ? ["registerCampaign"] : []), "loadCampaignPlan", "startIteration", "finishIteration"])
      assert.match(steps, new RegExp(`<td>${step}</td><td>[^<]+</td><td>\\d+</td><td>\\d+</td>`), `iteration ${it}'s report: ${step}`);
  }
  const recorded = await env.db.db
    .select({ iteration: iterationSteps.iteration, step: iterationSteps.step })
    .from(iterationSteps)
    .where(eq(iterationSteps.campaignId, campaignId));
  assert.ok(
    recorded.some((r) => r.iteration === 2 && r.step === "setCampaignStatus"),
    `the campaign's end counts in its last iteration: ${JSON.stringify(recorded)}`,
  );
  assert.ok(fs.existsSync(campaignReportPath(dir)));
  // Refreshed when the campaign ended: its final status is in the page.
  assert.match(fs.readFileSync(campaignReportPath(dir), "utf8"), /<tr><th>status \(when generated\)<\/th><td>completed<\/td><\/tr>/);
  const size = fs.statSync(campaignReportPath(dir)).size;
  t.diagnostic(`campaign report: ${campaignReportPath(dir)} (${(size / 1024).toFixed(0)} KiB)`);

  const everyChart = [
    "Acceptance funnel",
    "Tokens per role",
    "Requests per role",
    "Samples per kind and domain",
    "Score distribution: label_ppl",
    "Score distribution: consistency",
    "Judges' verdicts",
    "Committee decisions",
    "Probe agreement",
    "BFCL scores per category",
    "Training reward curve",
    "Pool composition",
  ];
  const fromDisk = await checkReportPage(browser, pathToFileURL(campaignReportPath(dir)).href);
  assertPageRenders(fromDisk, "campaign report (file)", everyChart);
  t.diagnostic(`campaign report charts: ${fromDisk.charts.map((c) => `${c.title} (${c.points} points)`).join("; ")}`);
  t.diagnostic(`not shown: ${fromDisk.omittedNotes.join(" | ") || "none"}`);
  const iter2 = await checkReportPage(browser, pathToFileURL(iterationReportPath(dir, 2)).href);
  // Iteration 2 writes samples only when its probe found mismatches to repair or expand; with a small
  // pool the simulated policy sometimes reproduces every label. The funnel then must say why it is absent.
  const written2 = await env.db.db
    .select({ id: samples.id })
    .from(samples)
    .where(and(eq(samples.campaignId, campaignId), eq(samples.iteration, 2)));
  assertPageRenders(iter2, "iteration 2 report (file)", [
    ...(written2.length > 0 ? ["Acceptance funnel"] : []),
    "Training reward curve",
    "Probe agreement",
    "BFCL scores per category",
  ]);
  if (written2.length === 0)
    assert.ok(
      iter2.omittedNotes.some((n) => n.includes("Acceptance funnel") && n.includes("no samples were written")),
      `iteration 2 wrote no samples: the funnel is listed as not shown (${iter2.omittedNotes.join(" | ")})`,
    );
  t.diagnostic(`iteration 2 wrote ${written2.length} samples`);

  // On demand: `report build` to a chosen file; unknown ids and bad flags are refused with exit 2.
  const out = path.join(env.workDir, "one.html");
  const built = spawnSync(process.execPath, [CLI, "report", "build", campaignId, "--iteration", "1", "--out", out], { env: cliEnv(), encoding: "utf8" });
  assert.equal(built.status, 0, built.stderr);
  assert.equal(built.stdout.trim(), out);
  assertPageRenders(await checkReportPage(browser, pathToFileURL(out).href), "report build --iteration 1", ["Acceptance funnel", "Training reward curve"]);
  const unknown = spawnSync(process.execPath, [CLI, "report", "build", "no-such-campaign"], { env: cliEnv(), encoding: "utf8" });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no campaign "no-such-campaign" in PostgreSQL .*campaign list/);
  const noIteration = spawnSync(process.execPath, [CLI, "report", "build", campaignId, "--iteration", "99"], { env: cliEnv(), encoding: "utf8" });
  assert.equal(noIteration.status, 2);
  assert.match(noIteration.stderr, new RegExp(`campaign ${campaignId} has no iteration 99`));
  const badIteration = spawnSync(process.execPath, [CLI, "report", "build", campaignId, "--iteration", "x"], { env: cliEnv(), encoding: "utf8" });
  assert.equal(badIteration.status, 2);
  assert.match(badIteration.stderr, /--iteration: expected a positive whole number, got "x"/);

  // Served: the URL it prints, the campaign page and an iteration page built fresh, then Ctrl-C stops it.
  const server = spawn(process.execPath, [CLI, "report", "serve", campaignId, "--port", "0"], { env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  server.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`report serve printed no URL: ${stderr}`)), 30_000);
      createInterface({ input: server.stdout }).on("line", (line) => {
        const m = /(http:\/\/127\.0\.0\.1:\d+\/report\.html)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      server.once("exit", (code) => reject(new Error(`report serve exited ${code}: ${stderr}`)));
    });
    assertPageRenders(await checkReportPage(browser, url), "campaign report (served)", everyChart);
    assertPageRenders(await checkReportPage(browser, new URL("iter-1/report.html", url).href), "iteration 1 report (served)", ["Acceptance funnel"]);
    const missing = await fetch(new URL("iter-9/report.html", url));
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /has no iteration 9/);
  } finally {
    const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
    server.kill("SIGINT");
    assert.equal(await exited, 0, `report serve stops cleanly on Ctrl-C: ${stderr}`);
  }
});
