/** schedules[].spec.cron[]: each line read as the Temporal server reads it, every problem reported at validation. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCampaignConfig } from "../../../src/config/campaignConfig.js";
import { CRON_MACROS, parseCronLine, type CronCalendar } from "../../../src/schedules/cronSpec.js";

const base = {
  name: "cron-test",
  endpoints: { sim: { baseUrl: "http://127.0.0.1:1/v1" } },
  roles: { generator: { endpoint: "sim", model: "m" } },
  tools: { sources: [{ kind: "example" }] },
  stages: [{ name: "synthesize.singleTurn", count: 4, batchSize: 4 }],
};

const range = (a: number, b: number, step = 1) => Array.from({ length: Math.floor((b - a) / step) + 1 }, (_, i) => a + i * step);

function calendar(line: string): CronCalendar {
  const r = parseCronLine(line);
  assert.ok(r.ok, `${line}: ${r.ok ? "" : r.problems.join("; ")}`);
  assert.equal(r.value.kind, "calendar", line);
  return (r.value as { calendar: CronCalendar }).calendar;
}

function problems(line: string): string[] {
  const r = parseCronLine(line);
  assert.equal(r.ok, false, `${line}: expected to be refused`);
  return r.ok ? [] : r.problems;
}

/** The config's issues for these cron lines, as `campaign validate` prints them. */
function cronIssues(cron: string[]): string[] {
  const r = parseCampaignConfig({ ...base, schedules: [{ id: "w", spec: { cron } }] });
  return r.ok ? [] : r.error.issues.map((i) => `${i.path}: ${i.message}`);
}

test("a 5-field line: minute hour day-of-month month day-of-week; seconds 0, every year", () => {
  assert.deepEqual(calendar("0 6 * * MON"), {
    second: [0],
    minute: [0],
    hour: [6],
    dayOfMonth: range(1, 31),
    month: range(1, 12),
    dayOfWeek: [1],
    year: undefined,
    comment: "",
  });
  // Extra blanks around and between fields are fine.
  assert.deepEqual(calendar("  15  6\t1 * *  "), calendar("15 6 1 * *"));
});

test("every field's bounds pass; one past them is refused naming the field and its range", () => {
  // Each field at its lowest and highest value.
  for (const line of ["0 0 1 1 0", "59 0 1 1 *", "0 23 1 1 *", "0 0 31 1 *", "0 0 1 12 *", "0 0 * * 7", "59 23 31 12 7"]) calendar(line);
  assert.deepEqual(problems("60 0 1 1 *"), ["minute 60 is out of range 0-59"]);
  assert.deepEqual(problems("61 6 * * MON"), ["minute 61 is out of range 0-59"]);
  assert.deepEqual(problems("0 24 1 1 *"), ["hour 24 is out of range 0-23"]);
  assert.deepEqual(problems("0 0 32 1 *"), ["day of month 32 is out of range 1-31"]);
  assert.deepEqual(problems("0 0 0 1 *"), ["day of month 0 is out of range 1-31"]);
  assert.deepEqual(problems("0 0 1 13 *"), ["month 13 is out of range 1-12"]);
  assert.deepEqual(problems("0 0 1 0 *"), ["month 0 is out of range 1-12"]);
  assert.deepEqual(problems("0 0 * * 8"), ["day of week 8 is out of range 0-7"]);
  // Both 0 and 7 are Sunday.
  assert.deepEqual(calendar("0 0 * * 7").dayOfWeek, [0]);
  assert.deepEqual(calendar("0 0 * * 0").dayOfWeek, [0]);
});

test("7 fields: seconds first and a year last; 6 fields: a year last (2000-2100)", () => {
  const c = calendar("30 0 6 * * MON 2027");
  assert.deepEqual([c.second, c.minute, c.hour, c.dayOfWeek, c.year], [[30], [0], [6], [1], [2027]]);
  assert.deepEqual(calendar("0 6 * * MON 2030-2032").year, [2030, 2031, 2032]);
  assert.deepEqual(calendar("0 6 * * MON *").year, undefined);
  calendar("59 0 6 * * MON 2000");
  calendar("0 0 6 * * MON 2100");
  assert.deepEqual(problems("60 0 6 * * MON 2027"), ["second 60 is out of range 0-59"]);
  assert.deepEqual(problems("0 6 * * MON 1999"), ["year 1999 is out of range 2000-2100"]);
  assert.deepEqual(problems("0 6 * * MON 2101"), ["year 2101 is out of range 2000-2100"]);
});

