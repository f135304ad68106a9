/** schedules[] in the campaign config, scheduled campaign ids and seeds: plain logic, no Temporal. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { freezeCampaignConfig, frozenConfigHash } from "../../../src/config/frozen.js";
import { parseCampaignConfig } from "../../../src/config/campaignConfig.js";
import { DEFAULT_CATCHUP_WINDOW, durationMs } from "../../../src/config/scheduleConfig.js";
import { asScheduledRerun, scheduledRunProblem, scheduledRunSeed, withScheduledRun } from "../../../src/schedules/scheduledConfig.js";
import { scheduledCampaignId, scheduledRunCampaignIdOf, scheduledRunWorkflowIdOf, scheduledTimeOf } from "../../../src/schedules/scheduledRun.js";
import type { ScheduleDescription } from "@temporalio/client";
import {
  calendarAsCron,
  describeWhen,
  renderScheduleDescription,
  triggerWhileRunningNote,
  schedulePolicies,
  scheduleRefusal,
  scheduleSpecOf,
} from "../../../src/schedules/temporalSchedule.js";
import { ServiceError } from "@temporalio/client";

const base = {
  name: "weekly-test",
  endpoints: { sim: { baseUrl: "http://127.0.0.1:1/v1" } },
  roles: { generator: { endpoint: "sim", model: "m" } },
  tools: { sources: [{ kind: "example" }] },
  stages: [{ name: "synthesize.singleTurn", count: 4, batchSize: 4 }],
};

function issues(schedules: unknown): string[] {
  const r = parseCampaignConfig({ ...base, schedules });
  assert.equal(r.ok, false, "expected the config to be refused");
  return r.ok ? [] : r.error.issues.map((i) => `${i.path}: ${i.message}`);
}

test("a schedule gets explicit defaults: overlap skip, a one-day catch-up window, pause on failure, UTC", () => {
  const r = parseCampaignConfig({ ...base, schedules: [{ id: "weekly", spec: { cron: ["0 6 * * MON"] } }] });
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  const s = r.config.schedules![0]!;
  assert.deepEqual(s, {
    id: "weekly",
    spec: { cron: ["0 6 * * MON"], intervals: [], timezone: "UTC" },
    overlap: "skip",
    catchupWindow: DEFAULT_CATCHUP_WINDOW,
    pauseOnFailure: true,
    paused: false,
  });
  assert.deepEqual(scheduleSpecOf(s), { cronExpressions: ["0 6 * * MON"], timezone: "UTC" });
  assert.deepEqual(schedulePolicies(s), { overlap: "SKIP", catchupWindow: 86_400_000, pauseOnFailure: true });
});

test("every field is configurable: intervals with offset, time zone, jitter, overlap, catch-up window, pause on failure, note", () => {
  const r = parseCampaignConfig({
    ...base,
    schedules: [
      {
        id: "mondays",
        spec: { intervals: [{ every: "7d", offset: "102h" }], timezone: "Europe/Berlin", jitter: "10m" },
        overlap: "bufferOne",
        catchupWindow: "6h",
        pauseOnFailure: false,
        paused: true,
        note: "retrain weekly",
      },
    ],
  });
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  const s = r.config.schedules![0]!;
  assert.deepEqual(scheduleSpecOf(s), { intervals: [{ every: 7 * 86_400_000, offset: 102 * 3_600_000 }], timezone: "Europe/Berlin", jitter: 600_000 });
  assert.deepEqual(schedulePolicies(s), { overlap: "BUFFER_ONE", catchupWindow: 6 * 3_600_000, pauseOnFailure: false });
});

test("a time zone written in another case is stored as the zone database spells it (the server's lookup is case-sensitive); aliases stay", () => {
  const zoneOf = (timezone: string) => {
    const r = parseCampaignConfig({ ...base, schedules: [{ id: "w", spec: { cron: ["@weekly"], timezone } }] });
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    return r.config.schedules![0]!.spec.timezone;
  };
  assert.equal(zoneOf("utc"), "UTC");
  assert.equal(zoneOf("europe/berlin"), "Europe/Berlin");
  assert.equal(zoneOf("Europe/Berlin"), "Europe/Berlin");
  // An alias the runtime maps to another zone is kept as written: the schedule runs in the zone named.
  assert.equal(zoneOf("US/Pacific-New"), "US/Pacific-New");
});

test("scheduleRefusal: the server's INVALID_ARGUMENT in its words; anything else is not a refusal", () => {
  const grpc = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
  assert.equal(scheduleRefusal(grpc(3, "unknown time zone US/Pacific-New")), "unknown time zone US/Pacific-New");
  assert.equal(scheduleRefusal(new ServiceError("Failed to create schedule", { cause: grpc(3, "bad jitter") })), "bad jitter");
  assert.equal(scheduleRefusal(new ServiceError("Failed to create schedule", { cause: grpc(14, "unavailable") })), undefined);
  assert.equal(scheduleRefusal(grpc(14, "connection refused")), undefined);
  // A TypeError from our own code is a bug, not the server's word.
  assert.equal(scheduleRefusal(new TypeError("x is undefined")), undefined);
  assert.equal(scheduleRefusal(undefined), undefined);
});

test("a config without schedules freezes to the same hash as before schedules existed", () => {
  const a = freezeCampaignConfig(base, { configDir: "/tmp" });
  assert.ok(a.ok);
  assert.equal("schedules" in a.frozen.config, false);
});

test("bad schedules are refused with the field's path", () => {
  assert.deepEqual(issues([{ id: "w", spec: {} }]), ["schedules[0].spec: expected at least one cron expression or interval"]);
  assert.match(
    issues([{ id: "w", spec: { intervals: [{ every: "7 days" }] } }]).join("\n"),
    /^schedules\[0\]\.spec\.intervals\[0\]\.every: expected a duration/m,
  );
  assert.match(
    issues([{ id: "w", spec: { intervals: [{ every: "500ms" }] } }]).join("\n"),
    /^schedules\[0\]\.spec\.intervals\[0\]\.every: expected at least 1s$/m,
  );
  assert.match(issues([{ id: "w", spec: { cron: ["every monday"] } }]).join("\n"), /^schedules\[0\]\.spec\.cron\[0\]: expected a cron expression/m);
  assert.match(
    issues([{ id: "w", spec: { cron: ["@weekly"], timezone: "Mars/Olympus" } }]).join("\n"),
    /^schedules\[0\]\.spec\.timezone: expected an IANA time zone/m,
  );
  assert.match(issues([{ id: "w", spec: { cron: ["@weekly"] }, overlap: "SKIP" }]).join("\n"), /^schedules\[0\]\.overlap: expected one of "skip", /m);
  assert.match(issues([{ id: "w", spec: { cron: ["@weekly"] }, catchupWindow: "5s" }]).join("\n"), /^schedules\[0\]\.catchupWindow: expected at least 10s$/m);
  assert.match(issues([{ id: "has:colon", spec: { cron: ["@weekly"] } }]).join("\n"), /^schedules\[0\]\.id: expected letters, digits/m);
  assert.match(issues([{ id: "x".repeat(41), spec: { cron: ["@weekly"] } }]).join("\n"), /^schedules\[0\]\.id: expected .*at most 40/m);
  assert.match(
    issues([{ id: "w", spec: { intervals: [{ every: "1h", offset: "2h" }] } }]).join("\n"),
    /^schedules\[0\]\.spec: expected each interval's offset to be below/m,
  );
  assert.match(
    issues([{ id: "w", spec: { cron: ["@weekly"] }, pauseOnFailure: "yes" }]).join("\n"),
    /^schedules\[0\]\.pauseOnFailure: expected true or false$/m,
  );
  assert.match(issues([{ id: "w", spec: { cron: ["@weekly"] }, colour: "red" }]).join("\n"), /^schedules\[0\]: unknown field "colour"$/m);
  assert.deepEqual(
    issues([
      { id: "w", spec: { cron: ["@weekly"] } },
      { id: "w", spec: { cron: ["@daily"] } },
    ]),
    ['schedules[1].id: duplicate schedule id "w" (also schedules[0])'],
  );
  assert.match(issues("weekly").join("\n"), /^schedules: expected a list of schedules$/m);
});

test("durations", () => {
  assert.equal(durationMs("250ms"), 250);
  assert.equal(durationMs("30s"), 30_000);
  assert.equal(durationMs("7d"), 604_800_000);
  assert.throws(() => durationMs("7 d"));
});

test("a scheduled run's campaign id: schedule id and UTC time, path-safe, a valid campaign id; milliseconds only when not zero", () => {
  assert.equal(scheduledCampaignId("weekly", new Date("2026-12-07T06:00:00Z")), "weekly-20261207T060000Z");
  assert.equal(scheduledCampaignId("weekly", new Date("2026-12-07T06:00:00.042Z")), "weekly-20261207T060000.042Z");
  const longest = scheduledCampaignId("x".repeat(40), new Date("2026-12-07T06:00:00.042Z"));
  assert.ok(longest.length <= 63, longest);
  const r = parseCampaignConfig({ ...base, campaignId: longest });
  assert.ok(r.ok, "the id is a valid campaignId");
  assert.match(longest, /^[A-Za-z0-9._-]+$/);
});

test("the scheduled time comes from the search attribute's value as the SDK gives it", () => {
  const d = new Date("2026-12-07T06:00:00Z");
  assert.equal(scheduledTimeOf(d)?.toISOString(), d.toISOString());
  assert.equal(scheduledTimeOf([d])?.toISOString(), d.toISOString());
  assert.equal(scheduledTimeOf("2026-12-07T06:00:00Z")?.toISOString(), d.toISOString());
  assert.equal(scheduledTimeOf(undefined), undefined);
  assert.equal(scheduledTimeOf("soon"), undefined);
});

test("seeds: the same scheduled time gives the same seed, other times and other schedules other seeds", () => {
  const t1 = "2026-12-07T06:00:00.000Z";
  const t2 = "2026-12-14T06:00:00.000Z";
  assert.equal(scheduledRunSeed(7, "weekly", t1), scheduledRunSeed(7, "weekly", t1));
  assert.notEqual(scheduledRunSeed(7, "weekly", t1), scheduledRunSeed(7, "weekly", t2));
  assert.notEqual(scheduledRunSeed(7, "weekly", t1), scheduledRunSeed(7, "daily", t1));
  assert.notEqual(scheduledRunSeed(7, "weekly", t1), scheduledRunSeed(8, "weekly", t1));
  const seed = scheduledRunSeed(7, "weekly", t1);
  assert.ok(Number.isSafeInteger(seed) && seed >= 0);
  // The seed and id replace the config's: frozen and as written alike.
  const frozen = freezeCampaignConfig({ ...base, seed: 7 }, { configDir: "/tmp" });
  assert.ok(frozen.ok);
  const run = { scheduleId: "weekly", scheduledTime: t1, timeSource: "TemporalScheduledStartTime" as const };
  const a = withScheduledRun(frozen.frozen, run, "weekly-20261207T060000Z");
  const b = withScheduledRun({ ...base, seed: 7 }, run, "weekly-20261207T060000Z");
  assert.equal(a.seed, seed);
  assert.equal(b.seed, seed);
  assert.equal((a.config as typeof frozen.frozen).config.seed, seed);
  assert.equal((a.config as typeof frozen.frozen).config.campaignId, "weekly-20261207T060000Z");
  assert.equal((b.config as { seed: number }).seed, seed);
});

test("rerunning a scheduled run from the schedule's config file gives the config, hash and seed the run registered", () => {
  const file = freezeCampaignConfig({ ...base, seed: 7 }, { configDir: "/tmp" });
  assert.ok(file.ok);
  const id = "weekly-20261207T060000Z";
  // What the run registered: the schedule's frozen config with the run's id and the seed of its time.
  const registered = withScheduledRun(
    file.frozen,
    { scheduleId: "weekly", scheduledTime: "2026-12-07T06:00:00.000Z", timeSource: "TemporalScheduledStartTime" },
    id,
  ).config as typeof file.frozen;
  const rerun = asScheduledRerun(file.frozen, { scheduleId: "weekly", scheduledAt: new Date("2026-12-07T06:00:00Z") }, id);
  assert.ok(rerun);
  assert.equal(frozenConfigHash(rerun.frozen), frozenConfigHash(registered));
  assert.notEqual(frozenConfigHash(file.frozen), frozenConfigHash(registered), "the file as it is differs (its seed and campaignId)");
  assert.equal(rerun.frozen.config.seed, registered.config.seed);
  assert.equal(rerun.frozen.config.campaignId, id);
  assert.equal(rerun.run.scheduledTime, "2026-12-07T06:00:00.000Z");
  // A campaign no schedule started (or none registered yet) starts with the file as it is.
  assert.equal(asScheduledRerun(file.frozen, { scheduleId: null, scheduledAt: null }, "plain"), undefined);
  assert.equal(asScheduledRerun(file.frozen, undefined, "plain"), undefined);
});

test("a hand-made scheduled start with a bad schedule is refused naming the field", () => {
  assert.match(scheduledRunProblem({ scheduleId: "a/b", scheduledTime: "2026-12-07T06:00:00Z", timeSource: "workflowStartTime" })!, /^schedule\.id: /);
  assert.match(scheduledRunProblem({ scheduleId: "ok", scheduledTime: "later", timeSource: "workflowStartTime" })!, /^schedule\.scheduledTime: /);
  assert.equal(scheduledRunProblem({ scheduleId: "ok", scheduledTime: "2026-12-07T06:00:00Z", timeSource: "workflowStartTime" }), undefined);
});

/** A described schedule as the client gives it, with only what `when:` and the other lines read. */
function description(spec: Partial<ScheduleDescription["spec"]>, args: unknown[] = []): ScheduleDescription {
  return {
    scheduleId: "weekly",
    spec: { timezone: "UTC", ...spec },
    action: { type: "startWorkflow", workflowType: "campaignWorkflow", workflowId: "campaign-weekly", taskQueue: "q", args },
    policies: { overlap: "SKIP", catchupWindow: 86_400_000, pauseOnFailure: true },
    state: { paused: false, remainingActions: undefined },
    info: { numActionsTaken: 0, numActionsSkippedOverlap: 0, numActionsMissedCatchupWindow: 0, runningActions: [], recentActions: [], nextActionTimes: [] },
    memo: {},
  } as unknown as ScheduleDescription;
}

