/// <reference lib="dom" />
/**
 * The Temporal UI path of docs/ui.md, in headless Chromium against the dev server's UI: a campaign
 * started the way `campaign start` starts it, its page while running (summary, current details
 * with the stage), the memo (config hash, output folder), the signal dialog (operator controls
 * only), a stage waiting for an operator (details name the next commands), a retry, and a cancel
 * from the UI's own button, after which the page shows Canceled. Screenshots go to
 * $TOOLLOOP_UI_SHOTS (default: a temp folder); docs/ui/ holds a committed set.
 * Skipped when the services give no UI URL (TEMPORAL_UI_URL) or Chromium is missing.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { WorkflowHandle } from "@temporalio/client";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { campaignStartMetadata } from "../../src/cli/abortAndMetadata.js";
import { freezeCampaignConfig } from "../../src/config/frozen.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import {
  campaignWorkflowId,
  pauseSignal,
  resumeSignal,
  retryStageUpdate,
  statusQuery,
  type CampaignStatus,
  type IterationStatus,
} from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const uiUrl = process.env.TEMPORAL_UI_URL;
const skip = !uiUrl ? "no TEMPORAL_UI_URL (start the services with `services up`)" : !fs.existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : false;
const shots = process.env.TOOLLOOP_UI_SHOTS ?? fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-ui-shots-"));

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
let browser: Browser;
let page: Page;

before(async () => {
  if (skip) return;
  env = await createTestEnv("ui");
  sim = await startSimulator({ seed: 21, latencyMs: 200, maxConcurrency: 8, quiet: true });
  workers = await env.startWorkers();
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-gpu"],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  fs.mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await workers?.stop();
  await sim?.close();
  await env?.close();
  if (!skip) console.log(`screenshots in ${shots}`);
});

const pageUrl = (h: WorkflowHandle, runId: string, tab = "") =>
  `${uiUrl}/namespaces/${env.namespace}/workflows/${encodeURIComponent(h.workflowId)}/${runId}${tab ? `/${tab}` : ""}`;

/** Opens a page and waits until its text matches `expect` (the UI loads data after the first paint). */
async function open(url: string, expect: RegExp, shot: string): Promise<string> {
  await page.goto(url, { waitUntil: "networkidle2", timeout: 60_000 });
  const text = await waitFor(
    `${url} to show ${expect}`,
    async () => {
      const t = await pageText();
      return expect.test(t) ? t : undefined;
    },
    30_000,
    500,
  ).catch(async (err: unknown) => {
    await page.screenshot({ path: path.join(shots, `failed-${shot}`) });
    throw new Error(`${String(err)}\npage text:\n${await pageText()}`);
  });
  await page.screenshot({ path: path.join(shots, shot), fullPage: false });
  return text;
}

/** The text of the page and of its frames (the UI renders markdown details in a sandboxed iframe). */
async function pageText(): Promise<string> {
  const texts = await Promise.all(page.frames().map((f) => f.evaluate(() => document.body?.innerText ?? "").catch(() => "")));
  return texts.join("\n");
}

/** Clicks the first visible element whose text starts with `text` (buttons and menu items; menus open with a transition). */
async function clickText(text: string): Promise<void> {
  await waitFor(
    `a visible "${text}" to click`,
    () =>
      page.evaluate((wanted) => {
        const els = Array.from(document.querySelectorAll<HTMLElement>("button, a, [role=menuitem], li"));
        const el = els.find((e) => e.offsetParent !== null && (e.textContent ?? "").trim().startsWith(wanted));
        el?.click();
        return Boolean(el);
      }, text),
    10_000,
    250,
  );
}

