import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCount, formatDuration, formatRate, renderProgressLine, stageProgress } from "../../../src/status/progressLine.js";

const now = Date.parse("2026-12-02T12:00:00Z");

test("rate is the window's items over the window, cut at the stage start; ETA is what is left at that rate", () => {
  // 12,630 items finished in the last 5 minutes of a stage running for an hour: 42.1 items/s.
  const p = stageProgress({ done: 1250, total: 4000, windowItems: 12_630, nowMs: now, startedAtMs: now - 3_600_000 });
  assert.equal(p.fraction, 0.3125);
  assert.ok(Math.abs((p.ratePerSec as number) - 42.1) < 1e-9);
  assert.ok(Math.abs((p.etaSeconds as number) - 2750 / 42.1) < 1e-9);
  assert.equal(renderProgressLine("synthesize.singleTurn", p), "synthesize.singleTurn  1,250/4,000 (31%)  42.1 items/s  ETA 1m06s");

  // A stage 20 s old with 500 items done: 25 items/s, not diluted over the 5-minute window.
  const young = stageProgress({ done: 500, total: 1000, windowItems: 500, nowMs: now, startedAtMs: now - 20_000 });
  assert.equal(young.ratePerSec, 25);
  assert.equal(young.etaSeconds, 20);
});

test("no batch finished within the window: no rate and no ETA (a stalled stage does not pretend)", () => {
  const p = stageProgress({ done: 30, total: 60, windowItems: 0, nowMs: now, startedAtMs: now - 3_600_000 });
  assert.equal(p.ratePerSec, undefined);
  assert.equal(p.etaSeconds, undefined);
  assert.equal(renderProgressLine("verify.rules", p, { nameWidth: 14 }), "verify.rules    30/60 (50%)  -- items/s  ETA --");
  // `eta` replaces the ETA alone (a paused campaign's stage).
  assert.equal(renderProgressLine("verify.rules", p, { nameWidth: 14, eta: "paused" }), "verify.rules    30/60 (50%)  -- items/s  paused");
});

test("done stages, empty plans, clock skew and overshoot stay sane", () => {
  const done = stageProgress({ done: 4000, total: 4000, windowItems: 0, nowMs: now });
  assert.equal(done.etaSeconds, 0);
  assert.equal(renderProgressLine("export.dataset", done, { note: "succeeded in 2m00s" }), "export.dataset  4,000/4,000 (100%)  succeeded in 2m00s");
  assert.equal(renderProgressLine("export.dataset", done), "export.dataset  4,000/4,000 (100%)");
  const empty = stageProgress({ done: 0, total: 0, windowItems: 0, nowMs: now });
  assert.equal(empty.fraction, 0);
  // A start time in the future (another clock) gives no rate rather than a negative one.
  assert.equal(stageProgress({ done: 5, total: 10, windowItems: 5, nowMs: now, startedAtMs: now + 1000 }).ratePerSec, undefined);
  const over = stageProgress({ done: 12, total: 10, windowItems: 2, nowMs: now, startedAtMs: now - 1000 });
  assert.equal(over.fraction, 1);
  assert.equal(over.etaSeconds, 0);
});

test("formatting: thousands, rates, durations", () => {
  assert.equal(formatCount(1234567), "1,234,567");
  assert.equal(formatRate(42.06), "42.1");
  assert.equal(formatRate(1234.5), "1,235");
  assert.equal(formatRate(0.042), "0.042");
  assert.equal(formatRate(0.5), "0.5");
  assert.deepEqual([0, 0.2, 45, 59.5, 60, 65, 3599, 3600, 7380, 86_399, 86_400 * 3 + 4 * 3600].map(formatDuration), [
    "0s",
    "1s",
    "45s",
    "1m00s",
    "1m00s",
    "1m05s",
    "59m59s",
    "1h00m",
    "2h03m",
    "1d00h",
    "3d04h",
  ]);
});
