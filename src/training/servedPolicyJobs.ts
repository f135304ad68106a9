/** Stopping a campaign's policy servers: they outlive their stage by design (the next iteration calls them). */
import type { Db } from "../db/client.js";
import { listCampaignStageJobs } from "../db/repos/clusterJobs.js";
import type { LauncherConfig } from "./launchers/config.js";
import { createLauncher } from "./launchers/index.js";
import type { LauncherKind } from "./launchers/launcher.js";

/** Cancels every serve.policy job of the campaign that may still run (the demo and tests at their end). */
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
