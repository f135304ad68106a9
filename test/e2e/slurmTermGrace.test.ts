/**
 * A cancelled (or preempted) Slurm job's command gets Slurm's KillWait grace to stop cleanly: scancel
 * sends SIGTERM to the batch step, and a batch shell that waited for the command as its child died of
 * it at once, which ended the step and had Slurm kill the command with it mid-save. The single-node
 * script now `exec`s the command, so the command is the step's main process and ends it itself.
 * Against the private single-node Slurm of test/helpers/slurmCluster.ts (KillWait=5).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { SlurmLauncher } from "../../src/training/launchers/slurm.js";
import { usePrivateSlurmCluster } from "../helpers/slurmCluster.js";

const slurm = usePrivateSlurmCluster("toolloop-slurm-term-");
const logs = slurm.logs;

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logs.slice(-10).join("\n")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("a cancelled job's command finishes its SIGTERM handler (a 1 s save) within KillWait", async () => {
  const name = "tl-slurm-term-grace";
  const workDir = path.join(slurm.root, "work", name);
  const saved = path.join(slurm.root, "saved");
  const started = path.join(slurm.root, "started");
  // A trainer that saves on SIGTERM, the save taking a second.
  const script = [
    "import signal, sys, time",
    "def save(*_):",
    "    time.sleep(1)",
    `    open(${JSON.stringify(saved)}, "w").write("saved")`,
    "    sys.exit(0)",
    "signal.signal(signal.SIGTERM, save)",
    `open(${JSON.stringify(started)}, "w").write("up")`,
    "time.sleep(300)",
  ].join("\n");
  const launcher = new SlurmLauncher(
    { kind: "slurm" as const, partition: slurm.cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: (m) => logs.push(m) },
  );
  const { ref } = await launcher.submit({ name, command: ["python3", "-c", script], env: {}, workDir, resources: { nodes: 1, gpusPerNode: 0 } });
  await until("the command to start", () => fs.existsSync(started));
  await launcher.cancel(ref);
  assert.equal(
    fs.existsSync(saved) ? fs.readFileSync(saved, "utf8") : "(not saved)",
    "saved",
    "the SIGTERM handler ran to its end before Slurm killed the job",
  );
});
