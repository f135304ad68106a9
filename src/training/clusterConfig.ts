/**
 * The campaign's `cluster` section: where jobs run (launcher), which Python runs the trainer side,
 * and where the reward service the trainer calls is. Pure (the campaign config schema embeds it).
 */
import { z } from "zod";
import { boundedString, CONFIG_LIMITS, serviceUrl } from "../config/fields.js";
import { launcherConfigSchema } from "./launchers/config.js";

export const rewardServiceSchema = z.strictObject({
  /** An external `toolloop reward serve` (http://host:port); absent: the cluster worker hosts one. */
  url: serviceUrl("http://10.0.0.5:8900").optional(),
  /** Address the worker-hosted service binds and jobs reach it at (a node of a real cluster needs a routable one). */
  host: boundedString(255, "a host name or address").default("127.0.0.1"),
  /** 0 picks a free port. */
  port: z.number({ error: "expected a port number" }).int("expected a port number").min(0, "expected 0..65535").max(65535, "expected 0..65535").default(0),
});

export const clusterConfigSchema = z.strictObject({
  launcher: launcherConfigSchema.default({ kind: "local" }),
  /** The Python interpreter jobs run (on the cluster's nodes for Slurm and Ray). */
  python: boundedString(CONFIG_LIMITS.pathLength, "a path or command").default("python3"),
  rewardService: rewardServiceSchema.default({ host: "127.0.0.1", port: 0 }),
});
export type ClusterConfig = z.infer<typeof clusterConfigSchema>;

export const DEFAULT_CLUSTER: ClusterConfig = clusterConfigSchema.parse({});

/** A config frozen before `cluster` existed has none: the defaults apply. */
export function clusterOf(config: { cluster?: ClusterConfig }): ClusterConfig {
  return config.cluster ?? DEFAULT_CLUSTER;
}
