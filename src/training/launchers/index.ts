/** The launcher a campaign's `cluster.launcher` config names. */
import type { LauncherConfig } from "./config.js";
import type { JobLauncher } from "./launcher.js";
import { LocalLauncher } from "./local.js";
import { RayJobsLauncher } from "./ray.js";
import { SlurmLauncher } from "./slurm.js";

export function createLauncher(config: LauncherConfig, opts: { log: (m: string) => void }): JobLauncher {
  switch (config.kind) {
    case "local":
      return new LocalLauncher(config, opts);
    case "slurm":
      return new SlurmLauncher(config, opts);
    case "ray":
      return new RayJobsLauncher(config, opts);
  }
}
