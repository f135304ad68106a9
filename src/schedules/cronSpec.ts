/**
 * A schedule's cron line read the way the Temporal server reads it. The client sends `spec.cron[]`
 * as `cron_string`s; the server (go.temporal.io/server service/worker/scheduler/calendar.go,
 * `parseCronString` and `makeRange`, v1.29.1 as embedded in the pinned Temporal CLI) turns each
 * into a calendar spec or an interval and refuses the whole schedule at `schedule create` on the
 * first bad field ("Minute is not in range [0-59]"). There is no JavaScript port of that code, so
 * this module follows its rules field by field, and config validation uses it to report every
 * problem of every line (`schedules[i].spec.cron[j]`) before anything reaches the server.
 *
 * Where the server would accept a line but read it other than it looks, this refuses it:
 * `MON#2` (the server takes `#2` as a comment: there is no nth-weekday), a `TZ=` prefix (the time
 * zone is `spec.timezone`), and `@every` with other than the config's own durations. A line the
 * server accepts that never fires (`0 6 31 2 *`) is parsed as the server parses it; config
 * validation refuses it with cronNeverFires.
 * Pure (workflows import the campaign config schema).
 */

/** The values one field matches, ascending; `undefined` for a year of `*` (every year). */
export interface CronCalendar {
  second: number[];
  minute: number[];
  hour: number[];
  dayOfMonth: number[];
  month: number[];
  /** 0 = Sunday ... 6 = Saturday (7 is read as Sunday). */
  dayOfWeek: number[];
  year: number[] | undefined;
  comment: string;
}

export type ParsedCron = { kind: "calendar"; calendar: CronCalendar } | { kind: "interval"; everyMs: number; offsetMs: number };

export type CronParse = { ok: true; value: ParsedCron } | { ok: false; problems: string[] };

/** The server's macros and what it replaces them with. */
export const CRON_MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** The server's calendar years. */
export const CRON_YEARS = { min: 2000, max: 2100 } as const;
const MAX_COMMENT = 200;

type Mode = "int" | "month" | "dow";
interface FieldRule {
  name: string;
  min: number;
  max: number;
  /** What an absent field means (seconds: 0; year: every year). */
  mode: Mode;
}
const FIELDS = {
  second: { name: "second", min: 0, max: 59, mode: "int" },
  minute: { name: "minute", min: 0, max: 59, mode: "int" },
  hour: { name: "hour", min: 0, max: 23, mode: "int" },
  dayOfMonth: { name: "day of month", min: 1, max: 31, mode: "int" },
  month: { name: "month", min: 1, max: 12, mode: "month" },
  dayOfWeek: { name: "day of week", min: 0, max: 7, mode: "dow" },
  year: { name: "year", min: CRON_YEARS.min, max: CRON_YEARS.max, mode: "int" },
} as const satisfies Record<string, FieldRule>;

const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
/** Go's strconv.Atoi: an optional sign and decimal digits. */
const INTEGER = /^[+-]?[0-9]+$/;

const FIELD_LIST = "minute hour day-of-month month day-of-week";
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const q = (s: string) => JSON.stringify(s);

/** A name (month: at least 3 letters of it; day of week: at least 2) or an integer; `undefined` when it is neither. */
function valueOf(text: string, mode: Mode): number | undefined {
  const lower = text.toLowerCase();
  if (mode === "month" && text.length >= 3) {
    const i = MONTHS.findIndex((m) => m.startsWith(lower));
    if (i >= 0) return i + 1;
  }
  if (mode === "dow" && text.length >= 2) {
    const i = DAYS.findIndex((d) => d.startsWith(lower));
    if (i >= 0) return i;
  }
  return INTEGER.test(text) ? Number(text) : undefined;
}

function expected(rule: FieldRule): string {
  const range = `${rule.min}-${rule.max}`;
  if (rule.mode === "month") return `a month ${range} or a name such as JAN`;
  if (rule.mode === "dow") return `a day of week ${range} (0 and 7 are Sunday) or a name such as MON`;
  return `a number ${range}`;
}

