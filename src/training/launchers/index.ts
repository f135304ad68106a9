/** The launcher a campaign's `cluster.launcher` config names. */
import type { LauncherConfig } from "./config.js";
import type { JobLauncher } from "./launcher.js";
import { LocalLauncher } from "./local.js";
import { RayJobsLauncher } from "./ray.js";
import { SlurmLauncher } from "./slurm.js";

/** `python` is the campaign's `cluster.python`, which the Slurm launcher's multi-node batch script checks Ray with. */
export function createLauncher(config: LauncherConfig, opts: { log: (m: string) => void; python?: string }): JobLauncher {
  switch (config.kind) {
    case "local":
      return new LocalLauncher(config, { log: opts.log });
    case "slurm":
      return new SlurmLauncher(config, opts);
    case "ray":
      return new RayJobsLauncher(config, { log: opts.log });
  }
}
