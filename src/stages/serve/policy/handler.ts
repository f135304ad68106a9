/**
 * Serves the iteration's merged policy as a cluster job that keeps running: done once `/v1/models`
 * answers with the served name. The URL and name are registered in model_versions (served); from
 * the next iteration on, the policy role resolves to it (src/training/servedPolicy.ts).
 */
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { Db } from "../../../db/client.js";
import { getClusterJob, listCampaignStageJobs } from "../../../db/repos/clusterJobs.js";
import { getModelVersion, upsertModelVersion } from "../../../db/repos/modelVersions.js";
import type { ClusterJobHandler, StageJob } from "../../../framework/clusterJob.js";
import { StageInputError } from "../../../framework/stage.js";
import type { JobStatus } from "../../../training/launchers/launcher.js";
import { clusterOf } from "../../../training/clusterConfig.js";
import { slurmCpuMemory } from "../../../training/launchers/config.js";
import { installRoot, trainingPaths } from "../../../training/paths.js";
import { CHECKPOINT_FINGERPRINT_ENV, checkpointFingerprint } from "../../../training/servedCheckpoint.js";
import { vllmServeCommand } from "../../../training/verl/jobSpec.js";
import type { StageConfigOf } from "../../specs.js";
import { PORT_PLACEHOLDER, SERVE_PORT_FILE_ENV, servePortFile, servePortOf } from "./servePort.js";

type ServeStage = StageConfigOf<"serve.policy">;

/** The profile file the stand-in trainer writes into checkpoints (and merge copies). */
export const CHECKPOINT_PROFILE_FILE = "toolloop_profile.json";

