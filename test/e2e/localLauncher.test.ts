/**
 * The local launcher against real processes: jobs are small shell commands run detached through the
 * launcher's wrapper; the "process table" assertions read /proc.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { JobLauncher, JobRef, JobRequest, JobStatus } from "../../src/training/launchers/launcher.js";
import { JobRefusedError, JobStopTimeoutError, TERMINAL_JOB_STATES } from "../../src/training/launchers/launcher.js";
import { exitMessage, LOCAL_JOB_PROCESS_TAG, LocalLauncher } from "../../src/training/launchers/local.js";
import { isJobGroupAlive, startTimeOf } from "../../src/training/launchers/processIdentity.js";
import { submitThenKill } from "../helpers/submitThenKill.js";

let root: string;
let stateDir: string;
let launcher: LocalLauncher;
const started: JobRef[] = [];
const logs: string[] = [];

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-local-launcher-"));
  stateDir = path.join(root, "state");
  launcher = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m), cancelGraceMs: 1000 });
});

after(async () => {
  for (const ref of started) await launcher.cancel(ref).catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

function request(name: string, script: string): JobRequest {
  return {
    name,
    command: ["sh", "-c", script],
    env: { JOB_GREETING: "hello from env" },
    workDir: path.join(root, "work", name),
    resources: { nodes: 1, gpusPerNode: 0 },
  };
}

async function submit(l: JobLauncher, req: JobRequest) {
  const result = await l.submit(req);
  started.push(result.ref);
  return result;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const untilTerminal = (l: JobLauncher, ref: JobRef) =>
  waitFor(`job ${ref.name} to end`, async () => {
    const s = await l.status(ref);
    return TERMINAL_JOB_STATES.has(s.state) ? s : undefined;
  });

/** A process of the group `pgid` whose program is `program`. */
async function groupMember(pgid: number, program: string): Promise<number | undefined> {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === pgid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[2] === String(pgid) && argv[0] === program) return Number(entry);
    } catch {
      // exited while we looked
    }
  }
  return undefined;
}

