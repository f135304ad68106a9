/**
 * A scheduler that does not answer while a job runs (a Slurm controller restarting or failing over,
 * a hung one, a Ray dashboard being replaced) fails the watch and the cancel as infrastructure:
 * retried until the scheduler answers, never counted against the attempt budget. Counted, five quick
 * failures (about two minutes of outage) failed a days-long training stage while its job ran on
 * unwatched, and the operator's retry then started a second job over the same checkpoints.
 *
 * Slurm's client commands are stand-ins in a binDir that print what the real ones print with the
 * controller down ("slurm_load_jobs error: Unable to contact slurm controller (connect failure)", seen
 * from Debian's slurm-wlm 22.05 with slurmctld stopped) or that hang; the database is real.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { ApplicationFailure } from "@temporalio/activity";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createClusterJobActivities } from "../../activities/clusterJobs.js";
import { withFailurePolicy } from "../../activities/failurePolicy.js";
import type { DbHandle } from "../../src/db/client.js";
import { recordJobIntent, recordJobSubmitted } from "../../src/db/repos/clusterJobs.js";
import { ErrorType } from "../../src/framework/errorTypes.js";
import type { ClusterJobHandler } from "../../src/framework/clusterJob.js";
import type { StageContext } from "../../src/framework/stage.js";
import { JobRefusedError, type JobLauncher } from "../../src/training/launchers/launcher.js";
import { RayJobsLauncher } from "../../src/training/launchers/ray.js";
import { SlurmLauncher } from "../../src/training/launchers/slurm.js";
import { migratedTestDatabase } from "../helpers/stageResources.js";

let root: string;
let db: DbHandle;
const stops: (() => Promise<void>)[] = [];
const logs: string[] = [];

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-scheduler-outage-"));
  db = await migratedTestDatabase(root, stops);
});

after(async () => {
  for (const stop of stops.reverse()) await stop();
  fs.rmSync(root, { recursive: true, force: true });
});

/** A binDir whose squeue, scontrol and scancel all run `body`. */
function fakeSlurm(name: string, body: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const command of ["squeue", "scontrol", "scancel", "sacct"]) fs.writeFileSync(path.join(dir, command), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

const CONTROLLER_DOWN = 'echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1';

async function submittedJob(launcher: JobLauncher, externalId: string) {
  const campaignId = `outage-${launcher.kind}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const ref = { campaignId, iteration: 1, stage: "train.grpo", attempt: 1 };
  const name = `tl-${campaignId}`;
  const request = { name, command: ["true"], env: {}, workDir: path.join(root, "work"), resources: { nodes: 1, gpusPerNode: 0 } };
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
    withStageContext: (_ref, fn) => fn({ config: {} } as unknown as StageContext, handler as never, {} as never),
    log: (m) => logs.push(m),
  });
  // As activities/index.ts runs them: through the failure policy that decides on retries.
  const policy = { getDb: async () => db.db, budget: 5 };
  return {
    watch: () =>
      new MockActivityEnvironment().run(() => withFailurePolicy(policy, () => acts.watchStageJob({ ...ref, name, windowSeconds: 5, pollSeconds: 1 }))),
    cancel: () => new MockActivityEnvironment().run(() => withFailurePolicy(policy, () => acts.cancelStageJob({ ...ref, name }))),
  };
}

function isInfrastructure(what: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, ErrorType.infrastructure, err.message);
    assert.equal(err.nonRetryable, false);
    assert.doesNotMatch(err.message, /attempt \d+ of \d+/, "not counted against the attempt budget");
    assert.match(err.message, what);
    return true;
  };
}

test("Slurm controller down: watching and cancelling a submitted job are retried as infrastructure, not counted", async () => {
  const launcher = new SlurmLauncher(
    { kind: "slurm", binDir: fakeSlurm("down", CONTROLLER_DOWN), extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: (m) => logs.push(m) },
  );
  const job = await submittedJob(launcher, "4242");
  await assert.rejects(job.watch(), isInfrastructure(/could not reach the Slurm controller: .*Unable to contact slurm controller \(connect failure\)/));
  await assert.rejects(job.cancel(), isInfrastructure(/could not reach the Slurm controller/));
});

test("Slurm controller hung: a command past its time limit is the scheduler not answering", async () => {
  const launcher = new SlurmLauncher(
    { kind: "slurm", binDir: fakeSlurm("hung", "exec sleep 5"), extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: (m) => logs.push(m), commandTimeoutMs: 300 },
  );
  const job = await submittedJob(launcher, "4243");
  await assert.rejects(job.watch(), isInfrastructure(/could not reach the Slurm controller: no answer within 300 ms/));
});

test("a job Slurm reports as failed is still the job's failure, counted as before", async () => {
  const launcher = new SlurmLauncher(
    {
      kind: "slurm",
      binDir: fakeSlurm("other", 'echo "scontrol: error: something else went wrong" >&2; exit 1'),
      extraSbatchArgs: [],
      rayPort: 6379,
      setupCommands: [],
    },
    { log: (m) => logs.push(m) },
  );
  const job = await submittedJob(launcher, "4244");
  await assert.rejects(job.watch(), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.notEqual(err.type, ErrorType.infrastructure);
    assert.match(err.message, /something else went wrong/);
    return true;
  });
});

test("Ray dashboard unreachable: watching a submitted job is retried as infrastructure", async () => {
  // A port nothing listens on.
  const port = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(p));
    });
  });
  const launcher = new RayJobsLauncher({ kind: "ray", address: `http://127.0.0.1:${port}`, headers: {} }, { log: (m) => logs.push(m), attempts: 1 });
  const job = await submittedJob(launcher, "tl-ray-job");
  await assert.rejects(job.watch(), isInfrastructure(/is the Ray dashboard running/));
});

test("a job the scheduler refuses as configured (no such partition) is not retried: the stage waits for the operator at once", async () => {
  const policy = { getDb: async () => db.db, budget: 5 };
  await assert.rejects(
    new MockActivityEnvironment().run(() =>
      withFailurePolicy(policy, async () => {
        throw new JobRefusedError('sbatch refused job x: cluster.launcher.partition "gpu-big" is not a partition of this Slurm cluster');
      }),
    ),
    (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, true);
      assert.equal(err.type, ErrorType.stageInput);
      assert.match(err.message, /cluster\.launcher\.partition "gpu-big"/);
      return true;
    },
  );
});
