/**
 * src/schedules/cronSpec.ts against the Temporal server it follows: each line is accepted by both or
 * refused by both, and an accepted line matches the same seconds, minutes, ... years (the server's
 * calendar spec as `describe` gives it) or the same interval; `schedule describe`'s rendering of
 * that calendar reads back the same. Needs the dev server (TEMPORAL_ADDRESS,
 * else one is started); schedules are created paused and deleted.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Client, ScheduleDescription } from "@temporalio/client";
import { parseCronLine, type CronCalendar } from "../../src/schedules/cronSpec.js";
import { calendarAsCron } from "../../src/schedules/temporalSchedule.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
before(async () => {
  env = await createTestEnv("cronparity");
});
after(async () => {
  await env?.close();
});

const ACCEPTED = [
  "0 6 * * MON",
  "59 23 31 12 7",
  "0 0 1 1 0",
  "*/15 * * * *",
  "5/20 * * * *",
  "0 9-17/4 * * *",
  "0 0 1-5/2,8-11,20 * *",
  "0 0 * JAN-MAR *",
  "0 0 1 sept *",
  "0 0 * */3 *",
  "0 0 * * MON-FRI",
  "0 0 * * FRI-7",
  "0 0 * * 1-7/3",
  "0 0 * * */2",
  "0 0 * * MO",
  "0 6 * * 0-7/7",
  "30 0 6 * * MON 2027",
  "0 6 * * MON 2030-2032",
  "0 0 6 * * MON 2100",
  "+5 6 * * *",
  "0 6 * * MON # retrain",
  "@yearly",
  "@monthly",
  "@weekly",
  "@daily",
  "@hourly",
  "@every 6h",
  "@every 7d/102h",
];
const REFUSED = [
  "61 6 * * MON",
  "0 6 * * FUNDAY",
  "0 24 * * *",
  "0 0 32 * *",
  "0 0 0 * *",
  "0 0 1 13 *",
  "0 0 1 0 *",
  "0 0 * * 8",
  "*/0 * * * *",
  "*/ * * * *",
  "*/x * * * *",
  "1/2/3 * * * *",
  "0 1-2-3 * * *",
  "0 17-9 * * *",
  "0 9-24 * * *",
  "0 0 * DEC-JAN *",
  "0 0 * * FRI-SUN",
  "0 0 1,,15 * *",
  "0 0 ? * MON",
  "0 0 L * *",
  "0 0 * * M",
  "0 0 1 JA *",
  "0 6 * * MONDAYS",
  "60 0 6 * * MON 2027",
  "0 6 * * MON 1999",
  "0 6 * * MON 2101",
  "@fortnightly",
  "@every 500ms",
  "@every 1h/2h",
  "not a cron",
  "0 6 * *",
];

const MONTHS = ["JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"];
const DAYS = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"];
type Range = { start: number | string; end: number | string; step: number };
const num = (v: number | string) => (typeof v === "number" ? v : MONTHS.includes(v) ? MONTHS.indexOf(v) + 1 : DAYS.indexOf(v));
function values(ranges: readonly Range[]): number[] {
  const out = new Set<number>();
  for (const r of ranges) for (let v = num(r.start); v <= Math.max(num(r.start), num(r.end)); v += r.step || 1) out.add(v);
  return [...out].sort((a, b) => a - b);
}

/** The server's answer for one line: its calendar or interval, or its error. */
async function serverReads(client: Client, line: string, i: number): Promise<ScheduleDescription["spec"] | Error> {
  const scheduleId = `cron-parity-${Date.now().toString(36)}-${i}`;
  try {
    await client.schedule.create({
      scheduleId,
      spec: { cronExpressions: [line], timezone: "UTC" },
      action: { type: "startWorkflow", workflowType: "never", taskQueue: "cron-parity", args: [] },
      state: { paused: true },
    });
  } catch (err) {
    return err as Error;
  }
  const handle = client.schedule.getHandle(scheduleId);
  try {
    return (await handle.describe()).spec;
  } finally {
    await handle.delete();
  }
}

test("every line the server accepts is accepted with the same times; every line it refuses is refused", async () => {
  const lines = [...ACCEPTED, ...REFUSED];
  for (const [i, line] of lines.entries()) {
    const server = await serverReads(env.client, line, i);
    const mine = parseCronLine(line);
    if (server instanceof Error) {
      assert.equal(mine.ok, false, `${line}: the server refuses it (${server.message}) but validation accepts it`);
      assert.ok(REFUSED.includes(line), `${line}: listed as accepted, but the server refuses it: ${server.message}`);
      continue;
    }
    assert.ok(mine.ok, `${line}: the server accepts it but validation refuses it: ${mine.ok ? "" : mine.problems.join("; ")}`);
    assert.ok(ACCEPTED.includes(line), `${line}: listed as refused, but the server accepts it`);
    if (mine.value.kind === "interval") {
      assert.deepEqual(
        server.intervals?.map((iv) => ({ every: Number(iv.every), offset: Number(iv.offset ?? 0) })),
        [{ every: mine.value.everyMs, offset: mine.value.offsetMs }],
        line,
      );
      continue;
    }
    assert.equal(server.calendars?.length, 1, line);
    const cal = server.calendars![0]! as unknown as Record<keyof Omit<CronCalendar, "comment">, Range[]>;
    const got = mine.value.calendar;
    for (const field of ["second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek"] as const)
      assert.deepEqual(got[field], values(cal[field]), `${line}: ${field}`);
    assert.deepEqual(got.year, cal.year.length === 0 ? undefined : values(cal.year), `${line}: year`);
    // `schedule describe` writes the server's calendar as a cron line that reads back the same.
    const again = parseCronLine(calendarAsCron(server.calendars![0]!));
    assert.ok(again.ok && again.value.kind === "calendar", `${line}: ${calendarAsCron(server.calendars![0]!)}`);
    assert.deepEqual(again.value.calendar, got, `${line}: ${calendarAsCron(server.calendars![0]!)}`);
  }
});
