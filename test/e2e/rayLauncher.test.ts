/**
 * The Ray launcher against a real local Ray head (ray[default] from .venv-ray, started by the test):
 * submit, watch it run, read its logs (a long log's tail through the state API, only its last lines), cancel, fail with an exit code, succeed; the same name submitted
 * twice (one after the other, and racing) is one job; and a worker SIGKILLed the moment its submit call
 * returned leaves one job that a fresh launcher finds by name, checked on Ray's own job list.
 * The jobs are small shell commands (no trainer here).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import type { JobRef, JobRequest, JobState, JobStatus } from "../../src/training/launchers/launcher.js";
import { launcherConfigSchema } from "../../src/training/launchers/config.js";
import { RayJobsLauncher, tailOf, type RayLauncherConfig } from "../../src/training/launchers/ray.js";
import { installRoot } from "../../src/training/paths.js";
import { startRayHead, type RayHead } from "../helpers/rayCluster.js";

const submitOnceScript = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../helpers/raySubmitOnce.js");
const fileStarted = Date.now();
let head: RayHead;
let launcher: RayJobsLauncher;
let config: RayLauncherConfig;
let baseDir: string;
const logLines: string[] = [];
const log = (m: string) => logLines.push(m);

before(async () => {
  head = await startRayHead({ log: console.log });
  config = {
    kind: "ray",
    address: head.address,
    headers: {},
    runtimeEnv: { envVars: { TOOLLOOP_CLUSTER_VAR: "from-config", TOOLLOOP_JOB_VAR: "overridden" } },
  };
  launcher = new RayJobsLauncher(config, { log });
  // A space and a quote in the work folder's name: the entrypoint's quoting is exercised for real.
  baseDir = fs.mkdtempSync(path.join(head.tempDir, "work dir's-"));
});

after(async () => {
  await head?.stop();
  console.log(`[ray-launcher test] Ray head started in ${head?.startupMs} ms; test file wall time ${Date.now() - fileStarted} ms`);
});

function request(name: string, script: string, env: Record<string, string> = {}): JobRequest {
  const workDir = path.join(baseDir, name);
  fs.mkdirSync(workDir, { recursive: true });
  return { name, command: ["sh", "-c", script], env, workDir, resources: { nodes: 1, gpusPerNode: 0 } };
}

async function waitForState(ref: JobRef, states: JobState[], timeoutMs = 60_000): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await launcher.status(ref);
    if (states.includes(status.state)) return status;
    if (Date.now() > deadline) throw new Error(`job ${ref.name} is ${status.state} (${status.message}), not ${states.join("/")} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Ray's own job list (GET /api/jobs/), the jobs under this submission id. */
async function rayJobsNamed(name: string): Promise<{ submission_id: string; status: string }[]> {
  const res = await fetch(`${head.address}/api/jobs/`);
  assert.equal(res.status, 200);
  const jobs = (await res.json()) as { submission_id: string | null; status: string }[];
  return jobs.filter((j): j is { submission_id: string; status: string } => j.submission_id === name);
}

/** Processes whose command line holds this marker (the job's own processes, not Ray's). */
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

test("a job runs in its work folder with its environment, its logs are read while it runs, and it succeeds", async () => {
  const req = request(
    "tl-ray-succeed",
    'echo "cwd=$(pwd)"; echo "env=$TOOLLOOP_JOB_VAR/$TOOLLOOP_CLUSTER_VAR"; while [ ! -f release ]; do sleep 0.2; done; echo done-ok',
    {
      TOOLLOOP_JOB_VAR: "from-job",
    },
  );
  const { ref, submitted } = await launcher.submit(req);
  assert.equal(submitted, true);
  assert.deepEqual(ref, { launcher: "ray", name: req.name, externalId: req.name });

  const running = await waitForState(ref, ["running"]);
  assert.deepEqual(running.nodes, ["127.0.0.1"]);
  await waitFor("the job's first lines in its logs", async () => (await launcher.logs(ref)).includes("env="));
  const logs = await launcher.logs(ref);
  assert.match(logs, new RegExp(`cwd=${req.workDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n`));
  assert.match(logs, /env=from-job\/from-config\n/, "the job's env wins over the config's, the config's is there too");
  assert.equal((await launcher.status(ref)).state, "running", "still running until released");

  fs.writeFileSync(path.join(req.workDir, "release"), "");
  const done = await waitForState(ref, ["succeeded", "failed", "cancelled"]);
  assert.equal(done.state, "succeeded", done.message);
  assert.equal(done.exitCode, 0);
  const finalLogs = await launcher.logs(ref);
  assert.match(finalLogs, /done-ok\n$/);
  assert.equal(await launcher.logs(ref, { tailBytes: 8 }), "done-ok\n");
});

