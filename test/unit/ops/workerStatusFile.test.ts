/** The HEALTHCHECK's busy-worker verdict from the workers' status files (src/ops/workerStatusFile.ts). */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { busyWorkerVerdict, readWorkerStatuses, removeWorkerStatus, writeWorkerStatus, type WorkerStatusRecord } from "../../../src/ops/workerStatusFile.js";

const NOW = 1_800_000_000_000;
const QUEUES = ["acme-workflows", "acme-llm", "acme-default", "acme-cluster"];
const record = (over: Partial<WorkerStatusRecord> = {}): WorkerStatusRecord => ({
  pid: 41,
  hostname: "box",
  writtenAt: NOW - 5_000,
  serverOkAt: NOW - 5_000,
  queues: [{ taskQueue: "acme-llm", kind: "activity", slots: 2, running: 2 }],
  ...over,
});
const verdict = (records: WorkerStatusRecord[], alive: (pid: number) => boolean = (pid) => pid === 41) =>
  busyWorkerVerdict({ records, hostname: "box", queues: QUEUES, now: NOW, maxAgeMs: 90_000, alive });

test("a live worker of this host with every activity slot busy and a recent server round trip is healthy", () => {
  assert.deepEqual(verdict([record()]), {
    healthy: true,
    detail: "41@box runs activities in every slot (acme-llm 2/2), so it does not poll; server answered 5 s ago",
  });
  const both = record({
    queues: [
      { taskQueue: "acme-workflows", kind: "workflow" },
      { taskQueue: "acme-llm", kind: "activity", slots: 2, running: 2 },
      { taskQueue: "acme-default", kind: "activity", slots: 8, running: 8 },
    ],
  });
  assert.equal(verdict([both])?.healthy, true);
});

test("no verdict for a worker with a free slot (it polls), another host or deployment, a dead process, or an old record", () => {
  assert.equal(verdict([record({ queues: [{ taskQueue: "acme-llm", kind: "activity", slots: 2, running: 1 }] })]), undefined);
  assert.equal(
    verdict([
      record({
        queues: [
          { taskQueue: "acme-llm", kind: "activity", slots: 2, running: 2 },
          { taskQueue: "acme-default", kind: "activity", slots: 8, running: 0 },
        ],
      }),
    ]),
    undefined,
  );
  assert.equal(verdict([record({ queues: [{ taskQueue: "acme-workflows", kind: "workflow" }] })]), undefined, "a workflow worker polls");
  assert.equal(verdict([record({ hostname: "other" })]), undefined);
  assert.equal(verdict([record({ queues: [{ taskQueue: "zeta-llm", kind: "activity", slots: 1, running: 1 }] })]), undefined);
  assert.equal(
    verdict([record()], () => false),
    undefined,
  );
  assert.equal(verdict([record({ writtenAt: NOW - 91_000 })]), undefined);
});

test("a busy worker without a server round trip in the window is unhealthy (it lost its connection)", () => {
  for (const serverOkAt of [null, NOW - 120_000]) {
    const v = verdict([record({ serverOkAt })]);
    assert.equal(v?.healthy, false);
    assert.equal(v?.detail, "41@box has every activity slot busy (acme-llm 2/2) but no server round trip in 90 s");
  }
});

test("status files: written whole, read back, foreign or broken files skipped, removed by pid", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-status-"));
  try {
    assert.deepEqual(readWorkerStatuses(path.join(dir, "missing")), []);
    writeWorkerStatus(dir, record());
    fs.writeFileSync(path.join(dir, "42.json"), "{not json");
    fs.writeFileSync(path.join(dir, "43.json"), JSON.stringify({ pid: "x" }));
    fs.writeFileSync(path.join(dir, "notes.txt"), "x");
    assert.deepEqual(readWorkerStatuses(dir), [record()]);
    removeWorkerStatus(dir, 41);
    assert.deepEqual(readWorkerStatuses(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
