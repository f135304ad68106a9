/**
 * A cancelled (or preempted) Slurm job's command gets Slurm's KillWait grace to stop cleanly: scancel
 * sends SIGTERM to the batch step, and a batch shell that waited for the command as its child died of
 * it at once, which ended the step and had Slurm kill the command with it mid-save. The single-node
 * script now `exec`s the command, so the command is the step's main process and ends it itself. The
 * multi-node script runs the command as a step of its own (srun from the batch shell): the shell dies of
 * the SIGTERM, which ends the job, but Slurm ends a job's other steps with SIGTERM and SIGKILL only
 * KillWait later, so the command gets its grace there too (checked here on one node).
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

/** A trainer that saves on SIGTERM, the save taking a second; it writes `started` once its handler is set. */
function savingTrainer(saved: string, started: string): string[] {
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
  return ["python3", "-c", script];
}

test("a cancelled job's command finishes its SIGTERM handler (a 1 s save) within KillWait", async () => {
  const name = "tl-slurm-term-grace";
  const workDir = path.join(slurm.root, "work", name);
  const saved = path.join(slurm.root, "saved");
  const started = path.join(slurm.root, "started");
  const launcher = new SlurmLauncher(
    { kind: "slurm" as const, partition: slurm.cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: (m) => logs.push(m) },
  );
  const { ref } = await launcher.submit({ name, command: savingTrainer(saved, started), env: {}, workDir, resources: { nodes: 1, gpusPerNode: 0 } });
  await until("the command to start", () => fs.existsSync(started));
  await launcher.cancel(ref);
  assert.equal(
    fs.existsSync(saved) ? fs.readFileSync(saved, "utf8") : "(not saved)",
    "saved",
    "the SIGTERM handler ran to its end before Slurm killed the job",
  );
});

test("a cancelled multi-node job's command (run by srun on the Ray head) finishes its 1 s save too", async () => {
  const name = "tl-slurm-term-grace-multi";
  const workDir = path.join(slurm.root, "work", name);
  const saved = path.join(slurm.root, "saved-multi");
  const started = path.join(slurm.root, "started-multi");
  // The cluster has one node, so the multi-node script (asked for 2 nodes) runs on one: extraSbatchArgs's
  // --nodes=1 comes after the launcher's --nodes=2 on sbatch's command line and wins. Ray itself is not
  // under test: stand-ins for `ray start --block` (a step that lives as long as the job) and for
  // cluster.python's node check (every node joined) keep the test off Ray's fixed default ports.
  const bin = path.join(slurm.root, "ray-stand-ins");
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, "ray"), "#!/bin/sh\nexec sleep 300\n", { mode: 0o755 });
  const nodeCheck = path.join(bin, "python-node-check");
  fs.writeFileSync(nodeCheck, '#!/bin/sh\nscontrol show hostnames "$SLURM_JOB_NODELIST" | wc -l\n', { mode: 0o755 });
  const launcher = new SlurmLauncher(
    {
      kind: "slurm" as const,
      partition: slurm.cluster.partition,
      extraSbatchArgs: ["--nodes=1"],
      rayPort: 6379,
      setupCommands: [`export PATH=${bin}:$PATH`],
    },
    { log: (m) => logs.push(m), python: nodeCheck },
  );
  const { ref } = await launcher.submit({ name, command: savingTrainer(saved, started), env: {}, workDir, resources: { nodes: 2, gpusPerNode: 0 } });
  const script = fs.readFileSync(path.join(workDir, `${name}.sbatch.sh`), "utf8");
  assert.match(script, /^srun --nodes=1 --ntasks=1 -w "\$head_node" ray start --head /m, "the multi-node script was submitted");
  await until("the command to start", () => fs.existsSync(started));
  await launcher.cancel(ref);
  const log = fs.readFileSync(path.join(workDir, `${name}-${ref.externalId}.log`), "utf8");
  assert.equal(
    fs.existsSync(saved) ? fs.readFileSync(saved, "utf8") : "(not saved)",
    "saved",
    `the SIGTERM handler ran to its end before Slurm killed the job; its log:\n${log}`,
  );
});
