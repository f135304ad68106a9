/** Progress heartbeats at a bounded rate: the first report at once, at most one more per interval, the latest never lost. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createProgressBeat } from "../../../src/util/progressBeat.js";

function clocked(intervalMs: number, initial: unknown = { settled: 0 }) {
  let t = 0;
  const sent: unknown[] = [];
  const beat = createProgressBeat(
    (d) => sent.push(d),
    intervalMs,
    initial,
    () => t,
  );
  return { beat, sent, advance: (ms: number) => (t += ms) };
}

test("the first report goes out at once; reports within the interval wait; one after it goes out", () => {
  const { beat, sent, advance } = clocked(1000);
  beat.report({ settled: 1 });
  for (let i = 2; i <= 80; i++) {
    advance(10);
    beat.report({ settled: i });
  }
  assert.deepEqual(sent, [{ settled: 1 }], "80 reports in 0.8 s: one heartbeat");
  advance(210);
  beat.report({ settled: 81 });
  assert.deepEqual(sent.at(-1), { settled: 81 });
  assert.equal(sent.length, 2);
});

test("the timer's beat carries the latest report (or the initial details), then the interval starts again", () => {
  const { beat, sent, advance } = clocked(1000, { settled: 3 });
  beat.tick();
  assert.deepEqual(sent, [{ settled: 3 }], "before any report: the details the attempt was handed");
  advance(100);
  beat.report({ settled: 4 });
  assert.equal(sent.length, 1, "within the interval of the tick");
  advance(900);
  beat.tick();
  assert.deepEqual(sent.at(-1), { settled: 4 });
  beat.tick();
  assert.deepEqual(sent.at(-1), { settled: 4 }, "a keep-alive without new progress repeats the latest");
});

test("flush sends a kept report once, and nothing when all were sent", () => {
  const { beat, sent, advance } = clocked(1000);
  beat.flush();
  assert.equal(sent.length, 0, "nothing reported: nothing to flush");
  beat.report({ settled: 1 });
  advance(5);
  beat.report({ settled: 2 });
  beat.flush();
  beat.flush();
  assert.deepEqual(sent, [{ settled: 1 }, { settled: 2 }]);
});

test("an interval of 0 sends every report", () => {
  const { beat, sent } = clocked(0);
  for (let i = 1; i <= 5; i++) beat.report({ settled: i });
  assert.equal(sent.length, 5);
});
