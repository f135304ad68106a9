/**
 * A rendered report (fixture data, every chart) in headless Chromium from a file: no console
 * errors, no failed requests, every canvas has a Chart.js instance with data and painted pixels.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import type { Browser } from "puppeteer-core";
import { chartJsSource } from "../../../src/reports/build.js";
import { renderReportHtml } from "../../../src/reports/html.js";
import { checkReportPage, launchChromium } from "../../helpers/reportBrowser.js";
import { fullReportData, longBfclRows, longCampaignReportData, synthesisOnlyReportData } from "../../helpers/reportFixture.js";

let browser: Browser;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-report-browser-"));
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("every chart of a full report renders in Chromium, from a file, with no network", async () => {
  const file = path.join(dir, "full.html");
  fs.writeFileSync(file, renderReportHtml(fullReportData(), { chartJs: await chartJsSource() }));
  const page = await checkReportPage(browser, pathToFileURL(file).href);
  assert.deepEqual(page.consoleErrors, []);
  assert.deepEqual(page.failedRequests, []);
  assert.equal(page.charts.length, 20);
  for (const c of page.charts) {
    assert.ok(c.type, `${c.title}: a Chart instance`);
    assert.ok(c.datasets > 0 && c.points > 0, `${c.title}: data (${JSON.stringify(c)})`);
    assert.ok(c.paintedPixels > 500, `${c.title}: drawn (${c.paintedPixels} painted pixels)`);
  }
  assert.match(page.bannerText ?? "", /^SIMULATED: /);
});

test("an iteration report with its stages, its own steps' automatic retries and the simulator's tool errors by kind renders in Chromium", async () => {
  const file = path.join(dir, "iteration.html");
  const data = fullReportData({
    iteration: 1,
    iterationStatus: "completed",
    stages: [
      {
        iteration: 1,
        stage: "synthesize.singleTurn",
        status: "succeeded",
        attempts: 1,
        automaticRetries: 2,
        error: null,
        startedAt: "2026-01-01T00:00:00.000Z",
        finishedAt: "2026-01-01T00:05:00.000Z",
      },
    ],
    iterationSteps: [
      { iteration: 1, step: "registerCampaign", calls: 1, automaticRetries: 0 },
      { iteration: 1, step: "finishIteration", calls: 1, automaticRetries: 3 },
    ],
  });
  fs.writeFileSync(file, renderReportHtml(data, { chartJs: await chartJsSource() }));
  const page = await checkReportPage(browser, pathToFileURL(file).href);
  assert.deepEqual(page.consoleErrors, []);
  assert.deepEqual(page.failedRequests, []);
  assert.ok(page.charts.length > 0 && page.charts.every((c) => c.type && c.points > 0 && c.paintedPixels > 500), JSON.stringify(page.charts));
  const tools = page.charts.find((c) => c.title === "Multi-turn tool results");
  assert.ok(tools && tools.paintedPixels > 500, "the tool results chart is drawn");
  const tab = await browser.newPage();
  try {
    await tab.goto(pathToFileURL(file).href, { waitUntil: "load" });
    const shown = (await tab.evaluate(`(() => {
      const rows = [...document.querySelectorAll("table.iteration-steps tbody tr")].map((r) => [...r.cells].map((c) => c.textContent));
      const chart = Chart.getChart([...document.querySelectorAll("canvas")].find((c) => c.dataset.title === "Multi-turn tool results"));
      return { rows, series: chart.data.datasets.map((d) => d.label), visible: document.querySelector("table.iteration-steps").getBoundingClientRect().height > 0 };
    })()`)) as { rows: string[][]; series: string[]; visible: boolean };
    assert.ok(shown.visible);
    assert.deepEqual(
      shown.rows.map((r) => [r[0], r[2], r[3]]),
      [
        ["registerCampaign", "1", "0"],
        ["finishIteration", "1", "3"],
      ],
    );
    assert.ok(
      shown.series.includes("invalid_call: tool server rules (SIMULATED)") && shown.series.includes("unavailable: tool server random fault (SIMULATED)"),
      shown.series.join(", "),
    );
  } finally {
    await tab.close();
  }
});

test("a report with charts left out lists them and draws only the others", async () => {
  const file = path.join(dir, "partial.html");
  fs.writeFileSync(file, renderReportHtml(synthesisOnlyReportData(), { chartJs: await chartJsSource() }));
  const page = await checkReportPage(browser, pathToFileURL(file).href);
  assert.deepEqual(page.consoleErrors, []);
  assert.equal(page.charts.length, 5);
  assert.ok(page.charts.every((c) => c.type && c.points > 0 && c.paintedPixels > 500));
  assert.equal(page.omittedNotes.length, 15);
  assert.equal(page.bannerText, null);
});

/** Runs in the page: the named chart's y-axis labels as drawn, whether each fits left of the axis, and each bar's tooltip title. */
const AXIS_LABELS = (title: string) => `(() => {
  const canvas = [...document.querySelectorAll("canvas")].find((c) => c.dataset.title === ${JSON.stringify(title)});
  const chart = Chart.getChart(canvas);
  const y = chart.scales.y;
  const ctx = chart.ctx;
  ctx.font = Chart.helpers.toFont(y.options.ticks.font).string;
  return y.ticks.map((t, i) => {
    chart.tooltip.setActiveElements([{ datasetIndex: 0, index: i }], { x: 0, y: 0 });
    chart.update();
    // Labels are drawn right-aligned against the axis: one wider than the room left of it is clipped at the canvas edge.
    return { drawn: t.label, width: ctx.measureText(t.label).width, room: y.right - y.options.ticks.padding, tooltip: chart.tooltip.title.join(" ") };
  });
})()`;

