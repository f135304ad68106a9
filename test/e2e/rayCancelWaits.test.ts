/**
 * Cancelling a Ray job returns only once Ray reports it ended (against a real local Ray head): Ray's
 * stop route only asks the job's supervisor to stop it (SIGTERM, then SIGKILL after
 * RAY_JOB_STOP_WAIT_TIME_S, 3 s by default), and the job runs on until then. A caller that submits
 * the next attempt right after the cancel must not find the old job still writing its checkpoints.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { JobRef, JobState } from "../../src/training/launchers/launcher.js";
import { RayJobsLauncher } from "../../src/training/launchers/ray.js";
import { startRayHead, type RayHead } from "../helpers/rayCluster.js";

let head: RayHead;
let launcher: RayJobsLauncher;
const logLines: string[] = [];

before(async () => {
  head = await startRayHead({ log: console.log });
  launcher = new RayJobsLauncher({ kind: "ray", address: head.address, headers: {} }, { log: (m) => logLines.push(m) });
});

after(async () => {
  await head?.stop();
});

/** Processes whose command line holds this marker (the job's own process, not Ray's). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker)) pids.push(Number(entry));
    } catch {
      // Ended while we looked.
    }
  }
  return pids;
}

async function waitForState(ref: JobRef, state: JobState, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await launcher.status(ref)).state !== state) {
    if (Date.now() > deadline) throw new Error(`job ${ref.name} did not reach ${state} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("cancel returns once Ray reports the job ended, also for a job that ignores SIGTERM (Ray kills it 3 s later)", async () => {
  const marker = `tl-ray-cancel-waits-${process.pid}`;
  const workDir = fs.mkdtempSync(path.join(head.tempDir, "cancel-waits-"));
  // Ignores SIGTERM as a trainer finishing a checkpoint write would take a while: Ray's SIGKILL ends it.
  // It says it is up (a file) only once SIGTERM is ignored: a cancel before that would end it at once.
  const ready = path.join(workDir, "sigterm-ignored");
  const script = `import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open(${JSON.stringify(ready)}, "w").close(); print('up', flush=True); time.sleep(300)`;
  const { ref } = await launcher.submit({
    name: "tl-ray-cancel-waits",
    command: ["python3", "-c", script, marker],
    env: {},
    workDir,
    resources: { nodes: 1, gpusPerNode: 0 },
  });
  await waitForState(ref, "running");
  const deadline = Date.now() + 30_000;
  while (processesWith(marker).length === 0 || !fs.existsSync(ready)) {
    assert.ok(Date.now() < deadline, "the job's process never appeared, or never ignored SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
  }
  const started = Date.now();
  await launcher.cancel(ref);
  const waited = Date.now() - started;
  // Right after cancel returns: ended by Ray's account and in fact (before, it was still RUNNING here for about 3 s).
  const status = await launcher.status(ref);
  assert.equal(status.state, "cancelled", `status right after cancel: ${status.state} (${status.message ?? ""})`);
  assert.deepEqual(processesWith(marker), [], "the job's process is gone when cancel returns");
  assert.ok(waited >= 2_000, `cancel waited ${waited} ms for Ray's SIGKILL after the ignored SIGTERM`);
  assert.ok(
    logLines.some((l) => /stopped job tl-ray-cancel-waits: STOPPED after \d+ ms/.test(l)),
    logLines.join("\n"),
  );
  // A job that has ended is left as it is, without waiting.
  const again = Date.now();
  await launcher.cancel(ref);
  assert.ok(Date.now() - again < 2_000);
  assert.equal((await launcher.status(ref)).state, "cancelled");
});