test("month names (at least 3 letters, any case) and day names (at least 2 letters)", () => {
  assert.deepEqual(calendar("0 0 1 JAN *").month, [1]);
  assert.deepEqual(calendar("0 0 1 dec *").month, [12]);
  assert.deepEqual(calendar("0 0 1 September *").month, [9]);
  assert.deepEqual(calendar("0 0 1 JAN,jul,Dec *").month, [1, 7, 12]);
  assert.deepEqual(calendar("0 0 * * SUN").dayOfWeek, [0]);
  assert.deepEqual(calendar("0 0 * * sat").dayOfWeek, [6]);
  assert.deepEqual(calendar("0 0 * * Tu,TH").dayOfWeek, [2, 4]);
  assert.deepEqual(calendar("0 0 * * monday").dayOfWeek, [1]);
  assert.deepEqual(problems("0 6 * * FUNDAY"), ['day of week "FUNDAY" is not a day of week 0-7 (0 and 7 are Sunday) or a name such as MON']);
  assert.deepEqual(problems("0 6 * * M"), ['day of week "M" is not a day of week 0-7 (0 and 7 are Sunday) or a name such as MON']);
  assert.deepEqual(problems("0 6 * * MONDAYS"), ['day of week "MONDAYS" is not a day of week 0-7 (0 and 7 are Sunday) or a name such as MON']);
  assert.deepEqual(problems("0 6 1 JA *"), ['month "JA" is not a month 1-12 or a name such as JAN']);
  assert.deepEqual(problems("0 6 1 JANVIER *"), ['month "JANVIER" is not a month 1-12 or a name such as JAN']);
  // Names belong to their own field only.
  assert.deepEqual(problems("0 6 1 MON *"), ['month "MON" is not a month 1-12 or a name such as JAN']);
  assert.deepEqual(problems("0 6 * * JAN"), ['day of week "JAN" is not a day of week 0-7 (0 and 7 are Sunday) or a name such as MON']);
  assert.deepEqual(problems("0 6 MON * *"), ['day of month "MON" is not a number 1-31']);
});

test("ranges, steps and lists", () => {
  assert.deepEqual(calendar("*/15 * * * *").minute, [0, 15, 30, 45]);
  assert.deepEqual(calendar("5/20 * * * *").minute, [5, 25, 45]);
  assert.deepEqual(calendar("0 9-17 * * *").hour, range(9, 17));
  assert.deepEqual(calendar("0 9-17/4 * * *").hour, [9, 13, 17]);
  assert.deepEqual(calendar("0 0 1,15,31 * *").dayOfMonth, [1, 15, 31]);
  assert.deepEqual(calendar("0 0 1-5/2,8-11,20 * *").dayOfMonth, [1, 3, 5, 8, 9, 10, 11, 20]);
  assert.deepEqual(calendar("0 0 * JAN-MAR *").month, [1, 2, 3]);
  assert.deepEqual(calendar("0 0 * */3 *").month, [1, 4, 7, 10]);
  assert.deepEqual(calendar("0 0 * * MON-FRI").dayOfWeek, [1, 2, 3, 4, 5]);
  assert.deepEqual(calendar("0 0 * * FRI-7").dayOfWeek, [0, 5, 6]);
  assert.deepEqual(calendar("0 0 * * 5-7").dayOfWeek, [0, 5, 6]);
  assert.deepEqual(calendar("0 0 * * 1-7/3").dayOfWeek, [0, 1, 4]);
  assert.deepEqual(calendar("0 0 * * */2").dayOfWeek, [0, 2, 4, 6]);
  assert.deepEqual(calendar("0-59/59 0-23 1-31 1-12 0-7").minute, [0, 59]);
  assert.deepEqual(calendar("59/1 * * * *").minute, [59]);

  assert.deepEqual(problems("*/0 * * * *"), ['minute "*/0": step 0 is below 1']);
  assert.deepEqual(problems("*/ * * * *"), ['minute "*/" has no step after "/"']);
  assert.deepEqual(problems("*/x * * * *"), ['minute "*/x": step "x" is not a whole number']);
  assert.deepEqual(problems("1/2/3 * * * *"), ['minute "1/2/3" has more than one "/"']);
  assert.deepEqual(problems("0 1-2-3 * * *"), ['hour "1-2-3" has more than one "-" (a range is start-end)']);
  assert.deepEqual(problems("0 17-9 * * *"), ['hour "17-9": the range ends before it starts']);
  assert.deepEqual(problems("0 9-24 * * *"), ["hour range end 24 is out of range 0-23"]);
  assert.deepEqual(problems("0 0 0-5 * *"), ["day of month range start 0 is out of range 1-31"]);
  assert.deepEqual(problems("0 0 * * FRI-SUN"), ['day of week "FRI-SUN": the range ends before it starts (Sunday is 0 here: write FRI-7)']);
  assert.deepEqual(problems("0 0 * DEC-JAN *"), ['month "DEC-JAN": the range ends before it starts']);
  assert.deepEqual(problems("0 0 * * MON-XYZ"), ['day of week range end "XYZ" is not a day of week 0-7 (0 and 7 are Sunday) or a name such as MON']);
  assert.deepEqual(problems("0 0 1,,15 * *"), ['day of month "" is not a number 1-31']);
  assert.deepEqual(problems("0 0 ? * MON"), ['day of month "?" is not a number 1-31']);
  assert.deepEqual(problems("0 0 L * *"), ['day of month "L" is not a number 1-31']);
  // Each bad item of a list is reported.
  assert.deepEqual(problems("0 0 1,32,40 * *"), ["day of month 32 is out of range 1-31", "day of month 40 is out of range 1-31"]);
});

