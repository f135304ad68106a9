/**
 * The demo's output folder: `<state-dir>/output/<campaignId>/iter-N/...` unless the config names
 * `output.dir`. The demo's workers run with the state dir as their base dir, so the config default
 * (`.toolloop/output`, meant for a worker started in a project folder) would nest a second
 * `.toolloop/` inside it.
 */
import path from "node:path";
import { campaignOutputDir } from "../output/layout.js";

export const DEMO_OUTPUT_SUBDIR = "output";

/** Sets `output.dir` (absolute, under the state dir) when the raw config names none; returns the folder outputs go under. */
export function applyDemoOutputDir(raw: { output?: { dir?: string } }, stateDir: string): string {
  if (raw.output?.dir === undefined) raw.output = { ...raw.output, dir: path.join(path.resolve(stateDir), DEMO_OUTPUT_SUBDIR) };
  return path.resolve(stateDir, raw.output.dir as string);
}

export function demoCampaignOutputDir(raw: { output?: { dir?: string } }, stateDir: string, campaignId: string): string {
  return campaignOutputDir(path.resolve(stateDir), applyDemoOutputDir(raw, stateDir), campaignId);
}