/** One value of a field: its number, or the problem. */
function checkedValue(text: string, rule: FieldRule, role: string): number | string {
  const v = valueOf(text, rule.mode);
  if (v === undefined) return `${rule.name} ${role}${q(text)} is not ${expected(rule)}`;
  if (v < rule.min || v > rule.max) return `${rule.name} ${role}${text} is out of range ${rule.min}-${rule.max}`;
  return v;
}

/**
 * One field (`*`, `x`, `x-z`, `x/y`, `x-z/y`, `*\/y`, comma lists of these) as the values it
 * matches, or every problem of its list items.
 */
function parseField(text: string, rule: FieldRule): { values: Set<number>; problems: string[] } {
  const values = new Set<number>();
  const problems: string[] = [];
  for (const item of text.split(",")) {
    const where = `${rule.name} ${q(item)}`;
    const slashes = item.split("/").length - 1;
    if (slashes > 1) {
      problems.push(`${where} has more than one "/"`);
      continue;
    }
    let body = item;
    let step = 1;
    let hasStep = false;
    if (slashes === 1) {
      const [b, s] = item.split("/") as [string, string];
      body = b;
      if (s === "") {
        problems.push(`${where} has no step after "/"`);
        continue;
      }
      if (!INTEGER.test(s)) {
        problems.push(`${where}: step ${q(s)} is not a whole number`);
        continue;
      }
      step = Number(s);
      if (step < 1) {
        problems.push(`${where}: step ${step} is below 1`);
        continue;
      }
      hasStep = true;
    }
    let start = rule.min;
    let end = rule.max;
    if (body !== "*") {
      const dashes = body.split("-").length - 1;
      if (dashes > 1) {
        problems.push(`${where} has more than one "-" (a range is start-end)`);
        continue;
      }
      if (dashes === 1) {
        const [a, b] = body.split("-") as [string, string];
        const s = checkedValue(a, rule, "range start ");
        if (typeof s === "string") {
          problems.push(s);
          continue;
        }
        const e = checkedValue(b, rule, "range end ");
        if (typeof e === "string") {
          problems.push(e);
          continue;
        }
        if (e < s) {
          problems.push(`${where}: the range ends before it starts${rule.mode === "dow" && e === 0 ? ` (Sunday is 0 here: write ${a}-7)` : ""}`);
          continue;
        }
        [start, end] = [s, e];
      } else {
        const v = checkedValue(body, rule, "");
        if (typeof v === "string") {
          problems.push(v);
          continue;
        }
        start = v;
        // `x/y` runs from x to the field's maximum; a lone `x` is just x.
        end = hasStep ? rule.max : v;
      }
    }
    for (let v = start; v <= end; v += step) values.add(rule.mode === "dow" && v === 7 ? 0 : v);
  }
  return { values, problems };
}

const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);

function parseInterval(body: string): CronParse {
  const m = /^@every ([^ ]+)$/.exec(body);
  const [every, offset] = (m?.[1] ?? "").split("/", 2) as [string, string | undefined];
  const ms = (d: string) => {
    const x = DURATION.exec(d);
    return x ? Number(x[1]) * UNIT_MS[x[2] as keyof typeof UNIT_MS] : undefined;
  };
  const everyMs = ms(every);
  const offsetMs = offset === undefined ? 0 : ms(offset);
  if (!m || everyMs === undefined || offsetMs === undefined || (m[1] ?? "").split("/").length > 2)
    return { ok: false, problems: [`expected "@every <duration>" or "@every <duration>/<offset>" with durations such as 30s, 6h or 7d, got ${q(body)}`] };
  const problems: string[] = [];
  // The offset is compared only with a valid interval, and only when one was written.
  if (everyMs < 1000) problems.push(`@every ${every}: the interval is below 1s`);
  else if (offset !== undefined && offsetMs >= everyMs) problems.push(`@every ${every}/${offset}: the offset is not below the interval`);
  return problems.length ? { ok: false, problems } : { ok: true, value: { kind: "interval", everyMs, offsetMs } };
}