test("the README's macros, @every intervals and comments", () => {
  for (const [macro, line] of Object.entries(CRON_MACROS)) assert.deepEqual(calendar(macro), calendar(line), macro);
  assert.deepEqual(calendar("@weekly").dayOfWeek, [0]);
  assert.deepEqual(calendar("@hourly").hour, range(0, 23));
  assert.deepEqual(calendar(" @daily ").hour, [0]);
  assert.deepEqual(problems("@fortnightly"), [
    'unknown macro "@fortnightly": expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or "@every <duration>"',
  ]);
  assert.deepEqual(parseCronLine("@every 6h"), { ok: true, value: { kind: "interval", everyMs: 6 * 3_600_000, offsetMs: 0 } });
  assert.deepEqual(parseCronLine("@every 7d/102h"), { ok: true, value: { kind: "interval", everyMs: 7 * 86_400_000, offsetMs: 102 * 3_600_000 } });
  assert.equal(parseCronLine("@every 1s").ok, true);
  assert.deepEqual(problems("@every 500ms"), ["@every 500ms: the interval is below 1s"]);
  assert.deepEqual(problems("@every 1h/2h"), ["@every 1h/2h: the offset is not below the interval"]);
  // An interval below 1s is the one problem: no offset compared with it (none was written).
  assert.deepEqual(problems("@every 0s"), ["@every 0s: the interval is below 1s"]);
  assert.deepEqual(problems("@every 0s/5s"), ["@every 0s: the interval is below 1s"]);
  assert.match(problems("@every week")[0]!, /^expected "@every <duration>" or "@every <duration>\/<offset>"/);
  assert.deepEqual(calendar("0 6 * * MON # retrain").comment, "retrain");
  assert.deepEqual(calendar("@weekly # Sundays").dayOfWeek, [0]);
  assert.deepEqual(problems("0 6 * * MON#2"), ['"MON#2": "#" starts a comment (there is no nth weekday); put a space before a comment']);
  assert.deepEqual(problems("TZ=Europe/Berlin 0 6 * * MON"), ['a time zone in the cron line ("TZ=Europe/Berlin") is not supported: set spec.timezone']);
});

test("a line with too few or too many fields is not a cron expression", () => {
  for (const line of ["not a cron", "0 6 * *", "0 0 6 * * MON 2027 x", ""])
    assert.match(problems(line).join("\n"), /^expected a cron expression: 5 fields "minute hour day-of-month month day-of-week"/, line);
});

