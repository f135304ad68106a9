/**
 * `schedule backfill --from --to`: the times as the operator wrote them, checked strictly, and the
 * range the server is asked for. Pure: unit-tested without Temporal.
 */

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?)?$/;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * An ISO 8601 date (`2026-12-07`, midnight UTC) or date and time with a zone (`2026-12-07T06:00:00Z`,
 * `2026-12-07T07:00+01:00`); the reason when it is not one. A time without a zone is refused: JavaScript
 * would read it in this machine's zone, not in UTC. Out-of-range fields (`2026-02-30`, `24:00`) are
 * refused rather than rolled over into the next day or month.
 */
export function parseBackfillTime(value: string): { time: Date } | { problem: string } {
  const m = ISO.exec(value.trim());
  const example = "such as 2026-12-07 or 2026-12-07T06:00:00Z";
  if (!m) return { problem: `expected an ISO 8601 date or time ${example}` };
  const [, y, mo, d, h, mi, s, , zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12) return { problem: `month ${mo} is out of range 01-12` };
  if (day < 1 || day > daysIn(year, month)) return { problem: `day ${d} is out of range for ${y}-${mo} (01-${String(daysIn(year, month)).padStart(2, "0")})` };
  if (h !== undefined) {
    if (Number(h) > 23) return { problem: `hour ${h} is out of range 00-23` };
    if (Number(mi) > 59) return { problem: `minute ${mi} is out of range 00-59` };
    if (s !== undefined && Number(s) > 59) return { problem: `second ${s} is out of range 00-59` };
    if (zone === undefined)
      return { problem: `expected a zone: add Z for UTC or an offset such as +01:00 (without one the time would be read in this machine's zone)` };
    const off = /^[+-](\d{2}):?(\d{2})$/.exec(zone);
    if (off && (Number(off[1]) > 23 || Number(off[2]) > 59)) return { problem: `offset ${zone} is out of range` };
  }
  const time = new Date(h === undefined ? `${y}-${mo}-${d}T00:00:00Z` : value.trim().replace(" ", "T").replace(/z$/, "Z"));
  if (Number.isNaN(time.getTime())) return { problem: `expected an ISO 8601 date or time ${example}` };
  // The server moves an earlier start to 1970 without a word (the CLI would claim a range it never asked for).
  if (time.getTime() < 0) return { problem: "expected a time from 1970-01-01 on (Temporal's schedules start there)" };
  return { time };
}

/**
 * The range the server is asked to backfill. The server's range includes its end (a run scheduled
 * exactly at `--to` would start), while `--to` is exclusive, as the CLI says: the end sent is 1 ms
 * earlier. Runs are scheduled at whole seconds at least, so no run between is lost.
 */
export function backfillRange(from: Date, to: Date): { start: Date; end: Date } {
  return { start: from, end: new Date(to.getTime() - 1) };
}

/** Runs one backfill may start unless --max-runs allows more: each is a campaign, possibly days of training. */
export const DEFAULT_BACKFILL_MAX_RUNS = 20;

/**
 * Why a backfill of `times` (the schedule's run times in the range, as the server lists them) should not
 * start, or undefined: more runs than `maxRuns` (a mistyped year would queue hundreds of campaigns).
 */
export function backfillRefusal(scheduleId: string, times: readonly Date[], maxRuns: number): string | undefined {
  if (times.length <= maxRuns) return undefined;
  return (
    `--max-runs: the range holds ${times.length} runs of schedule ${scheduleId} (the first at ${times[0]!.toISOString()}, the last at ${times.at(-1)!.toISOString()}), ` +
    `more than --max-runs ${maxRuns}: each is a campaign of its own; narrow --from/--to, or give --max-runs ${times.length} to start them all`
  );
}
