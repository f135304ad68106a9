/** The local launcher's resource arithmetic: sbatch's --mem in bytes, CPU lists, the choice of CPUs, the job's process tree. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { chooseCpus, formatBytes, formatCpuList, jobTree, memoryLimitBytes, parseCpuList } from "../../../src/training/launchers/localLimits.js";
import { oomMessage } from "../../../src/training/launchers/memoryWatch.js";

test("memoryLimitBytes reads sbatch's --mem: megabytes without a unit, K/M/G/T in powers of 1024, 0 for no limit", () => {
  assert.equal(memoryLimitBytes("64M"), 64 * 1024 ** 2);
  assert.equal(memoryLimitBytes("512"), 512 * 1024 ** 2);
  assert.equal(memoryLimitBytes("2G"), 2 * 1024 ** 3);
  assert.equal(memoryLimitBytes("100K"), 100 * 1024);
  assert.equal(memoryLimitBytes("1T"), 1024 ** 4);
  assert.equal(memoryLimitBytes("0"), undefined);
  assert.throws(() => memoryLimitBytes("64MB"), /resources\.memPerNode "64MB" is not sbatch's --mem value/);
  assert.equal(formatBytes(64 * 1024 ** 2), "64.0 MiB");
  assert.equal(formatBytes(512), "512 B");
});

test("CPU lists in the kernel's cpulist format, both ways", () => {
  assert.deepEqual(parseCpuList("0-3,8,10-11\n"), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList("5"), [5]);
  assert.equal(formatCpuList([11, 0, 1, 2, 3, 8, 10]), "0-3,8,10-11");
  assert.equal(formatCpuList([4]), "4");
  assert.throws(() => parseCpuList("0-a"), /not a CPU list/);
});

test("chooseCpus takes the CPUs other running jobs use least, and refuses more than there are, naming resources.cpusPerTask", () => {
  assert.deepEqual(chooseCpus(2, [0, 1, 2, 3], []), [0, 1]);
  assert.deepEqual(chooseCpus(2, [0, 1, 2, 3], [0, 1]), [2, 3]);
  assert.deepEqual(chooseCpus(3, [0, 1, 2, 3], [0, 1, 0]), [1, 2, 3]);
  // Oversubscribed: every CPU used once, the lowest numbers again.
  assert.deepEqual(chooseCpus(1, [4, 6], [4, 6]), [4]);
  assert.throws(() => chooseCpus(5, [0, 1, 2, 3], []), /^Error: resources\.cpusPerTask 5 is more than the 4 CPUs this worker may use \(0-3\)/);
  assert.throws(() => chooseCpus(2, [7], []), /resources\.cpusPerTask 2 is more than the 1 CPU this worker may use \(7\)/);
});

test("jobTree finds a session's processes, a descendant that made its own session, and their resident memory", async () => {
  // A session leader whose child starts its own session (setsid) with a grandchild: all three are the job's.
  const leader = spawn("sh", ["-c", "setsid sh -c 'sleep 30 & wait' & sleep 30 & wait"], { detached: true, stdio: "ignore" });
  const sid = leader.pid ?? 0;
  try {
    let tree: ReturnType<typeof jobTree> = [];
    for (let i = 0; i < 50 && tree.length < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      tree = jobTree(sid);
    }
    // sh (leader), sleep, setsid'd sh, its sleep (setsid execs in place when it is not a group leader).
    assert.ok(tree.length >= 4, `found ${tree.length}: ${JSON.stringify(tree)}`);
    assert.ok(tree.some((p) => p.pid === sid));
    assert.ok(tree.every((p) => p.rssBytes > 0 && /^\d+$/.test(p.startTime)));
  } finally {
    process.kill(-sid, "SIGKILL");
    for (const p of jobTree(sid)) process.kill(p.pid, "SIGKILL");
  }
  assert.deepEqual(jobTree(999_999_999), []);
});

test("the OOM message names resources.memPerNode, the limit and the peak seen", () => {
  const message = oomMessage({ memPerNode: "64M", limitBytes: 64 * 1024 ** 2, peakBytes: 201 * 1024 ** 2, killedPids: [12], at: "2026-12-08T00:00:00Z" });
  assert.match(
    message,
    /^OUT_OF_MEMORY: the job's processes reached 201\.0 MiB resident \(the peak seen\), over its resources\.memPerNode "64M" \(64\.0 MiB\)/,
  );
});
