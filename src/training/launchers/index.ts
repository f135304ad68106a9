/** The launcher a campaign's `cluster.launcher` config names. */
import type { LauncherConfig } from "./config.js";
import type { JobLauncher } from "./launcher.js";
import { LocalLauncher } from "./local.js";

export function createLauncher(config: LauncherConfig, opts: { log: (m: string) => void }): JobLauncher {
  switch (config.kind) {
    case "local":
      return new LocalLauncher(config, opts);
    default:
      throw new Error(`the ${config.kind} launcher is not available yet`);
  }
}
