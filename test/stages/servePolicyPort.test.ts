/**
 * serve.policy with port 0: the port is picked where the server runs, just before it starts, not on
 * the worker's machine (where it says nothing about a cluster node), and written to the job's port
 * file, which readiness, the recorded URL and `model restart` read. Run through the handler on a real
 * database, the real local launcher and the real simulator process; the vLLM wrapper's command is
 * checked here and the wrapper itself in test/unit/training/serveOnNodePort.test.ts and on a real
 * Slurm node in test/e2e/slurmLauncher.test.ts.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { CHECKPOINT_PROFILE_FORMAT } from "../../src/llm/simulator/checkpointProfile.js";
import { upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import type { StageJob } from "../../src/framework/clusterJob.js";
import { servePolicyHandler } from "../../src/stages/serve/policy/handler.js";
import { SERVE_PORT_FILE_ENV, servePortOf } from "../../src/stages/serve/policy/servePort.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { clusterConfigSchema } from "../../src/training/clusterConfig.js";
import { createLauncher } from "../../src/training/launchers/index.js";
import type { JobLauncher, JobRef, JobRequest } from "../../src/training/launchers/launcher.js";
import { installRoot } from "../../src/training/paths.js";
import { CHECKPOINT_FINGERPRINT_ENV } from "../../src/training/servedCheckpoint.js";
import { campaignConfig, stageContext } from "../helpers/selfEvolution.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";

type ServeStage = StageConfigOf<"serve.policy">;
let res: StageResources;
let launcher: JobLauncher;
const refs: JobRef[] = [];
before(async () => {
  res = await startStageResources("serve-port", 5);
  launcher = createLauncher({ kind: "local", stateDir: path.join(res.workDir, "local-jobs") }, { log: () => undefined });
});
after(async () => {
  for (const ref of refs) await launcher.cancel(ref).catch(() => undefined);
  await res?.close();
});

async function mergedVersion(campaignId: string, iteration: number): Promise<void> {
  const dir = path.join(res.workDir, campaignId, "merged");
  fs.mkdirSync(dir, { recursive: true });
  const profile = { simulated: true, format: CHECKPOINT_PROFILE_FORMAT, steps: 1, trainedTools: {}, mistakeRateScale: {}, meanReward: 0 };
  fs.writeFileSync(path.join(dir, "toolloop_profile.json"), JSON.stringify(profile));
  await upsertModelVersion(res.db.db, { campaignId, iteration, kind: "merged", baseModel: "toolloop-sim-policy", path: dir, simulated: true });
}

function context(campaignId: string, stage: Record<string, unknown>, cluster: Record<string, unknown> = {}) {
  const config = { ...campaignConfig({ simUrl: res.sim.url, stages: [{ name: "serve.policy", ...stage }] }), cluster: clusterConfigSchema.parse(cluster) };
  return stageContext<ServeStage>(res.db.db, res.workDir, campaignId, config, "serve.policy", 1);
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function run(request: JobRequest): Promise<StageJob> {
  const { ref } = await launcher.submit(request);
  refs.push(ref);
  return { name: request.name, attempt: 1, ref, request };
}

async function stop(job: StageJob): Promise<void> {
  await launcher.cancel(job.ref);
  await until(`${job.name} to stop`, async () => (await launcher.status(job.ref)).state !== "running");
}

test("serve.policy port 0 (simulator engine): the server picks its port when it starts and writes it; readiness and the recorded URL use it; a restart keeps it while it is free", async () => {
  const campaignId = `serve-port-${Date.now().toString(36)}`;
  await mergedVersion(campaignId, 1);
  const ctx = context(campaignId, { engine: "simulator", simulator: { idleExitMinutes: 5 } });
  const { request } = await servePolicyHandler.prepare(ctx, 1);
  const portFile = request.env[SERVE_PORT_FILE_ENV]!;
  assert.ok(portFile.startsWith(request.workDir), "the port file is in the job's folder, which the worker and the nodes share");
  assert.equal(request.env.TOOLLOOP_SERVE_PORT, undefined, "no port is picked on the worker's machine");
  const portAt = request.command.indexOf("--port");
  assert.deepEqual(request.command.slice(portAt, portAt + 4), ["--port", "0", "--port-file", portFile]);
  assert.equal(request.command[request.command.indexOf("--host") + 1], "127.0.0.1", "on the local launcher it stays on loopback");

  const job = await run({ ...request, name: `${campaignId}-a1` });
  const port = await until("the port file", () => servePortOf(job.request, 0));
  const running = { state: "running" as const };
  await until("the server to be ready", () => servePolicyHandler.ready!(ctx, job, running));
  const collected = await servePolicyHandler.collect(ctx, job);
  assert.equal(collected.url, `http://127.0.0.1:${port}/v1`);
  const models = (await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json()) as { data: { id: string }[] };
  assert.deepEqual(
    models.data.map((m) => m.id),
    [`${campaignId}-iter-1`],
  );

  // The same request again (what `model restart` submits): the port the file names, free again, is taken again.
  await stop(job);
  const again = await run({ ...request, name: `${campaignId}-res-a2` });
  await until("the restarted server to be ready", () => servePolicyHandler.ready!(ctx, again, running));
  assert.equal(await servePortOf(again.request, 0), port, "a restarted server keeps its URL while its port is free");

  // That port taken meanwhile (another server on the node): the next start takes a free one and says which.
  await stop(again);
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
  try {
    const third = await run({ ...request, name: `${campaignId}-res-a3` });
    const moved = await until("a new port", async () => {
      const p = await servePortOf(third.request, 0);
      return p !== undefined && p !== port ? p : undefined;
    });
    await until("the server on its new port", () => servePolicyHandler.ready!(ctx, third, running));
    assert.equal((await servePolicyHandler.collect(ctx, third)).url, `http://127.0.0.1:${moved}/v1`);
    await stop(third);
  } finally {
    squatter.close();
  }

  // A new attempt of the stage starts afresh: its own port file, and no port carried over.
  const second = await servePolicyHandler.prepare(ctx, 2);
  assert.notEqual(second.request.env[SERVE_PORT_FILE_ENV], portFile);
  assert.equal(await servePortOf(second.request, 0), undefined, "not ready before its server has written a port");
  assert.equal(await servePolicyHandler.ready!(ctx, { ...job, request: { ...second.request, name: "x" } }, running), false);
});

test("serve.policy port 0 (vLLM engine): on a cluster, cluster.python runs the port-picking wrapper on the node, then vLLM on the port it picked", async () => {
  const campaignId = `serve-port-vllm-${Date.now().toString(36)}`;
  await mergedVersion(campaignId, 1);
  const ctx = context(campaignId, { engine: "vllm" }, { launcher: { kind: "slurm", partition: "gpu" }, python: "/opt/venvs/verl/bin/python" });
  const { request } = await servePolicyHandler.prepare(ctx, 1);
  const portFile = request.env[SERVE_PORT_FILE_ENV]!;
  const wrapper = path.join(installRoot(), "trainer", "serve", "serve_on_node_port.py");
  assert.ok(fs.existsSync(wrapper));
  assert.deepEqual(request.command.slice(0, 7), ["/opt/venvs/verl/bin/python", wrapper, portFile, "0.0.0.0", "--", "vllm", "serve"]);
  const portAt = request.command.indexOf("--port");
  assert.equal(request.command[portAt + 1], "{port}", "the wrapper fills the port in on the node");

  // The simulator engine on a cluster listens on every interface of its node, where the worker reaches it.
  const simulated = await servePolicyHandler.prepare(context(campaignId, { engine: "simulator" }, { launcher: { kind: "slurm", partition: "gpu" } }), 1);
  const hostAt = simulated.request.command.indexOf("--host");
  assert.equal(simulated.request.command[hostAt + 1], "0.0.0.0");

  // A configured port is used as it is: no wrapper, no port file.
  const fixed = await servePolicyHandler.prepare(context(campaignId, { engine: "vllm", port: 8011 }, { launcher: { kind: "slurm", partition: "gpu" } }), 1);
  assert.equal(fixed.request.command[0], "vllm");
  assert.deepEqual(Object.keys(fixed.request.env), [CHECKPOINT_FINGERPRINT_ENV], "no port file: only the fingerprint of the folder it loads");
  assert.equal(await servePortOf(fixed.request, 8011), 8011);
});

test("a serve job prepared before port files (its port picked on the worker's machine, in TOOLLOOP_SERVE_PORT) keeps that port", async () => {
  assert.equal(await servePortOf({ env: { TOOLLOOP_SERVE_PORT: "8123" } }, 0), 8123);
  const file = path.join(res.workDir, "bad.port");
  fs.writeFileSync(file, "not a port\n");
  assert.equal(await servePortOf({ env: { [SERVE_PORT_FILE_ENV]: file } }, 0), undefined, "a file naming no port is not a port");
});