/** Wrapper processes (group leaders whose $0 names the job) of this job in the process table. */
function jobProcesses(name: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (argv.includes(`${LOCAL_JOB_PROCESS_TAG}[${name}]`) && fields[2] === entry && fields[0] !== "Z") pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

test("local launcher: a job succeeds and its output (stdout and stderr, job env) is in the logs", async () => {
  const { ref, submitted } = await submit(launcher, request("ok-job", 'echo "out: $JOB_GREETING"; echo "err line" >&2; exit 0'));
  assert.equal(submitted, true);
  assert.equal(ref.launcher, "local");
  assert.match(ref.externalId, /^\d+$/);
  const status = await untilTerminal(launcher, ref);
  assert.deepEqual(status, { state: "succeeded", exitCode: 0, nodes: ["127.0.0.1"] });
  const out = await launcher.logs(ref);
  assert.match(out, /out: hello from env/);
  assert.match(out, /err line/);
  assert.equal(await launcher.logs(ref, { tailBytes: 9 }), "err line\n");
});

test("local launcher: a failing job reports its exit code", async () => {
  const { ref } = await submit(launcher, request("failing-job", "echo about to fail; exit 3"));
  const status = await untilTerminal(launcher, ref);
  assert.equal(status.state, "failed");
  assert.equal(status.exitCode, 3);
  const missing = await submit(launcher, { ...request("missing-program", ""), command: ["/nonexistent/program"] });
  const s2 = await untilTerminal(launcher, missing.ref);
  assert.equal(s2.state, "failed");
  assert.equal(s2.exitCode, 127);
  assert.match(await launcher.logs(missing.ref), /nonexistent/);
});

test("local launcher: a job's command killed from outside (not cancelled) is failed, with the signal named", async () => {
  const { ref } = await submit(launcher, request("killed-job", "echo up; sleep 60"));
  const wrapper = await waitFor("the job's wrapper", async () => jobProcesses("killed-job")[0]);
  const child = await waitFor("the job's sleep", async () => groupMember(wrapper, "sleep"));
  process.kill(child, "SIGKILL");
  const status = await untilTerminal(launcher, ref);
  // The wrapper's sh runs `sh -c script`, whose child sleep died by SIGKILL: the script's sh reports 137.
  assert.equal(status.state, "failed");
  assert.equal(status.exitCode, 137);
  assert.equal(status.message, "exited with code 137 (ended by SIGKILL, e.g. kill -9 or the OOM killer)");
  assert.equal(exitMessage(143), "exited with code 143 (ended by SIGTERM)");
  assert.equal(exitMessage(3), "exited with code 3");
  assert.equal(exitMessage(255), "exited with code 255");
});

test("local launcher: observe a running job, read its logs, cancel it (SIGTERM to its group)", async () => {
  const { ref } = await submit(launcher, request("long-job", "echo started; sleep 300 & wait"));
  await waitFor("running", async () => ((await launcher.status(ref)).state === "running" ? true : undefined));
  await waitFor("the job's first output", async () => ((await launcher.logs(ref)).includes("started") ? true : undefined));
  const pid = Number(ref.externalId);
  assert.deepEqual(jobProcesses("long-job"), [pid]);
  await launcher.cancel(ref);
  const status = await launcher.status(ref);
  assert.equal(status.state, "cancelled");
  assert.deepEqual(jobProcesses("long-job"), []);
  // The background `sleep` was in the job's group too.
  assert.equal(
    fs.readdirSync("/proc").some((e) => /^\d+$/.test(e) && readPgrp(e) === pid),
    false,
  );
  // Cancelling an ended job leaves it as it is.
  await launcher.cancel(ref);
  assert.equal((await launcher.status(ref)).state, "cancelled");
  const done = await submit(launcher, request("done-job", "exit 0"));
  await untilTerminal(launcher, done.ref);
  await launcher.cancel(done.ref);
  assert.equal((await launcher.status(done.ref)).state, "succeeded");
});

test("local launcher: a job that ignores SIGTERM is killed after the grace period", async () => {
  const { ref } = await submit(launcher, request("stubborn-job", "trap '' TERM; echo ready; while :; do sleep 0.2; done"));
  await waitFor("ready", async () => ((await launcher.logs(ref)).includes("ready") ? true : undefined));
  const t0 = Date.now();
  await launcher.cancel(ref);
  assert.ok(Date.now() - t0 >= 900, "SIGKILL came only after the grace period");
  assert.equal((await launcher.status(ref)).state, "cancelled");
  assert.deepEqual(jobProcesses("stubborn-job"), []);
});

test("local launcher: cancel returns once the job's process group has ended: a job that takes 2 s to stop on SIGTERM finishes it", async () => {
  const patient = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m), cancelGraceMs: 20_000, stopWaitMs: 30_000 });
  const saved = path.join(root, "slow-stop-saved");
  // On SIGTERM the job saves for 2 s (a sleep started after the signal), then writes its file and exits.
  const script = `trap 'sleep 2; echo saved > "${saved}"; exit 0' TERM; echo ready; while :; do sleep 0.1; done`;
  const { ref } = await submit(patient, request("slow-stop-job", script));
  await waitFor("ready", async () => ((await patient.logs(ref)).includes("ready") ? true : undefined));
  const pgid = Number(ref.externalId);
  const t0 = Date.now();
  await patient.cancel(ref);
  const took = Date.now() - t0;
  assert.ok(took >= 1900, `cancel waited for the save (${took} ms)`);
  assert.ok(took < 15_000, `and returned once the group ended, without waiting for SIGKILL (${took} ms)`);
  assert.equal(fs.readFileSync(saved, "utf8").trim(), "saved");
  assert.equal(groupAlive(pgid), false, "nothing of the job's group runs when cancel returns");
  assert.equal((await patient.status(ref)).state, "cancelled");
  assert.equal(logs.filter((m) => m.includes("slow-stop-job") && m.includes("SIGKILL")).length, 0);
});

