/**
 * The multi-node Slurm batch script's Ray join check: it runs with the campaign's `cluster.python`,
 * and what that check prints on stderr reaches the job log. The script is run by bash against fake
 * scontrol, srun, hostname and ray commands (srun runs its command on this machine) and fake
 * interpreters, so the check's shell is exercised as Slurm would run it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createLauncher } from "../../../src/training/launchers/index.js";
import type { JobRequest } from "../../../src/training/launchers/launcher.js";
import { slurmBatchScript } from "../../../src/training/launchers/slurmBatchScript.js";

let root: string;
let fakeBin: string;

function writeExecutable(file: string, text: string): string {
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-slurm-script-"));
  fakeBin = path.join(root, "bin");
  fs.mkdirSync(fakeBin);
  writeExecutable(path.join(fakeBin, "scontrol"), '#!/bin/bash\n[ "$1 $2" = "show hostnames" ] && printf "node-a\\nnode-b\\n"\n');
  writeExecutable(path.join(fakeBin, "hostname"), '#!/bin/bash\necho "10.1.2.3 fe80::1"\n');
  // Ray's daemons: nothing to start here.
  writeExecutable(path.join(fakeBin, "ray"), "#!/bin/bash\nexit 0\n");
  // srun: drop its own options (and -w's node), run the rest here.
  writeExecutable(
    path.join(fakeBin, "srun"),
    '#!/bin/bash\nwhile [ $# -gt 0 ]; do case "$1" in -w) shift 2 ;; --*) shift ;; *) break ;; esac; done\nexec "$@"\n',
  );
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

function request(name: string, nodes: number): JobRequest {
  return {
    name,
    command: ["sh", "-c", 'echo "trained against $RAY_ADDRESS"'],
    env: {},
    workDir: path.join(root, "work", name),
    resources: { nodes, gpusPerNode: 8, cpusPerTask: 16 },
  };
}

function runScript(script: string): { code: number | null; stdout: string; stderr: string; ms: number } {
  const file = path.join(root, `job-${Math.random().toString(36).slice(2)}.sh`);
  fs.writeFileSync(file, script);
  const started = Date.now();
  const r = spawnSync("bash", [file], {
    encoding: "utf8",
    timeout: 60_000,
    env: { PATH: `${fakeBin}:${process.env.PATH}`, SLURM_JOB_ID: "77", SLURM_JOB_NODELIST: "node-[a-b]", HOME: root },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

test("the Ray join check runs cluster.python (quoted), not python3 from PATH, and keeps its errors", () => {
  const script = slurmBatchScript(request("multi", 2), { setupCommands: [], rayPort: 6379, python: "/opt/venvs/ray env/bin/python" });
  assert.match(script, /^ray_python='\/opt\/venvs\/ray env\/bin\/python'$/m);
  assert.match(script, /srun --overlap --nodes=1 --ntasks=1 -w "\$head_node" "\$ray_python" -c 'import ray; ray\.init\(\); print/);
  assert.doesNotMatch(script, / python3 -c/);
  assert.doesNotMatch(script, /2>\/dev\/null/);
  assert.match(script, /2>"\$ray_check_err"/);
  assert.match(script, /^# Wait \(at most 10 minutes\)/m);
  assert.equal(spawnSync("bash", ["-n", "-c", script]).status, 0, "bash -n accepts the script");
  // One node runs no Ray check at all.
  assert.doesNotMatch(slurmBatchScript(request("single", 1), { setupCommands: [], rayPort: 6379, python: "/opt/py" }), /ray_python|ray start/);
});

test("an interpreter without ray: the job ends at once, and its log says why (the check's last error line)", () => {
  const python = writeExecutable(
    path.join(root, "python-without-ray"),
    '#!/bin/bash\necho "Traceback (most recent call last):" >&2\necho "  File \\"<string>\\", line 1, in <module>" >&2\necho "ModuleNotFoundError: No module named \'ray\'" >&2\nexit 1\n',
  );
  const r = runScript(slurmBatchScript(request("no-ray", 2), { setupCommands: [], rayPort: 6379, python }));
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.ms < 20_000, `gave up after ${r.ms} ms instead of at once`);
  assert.match(r.stderr, /\[toolloop\] only 0 of 2 Ray nodes joined/);
  assert.match(
    r.stderr,
    /the Ray node check \(.*python-without-ray -c 'import ray; \.\.\.' on node-a\) last failed with: ModuleNotFoundError: No module named 'ray'/,
  );
  assert.match(r.stderr, /check that cluster\.python \(.*python-without-ray\) can import ray/);
  assert.doesNotMatch(r.stdout, /trained against/);
});

test("a check that keeps failing for another reason waits the whole time, then reports its last error", () => {
  const calls = path.join(root, "calls");
  const python = writeExecutable(
    path.join(root, "python-no-cluster"),
    `#!/bin/bash\necho call >> ${JSON.stringify(calls)}\necho "2026-12-06 INFO worker.py: Connecting to existing Ray cluster at address: $RAY_ADDRESS" >&2\necho "ConnectionError: could not reach the GCS at $RAY_ADDRESS" >&2\nexit 1\n`,
  );
  const r = runScript(slurmBatchScript(request("no-cluster", 2), { setupCommands: [], rayPort: 6400, python, rayJoinWaitSeconds: 10 }));
  assert.equal(r.code, 1, r.stderr);
  assert.equal(fs.readFileSync(calls, "utf8").trim().split("\n").length, 2, "checked every 5 s for 10 s");
  assert.match(r.stderr, /only 0 of 2 Ray nodes joined/);
  assert.match(r.stderr, /last failed with: ConnectionError: could not reach the GCS at 10\.1\.2\.3:6400$/m);
});

test("once every node is alive, the command runs on the head node with RAY_ADDRESS set", () => {
  const python = writeExecutable(path.join(root, "python-with-ray"), '#!/bin/bash\n[ "$1" = "-c" ] || exit 3\necho "INFO: connected" >&2\necho 2\n');
  const r = runScript(slurmBatchScript(request("joined", 2), { setupCommands: [], rayPort: 6379, python }));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^trained against 10\.1\.2\.3:6379$/m);
  assert.doesNotMatch(r.stderr, /Ray nodes joined|last failed/);
});

test("the Slurm launcher writes cluster.python into the batch script it submits", async () => {
  const slurmBin = path.join(root, "slurm-bin");
  fs.mkdirSync(slurmBin);
  writeExecutable(path.join(slurmBin, "squeue"), "#!/bin/bash\nexit 0\n");
  writeExecutable(path.join(slurmBin, "sacct"), "#!/bin/bash\nexit 0\n");
  writeExecutable(path.join(slurmBin, "sbatch"), "#!/bin/bash\necho 4242\n");
  const launcher = createLauncher(
    { kind: "slurm", binDir: slurmBin, extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: () => undefined, python: "/srv/ray-venv/bin/python" },
  );
  const req = request("submitted", 2);
  const { ref } = await launcher.submit(req);
  assert.equal(ref.externalId, "4242");
  const script = fs.readFileSync(path.join(req.workDir, `${req.name}.sbatch.sh`), "utf8");
  assert.match(script, /^ray_python=\/srv\/ray-venv\/bin\/python$/m);
});

test("CPUs and memory are #SBATCH lines before any command (sbatch stops reading them at the first); none without them", () => {
  const base = request("sized", 1);
  const script = slurmBatchScript(
    { ...base, resources: { ...base.resources, cpusPerTask: 16, memPerNode: "64G" } },
    { setupCommands: ["module load cuda"], rayPort: 6379, python: "python3" },
  );
  const lines = script.split("\n");
  assert.deepEqual(lines.slice(0, 3), ["#!/bin/bash", "#SBATCH --cpus-per-task=16", "#SBATCH --mem=64G"]);
  const firstCommand = lines.findIndex((l) => l.trim() !== "" && !l.startsWith("#"));
  assert.ok(Math.max(...lines.map((l, i) => (l.startsWith("#SBATCH") ? i : -1))) < firstCommand);
  const plain = slurmBatchScript({ ...base, resources: { nodes: 1, gpusPerNode: 0 } }, { setupCommands: [], rayPort: 6379, python: "python3" });
  assert.doesNotMatch(plain, /#SBATCH/);
});

test("memPerNode is refused at submit unless it is sbatch's --mem syntax (it becomes an #SBATCH line)", async () => {
  const launcher = createLauncher({ kind: "slurm", extraSbatchArgs: [], rayPort: 6379, setupCommands: [], binDir: fakeBin }, { log: () => undefined });
  const base = request("bad-mem", 1);
  for (const memPerNode of ["64 G", "64G\n#SBATCH --uid=0", "-1", "64GB"]) {
    await assert.rejects(launcher.submit({ ...base, resources: { ...base.resources, memPerNode } }), (err: Error) => {
      assert.match(err.message, /^job bad-mem: resources\.memPerNode .* is not sbatch's --mem value \(e\.g\. "64G"\)$/);
      return true;
    });
  }
});
