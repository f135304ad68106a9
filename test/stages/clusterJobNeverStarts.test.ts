/**
 * A cluster job the scheduler will never start as submitted (Slurm: pending on PartitionTimeLimit;
 * Ray: no node can hold its entrypoint and no autoscaler) fails its stage naming the setting to
 * change. What to do after the change follows the campaign's onStageFailure, as an endpoint's
 * refusal does (src/framework/stageFailureAdvice.ts): "then retry the stage" was said under every
 * policy, also when "fail" had failed the campaign (nothing waits to be retried; it is started again
 * with --id) or "skip" had skipped the stage. Slurm's commands are stand-ins in a binDir, Ray's
 * dashboard a local HTTP server; the database is PGlite.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createClusterJobActivities, type WatchStageJobResult } from "../../activities/clusterJobs.js";
import { recordJobIntent, recordJobSubmitted } from "../../src/db/repos/clusterJobs.js";
import type { ClusterJobHandler } from "../../src/framework/clusterJob.js";
import type { StageContext } from "../../src/framework/stage.js";
import type { OnStageFailure } from "../../src/framework/stageFailureAdvice.js";
import type { JobLauncher } from "../../src/training/launchers/launcher.js";
import { RayJobsLauncher } from "../../src/training/launchers/ray.js";
import { SlurmLauncher } from "../../src/training/launchers/slurm.js";
import { pgliteForTest } from "../helpers/pgliteForTest.js";

/** Slurm's commands: scontrol says the job is pending on a partition limit it can never meet; the rest succeed. */
function fakeSlurm(dir: string): string {
  const bin = path.join(dir, "slurm-bin");
  fs.mkdirSync(bin, { recursive: true });
  const scontrol = `#!/bin/sh
if [ "$1 $2" = "show job" ]; then echo "JobId=$4 JobName=tl-job JobState=PENDING Reason=PartitionTimeLimit Partition=debug"; fi
exit 0
`;
  fs.writeFileSync(path.join(bin, "scontrol"), scontrol, { mode: 0o755 });
  for (const command of ["scancel", "squeue", "sacct"]) fs.writeFileSync(path.join(bin, command), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  return bin;
}

/** A Ray dashboard with one pending job that asks one node for 8 GPUs, on a cluster of one 1-GPU node started by hand. */
async function fakeRay(t: TestContext): Promise<string> {
  const json = (res: http.ServerResponse, body: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "GET" && url.pathname === "/api/jobs/tl-ray-job")
      return json(res, {
        submission_id: "tl-ray-job",
        status: "PENDING",
        message: "Job has not started yet.",
        metadata: { toolloop_entrypoint: JSON.stringify({ entrypoint_num_gpus: 8 }) },
      });
    if (url.pathname === "/api/v0/nodes") return json(res, { data: { result: { result: [{ state: "ALIVE", resources_total: { CPU: 8, GPU: 1 } }] } } });
    if (url.pathname === "/api/cluster_status") return json(res, { data: { clusterStatus: { autoscalerReport: { nodeTypeMapping: { n1: "node_n1" } } } } });
    if (req.method === "POST" && url.pathname === "/api/jobs/tl-ray-job/stop") return json(res, { stopped: true });
    res.writeHead(404).end("not found");
  });
  // Longer than a test's set-up: a kept-alive connection the server closed meanwhile would be reset.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function watchUnder(t: TestContext, launcher: JobLauncher, externalId: string, onStageFailure: OnStageFailure): Promise<WatchStageJobResult> {
  const { db, dir } = await pgliteForTest(t, `never-${launcher.kind}-${onStageFailure}`);
  const ref = { campaignId: "camp-1", iteration: 1, stage: "train.grpo", attempt: 1 };
  const name = `tl-job-${onStageFailure}`;
  const request = { name, command: ["true"], env: {}, workDir: path.join(dir, "work"), resources: { nodes: 1, gpusPerNode: 8 } };
  await recordJobIntent(db.db, { ...ref, name, launcher: launcher.kind, request });
  await recordJobSubmitted(db.db, name, externalId);
  const handler: ClusterJobHandler = {
    kind: "clusterJob",
    name: "train.grpo",
    completion: "exit",
    prepare: async () => ({ request }),
    collect: async () => ({}),
  };
  const acts = createClusterJobActivities({
    getDb: async () => db.db,
    createLauncher: () => launcher,
    withStageContext: (_ref, fn) => fn({ campaignId: ref.campaignId, config: { onStageFailure } } as unknown as StageContext, handler as never, {} as never),
    log: () => undefined,
  });
  return (await new MockActivityEnvironment().run(acts.watchStageJob, { ...ref, name, windowSeconds: 5, pollSeconds: 1 })) as WatchStageJobResult;
}

