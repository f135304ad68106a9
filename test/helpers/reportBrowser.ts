/**
 * Opens a report in headless Chromium (Debian's /usr/bin/chromium, driven by puppeteer-core) and
 * reads back what a person would see: console errors, failed requests, and for every chart canvas
 * the Chart.js instance's data and whether its pixels are non-blank.
 */
import puppeteer, { type Browser } from "puppeteer-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface ChartCheck {
  id: string;
  title: string;
  type: string | null;
  datasets: number;
  /** Data points over all datasets that are numbers. */
  points: number;
  /** Canvas pixels with any colour (alpha > 0). */
  paintedPixels: number;
}

export interface PageCheck {
  consoleErrors: string[];
  failedRequests: string[];
  title: string;
  bannerText: string | null;
  charts: ChartCheck[];
  omittedNotes: string[];
}

/** Runs in the page (a string: this project compiles without the DOM's types). */
const IN_PAGE = `(() => {
  const charts = [...document.querySelectorAll("canvas")].map((canvas) => {
    const chart = window.Chart ? window.Chart.getChart(canvas) : undefined;
    const ctx = canvas.getContext("2d");
    let painted = 0;
    if (ctx && canvas.width && canvas.height) {
      const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
    }
    return {
      id: canvas.id,
      title: canvas.dataset.title || "",
      type: chart ? chart.config.type : null,
      datasets: chart ? chart.data.datasets.length : 0,
      points: chart ? chart.data.datasets.reduce((s, ds) => s + ds.data.filter((v) => typeof v === "number").length, 0) : 0,
      paintedPixels: painted,
    };
  });
  const banner = document.getElementById("simulated-banner");
  return {
    title: document.title,
    bannerText: banner ? banner.textContent : null,
    charts,
    omittedNotes: [...document.querySelectorAll("ul.omitted li")].map((li) => li.textContent || ""),
  };
})()`;

export async function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-gpu"],
  });
}

export async function checkReportPage(browser: Browser, url: string): Promise<PageCheck> {
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  const failedRequests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("requestfailed", (r) => failedRequests.push(`${r.url()}: ${r.failure()?.errorText ?? "failed"}`));
  page.on("response", (r) => {
    if (r.status() >= 400) failedRequests.push(`${r.url()}: HTTP ${r.status()}`);
  });
  try {
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(url, { waitUntil: "load" });
    const result = (await page.evaluate(IN_PAGE)) as Omit<PageCheck, "consoleErrors" | "failedRequests">;
    return { consoleErrors, failedRequests, ...result };
  } finally {
    await page.close();
  }
}
