/**
 * The Slurm launcher against a real single-node Slurm (Debian's slurm-wlm: munged, slurmctld and
 * slurmd on loopback, started and stopped here; see test/helpers/slurmCluster.ts). Jobs are small
 * shell commands; "the scheduler's own job list" is squeue's.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { JobLauncher, JobRef, JobRequest, JobStatus } from "../../src/training/launchers/launcher.js";
import { JobRefusedError, TERMINAL_JOB_STATES } from "../../src/training/launchers/launcher.js";
import { SlurmLauncher } from "../../src/training/launchers/slurm.js";
import { slurmBatchScript } from "../../src/training/launchers/slurmBatchScript.js";
import { installRoot } from "../../src/training/paths.js";
import { startSlurmCluster, type SlurmCluster } from "../helpers/slurmCluster.js";
import { submitThenKill } from "../helpers/submitThenKill.js";

let root: string;
let cluster: SlurmCluster;
let launcher: SlurmLauncher;
const logs: string[] = [];

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-slurm-launcher-"));
  cluster = await startSlurmCluster({ dir: path.join(root, "cluster"), log: (m) => logs.push(m) });
  process.env.SLURM_CONF = cluster.confPath;
  launcher = new SlurmLauncher(
    { kind: "slurm", partition: cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: ["export SETUP_RAN=yes"] },
    { log: (m) => logs.push(m) },
  );
});

after(async () => {
  await cluster?.stop();
  delete process.env.SLURM_CONF;
  fs.rmSync(root, { recursive: true, force: true });
});

function request(name: string, script: string, extra: Partial<JobRequest> = {}): JobRequest {
  return {
    name,
    command: ["sh", "-c", script],
    env: { JOB_GREETING: "hello, from env" },
    workDir: path.join(root, "work", name),
    resources: { nodes: 1, gpusPerNode: 0 },
    ...extra,
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logs.slice(-10).join("\n")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const untilTerminal = (l: JobLauncher, ref: JobRef) =>
  waitFor(`job ${ref.name} to end`, async () => {
    const s = await l.status(ref);
    return TERMINAL_JOB_STATES.has(s.state) ? s : undefined;
  });

const untilRunning = (l: JobLauncher, ref: JobRef) =>
  waitFor(`job ${ref.name} to run`, async () => ((await l.status(ref)).state === "running" ? true : undefined));

/** squeue's own list (every state the controller remembers): job ids with this name. */
function squeueIds(name: string): string[] {
  const out = execFileSync("squeue", ["--noheader", "--states=all", `--name=${name}`, "--format=%i"], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

test("slurm launcher: a job succeeds; its output, the job env and the setup lines reach it", async () => {
  const { ref, submitted } = await launcher.submit(request("ok-job", 'echo "out: $JOB_GREETING setup=$SETUP_RAN"; echo "err line" >&2; exit 0'));
  assert.equal(submitted, true);
  assert.equal(ref.launcher, "slurm");
  assert.match(ref.externalId, /^\d+$/);
  const status = await untilTerminal(launcher, ref);
  assert.equal(status.state, "succeeded");
  assert.equal(status.exitCode, 0);
  assert.deepEqual(status.nodes, [cluster.nodeName]);
  const out = await launcher.logs(ref);
  assert.match(out, /out: hello, from env setup=yes/);
  assert.match(out, /err line/);
  assert.ok(fs.existsSync(path.join(root, "work", "ok-job", `ok-job-${ref.externalId}.log`)));
  assert.equal(await launcher.logs(ref, { tailBytes: 9 }), "err line\n");
  // Finished jobs are still found by name.
  assert.deepEqual(await launcher.find("ok-job"), ref);
});

test("slurm launcher: a failing job reports its exit code", async () => {
  const { ref } = await launcher.submit(request("failing-job", "echo about to fail; exit 3"));
  const status = await untilTerminal(launcher, ref);
  assert.equal(status.state, "failed");
  assert.equal(status.exitCode, 3);
  assert.match(status.message ?? "", /FAILED/);
  assert.match(await launcher.logs(ref), /about to fail/);
});

test("slurm launcher: observe a running job, read its logs, cancel it", async () => {
  const { ref } = await launcher.submit(request("long-job", "echo started; exec sleep 300"));
  await untilRunning(launcher, ref);
  await waitFor("the job's first output", async () => ((await launcher.logs(ref)).includes("started") ? true : undefined));
  await launcher.cancel(ref);
  const status = await launcher.status(ref);
  assert.equal(status.state, "cancelled");
  // Cancelling an ended job leaves it as it is.
  await launcher.cancel(ref);
  assert.equal((await launcher.status(ref)).state, "cancelled");
});

test("slurm launcher: a job Slurm requeues (preemption, node failure) keeps its earlier run's output, and its log says which run follows", async () => {
  const { ref } = await launcher.submit(request("requeued-job", 'echo "run with restart count ${SLURM_RESTART_COUNT:-0}"; exec sleep 300'));
  await untilRunning(launcher, ref);
  await waitFor("the first run's output", async () => ((await launcher.logs(ref)).includes("restart count 0") ? true : undefined));
  // What a preemption with PreemptMode=REQUEUE does; Slurm then holds the job a while (BeginTime): release it now.
  execFileSync("scontrol", ["requeue", ref.externalId]);
  await waitFor("the job to be requeued", async () => ((await launcher.status(ref)).state === "pending" ? true : undefined));
  execFileSync("scontrol", ["update", `JobId=${ref.externalId}`, "StartTime=now"]);
  await waitFor("the second run's output", async () => ((await launcher.logs(ref)).includes("restart count 1") ? true : undefined));
  const log = await launcher.logs(ref);
  assert.match(log, /run with restart count 0[\s\S]*requeued by Slurm[\s\S]*run with restart count 1/);
  assert.match(log, new RegExp(`job ${ref.externalId} on \\S+ \\(run 2: requeued by Slurm\\)`));
  await launcher.cancel(ref);
});

test("slurm launcher: a policy server with port 0 picks its port on the node (serve_on_node_port.py) and is reached at the port it wrote", async () => {
  const workDir = path.join(root, "work", "serve-port-job");
  fs.mkdirSync(workDir, { recursive: true });
  const portFile = path.join(workDir, "policy-server-a1.port");
  const wrapper = path.join(installRoot(), "trainer", "serve", "serve_on_node_port.py");
  // What serve.policy submits for vLLM, with a small HTTP server in vLLM's place (on loopback: this test cluster is one machine).
  const serve = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", workDir];
  const { ref } = await launcher.submit({ ...request("serve-port-job", ""), workDir, command: ["python3", wrapper, portFile, "127.0.0.1", "--", ...serve] });
  try {
    const status = await untilRunning(launcher, ref).then(() => launcher.status(ref));
    const port = await waitFor("the port file", async () =>
      fs.existsSync(portFile) ? Number(fs.readFileSync(portFile, "utf8").trim()) || undefined : undefined,
    );
    const node = status.nodes?.[0];
    assert.ok(node, "Slurm names the job's node");
    assert.match(await launcher.logs(ref), new RegExp(`\\[toolloop serve\\] \\S+: port ${port} \\(a free port\\)`));
    const answered = await waitFor("the server to answer", async () =>
      fetch(`http://127.0.0.1:${port}/policy-server-a1.port`).then(
        async (r) => (r.ok ? (await r.text()).trim() : undefined),
        () => undefined,
      ),
    );
    assert.equal(answered, String(port), "the server the job runs listens on the port it wrote");
  } finally {
    await launcher.cancel(ref);
  }
});

test("slurm launcher: the same name submitted twice (concurrently, then again) gives one job", async () => {
  const req = request("twice-job", "sleep 300");
  const other = new SlurmLauncher(
    { kind: "slurm", partition: cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: () => undefined },
  );
  const [a, b] = await Promise.all([launcher.submit(req), other.submit(req)]);
  assert.deepEqual([a.submitted, b.submitted].sort(), [false, true]);
  assert.equal(a.ref.externalId, b.ref.externalId);
  const again = await launcher.submit(req);
  assert.equal(again.submitted, false);
  assert.equal(again.ref.externalId, a.ref.externalId);
  assert.deepEqual(squeueIds("twice-job"), [a.ref.externalId]);
  await launcher.cancel(a.ref);
});

test("slurm launcher: racing submits that share no work folder (no lock) still leave one job that runs", async (t) => {
  const racers = [0, 1, 2].map(
    () =>
      new SlurmLauncher({ kind: "slurm", partition: cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: [] }, { log: (m) => logs.push(m) }),
  );
  const results = await Promise.all(
    racers.map((l, i) => l.submit(request("race-job", "echo ran; exec sleep 300", { workDir: path.join(root, "work", `race-${i}`) }))),
  );
  const ids = new Set(results.map((r) => r.ref.externalId));
  assert.equal(ids.size, 1, "every racer returns the same job");
  assert.equal(results.filter((r) => r.submitted).length, 1);
  const [kept] = [...ids];
  await untilRunning(launcher, { launcher: "slurm", name: "race-job", externalId: kept! });
  // Any duplicate the race produced was cancelled while it waited on the singleton dependency: it never ran.
  for (const id of squeueIds("race-job").filter((id) => id !== kept)) {
    const s = await launcher.status({ launcher: "slurm", name: "race-job", externalId: id });
    assert.equal(s.state, "cancelled");
    assert.equal(fs.existsSync(path.join(root, "work", "race-0", `race-job-${id}.log`)), false);
  }
  t.diagnostic(`race-job: ${squeueIds("race-job").length} job(s) in squeue for 3 racing submits (duplicates cancelled before they ran)`);
  await launcher.cancel({ launcher: "slurm", name: "race-job", externalId: kept! });
});

test("slurm launcher: a worker killed -9 right after submit returns; a fresh launcher finds the job and never submits a second", async () => {
  const req = request("kill9-job", "echo kill9 running; exec sleep 300");
  const { externalId, submitted } = await submitThenKill({ kind: "slurm", partition: cluster.partition }, req);
  assert.equal(submitted, true);

  const fresh = new SlurmLauncher(
    { kind: "slurm", partition: cluster.partition, extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
    { log: () => undefined },
  );
  const found = await fresh.find("kill9-job");
  assert.deepEqual(found, { launcher: "slurm", name: "kill9-job", externalId });
  const again = await fresh.submit(req);
  assert.equal(again.submitted, false);
  assert.equal(again.ref.externalId, externalId);
  assert.deepEqual(squeueIds("kill9-job"), [externalId]);
  await untilRunning(fresh, found);
  await waitFor("the job's output", async () => ((await fresh.logs(found)).includes("kill9 running") ? true : undefined));
  await fresh.cancel(found);
  assert.equal((await fresh.status(found)).state, "cancelled");
  assert.deepEqual(squeueIds("kill9-job"), [externalId]);
});

test("slurm launcher: a job the controller forgot is still never submitted twice (the launcher's note in workDir)", async () => {
  const req = request("noted-job", "true");
  fs.mkdirSync(req.workDir, { recursive: true });
  // As if it had been submitted long ago as job 999999 and purged (no accounting on this cluster).
  fs.writeFileSync(path.join(req.workDir, "noted-job.slurm-jobid"), "999999\n");
  const { ref, submitted } = await launcher.submit(req);
  assert.equal(submitted, false);
  assert.equal(ref.externalId, "999999");
  const status: JobStatus = await launcher.status(ref);
  assert.equal(status.state, "lost");
  assert.deepEqual(squeueIds("noted-job"), []);
});

test("slurm launcher: unknown names and bad input", async () => {
  assert.equal(await launcher.find("never-submitted"), undefined);
  await assert.rejects(launcher.find("Bad Name"), /invalid job name/);
  await assert.rejects(launcher.status({ launcher: "slurm", name: "x", externalId: "12; rm" }), /not a Slurm job id/);
  await assert.rejects(
    new SlurmLauncher(
      { kind: "slurm", partition: "no-such-partition", extraSbatchArgs: [], rayPort: 6379, setupCommands: [] },
      { log: () => undefined },
    ).submit(request("bad-partition", "true")),
    (err: Error) => {
      // Refused as configured: not retried (activities/failurePolicy.ts), and the setting to change is named.
      assert.ok(err instanceof JobRefusedError, String(err));
      assert.match(err.message, /sbatch refused job bad-partition: cluster\.launcher\.partition "no-such-partition" is not a partition of this Slurm cluster/);
      assert.match(err.message, /sbatch said: .*invalid partition/i);
      return true;
    },
  );
  // The test cluster's node has no GPUs.
  await assert.rejects(launcher.submit(request("gpu-job", "true", { resources: { nodes: 1, gpusPerNode: 8 } })), (err: Error) => {
    assert.ok(err instanceof JobRefusedError, String(err));
    assert.match(err.message, /no "gpu" generic resource for --gres=gpu:8 \(the stage's nGpusPerNode/);
    return true;
  });
  await assert.rejects(
    new SlurmLauncher(
      { kind: "slurm", partition: cluster.partition, extraSbatchArgs: ["--no-such-option"], rayPort: 6379, setupCommands: [] },
      { log: () => undefined },
    ).submit(request("bad-option", "true")),
    (err: Error) => err instanceof JobRefusedError && /cluster\.launcher\.extraSbatchArgs holds an option/.test(err.message),
  );
  assert.deepEqual(squeueIds("gpu-job"), []);
});

test("slurm batch script: one node runs the command; several nodes follow verl's Ray-on-Slurm pattern (syntax checked by bash -n)", () => {
  const single = slurmBatchScript(request("single", "echo 'quoted'"), { setupCommands: ["module load cuda"], rayPort: 6379, python: "python3" });
  assert.match(single, /^module load cuda$/m);
  // exec'd: the command is the batch step's main process (it gets KillWait's grace on scancel: e2e/slurmTermGrace).
  assert.match(single, /^exec sh -c 'echo '"'"'quoted'"'"''$/m);
  assert.doesNotMatch(single, /ray start/);
  const multi = slurmBatchScript(
    request("multi", "python3 -m verl.trainer.main_ppo trainer.nnodes=2", { resources: { nodes: 2, gpusPerNode: 8, cpusPerTask: 32 } }),
    {
      setupCommands: [],
      rayPort: 6380,
      python: "python3",
    },
  );
  assert.match(
    multi,
    /srun --nodes=1 --ntasks=1 -w "\$head_node" ray start --head --node-ip-address="\$head_node_ip" --port="\$ray_port" --num-cpus=32 --num-gpus=8 --block &/,
  );
  assert.match(multi, /ray start --address="\$ip_head" --num-cpus=32 --num-gpus=8 --block &/);
  assert.match(multi, /^ray_port=6380$/m);
  assert.match(multi, /^export RAY_ADDRESS="\$ip_head"$/m);
  assert.match(multi, /srun --overlap --nodes=1 --ntasks=1 -w "\$head_node" sh -c 'python3 -m verl.trainer.main_ppo trainer.nnodes=2'$/m);
  for (const script of [single, multi]) {
    const file = path.join(root, `syntax-${script.length}.sh`);
    fs.writeFileSync(file, script);
    execFileSync("bash", ["-n", file]);
  }
});