test("local launcher: a job that ignores SIGTERM past cancel's bound fails it with JobStopTimeout naming what still runs; the retried cancel kills it", async () => {
  const bounded = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m), cancelGraceMs: 60_000, stopWaitMs: 1500 });
  const { ref } = await submit(bounded, request("deaf-job", "trap '' TERM; echo ready; while :; do sleep 0.1; done"));
  await waitFor("ready", async () => ((await bounded.logs(ref)).includes("ready") ? true : undefined));
  const pgid = Number(ref.externalId);
  const t0 = Date.now();
  await assert.rejects(bounded.cancel(ref), (err: unknown) => {
    assert.ok(err instanceof JobStopTimeoutError, String(err));
    assert.match(
      err.message,
      new RegExp(
        `^local job deaf-job was asked to stop \\d+ s ago \\(SIGTERM to its process group ${pgid}; SIGKILL follows 60 s after it\\) and \\d+ of its processes still run: pid ${pgid} \\(`,
      ),
    );
    assert.match(err.message, /trap '' TERM/);
    return true;
  });
  const took = Date.now() - t0;
  assert.ok(took >= 1400 && took < 10_000, `cancel gave up at its bound (${took} ms)`);
  assert.equal(groupAlive(pgid), true, "the job still runs: the error said so");
  assert.equal((await bounded.status(ref)).state, "running");
  // The retry (a launcher with a 1 s grace) counts the grace from the first ask: SIGKILL at once, then the group has ended.
  const retry = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m), cancelGraceMs: 1000, stopWaitMs: 10_000 });
  const t1 = Date.now();
  await retry.cancel(ref);
  assert.ok(Date.now() - t1 < 5000, `the retried cancel killed it at once (${Date.now() - t1} ms)`);
  assert.equal(groupAlive(pgid), false);
  assert.equal((await retry.status(ref)).state, "cancelled");
});

test("local launcher: cancel stops what a wrapper killed on its own left in its group; a group led by another process with the wrapper's pid is never the job's", async () => {
  const { ref } = await submit(launcher, request("orphaned-job", "echo up; sleep 300"));
  const pgid = Number(ref.externalId);
  const sleeper = await waitFor("the job's sleep", async () => groupMember(pgid, "sleep"));
  // The wrapper (and the script's shell) killed alone: the sleep runs on in the job's group, with no exit code recorded.
  process.kill(pgid, "SIGKILL");
  for (const pid of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e) && Number(e) !== sleeper && readPgrp(e) === pgid))
    process.kill(Number(pid), "SIGKILL");
  await waitFor("the wrapper to be gone", async () => (jobProcesses("orphaned-job").length === 0 ? true : undefined));
  assert.equal(groupAlive(pgid), true);
  await launcher.cancel(ref);
  assert.equal(groupAlive(pgid), false, "the leftover sleep was stopped");
  // A live group whose leader is another process than the recorded wrapper (a reused pid): never the job's.
  const leader = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
  try {
    const pid = leader.pid ?? 0;
    const start = startTimeOf(pid) ?? "";
    assert.equal(isJobGroupAlive({ pid, startTime: start }), true, "the wrapper it was: its group is alive");
    assert.equal(isJobGroupAlive({ pid, startTime: String(Number(start) - 1) }), false, "another process with that pid");
  } finally {
    leader.kill("SIGKILL");
  }
});

test("local launcher: a job whose processes were killed without an exit code is lost", async () => {
  const { ref } = await submit(launcher, request("doomed-job", "sleep 300"));
  await waitFor("running", async () => ((await launcher.status(ref)).state === "running" ? true : undefined));
  process.kill(-Number(ref.externalId), "SIGKILL");
  const status: JobStatus = await waitFor("lost", async () => {
    const s = await launcher.status(ref);
    return s.state === "lost" ? s : undefined;
  });
  assert.match(status.message ?? "", /gone and left no exit code/);
});

