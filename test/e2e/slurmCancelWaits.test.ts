/**
 * Cancelling a Slurm job returns once the controller reports it ended (against the private single-node
 * Slurm of test/helpers/slurmCluster.ts, KillWait=5): scancel only asks, and a job that ignores SIGTERM
 * runs on until Slurm's SIGKILL, shown as COMPLETING meanwhile. Past the launcher's bound, cancel fails
 * with an error saying what the controller reports, instead of returning as if the job had ended.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import type { JobRef } from "../../src/training/launchers/launcher.js";
import { SlurmLauncher } from "../../src/training/launchers/slurm.js";
import { usePrivateSlurmCluster } from "../helpers/slurmCluster.js";

const slurm = usePrivateSlurmCluster("toolloop-slurm-cancel-");
const logs = slurm.logs;
// The batch script itself ignores SIGTERM (inherited by the job's command): otherwise its end ends the step at once.
const config = () => ({ kind: "slurm" as const, partition: slurm.cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: ["trap '' TERM"] });

/** Whether a process whose command line holds the marker is alive (the job's own, not Slurm's). */
function alive(marker: string): boolean {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmd.includes(marker) && !fs.readFileSync(`/proc/${entry}/stat`, "utf8").includes(") Z ")) return true;
    } catch {
      // Ended while we looked.
    }
  }
  return false;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logs.slice(-10).join("\n")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("cancel waits for a job that ignores SIGTERM to be killed; past its bound it fails saying what Slurm reports", async () => {
  const marker = `tl-slurm-cancel-waits-${process.pid}`;
  const name = "tl-slurm-cancel-waits";
  const workDir = path.join(slurm.root, "work", name);
  // SIGTERM ignored, inherited by the exec'd python: only Slurm's SIGKILL, KillWait (5 s) later, ends it.
  const script = "import time; print('up', flush=True); time.sleep(300)";
  const request = {
    name,
    command: ["sh", "-c", `trap '' TERM; exec python3 -c "$0" ${marker}`, script],
    env: {},
    workDir,
    resources: { nodes: 1, gpusPerNode: 0 },
  };
  const quick = new SlurmLauncher(config(), { log: (m) => logs.push(m), stopWaitMs: 1_000 });
  const { ref } = await quick.submit(request);
  await until("the job's process", () => alive(marker));

  const asked = Date.now();
  await assert.rejects(quick.cancel(ref), (err: Error) => {
    assert.equal(err.name, "JobStopTimeout");
    assert.match(
      err.message,
      new RegExp(
        `Slurm job ${ref.externalId} \\(${name}\\) was cancelled \\(scancel\\) 1 s ago and the controller still reports it (COMPLETING|CANCELLING|RUNNING)`,
      ),
    );
    return true;
  });
  assert.ok(alive(marker), "the job still runs when the bound is reached");

  // The retry's cancel (the default bound) returns only once the job has ended, processes and all.
  const patient = new SlurmLauncher(config(), { log: (m) => logs.push(m) });
  await patient.cancel(ref as JobRef);
  const status = await patient.status(ref);
  assert.equal(status.state, "cancelled", status.message);
  assert.equal(alive(marker), false, "no process of the job is left when cancel returns");
  assert.ok(Date.now() - asked >= 4_000, "KillWait (5 s) passed before it ended");
});
