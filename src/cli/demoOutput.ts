/**
 * The demo's output folder: `--output-dir`, by default `<state-dir>/output`, so a demo campaign's
 * files are at `<state-dir>/output/<campaignId>/iter-N/...` whatever `output.dir` the config names.
 * The demo's workers run with the state dir as their base dir, so a relative `output.dir` meant for a
 * worker started in a project folder (the example's `.toolloop/output`) would nest a second
 * `.toolloop/` inside the state dir.
 */
import path from "node:path";
import { campaignOutputDir } from "../output/layout.js";

export const DEMO_OUTPUT_SUBDIR = "output";

/** Sets the config's `output.dir` to the demo's absolute output folder and returns it. */
export function applyDemoOutputDir(raw: { output?: { dir?: string } }, stateDir: string, outputDirOption?: string): string {
  const dir = outputDirOption !== undefined ? path.resolve(outputDirOption) : path.join(path.resolve(stateDir), DEMO_OUTPUT_SUBDIR);
  raw.output = { ...raw.output, dir };
  return dir;
}

/** The campaign's folder once applyDemoOutputDir has set `output.dir`. */
export function demoCampaignOutputDir(raw: { output?: { dir?: string } }, stateDir: string, campaignId: string): string {
  return campaignOutputDir(path.resolve(stateDir), raw.output?.dir ?? DEMO_OUTPUT_SUBDIR, campaignId);
}

/**
 * The `report serve` command the demo prints at its end, runnable as printed once the demo has
 * stopped: the demo's own PGlite database is nowhere in the user's environment, and `report serve`
 * without DATABASE_URL refuses. A DATABASE_URL the user set is theirs already (and may hold a
 * password), so it is not repeated.
 */
export function demoReportServeCommand(campaignId: string, databaseUrl: string, fromEnvironment: boolean): string {
  const command = `toolloop report serve ${campaignId}`;
  return fromEnvironment ? command : `DATABASE_URL=${shellWord(databaseUrl)} ${command}`;
}

/** A word as a POSIX shell reads it back: as it is when safe, else single-quoted. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