test("the campaign's operator surface in the Temporal UI: start, details, memo, signals, pause, retry, cancel", { skip }, async () => {
  const campaignId = `ui-${Date.now().toString(36)}`;
  const frozen = freezeCampaignConfig(
    simulatorCampaign(sim.url, {
      count: 2000,
      batchSize: 10,
      concurrency: { batchesInParallel: 1 },
      endpoints: { sim: { baseUrl: sim.url, maxConcurrency: 8, timeoutMs: 10_000, maxRetries: 0 } },
    }),
    { configDir: env.workDir },
  );
  assert.ok(frozen.ok);
  // As `campaign start` starts it: the frozen config and the static summary and details.
  const h = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: frozen.frozen, campaignId }],
    ...campaignStartMetadata(frozen.frozen, campaignId),
  });
  const runId = h.firstExecutionRunId;
  const iterationId = await waitFor("a finished batch", async () => {
    const c = (await h.query(statusQuery)) as CampaignStatus;
    if (!c.iterationWorkflowId) return undefined;
    const it = (await env.client.workflow.getHandle(c.iterationWorkflowId).query(statusQuery)) as IterationStatus;
    return (it.stages[0]?.batchesDone ?? 0) >= 1 ? c.iterationWorkflowId : undefined;
  });

  // 1. Start: the summary from `campaign start`, the current details with the running stage.
  const running = await open(pageUrl(h, runId, "user-metadata"), /stage synthesize\.singleTurn/, "1-running-details.png");
  assert.match(running, /Running/);
  assert.match(running, new RegExp(`campaign ${campaignId} \\(test\\): 1 iteration, 3 stages`));
  assert.match(running, /Next commands/);
  assert.match(running, new RegExp(`toolloop campaign pause ${campaignId}`));
  assert.match(running, new RegExp(`iteration 1 of 1 of campaign ${campaignId}`), "the child's summary among events with metadata");

  // 2. Memo: config hash, version and output folder.
  const memo = await open(pageUrl(h, runId, "memo"), /configHash/, "2-memo.png");
  assert.match(memo, /[0-9a-f]{64}/);
  assert.match(memo, /outputDir/);
  assert.match(memo, /report\.html/);

  // 3. The signal dialog lists the operator's signals only.
  await open(pageUrl(h, runId), /Canceled|Running/, "3-page.png");
  await clickText("More Actions");
  await clickText("Send a Signal");
  const dialog = await waitFor("the signal dialog", async () => {
    const t = await pageText();
    return /Signal name|Signal/i.test(t) ? t : undefined;
  });
  // The dialog offers the signals the workflow lists (its metadata query): operator controls only.
  await waitFor("the signal name select", () =>
    page.evaluate(() => {
      const els = Array.from(document.querySelectorAll<HTMLElement>("[role=combobox], input, button"));
      const el = els.find(
        (e) =>
          e.offsetParent !== null &&
          /select a signal/i.test(`${e.getAttribute("placeholder") ?? ""} ${e.textContent ?? ""} ${(e as HTMLInputElement).value ?? ""}`),
      );
      el?.click();
      el?.focus();
      return Boolean(el);
    }),
  );
  const offered = await waitFor("the signal list", async () => {
    const names = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLElement>("[role=option]"))
        .filter((e) => e.offsetParent !== null)
        .map((e) => (e.textContent ?? "").trim())
        .filter(Boolean),
    );
    return names.length > 0 ? names : undefined;
  });
  await page.screenshot({ path: path.join(shots, "3-signal-dialog.png") });
  assert.ok(dialog.length > 0);
  // The list also holds the UI's own "Custom" entry (a free-text signal name).
  for (const name of ["abort", "pause", "resume"]) assert.ok(offered.includes(name), `${name} is offered (${offered.join(", ")})`);
  for (const name of ["iterationProgress", "jobProgress", "operatorDecision"]) assert.ok(!offered.includes(name), `${name} is not offered`);
  await page.keyboard.press("Escape");

  // 4. Pause (the dialog's `pause` signal, sent here by the client) shows in the details.
  await h.signal(pauseSignal);
  const paused = await open(pageUrl(h, runId, "user-metadata"), /: paused/, "4-paused-details.png");
  assert.match(paused, new RegExp(`toolloop campaign resume ${campaignId}`));
  await h.signal(resumeSignal);

  // 5. A stage waiting for an operator: the details say why and what to run next.
  sim.setFaults({ rate500: 1 });
  await waitFor("operator wait", async () => ((await h.query(statusQuery)) as CampaignStatus).state === "waiting_for_operator", 120_000);
  const waiting = await open(pageUrl(h, runId, "user-metadata"), /Waiting for an operator/, "5-waiting-for-operator.png");
  assert.match(waiting, /stage synthesize\.singleTurn failed: .*500/);
  assert.match(waiting, new RegExp(`toolloop campaign retry-stage ${campaignId}`));
  assert.match(waiting, new RegExp(`toolloop campaign skip-stage ${campaignId}`));
  // The iteration's own page lists its stages and the same commands.
  const iterationPage = await open(
    `${uiUrl}/namespaces/${env.namespace}/workflows/${encodeURIComponent(iterationId)}/${(await env.client.workflow.getHandle(iterationId).describe()).runId}/user-metadata`,
    /\*\*synthesize\.singleTurn\*\*|synthesize\.singleTurn: waiting for operator/,
    "5-iteration-details.png",
  );
  assert.match(iterationPage, /batches \d+ of 200/);

  // 6. Retry (the `retryStage` update) after the endpoint recovers: running again.
  sim.setFaults({});
  await h.executeUpdate(retryStageUpdate, { args: [{}] });
  await open(pageUrl(h, runId, "user-metadata"), /synthesize\.singleTurn: running/, "6-after-retry.png");

  // 7. Abort with the UI's own Cancel button (Request Cancellation): the page shows Canceled.
  await open(pageUrl(h, runId), /Running/, "7-before-cancel.png");
  await clickText("More Actions");
  await clickText("Request Cancellation");
  await new Promise((r) => setTimeout(r, 500));
  await page.screenshot({ path: path.join(shots, "7-cancel-dialog.png") });
  await clickText("Confirm");
  await assert.rejects(h.result());
  const canceled = await open(pageUrl(h, runId, "user-metadata"), /Canceled/, "8-canceled.png");
  assert.match(canceled, /Canceled/);
  const status = (await h.query(statusQuery)) as CampaignStatus;
  assert.equal(status.state, "aborted");
  assert.match(status.lastError ?? "", /cancel requested/);
  assert.equal((await env.client.workflow.getHandle(iterationId).describe()).status.name, "CANCELLED");
});