test("local launcher: the same name submitted twice (concurrently, then again) starts one job", async () => {
  const req = request("twice-job", "sleep 300");
  const other = new LocalLauncher({ kind: "local", stateDir }, { log: () => undefined });
  const [a, b] = await Promise.all([submit(launcher, req), submit(other, req)]);
  assert.deepEqual([a.submitted, b.submitted].sort(), [false, true]);
  assert.equal(a.ref.externalId, b.ref.externalId);
  const again = await submit(launcher, req);
  assert.equal(again.submitted, false);
  assert.equal(again.ref.externalId, a.ref.externalId);
  assert.deepEqual(jobProcesses("twice-job"), [Number(a.ref.externalId)]);
  await launcher.cancel(a.ref);
});

test("local launcher: a worker killed -9 right after submit returns; a fresh launcher finds the job and never starts a second", async () => {
  const req = request("kill9-job", "echo kill9 running; sleep 300");
  const { externalId, submitted } = await submitThenKill({ kind: "local", stateDir }, req);
  assert.equal(submitted, true);

  const fresh = new LocalLauncher({ kind: "local", stateDir }, { log: () => undefined });
  const found = await fresh.find("kill9-job");
  assert.ok(found, "the fresh launcher finds the job by its name");
  started.push(found);
  assert.equal(found.externalId, externalId);
  assert.equal((await fresh.status(found)).state, "running");
  const again = await fresh.submit(req);
  assert.equal(again.submitted, false);
  assert.equal(again.ref.externalId, externalId);
  assert.deepEqual(jobProcesses("kill9-job"), [Number(externalId)]);
  await waitFor("the job's output", async () => ((await fresh.logs(found)).includes("kill9 running") ? true : undefined));
  await fresh.cancel(found);
  assert.equal((await fresh.status(found)).state, "cancelled");
});

/** Allocates and touches ~200 MB, holds it 3 s, then exits 0: a job that succeeds unless something kills it. */
const ALLOCATE_200MB = [
  "python3",
  "-c",
  "import time; b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); print('allocated', flush=True); time.sleep(3)",
];

test("local launcher: a job over its memPerNode is killed and fails naming resources.memPerNode, the limit and the peak seen", async () => {
  const watched = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m), memoryPollMs: 100 });
  const req: JobRequest = { ...request("oom-job", ""), command: ALLOCATE_200MB, resources: { nodes: 1, gpusPerNode: 0, memPerNode: "64M" } };
  const { ref } = await submit(watched, req);
  const status = await untilTerminal(watched, ref);
  assert.equal(status.state, "failed", `the job was not stopped: ${JSON.stringify(status)}`);
  assert.equal(status.exitCode, 137);
  assert.match(
    status.message ?? "",
    /^OUT_OF_MEMORY: the job's processes reached (\d+\.\d) MiB resident \(the peak seen\), over its resources\.memPerNode "64M" \(64\.0 MiB\); the local launcher killed them \(SIGKILL\)/,
  );
  const peakMiB = Number(/reached (\d+\.\d) MiB/.exec(status.message ?? "")?.[1]);
  assert.ok(peakMiB > 64, `the peak seen is over the limit (${peakMiB} MiB)`);
  const log = await watched.logs(ref);
  assert.match(log, /toolloop: resources\.memPerNode "64M": the job's processes are killed once their resident memory exceeds 64\.0 MiB/);
  assert.match(log, /toolloop: OUT_OF_MEMORY: .*resources\.memPerNode "64M"/);
  assert.equal(groupAlive(Number(ref.externalId)), false);
  // The watch ends with the job: nothing names it once the job has ended.
  await waitFor("the memory watch to end", async () => (fs.existsSync(path.join(stateDir, "oom-job.watch")) ? undefined : true), 5000);
});