test("a long log's tail comes through the state API: only the tail, cut to tailBytes, its last line whole", async () => {
  // 200,000 lines of 60 bytes (12 MB), then a last line without a newline.
  const script = "import sys\nfor i in range(200000): print(f'line {i:06d} ' + 'x' * 48)\nsys.stdout.write('the-end-without-newline')";
  const { ref } = await launcher.submit({ ...request("tl-ray-long-log", ""), command: ["python3", "-c", script] });
  const done = await waitForState(ref, ["succeeded", "failed", "cancelled"]);
  assert.equal(done.state, "succeeded", done.message);
  // Ray's whole log, read directly (what the launcher read on every poll before), to compare with.
  const whole = ((await (await fetch(`${head.address}/api/jobs/tl-ray-long-log/logs`)).json()) as { logs: string }).logs;
  assert.ok(whole.length > 12_000_000, `the whole log is ${whole.length} characters`);

  const started = Date.now();
  const progressTail = await launcher.logs(ref, { tailBytes: 16_384 });
  const tailMs = Date.now() - started;
  assert.equal(progressTail, tailOf(whole, 16_384));
  assert.match(progressTail, /\nline 199999 x{48}\nthe-end-without-newline$/);
  const failureTail = await launcher.logs(ref, { tailBytes: 2000 });
  assert.equal(failureTail, tailOf(whole, 2000));
  assert.equal(await launcher.logs(ref, { tailBytes: 23 }), "the-end-without-newline");
  // The state route answered (a fallback to the whole log says so in the launcher's log).
  assert.deepEqual(
    logLines.filter((l) => l.includes("state API")),
    [],
  );
  // What the launcher asked for, asked directly: the last lines only, not the 12 MB.
  const node = ((await (await fetch(`${head.address}/api/jobs/tl-ray-long-log`)).json()) as { driver_node_id: string }).driver_node_id;
  const direct = await fetch(`${head.address}/api/v0/logs/file?submission_id=tl-ray-long-log&node_id=${node}&lines=513&format=text`);
  assert.equal(direct.status, 200);
  const directText = await direct.text();
  assert.ok(
    directText.length < 40_000 && directText.endsWith("line 199999 " + "x".repeat(48) + "\nthe-end-without-newline"),
    `${directText.length} characters`,
  );
  console.log(`[ray-launcher test] 16 KB tail of a ${whole.length}-character log in ${tailMs} ms`);
});

test("runtimeEnv.workingDir: the form the config accepts (local:///dir) runs on Ray; a plain path, which Ray fails at start, is refused by the config", async () => {
  const dir = fs.mkdtempSync(path.join(head.tempDir, "wd-"));
  const parsed = launcherConfigSchema.parse({ kind: "ray", address: head.address, runtimeEnv: { workingDir: `local://${dir}` } });
  assert.equal(parsed.kind, "ray");
  const withDir = new RayJobsLauncher(parsed as RayLauncherConfig, { log });
  const { ref } = await withDir.submit(request("tl-ray-working-dir", "echo wd-ok"));
  const status = await waitForState(ref, ["succeeded", "failed", "cancelled"]);
  assert.equal(status.state, "succeeded", status.message);
  assert.match(await withDir.logs(ref), /wd-ok/);
  // What the schema refuses is what Ray itself refuses: the same body with the plain path fails at start.
  assert.equal(launcherConfigSchema.safeParse({ kind: "ray", address: head.address, runtimeEnv: { workingDir: dir } }).success, false);
  const plain = new RayJobsLauncher({ ...config, runtimeEnv: { envVars: {}, workingDir: dir } }, { log });
  const { ref: plainRef } = await plain.submit(request("tl-ray-working-dir-path", "echo never"));
  const refused = await waitForState(plainRef, ["succeeded", "failed", "cancelled"]);
  assert.equal(refused.state, "failed");
  assert.match(refused.message ?? "", /is not a valid URI/);
});

test("a job's CPUs and memory are asked for its entrypoint: Ray starts a second job only once the first frees the head's 2 CPUs", async () => {
  const first = {
    ...request("tl-ray-cpus-first", "echo holding; while [ ! -f release ]; do sleep 0.2; done"),
    resources: { nodes: 1, gpusPerNode: 0, cpusPerTask: 2, memPerNode: "256M" },
  };
  const second = { ...request("tl-ray-cpus-second", "echo second-ran"), resources: { nodes: 1, gpusPerNode: 0, cpusPerTask: 1, memPerNode: "128M" } };
  const a = await launcher.submit(first);
  await waitForState(a.ref, ["running"]);
  const b = await launcher.submit(second);
  // Ray holds it: the first job's entrypoint has both CPUs. It fits the head, so it is pending, not failed.
  await new Promise((r) => setTimeout(r, 4000));
  const held = await launcher.status(b.ref);
  assert.equal(held.state, "pending", held.message);
  assert.doesNotMatch(held.message ?? "", /never/);
  fs.writeFileSync(path.join(first.workDir, "release"), "");
  assert.equal((await waitForState(a.ref, ["succeeded", "failed", "cancelled"])).state, "succeeded");
  const ran = await waitForState(b.ref, ["succeeded", "failed", "cancelled"]);
  assert.equal(ran.state, "succeeded", ran.message);
  assert.match(await launcher.logs(b.ref), /second-ran/);
});

