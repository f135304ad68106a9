/**
 * Where a campaign's outputs land: one folder per campaign and one per iteration under the
 * configured `output.dir` (resolved against the worker's base dir), with fixed names inside so that
 * operators, reports and the UI memo can point at them without asking the database.
 *
 *   <output.dir>/<campaignId>/report.html            the campaign report (all iterations)
 *   <output.dir>/<campaignId>/iter-<N>/report.html   the iteration report
 *   <output.dir>/<campaignId>/iter-<N>/...           export.dataset (dataset.jsonl ...), export.verl in verl/, train/ ...
 */
import path from "node:path";

export const REPORT_FILE = "report.html";

export function campaignOutputDir(baseDir: string, outputDir: string, campaignId: string): string {
  return path.resolve(baseDir, outputDir, campaignId);
}

export function iterationOutputDir(baseDir: string, outputDir: string, campaignId: string, iteration: number): string {
  return path.join(campaignOutputDir(baseDir, outputDir, campaignId), `iter-${iteration}`);
}

export const campaignReportPath = (campaignDir: string): string => path.join(campaignDir, REPORT_FILE);
export const iterationReportPath = (campaignDir: string, iteration: number): string => path.join(campaignDir, `iter-${iteration}`, REPORT_FILE);

/**
 * The campaign folder an iteration report was written in (`<campaign folder>/iter-<N>/report.html`),
 * or undefined for a path of another shape: what a recorded report path says of where the worker
 * resolved the campaign's outputs.
 */
export function campaignDirOfIterationReport(file: string, iteration: number): string | undefined {
  const iterDir = path.dirname(file);
  if (path.basename(file) !== REPORT_FILE || path.basename(iterDir) !== `iter-${iteration}`) return undefined;
  return path.dirname(iterDir);
}