test('local launcher: a job under its memPerNode, or with memPerNode "0", runs to its end', async () => {
  const watched = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m), memoryPollMs: 100 });
  const roomy = await submit(watched, { ...request("roomy-job", ""), command: ALLOCATE_200MB, resources: { nodes: 1, gpusPerNode: 0, memPerNode: "1G" } });
  const unlimited = await submit(watched, {
    ...request("unlimited-job", ""),
    command: ALLOCATE_200MB,
    resources: { nodes: 1, gpusPerNode: 0, memPerNode: "0" },
  });
  assert.deepEqual(await untilTerminal(watched, roomy.ref), { state: "succeeded", exitCode: 0, nodes: ["127.0.0.1"] });
  assert.deepEqual(await untilTerminal(watched, unlimited.ref), { state: "succeeded", exitCode: 0, nodes: ["127.0.0.1"] });
  assert.equal(fs.existsSync(path.join(stateDir, "unlimited-job.watch")), false, "no watch for memPerNode 0");
  assert.match(await watched.logs(unlimited.ref), /toolloop: resources\.memPerNode "0": no memory limit/);
});

test("local launcher: the memory watch outlives the launcher; a watch that has gone is started again by the next status", async () => {
  const first = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m), memoryPollMs: 100 });
  // Stays under the limit until told (a file appears), then allocates 200 MB.
  const go = path.join(root, "rewatch-go");
  const script = `import os, time\nwhile not os.path.exists(${JSON.stringify(go)}): time.sleep(0.05)\nb = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(3)`;
  const { ref } = await submit(first, {
    ...request("rewatch-job", ""),
    command: ["python3", "-c", script],
    resources: { nodes: 1, gpusPerNode: 0, memPerNode: "64M" },
  });
  const watchFile = path.join(stateDir, "rewatch-job.watch");
  const watchPid = Number(fs.readFileSync(watchFile, "utf8").split(" ")[0]);
  assert.ok(processAlive(watchPid), "the watch runs");
  // The watch killed (as by a restart of the worker's machine processes): a fresh launcher's status starts another.
  process.kill(watchPid, "SIGKILL");
  await waitFor("the watch to be gone", async () => (processAlive(watchPid) ? undefined : true));
  const fresh = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m), memoryPollMs: 100 });
  assert.equal((await fresh.status(ref)).state, "running");
  const again = Number(fs.readFileSync(watchFile, "utf8").split(" ")[0]);
  assert.notEqual(again, watchPid);
  assert.ok(processAlive(again), "a new watch runs");
  assert.ok(logs.some((m) => m.includes("the memory watch of job rewatch-job is not running; starting another")));
  fs.writeFileSync(go, "");
  const status = await untilTerminal(fresh, ref);
  assert.equal(status.state, "failed");
  assert.match(status.message ?? "", /^OUT_OF_MEMORY: .*resources\.memPerNode "64M"/);
});

test("local launcher: a worker killed -9 right after submitting a job with memPerNode leaves its memory watch running, which still kills the job over it", async () => {
  const go = path.join(root, "kill9-oom-go");
  const script = `import os, time\nwhile not os.path.exists(${JSON.stringify(go)}): time.sleep(0.05)\nb = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(3)`;
  const req: JobRequest = { ...request("kill9-oom-job", ""), command: ["python3", "-c", script], resources: { nodes: 1, gpusPerNode: 0, memPerNode: "64M" } };
  const { externalId } = await submitThenKill({ kind: "local", stateDir }, req);
  const watchPid = Number(fs.readFileSync(path.join(stateDir, "kill9-oom-job.watch"), "utf8").split(" ")[0]);
  assert.ok(processAlive(watchPid), "the watch outlived the worker that started it");
  const fresh = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m) });
  const ref = await fresh.find("kill9-oom-job");
  assert.ok(ref);
  started.push(ref);
  assert.equal(ref.externalId, externalId);
  assert.equal((await fresh.status(ref)).state, "running");
  assert.equal(Number(fs.readFileSync(path.join(stateDir, "kill9-oom-job.watch"), "utf8").split(" ")[0]), watchPid, "the same watch, not a second");
  fs.writeFileSync(go, "");
  const status = await untilTerminal(fresh, ref);
  assert.equal(status.state, "failed");
  assert.match(status.message ?? "", /^OUT_OF_MEMORY: .*resources\.memPerNode "64M"/);
  await waitFor("the watch to end with the job", async () => (processAlive(watchPid) ? undefined : true), 5000);
});

