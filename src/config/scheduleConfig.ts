/**
 * `schedules[]` of a campaign config: Temporal Schedules that start a new campaign from this config
 * at each scheduled time (weekly retraining). Pure (workflows import the campaign config schema).
 */
import { z } from "zod";
import { cronNeverFires, parseCronLine } from "../schedules/cronSpec.js";
import { atMost, boundedString, onceFieldsValid, preview } from "./fields.js";

export const SCHEDULE_LIMITS = {
  schedules: 16,
  cronExpressions: 16,
  intervals: 16,
  /** A scheduled run's campaign id is `<schedule id>-<UTC time>` (up to 21 characters): it must stay a valid campaign id (63). */
  idLength: 40,
  noteLength: 500,
} as const;

/** Catch-up window when a config names none: a run missed while the server was down starts if it is less than a day late. */
export const DEFAULT_CATCHUP_WINDOW = "1d";

const SCHEDULE_ID = new RegExp(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,${SCHEDULE_LIMITS.idLength - 1}}$`);
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration written `500ms`, `30s`, `10m`, `6h` or `7d`. */
export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new Error(`not a duration: ${preview(text)}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** durationMs, or NaN for a malformed one (zod runs every check even after the format check failed). */
const msOrNaN = (text: string) => (DURATION.test(text) ? durationMs(text) : Number.NaN);

const duration = (min: { ms: number; text: string }, max: { ms: number; text: string }) =>
  z
    .string({ error: 'expected a duration such as "30s", "10m", "6h" or "7d"' })
    .regex(DURATION, 'expected a duration: a whole number and one of ms, s, m, h, d (such as "30s", "10m", "6h" or "7d")')
    .refine((d) => !(msOrNaN(d) < min.ms), `expected at least ${min.text}`)
    .refine((d) => !(msOrNaN(d) > max.ms), `expected at most ${max.text}`);

const YEAR = { ms: 366 * UNIT_MS.d, text: "366d" };

/**
 * A cron line as the Temporal server reads it (src/schedules/cronSpec.ts): 5 fields (minute hour
 * day-of-month month day-of-week), optionally a year last and seconds first, or a macro such as
 * `@weekly`. Every problem the server would refuse at `schedule create` is reported here, each
 * naming the field and the range or form it expects.
 */
const cronExpression = z
  .string({ error: "expected a cron expression string" })
  .max(200, atMost(200, " characters"))
  .superRefine((c, ctx) => {
    if (c.length > 200) return;
    const r = parseCronLine(c);
    if (!r.ok) for (const message of r.problems) ctx.addIssue({ code: "custom", message, input: c });
    // The server takes a line such as February 31st and never runs it: refused here instead.
    const never = r.ok && r.value.kind === "calendar" ? cronNeverFires(r.value.calendar) : undefined;
    if (never !== undefined) ctx.addIssue({ code: "custom", message: never, input: c });
  });

/** An IANA time zone name (`Europe/Berlin`, `UTC`), checked with the runtime's time zone database. */
const timezone = boundedString(64, "a time zone name").transform((tz, ctx) => {
  let canonical: string;
  try {
    canonical = new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    ctx.addIssue({ code: "custom", message: 'expected an IANA time zone name such as "UTC" or "Europe/Berlin"', input: tz });
    return z.NEVER;
  }
  // The runtime matches names regardless of case; Temporal's server (Go's zone files) does not: "utc"
  // becomes "UTC". Other aliases stay as written (the server may still refuse one it lacks).
  return canonical.toLowerCase() === tz.toLowerCase() ? canonical : tz;
});

export const OVERLAP_POLICIES = ["skip", "bufferOne", "bufferAll", "cancelOther", "terminateOther", "allowAll"] as const;
export type OverlapPolicyName = (typeof OVERLAP_POLICIES)[number];

export const scheduleSpecSchema = z
  .strictObject({
    /** Cron expressions, evaluated in `timezone`. */
    cron: z
      .array(cronExpression, { error: "expected a list of cron expressions" })
      .max(SCHEDULE_LIMITS.cronExpressions, atMost(SCHEDULE_LIMITS.cronExpressions))
      .default([]),
    /** Fixed intervals counted from the Unix epoch plus `offset`: `{ "every": "7d", "offset": "102h" }` is Mondays 06:00 UTC (the epoch was a Thursday). */
    intervals: z
      .array(
        z.strictObject({
          every: duration({ ms: 1000, text: "1s" }, YEAR),
          offset: duration({ ms: 0, text: "0s" }, YEAR).optional(),
        }),
        { error: "expected a list of intervals ({ every, offset? })" },
      )
      .max(SCHEDULE_LIMITS.intervals, atMost(SCHEDULE_LIMITS.intervals))
      .default([]),
    timezone: timezone.default("UTC"),
    /** Each run starts up to this much later than its scheduled time, at random (spreads load). */
    jitter: duration({ ms: 0, text: "0s" }, YEAR).optional(),
  })
  .refine((s) => s.cron.length + s.intervals.length > 0, "expected at least one cron expression or interval")
  .refine((s) => s.intervals.every((i) => i.offset === undefined || !(msOrNaN(i.offset) >= msOrNaN(i.every))), {
    message: "expected each interval's offset to be below its every",
    ...onceFieldsValid,
  });

export const scheduleConfigSchema = z.strictObject({
  /** Temporal schedule id, and the prefix of each run's campaign id. */
  id: z
    .string({ error: "expected a schedule id" })
    .regex(SCHEDULE_ID, `expected letters, digits, '_' or '-' (at most ${SCHEDULE_LIMITS.idLength}, starting with a letter or digit)`),
  spec: scheduleSpecSchema,
  /** What a run due while the previous one still runs does; `skip` (default) drops it. */
  overlap: z.enum(OVERLAP_POLICIES, { error: `expected one of ${OVERLAP_POLICIES.map((p) => `"${p}"`).join(", ")}` }).default("skip"),
  /** How late a run missed while the Temporal server was down may still start. */
  catchupWindow: duration({ ms: 10_000, text: "10s" }, YEAR).default(DEFAULT_CATCHUP_WINDOW),
  /** Pause the schedule when a run fails (an operator looks before next week's run). */
  pauseOnFailure: z.boolean({ error: "expected true or false" }).default(true),
  /** Create the schedule paused (only at creation: an update keeps the schedule's state). */
  paused: z.boolean({ error: "expected true or false" }).default(false),
  /** Shown in the Temporal UI beside the schedule's state. */
  note: boundedString(SCHEDULE_LIMITS.noteLength, "a note").optional(),
});
export type ScheduleConfig = z.infer<typeof scheduleConfigSchema>;

/** `schedules`: optional (a config without it freezes to the same hash as before schedules existed). */
export const schedulesSchema = z
  .array(scheduleConfigSchema, { error: "expected a list of schedules" })
  .max(SCHEDULE_LIMITS.schedules, atMost(SCHEDULE_LIMITS.schedules))
  // `when`: duplicates are reported together with the entries' own problems (the list may be half-parsed).
  .check(
    z.superRefine(
      (list: unknown[], ctx) => {
        const seen = new Map<string, number>();
        list.forEach((s, i) => {
          const id = typeof s === "object" && s !== null ? (s as { id?: unknown }).id : undefined;
          if (typeof id !== "string") return;
          const earlier = seen.get(id);
          if (earlier !== undefined)
            ctx.addIssue({ code: "custom", path: [i, "id"], message: `duplicate schedule id ${preview(id)} (also schedules[${earlier}])` });
          else seen.set(id, i);
        });
      },
      { when: (payload) => Array.isArray(payload.value) },
    ),
  )
  .optional();
