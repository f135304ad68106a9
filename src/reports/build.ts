/**
 * Building and writing reports: gather (data.ts), render (html.ts), write atomically to the paths of
 * src/output/layout.ts. Used by the finishIteration activity (after every iteration) and by
 * `toolloop report build|serve`.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import type { Db } from "../db/client.js";
import { configForIteration, latestConfig } from "../db/repos/campaignConfigs.js";
import { campaignOutputDir, campaignReportPath, iterationReportPath } from "../output/layout.js";
import { gatherReportData, UnknownCampaignError } from "./data.js";
import { renderReportHtml } from "./html.js";
import { writeFileAtomic } from "../util/atomicFiles.js";

let chartJs: Promise<string> | undefined;

/** Chart.js's UMD build, read once from the installed package (its exports map hides dist/, so resolve the main file's folder). */
export function chartJsSource(): Promise<string> {
  chartJs ??= readFile(path.join(path.dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.js"), "utf8");
  return chartJs;
}

export async function buildReportHtml(db: Db, scope: { campaignId: string; iteration?: number }): Promise<string> {
  const data = await gatherReportData(db, scope);
  return renderReportHtml(data, { chartJs: await chartJsSource() });
}

/** The campaign's output folder, from its frozen config (output.dir resolved against `baseDir`, as the worker does). */
export async function campaignReportDir(db: Db, baseDir: string, campaignId: string, iteration?: number): Promise<string> {
  const stored = iteration === undefined ? await latestConfig(db, campaignId) : await configForIteration(db, campaignId, iteration);
  if (!stored) {
    if (iteration !== undefined && (await latestConfig(db, campaignId))) throw new UnknownCampaignError(`campaign ${campaignId} has no iteration ${iteration}`);
    throw new UnknownCampaignError(
      `no campaign ${JSON.stringify(campaignId)} in PostgreSQL (a campaign registers when a worker first runs it); \`toolloop campaign list\` shows the campaigns`,
    );
  }
  return campaignOutputDir(baseDir, stored.frozen.config.output.dir, campaignId);
}

/** The iteration's report and the refreshed campaign report; returns both paths. */
export async function writeIterationReports(
  db: Db,
  p: { baseDir: string; campaignId: string; iteration: number; onProgress?: (what: string) => void },
): Promise<{ iterationReport: string; campaignReport: string }> {
  const dir = await campaignReportDir(db, p.baseDir, p.campaignId, p.iteration);
  const iterationReport = iterationReportPath(dir, p.iteration);
  p.onProgress?.("iteration report");
  await writeFileAtomic(iterationReport, await buildReportHtml(db, { campaignId: p.campaignId, iteration: p.iteration }));
  const campaignReport = campaignReportPath(dir);
  p.onProgress?.("campaign report");
  await writeFileAtomic(campaignReport, await buildReportHtml(db, { campaignId: p.campaignId }));
  return { iterationReport, campaignReport };
}

/** The campaign report alone (when the campaign ends: its final status is in the page). */
export async function writeCampaignReport(db: Db, p: { baseDir: string; campaignId: string }): Promise<string> {
  const file = campaignReportPath(await campaignReportDir(db, p.baseDir, p.campaignId));
  await writeFileAtomic(file, await buildReportHtml(db, { campaignId: p.campaignId }));
  return file;
}
