/**
 * `toolloop demo` as a process: a bad flag is refused before anything starts (exit 2, one line naming
 * it), and a failure once the Temporal dev server runs stops what started, so the process exits and
 * leaves no dev server behind.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { isProcessAlive } from "../../src/util/childProcess.js";
import { runCli } from "../helpers/cli.js";
import { closedPort } from "../helpers/deadEndpoints.js";
import { REPO_ROOT } from "../helpers/trainVenv.js";

/** No services and no stray settings from the caller's environment. */
const NO_SERVICES = { TEMPORAL_ADDRESS: "", DATABASE_URL: "", TOOLLOOP_METRICS_ADDRESS: "" };

/** A refusal takes a CLI start-up; a hang (the dev server left running) is killed at this and fails the exit code check. */
const PROMPTLY_MS = 20_000;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-demo-input-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("demo: a numeric flag out of range or not a number is refused with exit 2 naming it, before anything starts", async (t) => {
  const dir = tempDir(t);
  const stateDir = path.join(dir, "state");
  const cases: [string, string, string][] = [
    ["--mistake-rate", "2", "expected a number between 0 and 1"],
    ["--silent-mistake-rate", "-0.1", "expected a number between 0 and 1"],
    ["--judge-error-rate", "abc", "expected a number between 0 and 1"],
    ["--latency-ms", "-1", "expected a whole number from 0 to 60000"],
    ["--latency-ms", "1.5", "expected a whole number from 0 to 60000"],
  ];
  for (const [flag, value, expected] of cases) {
    const r = await runCli(["demo", "--state-dir", stateDir, flag, value], NO_SERVICES, PROMPTLY_MS);
    const what = `${flag} ${value} (${r.ms} ms)`;
    assert.equal(r.stderr, `error: ${flag}: ${expected}, got ${JSON.stringify(value)}\n`, what);
    assert.equal(r.status, 2, what);
    assert.doesNotMatch(r.stdout, /starting the Temporal dev server/, what);
    assert.equal(fs.existsSync(stateDir), false, `${what}: nothing was created in --state-dir`);
  }

  const file = path.join(dir, "a-file");
  fs.writeFileSync(file, "x");
  const r = await runCli(["demo", "--state-dir", file], NO_SERVICES, PROMPTLY_MS);
  assert.equal(r.stderr, `error: --state-dir ${file} is a file, not a directory\n`);
  assert.equal(r.status, 2);
});

test("demo: a failure after the dev server started (PostgreSQL unreachable) stops it and the simulator; the process exits 1", async (t) => {
  const dir = tempDir(t);
  const url = `postgres://127.0.0.1:${await closedPort()}/demo`;
  // A config without training stages: the failure under test is the database, not a missing training venv.
  const config = path.join(REPO_ROOT, "examples", "multi-turn.json");
  const r = await runCli(["demo", "--config", config, "--state-dir", path.join(dir, "state")], { ...NO_SERVICES, DATABASE_URL: url }, 90_000);
  const started = /^\[temporal\] starting Temporal dev server on \S+ \(pid (\d+),/m.exec(r.stdout);
  const devServerPid = started ? Number(started[1]) : undefined;
  t.after(() => {
    // Only when the demo left it running (the failure under test): this test must not leave it too.
    if (devServerPid !== undefined && isProcessAlive(devServerPid)) process.kill(devServerPid, "SIGKILL");
  });
  assert.ok(devServerPid !== undefined, `the dev server started first:\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 1, `exits (${r.ms} ms): ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /^error: cannot reach PostgreSQL at 127\.0\.0\.1:\d+\/demo \(DATABASE_URL\): connection refused; /m);
  assert.match(r.stdout, /^\[demo\] stopped after a failure$/m);
  assert.equal(isProcessAlive(devServerPid), false, `dev server pid ${devServerPid} was stopped`);
});
