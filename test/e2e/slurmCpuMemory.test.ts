/**
 * A job's CPUs and memory (cpusPerTask, memPerNode) reach real Slurm (the private single-node cluster
 * of test/helpers/slurmCluster.ts): sbatch takes the batch script's #SBATCH lines, the controller shows
 * the request (scontrol), and the job sees it in its environment; extraSbatchArgs still win over the
 * lines, and memory no node has is refused naming the settings (more CPUs than the partition has is
 * accepted and left pending: see test/e2e/slurmNeverStarts.test.ts).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { JobRefusedError, TERMINAL_JOB_STATES, type JobRef, type JobRequest } from "../../src/training/launchers/launcher.js";
import { SlurmLauncher } from "../../src/training/launchers/slurm.js";
import { usePrivateSlurmCluster } from "../helpers/slurmCluster.js";

const slurm = usePrivateSlurmCluster("toolloop-slurm-cpumem-");
const logs = slurm.logs;

function launcher(extraSbatchArgs: string[] = []): SlurmLauncher {
  return new SlurmLauncher(
    { kind: "slurm", partition: slurm.cluster.partition, extraSbatchArgs, rayPort: 6379, setupCommands: [] },
    { log: (m) => logs.push(m) },
  );
}

function request(name: string, resources: JobRequest["resources"]): JobRequest {
  return {
    name,
    command: ["sh", "-c", 'echo "cpus=$SLURM_CPUS_PER_TASK mem=$SLURM_MEM_PER_NODE"'],
    env: {},
    workDir: path.join(slurm.root, "work", name),
    resources,
  };
}

function scontrolJob(id: string): Record<string, string> {
  const out = execFileSync("scontrol", ["show", "job", "--oneliner", id], { encoding: "utf8" });
  return Object.fromEntries(
    out
      .trim()
      .split(/\s+/)
      .map((f) => [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)]),
  );
}

async function ended(l: SlurmLauncher, ref: JobRef): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await l.status(ref);
    if (TERMINAL_JOB_STATES.has(s.state)) return s.state;
    if (Date.now() > deadline) throw new Error(`job ${ref.name} did not end\n${logs.slice(-10).join("\n")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test("cpusPerTask and memPerNode are asked of Slurm in #SBATCH lines: scontrol shows them and the job sees them", async () => {
  const l = launcher();
  const req = request("tl-cpumem", { nodes: 1, gpusPerNode: 0, cpusPerTask: 2, memPerNode: "100M" });
  const { ref } = await l.submit(req);
  const script = fs.readFileSync(path.join(req.workDir, `${req.name}.sbatch.sh`), "utf8");
  assert.match(script, /^#!\/bin\/bash\n#SBATCH --cpus-per-task=2\n#SBATCH --mem=100M\n/);
  const job = scontrolJob(ref.externalId);
  assert.equal(job.MinCPUsNode, "2");
  assert.equal(job.MinMemoryNode, "100M");
  assert.match(job.TRES ?? "", /cpu=2,mem=100M/);
  assert.equal(await ended(l, ref), "succeeded");
  const out = fs.readFileSync(path.join(req.workDir, `${req.name}-${ref.externalId}.log`), "utf8");
  assert.match(out, /^cpus=2 mem=100$/m);
});

test("extraSbatchArgs on sbatch's command line win over the #SBATCH lines", async () => {
  const l = launcher(["--mem=200M"]);
  const { ref } = await l.submit(request("tl-cpumem-extra", { nodes: 1, gpusPerNode: 0, cpusPerTask: 1, memPerNode: "100M" }));
  assert.equal(scontrolJob(ref.externalId).MinMemoryNode, "200M");
  assert.equal(await ended(l, ref), "succeeded");
});

test("more memory than any node has: sbatch refuses the job, and the error names the settings", async () => {
  await assert.rejects(launcher().submit(request("tl-cpumem-too-much", { nodes: 1, gpusPerNode: 0, memPerNode: "100T" })), (err: Error) => {
    assert.ok(err instanceof JobRefusedError, String(err));
    assert.match(
      err.message,
      /--mem=100T per node: the stage's nnodes, nGpusPerNode, cpusPerTask and memPerNode, cluster\.launcher\.cpusPerTask and memPerNode/,
    );
    assert.match(err.message, /Memory specification can not be satisfied/);
    return true;
  });
});
