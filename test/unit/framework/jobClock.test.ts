/** The deadlines of a running cluster job: readiness (servers) and stall (training steps), timed poll to poll. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { overdueJob, spokenDuration, tickJobClock, type JobClock } from "../../../src/framework/jobClock.js";

const t0 = Date.parse("2026-12-06T10:00:00Z");
const min = 60_000;
const at = (ms: number) => new Date(ms).toISOString();

test("job clock: queued time never counts; readiness is timed from the first poll that sees the job running", () => {
  let c: JobClock = {};
  c = tickJobClock(c, "pending", undefined, t0);
  assert.deepEqual(c, {});
  c = tickJobClock(c, "running", undefined, t0 + 30 * min);
  assert.equal(c.runningSince, at(t0 + 30 * min));
  c = tickJobClock(c, "running", undefined, t0 + 80 * min);
  assert.equal(c.runningSince, at(t0 + 30 * min), "kept while it runs");
  assert.equal(overdueJob(c, { readyTimeoutMs: 60 * min }, t0 + 80 * min), undefined, "50 minutes running: within an hour");
  assert.deepEqual(overdueJob(c, { readyTimeoutMs: 60 * min }, t0 + 91 * min), { deadline: "ready", elapsedMs: 61 * min, limitMs: 60 * min });
  // Put back in the queue (a Slurm requeue): timing starts afresh when it runs again.
  c = tickJobClock(c, "pending", undefined, t0 + 92 * min);
  c = tickJobClock(c, "running", undefined, t0 + 200 * min);
  assert.equal(overdueJob(c, { readyTimeoutMs: 60 * min }, t0 + 210 * min), undefined);
  assert.equal(overdueJob(c, {}, t0 + 10_000 * min), undefined, "no deadline, never overdue");
});

test("job clock: a stall is time without a new step, the first step's wait (model loading) included", () => {
  let c = tickJobClock({}, "running", 0, t0);
  assert.deepEqual(overdueJob(c, { stallTimeoutMs: 240 * min }, t0 + 241 * min), { deadline: "stall", elapsedMs: 241 * min, limitMs: 240 * min });
  c = tickJobClock(c, "running", 1, t0 + 100 * min);
  c = tickJobClock(c, "running", 1, t0 + 300 * min);
  assert.equal(c.stepSeenAt, at(t0 + 100 * min), "the same step again does not reset it");
  assert.equal(overdueJob(c, { stallTimeoutMs: 240 * min }, t0 + 300 * min), undefined);
  assert.equal(overdueJob(c, { stallTimeoutMs: 240 * min }, t0 + 341 * min)?.deadline, "stall");
  c = tickJobClock(c, "running", 2, t0 + 330 * min);
  assert.equal(overdueJob(c, { stallTimeoutMs: 240 * min }, t0 + 341 * min), undefined, "step 2 came");
  // A poll that could not read the steps (undefined) changes nothing.
  assert.deepEqual(tickJobClock(c, "running", undefined, t0 + 400 * min), { ...c });
  // An ended job's clock is left as it was (the watcher stops).
  assert.deepEqual(tickJobClock(c, "failed", 3, t0 + 500 * min), c);
});

test("durations read as seconds under two minutes, else minutes", () => {
  assert.equal(spokenDuration(3_400), "3 s");
  assert.equal(spokenDuration(119_000), "119 s");
  assert.equal(spokenDuration(61 * min), "61 minutes");
});
