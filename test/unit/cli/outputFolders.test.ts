import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { applyDemoOutputDir, demoCampaignOutputDir, demoReportServeCommand } from "../../../src/cli/demoOutput.js";
import { outputFolderLine, outputTreeLines } from "../../../src/cli/outputFolder.js";
import { campaignOutputDir, iterationOutputDir } from "../../../src/output/layout.js";

test("the demo writes to <state-dir>/output/<campaign>/iter-N, not <state-dir>/.toolloop/output, whatever output.dir the config names", () => {
  const stateDir = path.resolve(".toolloop/demo");
  for (const raw of [{}, { output: { dir: ".toolloop/output" } }] as { output?: { dir?: string } }[]) {
    assert.equal(applyDemoOutputDir(raw, ".toolloop/demo"), path.join(stateDir, "output"));
    assert.equal(raw.output?.dir, path.join(stateDir, "output"));
    const dir = demoCampaignOutputDir(raw, ".toolloop/demo", "demo-20261202");
    assert.equal(dir, path.join(stateDir, "output", "demo-20261202"));
    // What the demo's workers (base dir = the state dir) resolve the frozen output.dir to.
    assert.equal(iterationOutputDir(stateDir, raw.output!.dir!, "demo-20261202", 2), path.join(stateDir, "output", "demo-20261202", "iter-2"));
    assert.ok(!dir.includes(`${path.sep}.toolloop${path.sep}output`));
  }
});

test("--output-dir moves the demo's outputs (resolved against the current folder)", () => {
  const raw = { output: { dir: ".toolloop/output" } };
  assert.equal(applyDemoOutputDir(raw, "/tmp/state", "/data/out"), "/data/out");
  assert.equal(demoCampaignOutputDir(raw, "/tmp/state", "c1"), "/data/out/c1");
  assert.equal(applyDemoOutputDir({}, "/tmp/state", "rel"), path.resolve("rel"));
});

test("the demo's closing `report serve` hint runs as printed once the demo has stopped: it names the demo's PGlite folder", () => {
  // The demo's own database lives only in its state dir; `report serve` without DATABASE_URL refuses.
  assert.equal(
    demoReportServeCommand("demo-20261207-145750", "pglite:/home/u/toolloop/.toolloop/demo/pglite", false),
    "DATABASE_URL=pglite:/home/u/toolloop/.toolloop/demo/pglite toolloop report serve demo-20261207-145750",
  );
  assert.equal(demoReportServeCommand("d1", "pglite:/tmp/my demo/pglite", false), "DATABASE_URL='pglite:/tmp/my demo/pglite' toolloop report serve d1");
  // A DATABASE_URL the user set is in their environment already (and may hold a password): not repeated.
  assert.equal(demoReportServeCommand("d1", "postgres://u:secret@db:5432/toolloop", true), "toolloop report serve d1");
});

test("campaign start names the folder: exact when absolute, relative to the worker's base dir otherwise", () => {
  assert.equal(outputFolderLine("/data/out", "c1"), "outputs: /data/out/c1");
  assert.match(outputFolderLine(".toolloop/output", "c1"), /^outputs: \.toolloop\/output\/c1\/ under the worker's --base-dir/);
  assert.equal(outputFolderLine(".toolloop/output", "c1", "/srv"), `outputs: ${campaignOutputDir("/srv", ".toolloop/output", "c1")}`);
});

test("the demo summary lists the campaign folder: reports and each iteration's files, iterations in order", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-tree-"));
  try {
    for (const it of [10, 2]) {
      fs.mkdirSync(path.join(dir, `iter-${it}`, "verl"), { recursive: true });
      fs.writeFileSync(path.join(dir, `iter-${it}`, "dataset.jsonl"), "");
    }
    fs.writeFileSync(path.join(dir, "report.html"), "");
    assert.deepEqual(outputTreeLines(dir), ["iter-2/ dataset.jsonl verl/", "iter-10/ dataset.jsonl verl/", "report.html"]);
    assert.deepEqual(outputTreeLines(path.join(dir, "missing")), [`(no outputs at ${path.join(dir, "missing")})`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
