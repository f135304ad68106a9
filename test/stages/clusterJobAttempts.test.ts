/**
 * A training job whose watch ended while it ran on (the watch failed, the stage waited for the
 * operator) must not run next to the retry's job: both would write the same checkpoint folder. Nor
 * a policy server an earlier serve.policy attempt left serving: it would hold its GPUs and, on a
 * fixed port, answer under the same model name.
 * Submitting attempt 2 cancels attempt 1's job first, and submits only once that job has ended. Real
 * local launcher (detached processes) and a real local Ray head, real database, the cluster-job
 * activities in a mock activity context.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createClusterJobActivities, type SubmitStageJobResult } from "../../activities/clusterJobs.js";
import type { DbHandle } from "../../src/db/client.js";
import { getClusterJob } from "../../src/db/repos/clusterJobs.js";
import { getModelVersion, upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import type { ClusterJobHandler } from "../../src/framework/clusterJob.js";
import type { StageContext } from "../../src/framework/stage.js";
import type { JobLauncher } from "../../src/training/launchers/launcher.js";
import { LocalLauncher } from "../../src/training/launchers/local.js";
import { RayJobsLauncher } from "../../src/training/launchers/ray.js";
import { startRayHead } from "../helpers/rayCluster.js";
import { migratedTestDatabase } from "../helpers/stageResources.js";

let root: string;
let db: DbHandle;
let launcher: LocalLauncher;
const stops: (() => Promise<void>)[] = [];

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-job-attempts-"));
  db = await migratedTestDatabase(root, stops);
  launcher = new LocalLauncher({ kind: "local", stateDir: path.join(root, "jobs") }, { log: () => undefined, cancelGraceMs: 2000 });
});

after(async () => {
  for (const stop of stops.reverse()) await stop();
  fs.rmSync(root, { recursive: true, force: true });
});

function activities(jobLauncher: JobLauncher = launcher, command = ["sleep", "300"], stage: "train.grpo" | "serve.policy" = "train.grpo") {
  const handler: ClusterJobHandler = {
    kind: "clusterJob",
    name: stage,
    completion: stage === "serve.policy" ? "ready" : "exit",
    prepare: async () => ({ request: { command, env: {}, workDir: path.join(root, "work"), resources: { nodes: 1, gpusPerNode: 0 } } }),
    collect: async () => ({}),
  };
  return createClusterJobActivities({
    getDb: async () => db.db,
    createLauncher: () => jobLauncher,
    withStageContext: (_ref, fn) => fn({ config: {} } as unknown as StageContext, handler as never, {} as never),
    log: () => undefined,
  });
}

async function submit(acts: ReturnType<typeof activities>, campaignId: string, attempt: number, stage = "train.grpo"): Promise<string> {
  const r = (await new MockActivityEnvironment().run(acts.submitStageJob, { campaignId, iteration: 1, stage, attempt })) as SubmitStageJobResult;
  return r.name;
}

async function untilRunning(name: string): Promise<void> {
  for (let waited = 0; (await stateOf(name)) !== "running"; waited += 100) {
    if (waited > 10_000) throw new Error(`job ${name} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stateOf(name: string, jobLauncher: JobLauncher = launcher): Promise<string> {
  const row = await getClusterJob(db.db, name);
  return (await jobLauncher.status({ launcher: jobLauncher.kind, name, externalId: row!.externalId! })).state;
}

test("attempt 2 of a training stage cancels attempt 1's job that still runs before it submits its own", { timeout: 60_000 }, async () => {
  const acts = activities();
  const campaignId = `attempts-${Date.now().toString(36)}`;
  const first = await submit(acts, campaignId, 1);
  await untilRunning(first);

  const second = await submit(acts, campaignId, 2);
  assert.equal(await stateOf(first), "cancelled", "attempt 1's job no longer runs");
  const row = await getClusterJob(db.db, first);
  assert.equal(row?.state, "cancelled");
  assert.match(row?.message ?? "", /attempt 2 \(.*-a2\) replaces it/);
  await untilRunning(second);
  // A retried submit of attempt 2 finds its job and cancels nothing.
  assert.equal(await submit(acts, campaignId, 2), second);
  assert.equal(await stateOf(second), "running");
  const ref = { launcher: "local" as const, name: second, externalId: (await getClusterJob(db.db, second))!.externalId! };
  await launcher.cancel(ref);
});

test("attempt 2 of serve.policy stops attempt 1's server that still serves, and its served version reads stopped", { timeout: 60_000 }, async () => {
  const acts = activities(launcher, ["sleep", "300"], "serve.policy");
  const campaignId = `attempts-serve-${Date.now().toString(36)}`;
  const first = await submit(acts, campaignId, 1, "serve.policy");
  await untilRunning(first);
  // Attempt 1 served and was registered, then its stage failed (e.g. a later check of its collect).
  await upsertModelVersion(db.db, {
    campaignId,
    iteration: 1,
    kind: "served",
    baseModel: "base",
    url: "http://127.0.0.1:8000/v1",
    servedModel: `${campaignId}-iter-1`,
    jobName: first,
  });

  const second = await submit(acts, campaignId, 2, "serve.policy");
  // Before, attempt 1's server ran on beside attempt 2's: on a fixed port it answered attempt 2's readiness check with the old weights.
  assert.equal(await stateOf(first), "cancelled", "attempt 1's server no longer runs");
  assert.match((await getClusterJob(db.db, first))?.message ?? "", /attempt 2 \(.*-a2\) replaces it/);
  assert.ok((await getModelVersion(db.db, campaignId, 1, "served"))?.stoppedAt, "the version attempt 1 served is recorded as stopped");
  await untilRunning(second);
  await launcher.cancel({ launcher: "local" as const, name: second, externalId: (await getClusterJob(db.db, second))!.externalId! });
});

test("on Ray, attempt 2 submits only once attempt 1's job has ended, also one that ignores SIGTERM for Ray's 3 s", { timeout: 120_000 }, async () => {
  const head = await startRayHead({ log: () => undefined });
  stops.push(() => head.stop());
  const ray = new RayJobsLauncher({ kind: "ray", address: head.address, headers: {} }, { log: () => undefined });
  const marker = `tl-attempts-ray-${process.pid}`;
  const script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(300)";
  const acts = activities(ray, ["python3", "-c", script, marker]);
  const campaignId = `attempts-ray-${Date.now().toString(36)}`;
  const first = await submit(acts, campaignId, 1);
  for (let waited = 0; !runningProcess(marker); waited += 100) {
    if (waited > 30_000) throw new Error(`job ${first}'s process did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const second = await submit(acts, campaignId, 2);
  // Before, Ray still ran attempt 1's job here (its stop answered at once), next to attempt 2's over the same folder.
  assert.equal(await stateOf(first, ray), "cancelled", "Ray reports attempt 1's job ended when attempt 2 is submitted");
  assert.equal((await getClusterJob(db.db, first))?.state, "cancelled");
  const secondId = (await getClusterJob(db.db, second))!.externalId!;
  const ref = { launcher: "ray" as const, name: second, externalId: secondId };
  await ray.cancel(ref);
  assert.equal(runningProcess(marker), false, "no process of either attempt is left");
});

/** Whether a live process's command line holds the marker. */
function runningProcess(marker: string): boolean {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker) && !/\) Z /.test(fs.readFileSync(`/proc/${entry}/stat`, "utf8"))) return true;
    } catch {
      // Ended while we looked.
    }
  }
  return false;
}
