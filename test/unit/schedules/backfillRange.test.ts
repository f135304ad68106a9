import assert from "node:assert/strict";
import { test } from "node:test";
import { backfillRange, backfillRefusal, DEFAULT_BACKFILL_MAX_RUNS, parseBackfillTime } from "../../../src/schedules/backfillRange.js";

const ok = (v: string) => {
  const r = parseBackfillTime(v);
  assert.ok("time" in r, `${v}: ${"problem" in r ? r.problem : ""}`);
  return r.time.toISOString();
};
const problem = (v: string) => {
  const r = parseBackfillTime(v);
  assert.ok("problem" in r, `${v} was accepted as ${"time" in r ? r.time.toISOString() : ""}`);
  return r.problem;
};

test("backfill times: dates are midnight UTC, times carry a zone, offsets are applied", () => {
  assert.equal(ok("2026-11-02"), "2026-11-02T00:00:00.000Z");
  assert.equal(ok("2026-11-02T06:00:00Z"), "2026-11-02T06:00:00.000Z");
  assert.equal(ok("2026-11-02T06:00Z"), "2026-11-02T06:00:00.000Z");
  assert.equal(ok("2026-11-02T07:00:00+01:00"), "2026-11-02T06:00:00.000Z");
  assert.equal(ok("2026-11-02T07:00:00+0100"), "2026-11-02T06:00:00.000Z");
  assert.equal(ok("2026-11-02 06:00:00.250Z"), "2026-11-02T06:00:00.250Z");
  assert.equal(ok("2028-02-29"), "2028-02-29T00:00:00.000Z");
});

test("backfill times: rolled-over fields, a time without a zone and other text are refused with the reason", () => {
  // new Date() takes these: 2026-03-02, 2026-12-02T00:00Z, and a local time.
  assert.match(problem("2026-02-30"), /^day 30 is out of range for 2026-02 \(01-28\)$/);
  assert.match(problem("2026-02-29T00:00:00Z"), /^day 29 is out of range/);
  assert.match(problem("2026-12-01T24:00:00Z"), /^hour 24 is out of range/);
  assert.match(problem("2026-12-01T23:60:00Z"), /^minute 60 is out of range/);
  assert.match(problem("2026-12-01T23:00:61Z"), /^second 61 is out of range/);
  assert.match(problem("2026-13-01"), /^month 13 is out of range/);
  assert.match(problem("2026-12-01T06:00:00"), /^expected a zone: add Z for UTC/);
  assert.match(problem("2026-12-01T06:00:00+25:00"), /^offset \+25:00 is out of range/);
  for (const v of ["yesterday", "", "2026-1-5", "12/01/2026", "2026-12-01T6:00Z", "1764547200"]) assert.match(problem(v), /^expected an ISO 8601 date or time/);
});

test("backfill range: --to is exclusive, the server's end is inclusive, so the end sent is 1 ms before --to", () => {
  const from = new Date("2026-11-02T00:00:00Z");
  const to = new Date("2026-11-30T06:00:00Z");
  const r = backfillRange(from, to);
  assert.equal(r.start.toISOString(), "2026-11-02T00:00:00.000Z");
  assert.equal(r.end.toISOString(), "2026-11-30T05:59:59.999Z");
});

test("backfill times before 1970 are refused (the server would move them to 1970 without a word)", () => {
  assert.match(problem("1900-01-01"), /^expected a time from 1970-01-01 on/);
  assert.match(problem("1969-12-31T23:59:59Z"), /^expected a time from 1970-01-01 on/);
  assert.equal(ok("1970-01-01"), "1970-01-01T00:00:00.000Z");
});

test("a backfill holding more runs than --max-runs is refused with the count, the first and last run and the flag that allows it", () => {
  const weekly = Array.from({ length: 21 }, (_, i) => new Date(Date.UTC(2026, 0, 5 + 7 * i, 7)));
  assert.equal(backfillRefusal("weekly", weekly.slice(0, DEFAULT_BACKFILL_MAX_RUNS), DEFAULT_BACKFILL_MAX_RUNS), undefined);
  assert.equal(backfillRefusal("weekly", [], DEFAULT_BACKFILL_MAX_RUNS), undefined);
  assert.equal(
    backfillRefusal("weekly", weekly, DEFAULT_BACKFILL_MAX_RUNS),
    "--max-runs: the range holds 21 runs of schedule weekly (the first at 2026-01-05T07:00:00.000Z, the last at 2026-05-25T07:00:00.000Z), " +
      "more than --max-runs 20: each is a campaign of its own; narrow --from/--to, or give --max-runs 21 to start them all",
  );
  assert.equal(backfillRefusal("weekly", weekly, 21), undefined);
});
