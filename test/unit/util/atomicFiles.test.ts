import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { writeFileAtomic, writeFileAtomicSync } from "../../../src/util/atomicFiles.js";

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-atomic-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("writeFileAtomic: a failed rename removes its temporary file", async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, "taken"));
  await assert.rejects(writeFileAtomic(path.join(dir, "taken"), "x"), /EISDIR|EEXIST|ENOTEMPTY|EPERM/);
  assert.throws(() => writeFileAtomicSync(path.join(dir, "taken"), "x"), /EISDIR|EEXIST|ENOTEMPTY|EPERM/);
  assert.deepEqual(fs.readdirSync(dir), ["taken"]);
});

test("writeFileAtomic: writers of one file in one process never share a temp file; the last rename wins whole", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "sub", "report.html");
  // With the temp named after the file and the pid, concurrent writers wrote into one temp file and
  // the later renames failed with ENOENT.
  const bodies = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, "0")}:${"x".repeat(200_000)}`);
  await Promise.all(bodies.map((b) => writeFileAtomic(file, b)));
  assert.ok(bodies.includes(fs.readFileSync(file, "utf8")), "one writer's whole content");
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ["report.html"]);
});

test("writeFileAtomicSync: the mode is the file's", (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "job.sh");
  writeFileAtomicSync(file, "#!/bin/sh\n", { mode: 0o700 });
  assert.equal(fs.statSync(file).mode & 0o777, 0o700);
  assert.equal(fs.readFileSync(file, "utf8"), "#!/bin/sh\n");
});
