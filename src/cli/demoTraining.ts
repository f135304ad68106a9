/** What the demo prints and tidies about the loop: training jobs, and the serving jobs it stops at the end. */
import { listCampaignStageJobs } from "../db/repos/clusterJobs.js";
import type { Db } from "../db/client.js";
import { createLauncher } from "../training/launchers/index.js";
import type { LauncherConfig } from "../training/launchers/config.js";
import type { LauncherKind } from "../training/launchers/launcher.js";

/** Serving jobs keep running after their stage (the next iteration calls them); the demo stops its own at the end. */
export async function stopServedPolicies(db: Db, campaignId: string, launcherConfig: LauncherConfig, log: (m: string) => void): Promise<void> {
  const launcher = createLauncher(launcherConfig, { log });
  for (const row of await listCampaignStageJobs(db, campaignId, "serve.policy", ["pending", "running", "succeeded"])) {
    if (!row.externalId) continue;
    await launcher
      .cancel({ launcher: row.launcher as LauncherKind, name: row.name, externalId: row.externalId })
      .then(() => log(`stopped the served policy ${row.name}`))
      .catch((e: unknown) => log(`could not stop ${row.name}: ${String(e)}`));
  }
}

/** One line per training job: where it got to and its reward (the last metric line it printed). */
export async function trainingJobLines(db: Db, campaignId: string): Promise<string[]> {
  return (await listCampaignStageJobs(db, campaignId, "train.grpo")).map((r) => {
    const p = (r.progress ?? {}) as { done?: number; total?: number; metrics?: Record<string, number> };
    const score = p.metrics?.["critic/score/mean"];
    const val = Object.entries(p.metrics ?? {}).find(([k]) => k.startsWith("val-core/"));
    return (
      `train.grpo iteration ${r.iteration} (attempt ${r.attempt}): ${r.state}, step ${p.done ?? "?"}${p.total ? `/${p.total}` : ""}` +
      `${score !== undefined ? `, reward mean ${score}` : ""}${val ? `, ${val[0]} ${val[1]}` : ""}`
    );
  });
}