test("local launcher: a job with cpusPerTask 1 sees 1 CPU (os.sched_getaffinity, nproc); more CPUs than this worker may use is refused", async () => {
  const { ref } = await submit(launcher, {
    ...request("one-cpu-job", ""),
    command: ["sh", "-c", `echo "nproc=$(nproc)"; python3 -c 'import os; print("affinity=%d" % len(os.sched_getaffinity(0)))'`],
    resources: { nodes: 1, gpusPerNode: 0, cpusPerTask: 1 },
  });
  assert.equal((await untilTerminal(launcher, ref)).state, "succeeded");
  const out = await launcher.logs(ref);
  assert.match(out, /^nproc=1$/m);
  assert.match(out, /^affinity=1$/m);
  assert.match(out, /toolloop: resources\.cpusPerTask 1: pinned to CPUs \d+ \(taskset\)/);
  const available = os.availableParallelism();
  await assert.rejects(
    launcher.submit({ ...request("greedy-job", "true"), resources: { nodes: 1, gpusPerNode: 0, cpusPerTask: available + 1 } }),
    (err: unknown) => {
      assert.ok(err instanceof JobRefusedError, String(err));
      assert.match(
        err.message,
        new RegExp(`^local job greedy-job: resources\\.cpusPerTask ${available + 1} is more than the ${available} CPUs? this worker may use`),
      );
      return true;
    },
  );
  assert.equal(fs.existsSync(path.join(stateDir, "greedy-job.json")), false, "nothing recorded for a refused job");
});

test("local launcher: without taskset, cpusPerTask is not silently dropped: the job's log and record say it is not enforced", async () => {
  const noTaskset = new LocalLauncher({ kind: "local", stateDir }, { log: (m) => logs.push(m), tasksetPath: null });
  const { ref } = await submit(noTaskset, { ...request("unpinned-job", "echo ran"), resources: { nodes: 1, gpusPerNode: 0, cpusPerTask: 1 } });
  assert.equal((await untilTerminal(noTaskset, ref)).state, "succeeded");
  const out = await noTaskset.logs(ref);
  assert.match(out, /toolloop: resources\.cpusPerTask 1 is not enforced: taskset \(util-linux\) is not on PATH/);
  assert.match(out, /^ran$/m);
  const record = JSON.parse(fs.readFileSync(path.join(stateDir, "unpinned-job.json"), "utf8")) as { limits?: { cpuNote?: string; cpus?: number[] } };
  assert.match(record.limits?.cpuNote ?? "", /^not enforced: taskset/);
  assert.equal(record.limits?.cpus, undefined);
  assert.ok(logs.some((m) => m.includes("[local] job unpinned-job: resources.cpusPerTask 1 is not enforced")));
});

test("local launcher: unknown names and bad input", async () => {
  assert.equal(await launcher.find("never-submitted"), undefined);
  assert.equal((await launcher.status({ launcher: "local", name: "never-submitted", externalId: "1" })).state, "lost");
  await assert.rejects(launcher.find("../etc/passwd"), /invalid job name/);
  await assert.rejects(launcher.submit({ ...request("bad-cmd", ""), command: [] }), /command must be a non-empty list/);
  await assert.rejects(launcher.submit({ ...request("bad-dir", "true"), workDir: "relative/dir" }), /workDir must be an absolute path/);
  assert.equal(fs.existsSync(path.join(stateDir, "bad-cmd.json")), false);
});

/** Whether a live process of group `pgid` is in the process table. */
function groupAlive(pgid: number): boolean {
  return fs.readdirSync("/proc").some((e) => /^\d+$/.test(e) && readPgrp(e) === pgid);
}

function readPgrp(pid: string): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : Number(fields[2]);
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\S+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}
