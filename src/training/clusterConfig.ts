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

/**
 * Whether a URL with this host reaches only the machine that uses it: loopback (127.0.0.0/8, ::1,
 * localhost) or a wildcard bind address (0.0.0.0, ::), which a client connects to as its own machine.
 * Pure string checks (this module is in the workflow bundle: no node:net).
 */
export function isMachineLocalHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h.endsWith(".")) h = h.slice(0, -1);
  if (h === "" || h === "localhost" || h.endsWith(".localhost")) return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "0.0.0.0") return true;
  if (/^::ffff:(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|0\.0\.0\.0)$/.test(h)) return true;
  // ::1 and :: in any spelling (leading zeros, written out in full).
  if (/^[0:]+$/.test(h) || /^[0:]+:0*1$/.test(h)) return h.includes(":");
  return false;
}

function urlHostname(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/**
 * Why the train.grpo job certainly runs (in part) on machines other than the worker's, or undefined
 * where it may well run on the worker's own machine (the local launcher; a one-node Slurm or Ray
 * cluster on loopback, as the test suite runs).
 */
export function remoteJobReason(launcher: ClusterConfig["launcher"], nodes: number): string | undefined {
  if (launcher.kind === "slurm" && nodes > 1) return `the Slurm launcher runs the train.grpo job on ${nodes} nodes`;
  if (launcher.kind === "ray") {
    const host = urlHostname(launcher.address);
    if (host !== undefined && !isMachineLocalHost(host)) return `the Ray launcher runs the train.grpo job on the nodes of the Ray cluster at ${host}`;
    if (nodes > 1) return `the Ray launcher runs the train.grpo job on ${nodes} nodes`;
  }
  return undefined;
}

/**
 * A reward service address the train.grpo job's nodes cannot reach: a loopback (or wildcard) URL or
 * worker-hosted bind address while the job certainly runs on other machines. Such a job's reward calls
 * fail until its retries give up (about 600 s), so the config is refused up front, naming the field.
 * `nodes` is train.grpo's `grpo.nnodes`.
 */
export function rewardServiceReachIssue(cluster: ClusterConfig, nodes: number): { path: ("rewardService" | "url" | "host")[]; message: string } | undefined {
  const reason = remoteJobReason(cluster.launcher, nodes);
  if (!reason) return undefined;
  const rs = cluster.rewardService;
  if (rs.url !== undefined) {
    const host = urlHostname(rs.url);
    if (host === undefined || !isMachineLocalHost(host)) return undefined;
    return {
      path: ["rewardService", "url"],
      message:
        `${rs.url} reaches only the machine that calls it, and ${reason}: the reward calls would fail. ` +
        `Set cluster.rewardService.url to an address of the reward service that the cluster's nodes can reach (e.g. http://10.0.0.5:8900), ` +
        `or leave it out and set cluster.rewardService.host to such an address of the worker's machine (the worker then hosts the service there)`,
    };
  }
  if (!isMachineLocalHost(rs.host)) return undefined;
  return {
    path: ["rewardService", "host"],
    message:
      `${JSON.stringify(rs.host)}${rs.host === "127.0.0.1" ? " (the default)" : ""} is where the worker hosts the reward service and where the job calls it, ` +
      `which reaches only the machine that calls it, and ${reason}: the reward calls would fail. ` +
      `Set cluster.rewardService.host to an address of the worker's machine that the cluster's nodes can reach (e.g. its IP on the cluster network, "10.0.0.5"), ` +
      `or cluster.rewardService.url to an external \`toolloop reward serve\` they can reach`,
  };
}
