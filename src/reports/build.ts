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
import { recordedCampaignOutputDir } from "../db/repos/campaigns.js";
import { campaignRow, iterationRows } from "../db/repos/reportData.js";
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

/**
 * The scope's campaign, and its iteration when one is asked for, exist; else an UnknownCampaignError
 * saying which is missing. Checked before a report is said to be building (configForIteration
 * alone answers for any iteration number, with the config that would apply to it).
 */
export async function checkReportScope(db: Db, scope: { campaignId: string; iteration?: number }): Promise<void> {
  if (!(await campaignRow(db, scope.campaignId))) throw new UnknownCampaignError(noCampaignMessage(scope.campaignId));
  if (scope.iteration !== undefined && !(await iterationRows(db, scope)).some((i) => i.iteration === scope.iteration))
    throw new UnknownCampaignError(`campaign ${scope.campaignId} has no iteration ${scope.iteration}`);
}

const noCampaignMessage = (campaignId: string) =>
  `no campaign ${JSON.stringify(campaignId)} in PostgreSQL (a campaign registers when a worker first runs it); \`toolloop campaign list\` shows the campaigns`;

/** The frozen config a report of this scope reads (the iteration's, else the newest); an unknown campaign or iteration is an UnknownCampaignError. */
async function scopeConfig(db: Db, campaignId: string, iteration?: number) {
  const stored = iteration === undefined ? await latestConfig(db, campaignId) : await configForIteration(db, campaignId, iteration);
  if (!stored) {
    if (iteration !== undefined && (await latestConfig(db, campaignId))) throw new UnknownCampaignError(`campaign ${campaignId} has no iteration ${iteration}`);
    throw new UnknownCampaignError(noCampaignMessage(campaignId));
  }
  return stored;
}

/** The campaign's output folder, from its frozen config (output.dir resolved against `baseDir`, as the worker does). */
export async function campaignReportDir(db: Db, baseDir: string, campaignId: string, iteration?: number): Promise<string> {
  const stored = await scopeConfig(db, campaignId, iteration);
  return campaignOutputDir(baseDir, stored.frozen.config.output.dir, campaignId);
}

/**
 * The campaign's output folder when no base dir is given, and how it is known: where the worker
 * recorded writing an iteration report, else an absolute output.dir (no base dir applies), else
 * output.dir resolved against `envBaseDir` (TOOLLOOP_BASE_DIR, the deployment's stated base dir).
 * Otherwise `relativeSetting`: a relative output.dir that only the worker's --base-dir resolves.
 */
export async function knownCampaignReportDir(
  db: Db,
  campaignId: string,
  opts: { iteration?: number; envBaseDir?: string },
): Promise<{ dir: string; how: string } | { relativeSetting: string }> {
  const stored = await scopeConfig(db, campaignId, opts.iteration);
  const recorded = await recordedCampaignOutputDir(db, campaignId, opts.iteration);
  if (recorded) return { dir: recorded.dir, how: `the campaign's output folder, where the worker wrote iteration ${recorded.iteration}'s report` };
  const setting = stored.frozen.config.output.dir;
  // An absolute output.dir ignores whatever base dir it is resolved against.
  if (path.isAbsolute(setting)) return { dir: campaignOutputDir("/", setting, campaignId), how: `the campaign's output folder (output.dir ${setting})` };
  if (opts.envBaseDir !== undefined)
    return { dir: campaignOutputDir(opts.envBaseDir, setting, campaignId), how: `output.dir ${setting} resolved against TOOLLOOP_BASE_DIR ${opts.envBaseDir}` };
  return { relativeSetting: setting };
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