/** A cron line as the Temporal server reads it, or every problem it has (each naming the field and saying what is expected). */
export function parseCronLine(line: string): CronParse {
  let text = line.trim();
  if (/^(CRON_)?TZ=/.test(text))
    return { ok: false, problems: [`a time zone in the cron line (${q(text.split(/\s/)[0] ?? "")}) is not supported: set spec.timezone`] };
  const hash = text.indexOf("#");
  let comment = "";
  if (hash >= 0) {
    const glued = text.split(/\s+/).find((t) => t.includes("#") && !t.startsWith("#"));
    if (glued !== undefined) return { ok: false, problems: [`${q(glued)}: "#" starts a comment (there is no nth weekday); put a space before a comment`] };
    comment = text.slice(hash + 1).trim();
    text = text.slice(0, hash).trim();
  }
  if (comment.length > MAX_COMMENT) return { ok: false, problems: [`the comment after "#" is longer than ${MAX_COMMENT} characters`] };
  if (text.startsWith("@every")) return parseInterval(text);
  if (text.startsWith("@")) {
    const macro = CRON_MACROS[text];
    if (macro === undefined)
      return { ok: false, problems: [`unknown macro ${q(text)}: expected one of ${Object.keys(CRON_MACROS).join(", ")} or "@every <duration>"`] };
    text = macro;
  }
  const tokens = text.split(/\s+/).filter((t) => t !== "");
  if (tokens.length < 5 || tokens.length > 7)
    return {
      ok: false,
      problems: [
        `expected a cron expression: 5 fields "${FIELD_LIST}" (e.g. "0 6 * * MON"), 6 with a year last or 7 with seconds first and a year last, or @daily, @weekly, ...; got ${tokens.length} field${tokens.length === 1 ? "" : "s"}`,
      ],
    };
  const [second, rest] = tokens.length === 7 ? [tokens[0]!, tokens.slice(1)] : ["0", tokens];
  const [minute, hour, dayOfMonth, month, dayOfWeek, year = "*"] = rest as [string, string, string, string, string, string?];
  const problems: string[] = [];
  const field = (t: string, rule: FieldRule) => {
    const r = parseField(t, rule);
    problems.push(...r.problems);
    return sorted(r.values);
  };
  const calendar: CronCalendar = {
    second: field(second, FIELDS.second),
    minute: field(minute, FIELDS.minute),
    hour: field(hour, FIELDS.hour),
    dayOfMonth: field(dayOfMonth, FIELDS.dayOfMonth),
    month: field(month, FIELDS.month),
    dayOfWeek: field(dayOfWeek, FIELDS.dayOfWeek),
    year: year === "*" ? undefined : field(year, FIELDS.year),
    comment,
  };
  return problems.length ? { ok: false, problems } : { ok: true, value: { kind: "calendar", calendar } };
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
/** Every year the Gregorian calendar has: its weekdays and leap days repeat every 400 years. */
const EVERY_YEAR = Array.from({ length: 400 }, (_, i) => CRON_YEARS.min + i);

/**
 * Why a calendar line never fires, or undefined when some date matches it. The server matches a
 * date only when its day of month, month, day of week and year all match (not either day field,
 * as classic cron does), and it accepts `0 6 31 2 *` (February 31st) without a word: such a
 * schedule would never start a campaign. At most 400 x 12 x 31 dates, far fewer unless none match.
 */
export function cronNeverFires(calendar: CronCalendar): string | undefined {
  const weekdays = new Set(calendar.dayOfWeek);
  for (const year of calendar.year ?? EVERY_YEAR)
    for (const month of calendar.month) {
      const last = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
      for (const day of calendar.dayOfMonth) {
        if (day > last) break; // ascending
        if (weekdays.has(new Date(Date.UTC(year, month - 1, day)).getUTCDay())) return undefined;
      }
    }
  const fields = ["day of month", "month", ...(weekdays.size < 7 ? ["day of week"] : []), ...(calendar.year ? ["year"] : [])];
  const both = weekdays.size < 7 ? " (a date must match both day fields, not either as in classic cron)" : "";
  return `never fires: no date matches its ${fields.slice(0, -1).join(", ")} and ${fields.at(-1)!}${both}`;
}