test("long rejection reasons are cut with an ellipsis to fit left of the axis, every one shown, the tooltip keeping the whole text", async () => {
  const reasons = Array.from({ length: 15 }, (_, i) => ({
    reason: `judge-committee: The answer send_email sets subject to "Welcome aboard number ${i}"; the request asks for "Invoice for March", not that.`,
    n: 15 - i,
  }));
  reasons[3] = { reason: "rules: add_to_cart: unknown argument", n: 12 };
  const file = path.join(dir, "long-labels.html");
  fs.writeFileSync(file, renderReportHtml(fullReportData({ rejectionReasons: reasons }), { chartJs: await chartJsSource() }));
  for (const width of [1200, 700]) {
    const page = await browser.newPage();
    try {
      await page.setViewport({ width, height: 900 });
      await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
      const labels = (await page.evaluate(AXIS_LABELS("Rejection reasons"))) as { drawn: string; width: number; room: number; tooltip: string }[];
      assert.equal(labels.length, reasons.length, `${width}px: every reason has its row`);
      labels.forEach((l, i) => {
        const full = reasons[i]!.reason;
        assert.ok(l.width <= l.room, `${width}px: "${l.drawn}" fits (${l.width.toFixed(0)} of ${l.room.toFixed(0)} px)`);
        if (l.drawn !== full) {
          assert.ok(l.drawn.endsWith("…"), `${width}px: a cut label ends in an ellipsis: "${l.drawn}"`);
          assert.ok(full.startsWith(l.drawn.slice(0, -1)), `${width}px: "${l.drawn}" is the start of the reason`);
        }
        assert.equal(l.tooltip, full, `${width}px: the tooltip has the whole reason`);
      });
      assert.ok(
        labels.some((l) => l.drawn !== reasons[0]!.reason),
        `${width}px: the long reasons were cut`,
      );
      assert.equal(labels[3]!.drawn, "rules: add_to_cart: unknown argument", "a short reason is shown whole");
    } finally {
      await page.close();
    }
  }
});

test("the BFCL charts of a 30-iteration campaign running both evaluators keep a readable plot under their legends", async () => {
  const iterations = Array.from({ length: 30 }, (_, i) => ({ iteration: i + 1, status: "completed", startedAt: "2026-01-01T00:00:00.000Z", finishedAt: null }));
  const file = path.join(dir, "long-bfcl.html");
  fs.writeFileSync(file, renderReportHtml(fullReportData({ iterations, bfcl: longBfclRows(30) }), { chartJs: await chartJsSource() }));
  const page = await browser.newPage();
  try {
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    const bfcl = (await page.evaluate(`[...document.querySelectorAll("canvas")].filter((c) => c.dataset.title.startsWith("BFCL")).map((c) => {
      const chart = Chart.getChart(c);
      return { title: c.dataset.title, plot: chart.chartArea.bottom - chart.chartArea.top, legend: chart.legend.height };
    })`)) as { title: string; plot: number; legend: number }[];
    assert.deepEqual(
      bfcl.map((c) => c.title),
      ["BFCL overall scores", "BFCL scores per category"],
    );
    // One chart of 35 lines once left a 94 px plot under a 160 px legend.
    for (const c of bfcl) assert.ok(c.plot >= 180, `${c.title}: plot ${c.plot.toFixed(0)} px high under a ${c.legend} px legend`);
  } finally {
    await page.close();
  }
});

test("a 30-iteration campaign's per-iteration charts show every legend item and keep a readable plot", async () => {
  const file = path.join(dir, "long-campaign.html");
  fs.writeFileSync(file, renderReportHtml(longCampaignReportData(30), { chartJs: await chartJsSource() }));
  const page = await browser.newPage();
  try {
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    const charts = (await page.evaluate(`[...document.querySelectorAll("canvas")].map((c) => {
      const chart = Chart.getChart(c);
      const legend = chart.legend;
      const shown = legend.legendHitBoxes.filter((b) => b.top + b.height <= legend.bottom + 1).length;
      return { title: c.dataset.title, plot: chart.chartArea.bottom - chart.chartArea.top, datasets: chart.data.datasets.length, shown };
    })`)) as { title: string; plot: number; datasets: number; shown: number }[];
    const perIteration = charts.filter((c) => c.datasets === 30);
    assert.deepEqual(
      perIteration.map((c) => c.title),
      ["Score distribution: label_ppl", "Score distribution: consistency", "BFCL scores per category", "Training reward curve"],
    );
    // At 320 px the histograms' legends took 160 px, left an 88 px plot and dropped iterations 29 and 30.
    for (const c of perIteration) {
      assert.ok(c.plot >= 180, `${c.title}: plot ${c.plot.toFixed(0)} px high`);
      assert.equal(c.shown, 30, `${c.title}: every legend item drawn`);
    }
  } finally {
    await page.close();
  }
});