export const servePolicyHandler: ClusterJobHandler<ServeStage> = {
  kind: "clusterJob",
  name: "serve.policy",
  completion: "ready",

  async prepare(ctx, attempt) {
    const merged = await getModelVersion(ctx.deps.db, ctx.campaignId, ctx.iteration, "merged");
    if (!merged?.path) throw new StageInputError(`no merged policy for iteration ${ctx.iteration}: put train.merge before serve.policy`);
    const workDir = trainingPaths(ctx.outputDir()).serve.workDir;
    await mkdir(workDir, { recursive: true });
    // Port 0: picked where the server runs, just before it starts, and written to the port file.
    const portFile = ctx.stage.port === 0 ? servePortFile(workDir, attempt) : undefined;
    // A new attempt's server takes any free port (only a restart of this server prefers the one named).
    if (portFile) await rm(portFile, { force: true });
    const port = String(ctx.stage.port);
    const name = servedName(ctx);
    let command: string[];
    let gpus = 0;
    if (ctx.stage.engine === "simulator") {
      const s = ctx.stage.simulator;
      // On a cluster the worker reaches the server at its node's address (baseUrlOf), as vLLM's; locally it stays on loopback.
      const onCluster = clusterOf(ctx.config).launcher.kind !== "local";
      command = [
        process.execPath,
        path.join(installRoot(), "dist", "src", "llm", "simulator", "main.js"),
        "--host",
        onCluster && ctx.stage.host === "127.0.0.1" ? "0.0.0.0" : ctx.stage.host,
        "--port",
        port,
        ...(portFile ? ["--port-file", portFile] : []),
        "--model",
        name,
        "--seed",
        String(s.seed),
        "--mistake-rate",
        String(s.mistakeRate),
        "--checkpoint-profile",
        path.join(merged.path, CHECKPOINT_PROFILE_FILE),
        "--idle-exit-minutes",
        String(s.idleExitMinutes),
      ];
    } else {
      const v = ctx.stage.vllm;
      gpus = v.gpus;
      const host = ctx.stage.host === "127.0.0.1" ? "0.0.0.0" : ctx.stage.host;
      command = vllmServeCommand({
        model: merged.path,
        host,
        port: portFile ? PORT_PLACEHOLDER : port,
        servedModelName: name,
        tensorParallelSize: v.tensorParallelSize,
        maxModelLen: v.maxModelLen,
        gpuMemoryUtilization: v.gpuMemoryUtilization,
        toolCallParser: v.toolCallParser,
        extraArgs: v.extraArgs,
      });
      // vLLM cannot say which port it took, so a small wrapper picks it on the node, then runs vLLM there.
      if (portFile)
        command = [clusterOf(ctx.config).python, path.join(installRoot(), "trainer", "serve", "serve_on_node_port.py"), portFile, host, "--", ...command];
    }
    const env: Record<string, string> = portFile ? { [SERVE_PORT_FILE_ENV]: portFile } : {};
    // Which weights this server loads, taken as it is prepared and kept with its request: a retrain
    // served again under the same name and URL is told apart from them (src/training/servedCheckpoint.ts).
    const fingerprint = await checkpointFingerprint(merged.path);
    if (fingerprint) env[CHECKPOINT_FINGERPRINT_ENV] = fingerprint;
    return { request: { command, env, workDir, resources: { nodes: 1, gpusPerNode: gpus, ...slurmCpuMemory(clusterOf(ctx.config).launcher, ctx.stage) } } };
  },

  async ready(ctx, job, status) {
    const port = await servePortOf(job.request, ctx.stage.port);
    if (port === undefined) return false; // the job has not picked its port yet
    const url = baseUrlOf(ctx.stage, job, status, port);
    try {
      const res = await fetch(`${url}/models`, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(5000)]) });
      if (!res.ok) return false;
      const body = (await res.json()) as { data?: { id?: string }[] };
      return (body.data ?? []).some((m) => m.id === servedName(ctx));
    } catch {
      return false; // not listening yet
    }
  },

  // A config frozen before the setting existed has none: no limit, as then.
  readyTimeoutMs: (ctx) => (ctx.stage.readyTimeoutMinutes ? ctx.stage.readyTimeoutMinutes * 60_000 : undefined),

  supersedes: (ctx) => supersededServers(ctx),

  async collect(ctx, job) {
    const { db } = ctx.deps;
    const merged = await getModelVersion(db, ctx.campaignId, ctx.iteration, "merged");
    if (!merged) throw new StageInputError(`the merged policy of iteration ${ctx.iteration} is gone from model_versions`);
    const row = await getClusterJob(db, job.name);
    const nodes = (row?.progress as { nodes?: string[] } | null)?.nodes;
    const port = await servePortOf(job.request, ctx.stage.port);
    if (port === undefined)
      throw new StageInputError(`the policy server job ${job.name} served, but its port file ${job.request.env[SERVE_PORT_FILE_ENV]} names no port`);
    const url = baseUrlOf(ctx.stage, job, { state: "running", ...(nodes ? { nodes } : {}) }, port);
    const simulated = ctx.stage.engine === "simulator" || merged.simulated;
    // The fingerprint the job was started on; a request recorded before it was kept: the folder now;
    // an unreadable folder: this job's name, so a new server job never passes for the old weights.
    const fingerprint =
      job.request.env[CHECKPOINT_FINGERPRINT_ENV] ?? (merged.path ? await checkpointFingerprint(merged.path) : null) ?? `unfingerprinted:${job.name}`;
    const id = await upsertModelVersion(db, {
      campaignId: ctx.campaignId,
      iteration: ctx.iteration,
      kind: "served",
      parentId: merged.id,
      baseModel: merged.baseModel,
      path: merged.path,
      url,
      servedModel: servedName(ctx),
      jobName: job.name,
      dataset: merged.dataset,
      simulated,
      details: { engine: ctx.stage.engine, checkpoint: { path: merged.path, fingerprint } },
      // A re-served iteration (retry-stage after a stop) serves again.
      stoppedAt: null,
    });
    ctx.deps.log(
      `[serve.policy] ${ctx.campaignId} iteration ${ctx.iteration}: ${servedName(ctx)} serves at ${url}${simulated ? " (SIMULATED: the LLM simulator serving a stand-in checkpoint profile)" : ""}`,
    );
    return { modelVersion: id, url, simulated };
  },
};

/** Older iterations' servers, beyond `keepPrevious`, that are still up: the next iteration asks this one. */
async function supersededServers(ctx: { deps: { db: Db }; campaignId: string; iteration: number; stage: ServeStage }): Promise<string[]> {
  const rows = await listCampaignStageJobs(ctx.deps.db, ctx.campaignId, "serve.policy", ["pending", "running"]);
  return rows.filter((r) => r.iteration < ctx.iteration - ctx.stage.keepPrevious).map((r) => r.name);
}

function servedName(ctx: { campaignId: string; iteration: number; stage: ServeStage }): string {
  return ctx.stage.servedModelName ?? `${ctx.campaignId}-iter-${ctx.iteration}`;
}

/**
 * The server's base URL: its port (servePortOf), on the node it runs on when the job runs on a
 * cluster (Slurm: the job's first node; Ray: the head node, where a job's entrypoint runs) and the
 * host is the default, else the configured host. With the default host, vLLM binds all interfaces.
 */
export function baseUrlOf(stage: Pick<ServeStage, "host">, job: Pick<StageJob, "ref">, status: JobStatus, port: number): string {
  const onCluster = job.ref.launcher === "slurm" || job.ref.launcher === "ray";
  const node = status.nodes?.[0];
  const host = stage.host === "127.0.0.1" && onCluster && node ? node : stage.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}/v1`;
}
