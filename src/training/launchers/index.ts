/** The launcher a campaign's `cluster.launcher` config names. */
import type { LauncherConfig } from "./config.js";
import type { JobLauncher } from "./launcher.js";
import { LocalLauncher } from "./local.js";
import { SlurmLauncher } from "./slurm.js";

export function createLauncher(config: LauncherConfig, opts: { log: (m: string) => void }): JobLauncher {
  switch (config.kind) {
    case "local":
      return new LocalLauncher(config, opts);
    case "slurm":
      return new SlurmLauncher(config, opts);
    case "ray":
      // INTEGRATOR: replace with `return new RayJobsLauncher(config, opts);` and
      // `import { RayJobsLauncher } from "./ray.js";` when merging the ray branch (src/training/launchers/ray.ts).
      throw new Error("the ray launcher is added by the ray branch");
  }
}
