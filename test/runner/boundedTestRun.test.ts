/**
 * The suite's bounded runner against small test files written here: one that leaves a process holding
 * its output after a timeout (Node 20's runner then waits for good), one that never ends, one that
 * passes and one that fails.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { SummaryWatch } from "./boundedTestRun.js";

const runnerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "boundedTestRun.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bounded-run-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeFile(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, body);
  return file;
}

/** Running, not a zombie waiting for a reaper (an orphan's reaper here may be slow to collect it). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function run(ownArgs: string[], runnerArgs: string[]): { status: number | null; out: string; seconds: number } {
  const started = Date.now();
  // Without the outer runner's marker: with it, Node's runner refuses to run files from inside a test.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [runnerScript, ...ownArgs, "--", ...runnerArgs], { encoding: "utf8", timeout: 120_000, env });
  return { status: r.status, out: r.stdout + r.stderr, seconds: (Date.now() - started) / 1000 };
}

describe("boundedTestRun", () => {
  test("a file that times out leaving a process on its output: the leftover is named and stopped, the run fails soon after the summary", () => {
    const pidFile = path.join(dir, "sleep.pid");
    const file = writeFile(
      "leaves-sleep.test.mjs",
      `import { test } from "node:test";
import { spawn } from "node:child_process";
import fs from "node:fs";
test("starts a process and hangs", async () => {
  const child = spawn("sleep", ["300"], { stdio: "inherit" });
  fs.writeFileSync(${JSON.stringify(pidFile)}, String(child.pid));
  await new Promise(() => {});
});
`,
    );
    // As the suite runs it: the runner's --test-timeout cancels the file, then waits for the process on its output.
    const r = run(["--grace-s", "2"], ["--test", "--test-timeout=1500", file]);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /# duration_ms /);
    assert.match(r.out, /printed its summary but was still running 2 s later/);
    assert.match(r.out, /sleep 300/);
    assert.match(r.out, /failed: a test left a process running after the run/);
    assert.ok(r.seconds < 60, `took ${r.seconds} s`);
    const sleepPid = Number(fs.readFileSync(pidFile, "utf8"));
    assert.equal(alive(sleepPid), false, "the leftover sleep was stopped");
  });

  test("a run with no summary by the deadline: what still runs is named and stopped, the run fails", () => {
    const file = writeFile(
      "never-ends.test.mjs",
      `import { test } from "node:test";
test("waits for good", async () => { await new Promise(() => { setInterval(() => {}, 1000); }); });
`,
    );
    const r = run(["--deadline-min", "0.05"], ["--test", file]);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /no summary 0\.05 minutes after the start/);
    assert.match(r.out, /never-ends\.test\.mjs/);
    assert.match(r.out, /failed: the run passed its 0\.05-minute deadline/);
    assert.ok(r.seconds < 60, `took ${r.seconds} s`);
  });

  test("passing and failing files: the runner's own status, nothing added", () => {
    const pass = writeFile("passes.test.mjs", `import { test } from "node:test";\ntest("ok", () => {});\n`);
    const fail = writeFile("fails.test.mjs", `import { test } from "node:test";\ntest("no", () => { throw new Error("boom"); });\n`);
    const ok = run([], ["--test", pass]);
    assert.equal(ok.status, 0, ok.out);
    assert.doesNotMatch(ok.out, /boundedTestRun/);
    const bad = run([], ["--test", pass, fail]);
    assert.equal(bad.status, 1, bad.out);
    assert.doesNotMatch(bad.out, /boundedTestRun/);
  });

  test("bad flags: a clear error naming the flag, status 2", () => {
    const r = run(["--grace-s", "soon"], ["--test"]);
    assert.equal(r.status, 2);
    assert.match(r.out, /--grace-s: expected a positive number, got "soon"/);
  });
});

describe("SummaryWatch", () => {
  test("sees the final summary only at the top level, across chunk boundaries", () => {
    const w = new SummaryWatch();
    w.feed("    # todo 0\n    # duration_ms 12\n# Subtest: x\n");
    assert.equal(w.seen, false, "a subtest's indented lines are not the summary");
    w.feed("# todo 0\n# durat");
    assert.equal(w.seen, false);
    w.feed("ion_ms 3189.3\n");
    assert.equal(w.seen, true);
    const spec = new SummaryWatch();
    spec.feed("\u001b[34mℹ todo 0\u001b[39m\n\u001b[34mℹ duration_ms 279.9\u001b[39m\n");
    assert.equal(spec.seen, true, "the spec reporter's summary, coloured");
  });
});
