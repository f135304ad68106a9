/**
 * serve.policy through a real single-node Slurm (test/helpers/slurmCluster.ts): a two-iteration
 * campaign whose serve.policy runs the LLM simulator (SIMULATED: the merged versions it serves are
 * written here, no training) as Slurm jobs, run by a worker. The port is picked by the server on the
 * node and read back from its port file; the recorded URL names the node and answers; iteration
 * 2's server supersedes iteration 1's (scancel), and the last one is stopped at the end.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { SERVE_PORT_FILE_ENV } from "../../src/stages/serve/policy/servePort.js";
import type { JobRequest } from "../../src/training/launchers/launcher.js";
import { stopServedPolicies } from "../../src/training/servedPolicyJobs.js";
import { runServingCampaign, servePolicyJob, servedVersion } from "../helpers/servedPolicyCampaign.js";
import { startSlurmCluster, type SlurmCluster } from "../helpers/slurmCluster.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let cluster: SlurmCluster;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>> | undefined;
const id = `sserve-${Date.now().toString(36)}`;
const launcher = () => ({ kind: "slurm" as const, partition: cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: [] });

before(async () => {
  env = await createTestEnv("slurm-serve");
  cluster = await startSlurmCluster({ dir: path.join(env.workDir, "slurm"), log: () => undefined });
  // The worker's launcher (and the sbatch it runs) find the cluster through SLURM_CONF.
  process.env.SLURM_CONF = cluster.confPath;
  workers = await env.startWorkers();
});
after(async () => {
  if (cluster) await stopServedPolicies(env.db.db, id, launcher(), () => undefined).catch(() => undefined);
  await workers?.stop();
  await cluster?.stop();
  delete process.env.SLURM_CONF;
  await env?.close();
});

test(
  "serve.policy on Slurm: the server picks its port on the node, the recorded URL names the node and answers, the next iteration's server supersedes it",
  { timeout: 300_000 },
  async () => {
    // The node's name as the host: the server listens there (loopback on this one-machine cluster, not
    // every interface as with the default host) and the worker reaches it by that name.
    await runServingCampaign(env, id, 2, launcher(), { host: cluster.nodeName });

    const [first, second] = [await servePolicyJob(env, id, 1), await servePolicyJob(env, id, 2)];
    assert.deepEqual([first.launcher, second.launcher], ["slurm", "slurm"]);
    assert.equal(first.state, "cancelled", "iteration 1's server was stopped once iteration 2's served");
    assert.equal(second.state, "running");
    const request = second.request as JobRequest;
    assert.equal(request.env.TOOLLOOP_SERVE_PORT, undefined, "no port was picked on the worker's machine");
    const port = Number(fs.readFileSync(request.env[SERVE_PORT_FILE_ENV]!, "utf8").trim());
    const served = await servedVersion(env, id, 2);
    assert.equal(served?.url, `http://${cluster.nodeName}:${port}/v1`, "the node and the port its server wrote");
    const models = (await (await fetch(`${served!.url}/models`)).json()) as { data: { id: string }[] };
    assert.deepEqual(
      models.data.map((m) => m.id),
      [`${id}-iter-2`],
    );
    assert.ok((await servedVersion(env, id, 1))?.stoppedAt, "the superseded server's version is marked stopped");
  },
);
