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
import { ApplicationFailure, type Info } from "@temporalio/activity";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createClusterJobActivities } from "../../activities/clusterJobs.js";
import { JOB_STOP_LIMIT_MS, withFailurePolicy } from "../../activities/failurePolicy.js";
import { eq } from "drizzle-orm";
import { activityFailures } from "../../src/db/schema.js";
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
    cancel: (info?: Partial<Info>) => new MockActivityEnvironment(info).run(() => withFailurePolicy(policy, () => acts.cancelStageJob({ ...ref, name }))),
    submitNextAttempt: (info?: Partial<Info>) =>
      new MockActivityEnvironment(info).run(() => withFailurePolicy(policy, () => acts.submitStageJob({ ...ref, attempt: 2 }))),
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

/**
 * A job asked to stop that the controller still reports running past the launcher's wait (Slurm's
 * COMPLETING while a slow node kills its processes) fails the step with JobStopTimeout. Before, that
 * was counted like the step's own failure: five slow stops failed the cancel (or the next attempt's
 * submit, which stops the earlier job first) with FailedAfterRetries, and the stage with it.
 */
const STILL_COMPLETING = `case "$(basename "$0")" in
  scancel) exit 0 ;;
  scontrol) echo "JobId=$4 JobName=x JobState=COMPLETING Reason=None ExitCode=0:0" ;;
  *) exit 0 ;;
esac`;

function isUncountedSlowStop(err: unknown): boolean {
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, ErrorType.jobStillStopping, err.message);
  assert.equal(err.nonRetryable, false);
  assert.doesNotMatch(err.message, /attempt \d+ of \d+/, "not counted against the attempt budget");
  assert.match(err.message, /Slurm job 4245 \(tl-\S+\) was cancelled \(scancel\) 0 s ago and the controller still reports it COMPLETING/);
  assert.match(err.message, /asked again \(not counted as a failure\)/);
  return true;
}

test("a slow stop (JobStopTimeout) is retried without counting against the failure budget, in cancel and in the next attempt's submit", async () => {
  const launcher = new SlurmLauncher(
    { kind: "slurm", binDir: fakeSlurm("completing", STILL_COMPLETING), extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: (m) => logs.push(m), stopWaitMs: 200 },
  );
  const job = await submittedJob(launcher, "4245");
  const now = { scheduledTimestampMs: Date.now() };
  // More tries than the budget (5): none of them counts.
  for (let i = 1; i <= 6; i++) await assert.rejects(job.cancel({ ...now, attempt: i, activityId: "cancel" }), isUncountedSlowStop);
  await assert.rejects(job.submitNextAttempt({ ...now, attempt: 1, activityId: "submit" }), isUncountedSlowStop);
  const counted = await db.db.select().from(activityFailures).where(eq(activityFailures.errorType, "JobStopTimeout"));
  assert.equal(counted.length, 0, "no slow stop recorded as a failure");
});

test("a stop still pending an hour after the step was first scheduled waits for the operator, saying what the scheduler reports", async () => {
  const launcher = new SlurmLauncher(
    { kind: "slurm", binDir: fakeSlurm("completing-long", STILL_COMPLETING), extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: (m) => logs.push(m), stopWaitMs: 200 },
  );
  const job = await submittedJob(launcher, "4245");
  await assert.rejects(job.cancel({ scheduledTimestampMs: Date.now() - JOB_STOP_LIMIT_MS - 60_000 }), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, ErrorType.failedAfterRetries);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /still reports it COMPLETING/);
    assert.match(err.message, /asked to stop for 61 min since this step was first scheduled/);
    return true;
  });
});