test("validation reports every problem of every cron line with its path, with the other schedule errors", () => {
  assert.deepEqual(cronIssues(["61 6 * * MON"]), ["schedules[0].spec.cron[0]: minute 61 is out of range 0-59"]);
  assert.deepEqual(cronIssues(["0 6 * * MON", "61 25 * 13 FUNDAY", "not a cron"]), [
    "schedules[0].spec.cron[1]: minute 61 is out of range 0-59",
    "schedules[0].spec.cron[1]: hour 25 is out of range 0-23",
    "schedules[0].spec.cron[1]: month 13 is out of range 1-12",
    'schedules[0].spec.cron[1]: day of week "FUNDAY" is not a day of week 0-7 (0 and 7 are Sunday) or a name such as MON',
    'schedules[0].spec.cron[2]: expected a cron expression: 5 fields "minute hour day-of-month month day-of-week" (e.g. "0 6 * * MON"), 6 with a year last or 7 with seconds first and a year last, or @daily, @weekly, ...; got 3 fields',
  ]);
  const r = parseCampaignConfig({
    ...base,
    schedules: [
      { id: "w", spec: { cron: ["0 6 * * FUNDAY"], timezone: "Mars/Olympus", jitter: "x" }, overlap: "no", catchupWindow: "1s" },
      { id: "d", spec: { cron: ["0 0 32 * *"] } },
    ],
  });
  assert.equal(r.ok, false);
  const all = r.ok ? [] : r.error.issues.map((i) => `${i.path}: ${i.message}`);
  assert.equal(all.length, 6, all.join("\n"));
  assert.ok(
    all.includes('schedules[0].spec.cron[0]: day of week "FUNDAY" is not a day of week 0-7 (0 and 7 are Sunday) or a name such as MON'),
    all.join("\n"),
  );
  assert.ok(all.includes("schedules[1].spec.cron[0]: day of month 32 is out of range 1-31"), all.join("\n"));
  for (const field of ["spec.timezone", "spec.jitter", "overlap", "catchupWindow"])
    assert.ok(
      all.some((i) => i.startsWith(`schedules[0].${field}: `)),
      field,
    );
  // Valid lines at the bounds pass validation too.
  const ok = parseCampaignConfig({ ...base, schedules: [{ id: "w", spec: { cron: ["59 23 31 12 7", "0 0 1 JAN SUN", "@weekly", "*/5 9-17 * * MON-FRI"] } }] });
  assert.ok(ok.ok, ok.ok ? "" : ok.error.message);
});

test("a line the server accepts but that never fires (February 31st) is refused at validation, naming the line", () => {
  assert.deepEqual(cronIssues(["@every 0s"]), ["schedules[0].spec.cron[0]: @every 0s: the interval is below 1s"]);
  assert.deepEqual(cronIssues(["0 6 * * MON", "0 6 31 2 *", "0 0 30,31 2 *", "0 0 31 4,6,9,11 *"]), [
    "schedules[0].spec.cron[1]: never fires: no date matches its day of month and month",
    "schedules[0].spec.cron[2]: never fires: no date matches its day of month and month",
    "schedules[0].spec.cron[3]: never fires: no date matches its day of month and month",
  ]);
  // Both day fields must match (Temporal's calendar, not classic cron's either-or); a year list counts.
  assert.deepEqual(cronIssues(["0 0 31 2 MON", "0 0 29 2 * 2001-2003"]), [
    "schedules[0].spec.cron[0]: never fires: no date matches its day of month, month and day of week (a date must match both day fields, not either as in classic cron)",
    "schedules[0].spec.cron[1]: never fires: no date matches its day of month, month and year",
  ]);
  // Rare dates still fire: leap days, Friday the 13th, the 31st of months that have one, leap days of a listed leap year.
  for (const line of ["0 6 29 2 *", "0 0 13 * FRI", "0 0 31 4,6,9,11,12 *", "0 0 29 2 * 2001-2004", "0 0 29 2 MON"])
    assert.deepEqual(cronIssues([line]), [], line);
  // The server's reading is unchanged: the line parses, validation is what refuses it.
  assert.equal(parseCronLine("0 6 31 2 *").ok, true);
});
