/**
 * A Slurm job that can never start: Slurm's default EnforcePartLimits=NO accepts a job whose time
 * limit is above the partition's MaxTime (or that asks for more nodes than the partition has) and
 * keeps it PENDING with a reason (PartitionTimeLimit, PartitionConfig) until someone changes it (a
 * job over the partition's totals only where the cluster cannot add nodes; an elastic cluster's is
 * watched on: test/e2e/slurmPartitionElastic.test.ts). The watch must end such a stage with that reason and the setting that caused it, and cancel the queued
 * job, instead of waiting on it for ever. Real single-node Slurm (test/helpers/slurmCluster.ts), the
 * cluster-job activities on a real database.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createClusterJobActivities, type WatchStageJobResult } from "../../activities/clusterJobs.js";
import type { DbHandle } from "../../src/db/client.js";
import { getClusterJob } from "../../src/db/repos/clusterJobs.js";
import type { ClusterJobHandler } from "../../src/framework/clusterJob.js";
import type { StageContext } from "../../src/framework/stage.js";
import { SlurmLauncher } from "../../src/training/launchers/slurm.js";
import type { JobRequest } from "../../src/training/launchers/launcher.js";
import { migratedTestDatabase } from "../helpers/stageResources.js";
import { startSlurmCluster, type SlurmCluster } from "../helpers/slurmCluster.js";

let root: string;
let cluster: SlurmCluster;
let db: DbHandle;
const stops: (() => Promise<void>)[] = [];
const logs: string[] = [];

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-slurm-never-"));
  cluster = await startSlurmCluster({ dir: path.join(root, "cluster"), log: (m) => logs.push(m) });
  stops.push(() => cluster.stop());
  process.env.SLURM_CONF = cluster.confPath;
  db = await migratedTestDatabase(root, stops);
  // A partition whose jobs may run 10 minutes at most.
  execFileSync("scontrol", ["update", `PartitionName=${cluster.partition}`, "MaxTime=10"]);
});

after(async () => {
  for (const stop of stops.reverse()) await stop();
  delete process.env.SLURM_CONF;
  fs.rmSync(root, { recursive: true, force: true });
});

function activitiesFor(request: Omit<JobRequest, "name">, completion: "exit" | "ready" = "exit") {
  const launcher = new SlurmLauncher(
    { kind: "slurm", partition: cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: (m) => logs.push(m) },
  );
  const handler: ClusterJobHandler = {
    kind: "clusterJob",
    name: "train.grpo",
    completion,
    prepare: async () => ({ request }),
    collect: async () => ({}),
  };
  return createClusterJobActivities({
    getDb: async () => db.db,
    createLauncher: () => launcher,
    withStageContext: (_ref, fn) => fn({ config: {} } as unknown as StageContext, handler as never, {} as never),
    log: (m) => logs.push(m),
  });
}

function slurmState(jobId: string): string {
  return execFileSync("squeue", ["--noheader", "--states=all", `--jobs=${jobId}`, "--format=%T %r"], { encoding: "utf8" }).trim();
}

async function submitAndWatch(
  campaignId: string,
  request: Omit<JobRequest, "name">,
  completion: "exit" | "ready" = "exit",
): Promise<{ watched: WatchStageJobResult; jobId: string }> {
  const acts = activitiesFor(request, completion);
  const ref = { campaignId, iteration: 1, stage: "train.grpo", attempt: 1 };
  const { name } = (await new MockActivityEnvironment().run(acts.submitStageJob, ref)) as { name: string };
  const watched = (await new MockActivityEnvironment().run(acts.watchStageJob, { ...ref, name, windowSeconds: 8, pollSeconds: 1 })) as WatchStageJobResult;
  const row = await getClusterJob(db.db, name);
  return { watched, jobId: row!.externalId! };
}

test("a job whose time limit is above the partition's MaxTime fails its stage naming timeLimitMinutes, and is cancelled", { timeout: 120_000 }, async () => {
  const workDir = path.join(root, "work", "time");
  const { watched, jobId } = await submitAndWatch(`never-time-${Date.now().toString(36)}`, {
    command: ["sleep", "30"],
    env: {},
    workDir,
    resources: { nodes: 1, gpusPerNode: 0, timeLimitMinutes: 60 },
  });
  assert.equal(watched.outcome, "failed", JSON.stringify(watched));
  assert.equal(watched.state, "failed");
  // PartitionConfig is what Slurm says first of any job over a partition limit; PartitionTimeLimit once it has looked closer.
  assert.match(watched.message ?? "", /PartitionTimeLimit|PartitionConfig/);
  assert.match(watched.message ?? "", /timeLimitMinutes/);
  assert.match(watched.message ?? "", /never start/);
  // A campaign without onStageFailure waits for the operator: the config path (abort, start --config-version), or
  // retry-stage once the cluster fits the job (the other policies: test/stages/clusterJobNeverStarts.test.ts).
  assert.match(
    watched.message ?? "",
    /\. Change that, in the campaign's config: run `toolloop campaign abort \S+`, then `toolloop campaign start --config <changed file> --id \S+ --config-version` .*; or, if the cluster is changed to fit the job instead, retry the stage\n/,
  );
  // Not left in the queue to start later (a raised MaxTime) next to the retry's job.
  assert.match(slurmState(jobId), /^CANCELLED/);
});

test("a job asking for more nodes than the partition has fails its stage naming nnodes, and is cancelled", { timeout: 120_000 }, async () => {
  const { watched, jobId } = await submitAndWatch(`never-nodes-${Date.now().toString(36)}`, {
    command: ["sleep", "30"],
    env: {},
    workDir: path.join(root, "work", "nodes"),
    resources: { nodes: 3, gpusPerNode: 0, timeLimitMinutes: 5 },
  });
  assert.equal(watched.outcome, "failed", JSON.stringify(watched));
  assert.match(watched.message ?? "", /PartitionConfig/);
  assert.match(watched.message ?? "", /nnodes/);
  assert.match(slurmState(jobId), /^CANCELLED/);
});

test(
  "a job asking for more CPUs than the partition's nodes have in all fails its stage naming cpusPerTask, and is cancelled",
  { timeout: 120_000 },
  async () => {
    const partition = execFileSync("scontrol", ["show", "partition", "--oneliner", cluster.partition], { encoding: "utf8" });
    const totalCpus = Number(/TotalCPUs=(\d+)/.exec(partition)?.[1]);
    assert.ok(totalCpus > 0, partition);
    const { watched, jobId } = await submitAndWatch(`never-cpus-${Date.now().toString(36)}`, {
      command: ["sleep", "30"],
      env: {},
      workDir: path.join(root, "work", "cpus"),
      resources: { nodes: 1, gpusPerNode: 0, timeLimitMinutes: 5, cpusPerTask: totalCpus + 1 },
    });
    assert.equal(watched.outcome, "failed", JSON.stringify(watched));
    // Slurm keeps such a job PENDING (PartitionConfig) for good on this cluster: its one node, and no room for dynamic nodes.
    assert.match(watched.message ?? "", /PENDING \(PartitionConfig\): Slurm will never start job \d+/);
    assert.match(watched.message ?? "", new RegExp(`${totalCpus + 1} CPUs, and its nodes have ${totalCpus} in all \\(cpusPerTask times nnodes\\)`));
    assert.match(watched.message ?? "", /the cluster cannot add nodes \(MaxNodeCount 1\)/);
    assert.match(slurmState(jobId), /^CANCELLED/);
  },
);

test("a job that only waits for resources stays pending and is watched on", { timeout: 120_000 }, async () => {
  const workDir = path.join(root, "work", "fits");
  const { watched, jobId } = await submitAndWatch(`fits-${Date.now().toString(36)}`, {
    command: ["sleep", "30"],
    env: {},
    workDir,
    resources: { nodes: 1, gpusPerNode: 0, timeLimitMinutes: 5 },
  });
  assert.equal(watched.outcome, "watching", JSON.stringify(watched));
  assert.match(slurmState(jobId), /^(PENDING|RUNNING)/);
  execFileSync("scancel", [jobId]);
});

test("a policy server that can never start fails serve.policy with Slurm's reason, and is cancelled", { timeout: 120_000 }, async () => {
  const { watched, jobId } = await submitAndWatch(
    `never-serve-${Date.now().toString(36)}`,
    { command: ["sleep", "30"], env: {}, workDir: path.join(root, "work", "serve"), resources: { nodes: 1, gpusPerNode: 0, timeLimitMinutes: 60 } },
    "ready",
  );
  assert.equal(watched.outcome, "failed", JSON.stringify(watched));
  assert.match(watched.message ?? "", /before it served: PENDING \((PartitionTimeLimit|PartitionConfig)\): Slurm will never start/);
  assert.match(slurmState(jobId), /^CANCELLED/);
});
