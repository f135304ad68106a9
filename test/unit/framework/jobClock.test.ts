/** The deadlines of a running cluster job: readiness (servers) and stall (training), timed poll to poll. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { overdueJob, spokenDuration, tickJobClock, type JobClock } from "../../../src/framework/jobClock.js";

const t0 = Date.parse("2026-12-06T10:00:00Z");
const min = 60_000;
const at = (ms: number) => new Date(ms).toISOString();
const stall = { stallTimeoutMs: 240 * min };

test("job clock: queued time never counts; readiness is timed from the first poll that sees the job running", () => {
  let c: JobClock = {};
  c = tickJobClock(c, "pending", {}, t0);
  assert.deepEqual(c, {});
  c = tickJobClock(c, "running", {}, t0 + 30 * min);
  assert.equal(c.runningSince, at(t0 + 30 * min));
  c = tickJobClock(c, "running", {}, t0 + 80 * min);
  assert.equal(c.runningSince, at(t0 + 30 * min), "kept while it runs");
  assert.equal(overdueJob(c, { readyTimeoutMs: 60 * min }, t0 + 80 * min), undefined, "50 minutes running: within an hour");
  assert.deepEqual(overdueJob(c, { readyTimeoutMs: 60 * min }, t0 + 91 * min), { deadline: "ready", elapsedMs: 61 * min, limitMs: 60 * min });
  // Put back in the queue (a Slurm requeue): timing starts afresh when it runs again.
  c = tickJobClock(c, "pending", {}, t0 + 92 * min);
  c = tickJobClock(c, "running", {}, t0 + 200 * min);
  assert.equal(overdueJob(c, { readyTimeoutMs: 60 * min }, t0 + 210 * min), undefined);
  assert.equal(overdueJob(c, {}, t0 + 10_000 * min), undefined, "no deadline, never overdue");
});

test("job clock: a stall is time with neither a new step nor new output, the wait for the first step (model loading) included", () => {
  // A resumed attempt first seen at step 30 (its checkpoint's): where it stands, not a step it made.
  let c = tickJobClock({}, "running", { done: 30, output: "a" }, t0);
  assert.deepEqual(c, { runningSince: at(t0), advancedAt: at(t0), stepDone: 30, output: "a" });
  assert.deepEqual(overdueJob(c, stall, t0 + 241 * min), { deadline: "stall", elapsedMs: 241 * min, limitMs: 240 * min });
  c = tickJobClock(c, "running", { done: 31, output: "a" }, t0 + 100 * min);
  assert.equal(c.advancedAt, at(t0 + 100 * min), "a new step");
  c = tickJobClock(c, "running", { done: 31, output: "a" }, t0 + 300 * min);
  assert.equal(c.advancedAt, at(t0 + 100 * min), "the same step and output again: nothing new");
  assert.equal(overdueJob(c, stall, t0 + 341 * min)?.deadline, "stall");
  // The tail missed the step lines (a chatty rollout), but the job writes: not hung.
  c = tickJobClock(c, "running", { done: 20, output: "b" }, t0 + 330 * min);
  assert.equal(c.advancedAt, at(t0 + 330 * min));
  assert.equal(overdueJob(c, stall, t0 + 341 * min), undefined);
  // A poll that read nothing (the log could not be read) changes nothing.
  assert.deepEqual(tickJobClock(c, "running", {}, t0 + 400 * min), c);
  // An ended job's clock is left as it was (the watcher stops).
  assert.deepEqual(tickJobClock(c, "failed", { done: 40, output: "c" }, t0 + 500 * min), c);
});

test("durations read as seconds under two minutes, else minutes", () => {
  assert.equal(spokenDuration(3_400), "3 s");
  assert.equal(spokenDuration(119_000), "119 s");
  assert.equal(spokenDuration(61 * min), "61 minutes");
});
