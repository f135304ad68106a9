/**
 * Job names: deterministic per (campaign, iteration, stage, attempt), so a restarted worker finds a
 * job it submitted by name and never submits it twice; valid for Slurm, Ray and file paths.
 */
import { createHash } from "node:crypto";
import { JOB_NAME } from "./launchers/launcher.js";

export function stageJobName(campaignId: string, iteration: number, stage: string, attempt: number): string {
  // The campaign part is shortened for readability; the hash of the full id keeps names unique.
  const hash = createHash("sha256").update(campaignId).digest("hex").slice(0, 8);
  const slug = (s: string, max: number) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, max)
      .replace(/-+$/g, "");
  const name = `tl-${slug(campaignId, 20) || "c"}-${hash}-i${iteration}-${slug(stage, 16)}-a${attempt}`;
  if (!JOB_NAME.test(name)) throw new Error(`job name "${name}" is not valid (${JOB_NAME})`);
  return name;
}
