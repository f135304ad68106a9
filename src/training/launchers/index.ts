/** The launcher a campaign's `cluster.launcher` config names. */
import type { LauncherConfig } from "./config.js";
import { UnknownLauncherKindError, type JobLauncher } from "./launcher.js";
import { LocalLauncher } from "./local.js";
import { RayJobsLauncher } from "./ray.js";
import { SlurmLauncher } from "./slurm.js";

/**
 * `python` is the campaign's `cluster.python`, which the Slurm launcher's multi-node batch script checks Ray with.
 * `quickMs`: a caller that only looks (`model list`) and must not wait on an unreachable scheduler:
 * each Slurm command and Ray request is given that long, and Ray's request is tried once.
 */
export function createLauncher(config: LauncherConfig, opts: { log: (m: string) => void; python?: string; quickMs?: number }): JobLauncher {
  switch (config.kind) {
    case "local":
      return new LocalLauncher(config, { log: opts.log });
    case "slurm":
      return new SlurmLauncher(config, {
        log: opts.log,
        ...(opts.python !== undefined ? { python: opts.python } : {}),
        ...(opts.quickMs !== undefined ? { commandTimeoutMs: opts.quickMs } : {}),
      });
    case "ray":
      return new RayJobsLauncher(config, { log: opts.log, ...(opts.quickMs !== undefined ? { requestTimeoutMs: opts.quickMs, attempts: 1 } : {}) });
    default:
      // Config validation refuses any other kind; a stored config from before that check (or from a newer build) lands here.
      throw new UnknownLauncherKindError((config as { kind?: unknown }).kind);
  }
}
