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
import { fullReportData, synthesisOnlyReportData } from "../../helpers/reportFixture.js";

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
