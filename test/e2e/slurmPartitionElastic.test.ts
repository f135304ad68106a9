/**
 * An elastic Slurm cluster (dynamic nodes: MaxNodeCount above the nodes it has) can add nodes to a
 * partition, so a job asking for more than the partition has now (Slurm: PENDING, PartitionConfig or
 * PartitionNodeLimit) may start later: it is watched on, not failed and cancelled, and its status says
 * why it waits. Real single-node Slurm (test/helpers/slurmCluster.ts) with MaxNodeCount=8, the
 * cluster-job activities on a real database. (A cluster that cannot add nodes: test/e2e/slurmNeverStarts.test.ts.)
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
import { migratedTestDatabase } from "../helpers/stageResources.js";
import { startSlurmCluster, type SlurmCluster } from "../helpers/slurmCluster.js";

let root: string;
let cluster: SlurmCluster;
let db: DbHandle;
const stops: (() => Promise<void>)[] = [];
const logs: string[] = [];

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-slurm-elastic-"));
  cluster = await startSlurmCluster({ dir: path.join(root, "cluster"), log: (m) => logs.push(m), extra: { confLines: ["MaxNodeCount=8"] } });
  stops.push(() => cluster.stop());
  process.env.SLURM_CONF = cluster.confPath;
  db = await migratedTestDatabase(root, stops);
});

after(async () => {
  for (const stop of stops.reverse()) await stop();
  delete process.env.SLURM_CONF;
  fs.rmSync(root, { recursive: true, force: true });
});

test("a job asking for more nodes than the partition has now is watched on, with Slurm's reason and why it may start", { timeout: 120_000 }, async () => {
  const launcher = new SlurmLauncher(
    { kind: "slurm", partition: cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: (m) => logs.push(m) },
  );
  const handler: ClusterJobHandler = {
    kind: "clusterJob",
    name: "train.grpo",
    completion: "exit",
    prepare: async () => ({
      request: { command: ["sleep", "30"], env: {}, workDir: path.join(root, "work", "grow"), resources: { nodes: 3, gpusPerNode: 0 } },
    }),
    collect: async () => ({}),
  };
  const acts = createClusterJobActivities({
    getDb: async () => db.db,
    createLauncher: () => launcher,
    withStageContext: (_ref, fn) => fn({ config: {} } as unknown as StageContext, handler as never, {} as never),
    log: (m) => logs.push(m),
  });
  const ref = { campaignId: `elastic-${Date.now().toString(36)}`, iteration: 1, stage: "train.grpo", attempt: 1 };
  const { name } = (await new MockActivityEnvironment().run(acts.submitStageJob, ref)) as { name: string };
  const watched = (await new MockActivityEnvironment().run(acts.watchStageJob, { ...ref, name, windowSeconds: 6, pollSeconds: 1 })) as WatchStageJobResult;

  // Before, PartitionConfig counted as "Slurm will never start this job": failed, and the job cancelled.
  assert.equal(watched.outcome, "watching", JSON.stringify(watched));
  assert.equal(watched.state, "pending");
  const said =
    /^PENDING \((PartitionConfig|PartitionNodeLimit)\): it asks partition toolloop for 3 nodes, and it has 1 \(the stage's nnodes\)(; and for \d+ CPUs, .*)? now, but the cluster can add nodes \(MaxNodeCount 8 above its 1\): it starts if enough join the partition$/;
  assert.match(watched.message ?? "", said);
  const row = await getClusterJob(db.db, name);
  assert.equal(row?.state, "pending");
  assert.match(row?.message ?? "", said, "the job's recorded status (what campaign status shows) says why it waits");
  const jobId = row!.externalId!;
  assert.match(
    execFileSync("squeue", ["--noheader", `--jobs=${jobId}`, "--format=%T %r"], { encoding: "utf8" }).trim(),
    /^PENDING Partition(Config|NodeLimit)$/,
  );
  execFileSync("scancel", [jobId]);
});