test("a job asking more CPUs, memory or GPUs than any node of a cluster that cannot add nodes has fails at once, naming the setting; a Ray driver asks for nothing", async () => {
  const cases: [string, Partial<JobRequest["resources"]>, RegExp][] = [
    [
      "tl-ray-too-many-cpus",
      { cpusPerTask: 64 },
      /its entrypoint asks one node for 64 CPUs \(cpusPerTask\), and no alive node has that \(the most any of its 1 alive node has: 2 CPUs;/,
    ],
    [
      "tl-ray-too-much-memory",
      { memPerNode: "1T" },
      /its entrypoint asks one node for 1024\.0 GiB of memory \(memPerNode\), and no alive node has that \(the most any of its 1 alive node has: \d+\.\d GiB of memory;/,
    ],
    [
      "tl-ray-a-gpu",
      { gpusPerNode: 1 },
      /its entrypoint asks one node for 1 GPU \(the stage's GPUs per node\), and no alive node has that \(the most any of its 1 alive node has: 0 GPUs;/,
    ],
  ];
  for (const [name, resources, reason] of cases) {
    const { ref } = await launcher.submit({ ...request(name, "echo never-runs"), resources: { nodes: 1, gpusPerNode: 0, ...resources } });
    const status = await launcher.status(ref);
    assert.equal(status.state, "failed", `${name}: ${status.message}`);
    assert.match(status.message ?? "", new RegExp(`^PENDING: Ray will never start job ${name}: `));
    assert.match(status.message ?? "", reason);
    // What to do after the change follows onStageFailure: the watch adds it (test/stages/clusterJobNeverStarts.test.ts).
    assert.match(status.message ?? "", /and the cluster cannot add nodes \(it has no autoscaler\)\. Change that$/);
    assert.equal(status.neverStarts, true);
    // Ray itself still holds it, and cannot stop it (its stop goes through a supervisor placed with the
    // entrypoint's resources): the watch's cancel returns at once, saying so, rather than wait for ever.
    assert.equal((await rayJobsNamed(name))[0]?.status, "PENDING");
    const t0 = Date.now();
    await launcher.cancel(ref);
    assert.ok(Date.now() - t0 < 10_000, `cancel returned (${Date.now() - t0} ms)`);
    assert.ok(logLines.some((l) => l.startsWith(`[ray] job ${name} stays PENDING: Ray cannot stop a job whose entrypoint no node can hold`)));
    assert.equal((await rayJobsNamed(name))[0]?.status, "PENDING");
  }
  // verl's trainer places its own workers: its entrypoint asks for none of its 8 GPUs and 64 CPUs, and runs on this head.
  const driver = await launcher.submit({
    ...request("tl-ray-driver", "echo driver-ran"),
    resources: { nodes: 1, gpusPerNode: 8, cpusPerTask: 64, memPerNode: "1T", rayDriver: true },
  });
  const ran = await waitForState(driver.ref, ["succeeded", "failed", "cancelled"]);
  assert.equal(ran.state, "succeeded", ran.message);
});

test("a failing job is failed with its exit code and Ray's message", async () => {
  const { ref } = await launcher.submit(request("tl-ray-fail", "echo going-down >&2; exit 7"));
  const status = await waitForState(ref, ["succeeded", "failed", "cancelled"]);
  assert.equal(status.state, "failed");
  assert.equal(status.exitCode, 7);
  assert.match(status.message ?? "", /exit code 7/);
  assert.match(await launcher.logs(ref), /going-down/);
});

test("cancel stops a running job and its processes; cancelling it again leaves it as it is", async () => {
  const marker = `tl-ray-cancel-marker-${process.pid}`;
  // The marker is an argument of the job's own process (exec'd by the entrypoint), so /proc finds it.
  const req = { ...request("tl-ray-cancel", ""), command: ["python3", "-c", "import time; print('sleeping', flush=True); time.sleep(300)", marker] };
  const { ref } = await launcher.submit(req);
  await waitForState(ref, ["running"]);
  await waitFor("the job's process", () => processesWith(marker).length > 0);
  await launcher.cancel(ref);
  const status = await waitForState(ref, ["succeeded", "failed", "cancelled"]);
  assert.equal(status.state, "cancelled", status.message);
  await waitFor("the job's processes to end", () => processesWith(marker).length === 0);
  await launcher.cancel(ref);
  assert.equal((await launcher.status(ref)).state, "cancelled");
});

test("a policy server with port 0 picks its port where the entrypoint runs (serve_on_node_port.py), is reached there, and cancel stops it", async () => {
  const req = request("tl-ray-serve-port", "");
  const portFile = path.join(req.workDir, "policy-server-a1.port");
  const wrapper = path.join(installRoot(), "trainer", "serve", "serve_on_node_port.py");
  // What serve.policy submits for vLLM, with a small HTTP server in vLLM's place (on loopback: this test cluster is one machine).
  const serve = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", req.workDir];
  const { ref } = await launcher.submit({ ...req, command: ["python3", wrapper, portFile, "127.0.0.1", "--", ...serve] });
  try {
    await waitForState(ref, ["running"]);
    await waitFor("the port file", () => fs.existsSync(portFile));
    const port = Number(fs.readFileSync(portFile, "utf8").trim());
    let body = "";
    await waitFor("the server to answer", async () => {
      body = await fetch(`http://127.0.0.1:${port}/policy-server-a1.port`).then(
        (r) => (r.ok ? r.text() : ""),
        () => "",
      );
      return body !== "";
    });
    assert.equal(body.trim(), String(port), "the server the job runs listens on the port it wrote");
    assert.match(await launcher.logs(ref), new RegExp(`\\[toolloop serve\\] \\S+: port ${port} \\(a free port\\)`));
  } finally {
    await launcher.cancel(ref);
  }
  assert.equal((await waitForState(ref, ["succeeded", "failed", "cancelled"])).state, "cancelled");
});

test("the same name submitted twice, one after the other or racing, is one job", async () => {
  const first = await launcher.submit(request("tl-ray-twice", "sleep 1"));
  const second = await launcher.submit(request("tl-ray-twice", "echo a-second-job"));
  assert.deepEqual([first.submitted, second.submitted], [true, false]);
  assert.deepEqual(second.ref, first.ref);
  assert.equal((await rayJobsNamed("tl-ray-twice")).length, 1);

  // Both look the name up before either posts: Ray's "already exists" answer is taken as found.
  const racing = await Promise.all([launcher.submit(request("tl-ray-race", "sleep 1")), launcher.submit(request("tl-ray-race", "sleep 1"))]);
  assert.deepEqual(racing.map((r) => r.submitted).sort(), [false, true]);
  assert.equal((await rayJobsNamed("tl-ray-race")).length, 1);
  // Which way the loser learnt of the winner (its GET after the winner's POST, or Ray's duplicate-id answer).
  console.log(`[ray-launcher test] race: ${logLines.filter((l) => l.includes("tl-ray-race") && !l.includes("submitted job")).join("; ")}`);
  await waitForState(first.ref, ["succeeded"]);
});

test("a job Ray does not know: find gives nothing, status is lost, cancel does nothing", async () => {
  const ref: JobRef = { launcher: "ray", name: "tl-ray-never", externalId: "tl-ray-never" };
  assert.equal(await launcher.find("tl-ray-never"), undefined);
  const status = await launcher.status(ref);
  assert.equal(status.state, "lost");
  assert.match(status.message ?? "", /does not know job tl-ray-never/);
  await launcher.cancel(ref);
  await assert.rejects(launcher.logs(ref), (err: Error) => err.message.includes(`${head.address}/api/jobs/tl-ray-never/logs`) && err.message.includes("404"));
});

test("a worker SIGKILLed right after submit returns: a fresh launcher finds the job and never submits a second", async () => {
  const req = request("tl-ray-kill9", "sleep 300");
  const child = spawn(process.execPath, [submitOnceScript, head.address, JSON.stringify(req)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (out.startsWith("submitted") && nl >= 0) {
        child.kill("SIGKILL"); // the moment the line appears: nothing after submit runs
        resolve(out.slice(0, nl));
      }
    });
    child.once("exit", (code, signal) => reject(new Error(`the submitting worker exited (${code ?? signal}) before submitting: ${stderr}`)));
  });
  assert.equal(await exited, "SIGKILL");
  assert.match(line, /"submitted":true/);

  const fresh = new RayJobsLauncher(config, { log });
  const found = await fresh.find(req.name);
  assert.deepEqual(found, { launcher: "ray", name: req.name, externalId: req.name });
  const again = await fresh.submit(req);
  assert.equal(again.submitted, false);
  assert.deepEqual(again.ref, found);
  const jobs = await rayJobsNamed(req.name);
  assert.equal(jobs.length, 1, `Ray's job list holds one job named ${req.name}: ${JSON.stringify(jobs)}`);
  await fresh.cancel(again.ref);
  await waitForState(again.ref, ["cancelled"]);
});