// The setting is in the campaign's config, which retry-stage does not read (it runs the frozen config again).
const ADVICE: Record<OnStageFailure, RegExp> = {
  wait: /\. Change that, in the campaign's config: run `toolloop campaign abort camp-1`, then `toolloop campaign start --config <changed file> --id camp-1 --config-version` \(retry-stage would run the frozen config again\); or, if the cluster is changed to fit the job instead, retry the stage\n--- last output ---/,
  fail: /\. Change that, in the campaign's config: start the campaign again with `toolloop campaign start --config <changed file> --id camp-1 --config-version` \(onStageFailure "fail" has failed it\); or, if the cluster is changed to fit the job instead, the same without --config-version\n--- last output ---/,
  skip: /\. Change that, so that later runs can start it \(onStageFailure "skip" has skipped this stage; it is not retried\)\n--- last output ---/,
};

for (const onStageFailure of ["wait", "fail", "skip"] as const) {
  test(`Slurm will never start the job: under onStageFailure "${onStageFailure}" the stage's error says what to do after the change`, async (t) => {
    const dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? "/tmp"), "toolloop-never-slurm-"));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const launcher = new SlurmLauncher(
      { kind: "slurm", binDir: fakeSlurm(dir), extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
      { log: () => undefined, stopWaitMs: 0 },
    );
    // The launcher names the setting and leaves the advice to the watch, which knows the campaign's policy.
    const status = await launcher.status({ launcher: "slurm", name: "tl-job", externalId: "4300" });
    assert.equal(status.neverStarts, true);
    assert.match(
      status.message ?? "",
      /^PENDING \(PartitionTimeLimit\): Slurm will never start job 4300: its time limit \(the stage's timeLimitMinutes\) is above the partition's MaxTime\. Change that$/,
    );

    const watched = await watchUnder(t, launcher, "4300", onStageFailure);
    assert.equal(watched.outcome, "failed", JSON.stringify(watched));
    assert.match(watched.message ?? "", /Slurm will never start job 4300: its time limit \(the stage's timeLimitMinutes\) is above the partition's MaxTime/);
    assert.match(watched.message ?? "", ADVICE[onStageFailure]);
    if (onStageFailure !== "wait") assert.doesNotMatch(watched.message ?? "", /retry the stage/);
  });

  test(`Ray will never start the job: under onStageFailure "${onStageFailure}" the stage's error says what to do after the change`, async (t) => {
    const launcher = new RayJobsLauncher({ kind: "ray", address: await fakeRay(t), headers: {} }, { log: () => undefined, attempts: 1, stopWaitMs: 0 });
    const status = await launcher.status({ launcher: "ray", name: "tl-ray-job", externalId: "tl-ray-job" });
    assert.equal(status.neverStarts, true);
    assert.match(
      status.message ?? "",
      /^PENDING: Ray will never start job tl-ray-job: its entrypoint asks one node for 8 GPUs .*\(it has no autoscaler\)\. Change that$/,
    );

    const watched = await watchUnder(t, launcher, "tl-ray-job", onStageFailure);
    assert.equal(watched.outcome, "failed", JSON.stringify(watched));
    assert.match(watched.message ?? "", /Ray will never start job tl-ray-job: its entrypoint asks one node for 8 GPUs/);
    assert.match(watched.message ?? "", ADVICE[onStageFailure]);
    if (onStageFailure !== "wait") assert.doesNotMatch(watched.message ?? "", /retry the stage/);
  });
}