const r = (start: number | string, end = start, step = 1) => ({ start, end, step });
/** What the server makes of "0 6 * * MON". */
const mondaysAt6 = {
  second: [r(0)],
  minute: [r(0)],
  hour: [r(6)],
  dayOfMonth: [r(1, 31)],
  month: [r("JANUARY", "DECEMBER")],
  year: [],
  dayOfWeek: [r("MONDAY")],
  comment: "",
};

test("describe: `when:` shows the config's cron lines and intervals as written, from the frozen config the schedule runs", () => {
  const config = {
    ...base,
    schedules: [
      { id: "daily", spec: { cron: ["@daily"] } },
      {
        id: "weekly",
        spec: { cron: ["0 6 * * MON", "30 18 * * FRI"], intervals: [{ every: "7d", offset: "102h" }], timezone: "Europe/Berlin", jitter: "10m" },
      },
    ],
  };
  const frozen = freezeCampaignConfig(config, { configDir: "/tmp" });
  assert.ok(frozen.ok);
  const d = description(
    { calendars: [mondaysAt6 as never], intervals: [{ every: 604_800_000, offset: 367_200_000 }], timezone: "Europe/Berlin", jitter: 600_000 },
    [{ config: frozen.frozen, schedule: { id: "weekly" } }],
  );
  assert.deepEqual(describeWhen(d), ['cron "0 6 * * MON"', 'cron "30 18 * * FRI"', "every 7d (offset 102h)"]);
  const text = renderScheduleDescription(d).join("\n");
  assert.match(text, /^ {2}when: cron "0 6 \* \* MON", cron "30 18 \* \* FRI", every 7d \(offset 102h\); timezone Europe\/Berlin; jitter 10m$/m);
  assert.doesNotMatch(text, /"start"|\{/);
});

test("describe: a schedule without a toolloop config shows the server's calendars as compact cron lines", () => {
  assert.deepEqual(describeWhen(description({ calendars: [mondaysAt6 as never] })), ['calendar "0 6 * * MON"']);
  assert.equal(calendarAsCron(mondaysAt6 as never), "0 6 * * MON");
  assert.equal(
    calendarAsCron({
      second: [r(0)],
      minute: [r(0, 59, 15)],
      hour: [r(9, 17)],
      dayOfMonth: [r(1, 5, 2), r(20)],
      month: [r("JANUARY", "MARCH")],
      year: [],
      dayOfWeek: [r("SUNDAY"), r("FRIDAY", "SATURDAY")],
      comment: "",
    } as never),
    "*/15 9-17 1-5/2,20 JAN-MAR SUN,FRI-SAT",
  );
  // Seconds or a year other than the defaults: 7 fields; a comment after "#".
  assert.equal(calendarAsCron({ ...mondaysAt6, second: [r(30)], year: [r(2027, 2028)], comment: "retrain" } as never), "30 0 6 * * MON 2027-2028 # retrain");
  assert.deepEqual(describeWhen(description({ intervals: [{ every: 21_600_000, offset: 0 }] })), ["every 6h"]);
  assert.deepEqual(describeWhen(description({})), []);
  assert.match(renderScheduleDescription(description({})).join("\n"), /^ {2}when: \(none\); timezone UTC$/m);
});

test("describe: a running campaign shows its own state; one waiting for an operator says the schedule's runs are skipped meanwhile", () => {
  const d = description({ intervals: [{ every: 604_800_000, offset: 0 }] });
  const wfId = "campaign-weekly-2026-12-07T06:00:00Z";
  d.info.runningActions.push({ workflow: { workflowId: wfId, firstExecutionRunId: "r" } } as never);
  const waiting = { workflowId: wfId, campaignId: "weekly-20261207T060000Z", status: "waiting_for_operator", stage: "train.grpo" };
  const text = renderScheduleDescription(d, [], [waiting]).join("\n");
  assert.match(text, /^ {2}running: campaign-weekly-2026-12-07T06:00:00Z \(campaign weekly-20261207T060000Z: waiting_for_operator, stage train\.grpo\)$/m);
  assert.match(
    text,
    /^ {2}note: campaign weekly-20261207T060000Z waits for an operator: until it ends the runs due meanwhile are skipped \(overlap SKIP\); `toolloop campaign status weekly-20261207T060000Z` says what to do$/m,
  );
  // A campaign that is simply running is no hold-up; one whose state could not be read shows the workflow only.
  const busy = renderScheduleDescription(d, [], [{ ...waiting, status: "running" }]).join("\n");
  assert.match(busy, /running: \S+ \(campaign weekly-20261207T060000Z: running, stage train\.grpo\)$/m);
  assert.doesNotMatch(busy, /note:/);
  assert.match(renderScheduleDescription(d).join("\n"), /^ {2}running: campaign-weekly-2026-12-07T06:00:00Z$/m);
  // allowAll starts runs beside it: nothing is held up.
  const all = { ...d, policies: { ...d.policies, overlap: "ALLOW_ALL" } } as ScheduleDescription;
  assert.doesNotMatch(renderScheduleDescription(all, [], [waiting]).join("\n"), /note:/);
});

test("trigger while a campaign of the schedule is open: SKIP starts nothing, the buffers wait for it, nothing open says nothing", () => {
  const open = [{ workflowId: "campaign-weekly-2026-12-07T06:00:00Z", campaignId: "weekly-20261207T060000Z", status: "waiting_for_operator" }];
  assert.match(
    triggerWhileRunningNote("weekly", "SKIP", open)!,
    /weekly-20261207T060000Z \(waiting_for_operator\) .*this trigger starts nothing \(counted as skipped\); `--overlap bufferOne`/,
  );
  assert.match(triggerWhileRunningNote("weekly", "BUFFER_ALL", open)!, /this run starts when it ends \(overlap BUFFER_ALL\)$/);
  assert.match(triggerWhileRunningNote("weekly", "BUFFER_ONE", open)!, /a run already waiting keeps its place and this one is skipped/);
  assert.equal(triggerWhileRunningNote("weekly", "ALLOW_ALL", open), undefined);
  assert.equal(triggerWhileRunningNote("weekly", "SKIP", []), undefined);
});

test("describe: the config sha256 is the one the action starts runs with; after an update the creation's is named beside it", () => {
  const v1 = freezeCampaignConfig({ ...base, schedules: [{ id: "weekly", spec: { cron: ["0 6 * * MON"] } }] }, { configDir: "/tmp" });
  const v2 = freezeCampaignConfig({ ...base, seed: 8, schedules: [{ id: "weekly", spec: { cron: ["0 6 * * MON"] } }] }, { configDir: "/tmp" });
  assert.ok(v1.ok && v2.ok);
  const memo = { toolloopConfigSha256: v1.hash, campaignName: "weekly-test" };
  const created = { ...description({}, [{ config: v1.frozen, schedule: { id: "weekly" } }]), memo };
  assert.match(renderScheduleDescription(created).join("\n"), new RegExp(`^ {2}campaign "weekly-test", config sha256 ${v1.hash} \\(as created\\)$`, "m"));
  const updated = { ...description({}, [{ config: v2.frozen, schedule: { id: "weekly" } }]), memo };
  assert.match(
    renderScheduleDescription(updated).join("\n"),
    new RegExp(`^ {2}campaign "weekly-test", config sha256 ${v2.hash} \\(updated; at creation ${v1.hash}\\)$`, "m"),
  );
});

test("a scheduled run's campaign id from its workflow id and back (a run no worker has started has no CampaignId yet)", () => {
  assert.equal(scheduledRunCampaignIdOf("campaign-weekly-2026-12-07T06:00:00Z"), "weekly-20261207T060000Z");
  assert.equal(scheduledRunCampaignIdOf("campaign-wk_2-a-2026-12-07T06:00:00Z"), "wk_2-a-20261207T060000Z");
  assert.equal(scheduledRunWorkflowIdOf("weekly-20261207T060000Z"), "campaign-weekly-2026-12-07T06:00:00Z");
  assert.equal(scheduledRunWorkflowIdOf("wk_2-a-20261207T060000Z"), "campaign-wk_2-a-2026-12-07T06:00:00Z");
  // The two agree with the id a run registers under.
  const t = new Date("2026-12-07T06:00:00Z");
  assert.equal(scheduledRunCampaignIdOf(scheduledRunWorkflowIdOf(scheduledCampaignId("weekly", t))!), scheduledCampaignId("weekly", t));
  // Anything else is not a scheduled run.
  for (const id of ["campaign-weekly", "campaign-demo-20261207-060000", "weekly", "campaign-weekly-2026-12-07T06:00:00.130Z"])
    assert.equal(scheduledRunCampaignIdOf(id), undefined, id);
  for (const id of ["demo-20261207-060000", "weekly", "weekly-20261207T060000.130Z", "weekly-20261399T060000Z"])
    assert.equal(scheduledRunWorkflowIdOf(id), undefined, id);
});
