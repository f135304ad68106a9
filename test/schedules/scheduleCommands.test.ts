/**
 * `toolloop schedule ...` as a process against the real dev server, PostgreSQL and a worker: bad
 * schedule configs refused with the field path; create twice is an update that keeps the state;
 * pause, unpause, describe, list; `trigger` and `backfill` start campaigns of their own (ids from the
 * scheduled times, different seeds); delete. The campaign is a tiny synthesis on the LLM simulator.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { asc, eq } from "drizzle-orm";
import type { FrozenCampaignConfig } from "../../src/config/frozen.js";
import { campaignConfigs, campaigns } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { cliEnvOf, runCli } from "../helpers/cli.js";
import { closedPort } from "../helpers/deadEndpoints.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
const scheduleId = `ops-${Date.now().toString(36)}`;

const cli = (args: string[]) => runCli(args, cliEnvOf(env));

function configFile(name: string, schedules: unknown): string {
  const file = path.join(env.workDir, name);
  writeFileSync(file, JSON.stringify({ ...simulatorCampaign(sim.url, { name: "ops", count: 4, batchSize: 4 }), schedules }, null, 2));
  return file;
}

before(async () => {
  env = await createTestEnv("schedops");
  sim = await startSimulator({ seed: 9, latencyMs: 1, maxConcurrency: 16, quiet: true });
  workers = await env.startWorkers();
});
after(async () => {
  await cli(["schedule", "delete", scheduleId]);
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

test("a bad schedule config is refused with its field path (exit 2), one the server refuses with its reason (exit 2), and nothing is created", async () => {
  const bad = configFile("bad.json", [
    { id: scheduleId, spec: { intervals: [{ every: "1 week" }], timezone: "Nowhere/Land" }, overlap: "sometimes" },
    { id: scheduleId, spec: { cron: ["@weekly"] } },
  ]);
  const r = await cli(["schedule", "create", "--config", bad]);
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /^ {2}schedules\[0\]\.spec\.intervals\[0\]\.every: expected a duration/m);
  assert.match(r.stderr, /^ {2}schedules\[0\]\.spec\.timezone: expected an IANA time zone name/m);
  assert.match(r.stderr, /^ {2}schedules\[0\]\.overlap: expected one of "skip"/m);
  assert.match(r.stderr, new RegExp(`^ {2}schedules\\[1\\]\\.id: duplicate schedule id "${scheduleId}"`, "m"));
  const none = await cli(["schedule", "create", "--config", configFile("none.json", undefined)]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /schedules: the config has no schedules/);
  // A zone this runtime knows (an old alias) but the server's zone files do not: the server's refusal,
  // in its words, as bad input.
  const refused = await cli([
    "schedule",
    "create",
    "--config",
    configFile("alias.json", [{ id: scheduleId, spec: { cron: ["@weekly"], timezone: "US/Pacific-New" } }]),
  ]);
  assert.equal(refused.status, 2, refused.stdout + refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `schedule ${scheduleId} \\(.*alias\\.json, schedules\\[0\\]\\): Temporal at .* refused it: invalid schedule spec: unknown time zone US/Pacific-New`,
    ),
  );
  const absent = await cli(["schedule", "describe", scheduleId]);
  assert.equal(absent.status, 2);
  assert.match(absent.stderr, new RegExp(`no such schedule: ${scheduleId}`));
  // backfill asks the server for the range's runs first: an unknown id is the same bad input, not an "unexpected" gRPC NOT_FOUND (exit 1).
  const absentBackfill = await cli(["schedule", "backfill", scheduleId, "--from", "2026-11-02", "--to", "2026-11-30"]);
  assert.equal(absentBackfill.status, 2, absentBackfill.stderr);
  assert.equal(absentBackfill.stderr, `error: no such schedule: ${scheduleId}; \`schedule list\` shows the schedules of namespace ${env.namespace}\n`);
  const badBackfill = await cli(["schedule", "backfill", scheduleId, "--from", "yesterday", "--to", "2026-01-01T00:00:00Z"]);
  assert.equal(badBackfill.status, 2);
  assert.match(badBackfill.stderr, /--from: expected an ISO 8601 date or time/);
  // Checked before the schedule is looked up: no rolled-over dates, no time read in the machine's zone.
  for (const [from, reason] of [
    ["2026-02-30T00:00:00Z", /--from: day 30 is out of range for 2026-02/],
    ["2026-12-01T24:00:00Z", /--from: hour 24 is out of range/],
    ["2026-12-01T06:00:00", /--from: expected a zone: add Z for UTC or an offset/],
    ["1900-01-01", /--from: expected a time from 1970-01-01 on/],
  ] as const) {
    const r = await cli(["schedule", "backfill", scheduleId, "--from", from, "--to", "2027-01-01T00:00:00Z"]);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, reason);
  }
});

test("create, create again (update keeps state), pause/unpause, list, trigger, backfill and delete", { timeout: 170_000 }, async (t) => {
  const db = env.db.db;
  // Mondays 06:00 UTC: nothing runs by itself during the test.
  const created = await cli(["schedule", "create", "--config", configFile("v1.json", [{ id: scheduleId, spec: { cron: ["0 6 * * MON"] } }])]);
  assert.equal(created.status, 0, created.stderr);
  assert.match(created.stdout, new RegExp(`^created schedule ${scheduleId} `, "m"));
  assert.equal((await cli(["schedule", "pause", scheduleId, "--note", "held by the operator"])).status, 0);

  // Create again with another spec: an update; the schedule stays paused with its note.
  const again = await cli([
    "schedule",
    "create",
    "--config",
    configFile("v2.json", [{ id: scheduleId, spec: { cron: ["0 7 * * MON"] }, overlap: "bufferAll" }]),
  ]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`^updated schedule ${scheduleId} `, "m"));
  const d1 = await env.client.schedule.getHandle(scheduleId).describe();
  assert.equal(d1.state.paused, true, "an update keeps the schedule paused");
  assert.equal(d1.state.note, "held by the operator");
  assert.equal(d1.policies.overlap, "BUFFER_ALL", "and applies the new policy");
  assert.equal(d1.info.nextActionTimes[0]?.getUTCHours(), 7, "and the new spec");
  const described = await cli(["schedule", "describe", scheduleId]);
  assert.equal(described.status, 0, described.stderr);
  assert.match(described.stdout, new RegExp(`^schedule ${scheduleId}: PAUSED \\(note: held by the operator\\)$`, "m"));
  // Paused: the server's next times start nothing until unpause, and describe and list say so.
  assert.match(described.stdout, /^ {2}next: none while paused \(after unpause/m);
  assert.doesNotMatch(described.stdout, /^ {2}next: \d/m);
  const pausedList = await waitFor(
    "the paused schedule in the text list (visibility is eventually consistent)",
    async () => (await cli(["schedule", "list"])).stdout.split("\n").find((l) => l.startsWith(`${scheduleId}: PAUSED`)),
    20_000,
    1000,
  );
  assert.match(pausedList, /, next none while paused \(note: held by the operator\)$/);
  // The config's cron line as written, not the server's calendar spec.
  assert.match(described.stdout, /^ {2}when: cron "0 7 \* \* MON"; timezone UTC$/m);
  // The config the next run starts with is the updated one; the creation's is named beside it.
  const hashOf = (out: string) => /\(config sha256 ([0-9a-f]{64})\)/.exec(out)?.[1];
  assert.match(
    described.stdout,
    new RegExp(`^ {2}campaign "ops", config sha256 ${hashOf(again.stdout)} \\(updated; at creation ${hashOf(created.stdout)}\\)$`, "m"),
  );

  const listed = await cli(["schedule", "list", "--json"]);
  assert.equal(listed.status, 0, listed.stderr);
  await waitFor(
    "the schedule in the list (visibility is eventually consistent)",
    async () =>
      (JSON.parse((await cli(["schedule", "list", "--json"])).stdout) as { scheduleId: string; paused: boolean }[]).find((s) => s.scheduleId === scheduleId),
    20_000,
    1000,
  );

  assert.equal((await cli(["schedule", "unpause", scheduleId])).status, 0);
  assert.equal((await env.client.schedule.getHandle(scheduleId).describe()).state.paused, false);
  // The new spec's next time (Mondays 07:00), once unpaused.
  assert.match((await cli(["schedule", "describe", scheduleId])).stdout, /^ {2}next: \d{4}-\d{2}-\d{2}T07:00:00\.000Z$/m);

  // trigger: a run now; backfill: the two Mondays 07:00 of 2026-01-05 .. 2026-01-13.
  const triggered = await cli(["schedule", "trigger", scheduleId]);
  assert.equal(triggered.status, 0, triggered.stderr);
  const backfilled = await cli(["schedule", "backfill", scheduleId, "--from", "2026-01-05T00:00:00Z", "--to", "2026-01-13T00:00:00Z"]);
  assert.equal(backfilled.status, 0, backfilled.stderr);
  assert.match(backfilled.stdout, /: 2 runs \(2026-01-05T07:00:00\.000Z to 2026-01-12T07:00:00\.000Z\) scheduled from /);
  // A year of Mondays is 52 campaigns: refused without --max-runs, nothing started (the count below stays 3).
  const wholeYear = await cli(["schedule", "backfill", scheduleId, "--from", "2025-01-01", "--to", "2026-01-01"]);
  assert.equal(wholeYear.status, 2, wholeYear.stdout + wholeYear.stderr);
  assert.match(
    wholeYear.stderr,
    new RegExp(
      `--max-runs: the range holds 52 runs of schedule ${scheduleId} \\(the first at 2025-01-06T07:00:00\\.000Z, the last at 2025-12-29T07:00:00\\.000Z\\), more than --max-runs 20: .*give --max-runs 52 to start them all`,
    ),
  );
  const badMax = await cli(["schedule", "backfill", scheduleId, "--from", "2025-01-01", "--to", "2026-01-01", "--max-runs", "0"]);
  assert.equal(badMax.status, 2);
  assert.match(badMax.stderr, /--max-runs: expected a positive integer, got "0"/);

  const rows = await waitFor(
    "three finished campaigns of the schedule",
    async () => {
      const r = await db.select().from(campaigns).where(eq(campaigns.scheduleId, scheduleId)).orderBy(asc(campaigns.scheduledAt));
      return r.length === 3 && r.every((c) => c.status !== "running") ? r : undefined;
    },
    120_000,
    500,
  );
  t.diagnostic(`campaigns: ${rows.map((r) => `${r.id} ${r.status}`).join(", ")}`);
  const ids = rows.map((r) => r.id);
  assert.deepEqual(ids.slice(0, 2), [`${scheduleId}-20260105T070000Z`, `${scheduleId}-20260112T070000Z`]);
  assert.match(ids[2]!, new RegExp(`^${scheduleId}-\\d{8}T\\d{6}(\\.\\d{3})?Z$`), "the triggered run is named after the time it was triggered for");
  for (const r of rows) assert.equal(r.status, "completed");
  const seeds = await Promise.all(
    ids.map(async (id) => ((await db.select().from(campaignConfigs).where(eq(campaignConfigs.campaignId, id)))[0]!.frozen as FrozenCampaignConfig).config.seed),
  );
  assert.equal(new Set(seeds).size, 3, `each run has its own seed: ${seeds.join(", ")}`);
  // Nothing trained, so no run continues from another (it needs a registered policy).
  assert.ok(rows.every((r) => r.continuesFrom === null));

  const d2 = await env.client.schedule.getHandle(scheduleId).describe();
  assert.equal(d2.info.recentActions.length, 3);
  // list's last run is the one started last (a backfilled run, scheduled in January), with both times.
  const startedLast = [...d2.info.recentActions].sort((a, b) => a.takenAt.getTime() - b.takenAt.getTime()).at(-1)!;
  const row = await waitFor(
    "the list showing the last run (visibility is eventually consistent)",
    async () =>
      (JSON.parse((await cli(["schedule", "list", "--json"])).stdout) as { scheduleId: string; recent?: string; recentStartedAt?: string }[]).find(
        (s) => s.scheduleId === scheduleId && s.recentStartedAt === startedLast.takenAt.toISOString(),
      ),
    20_000,
    1000,
  );
  assert.equal(row.recent, startedLast.scheduledAt.toISOString());
  const text = await cli(["schedule", "list"]);
  assert.match(text.stdout, new RegExp(`^${scheduleId}: active, last run started \\S+ \\(scheduled for \\S+\\), next `, "m"));

  // --to is exclusive: a range whose only Monday 07:00 is its end starts nothing. The server takes
  // backfills in order, so once the next range's run (2026-02-09) has started, one for 2026-02-02
  // would have started before it.
  const empty = await cli(["schedule", "backfill", scheduleId, "--from", "2026-02-01T00:00:00Z", "--to", "2026-02-02T07:00:00Z"]);
  assert.equal(empty.status, 0, empty.stderr);
  assert.match(empty.stdout, /has no run scheduled from 2026-02-01T00:00:00.000Z \(inclusive\) to 2026-02-02T07:00:00.000Z \(exclusive\); nothing started/);
  const next = await cli(["schedule", "backfill", scheduleId, "--from", "2026-02-09", "--to", "2026-02-10"]);
  assert.equal(next.status, 0, next.stderr);
  const d3 = await waitFor(
    "the 2026-02-09 run to start",
    async () => {
      const d = await env.client.schedule.getHandle(scheduleId).describe();
      return d.info.recentActions.some((a) => a.scheduledAt.toISOString() === "2026-02-09T07:00:00.000Z") ? d : undefined;
    },
    60_000,
    500,
  );
  assert.deepEqual(
    d3.info.recentActions.map((a) => a.scheduledAt.toISOString()).filter((t) => t.startsWith("2026-02")),
    ["2026-02-09T07:00:00.000Z"],
    "no run for the range's end",
  );
  assert.match(next.stdout, /from 2026-02-09T00:00:00\.000Z \(inclusive\) to 2026-02-10T00:00:00\.000Z \(exclusive\)/);
  const deleted = await cli(["schedule", "delete", scheduleId]);
  assert.equal(deleted.status, 0, deleted.stderr);
  const gone = await cli(["schedule", "describe", scheduleId]);
  assert.equal(gone.status, 2);
  assert.match(gone.stderr, /no such schedule/);
});

test(
  "a scheduled campaign that fails pauses its schedule (pauseOnFailure, the default); the status names the failure; the operator reruns the week and unpauses",
  { timeout: 180_000 },
  async (t) => {
    const failingId = `${scheduleId}-fail`;
    // An endpoint nothing listens on, one attempt, and stages that fail the campaign instead of waiting.
    const config = simulatorCampaign(`http://127.0.0.1:${await closedPort()}/v1`, { name: "ops-fail", count: 4, batchSize: 4 }) as {
      seed: number;
      endpoints: Record<string, Record<string, unknown>>;
    };
    for (const e of Object.values(config.endpoints)) Object.assign(e, { maxRetries: 0, attemptBudget: 1, connectTimeoutMs: 500 });
    const file = path.join(env.workDir, "failing.json");
    writeFileSync(file, JSON.stringify({ ...config, onStageFailure: "fail", schedules: [{ id: failingId, spec: { cron: ["0 6 * * MON"] } }] }, null, 2));
    try {
      const created = await cli(["schedule", "create", "--config", file]);
      assert.equal(created.status, 0, created.stdout + created.stderr);
      assert.equal((await env.client.schedule.getHandle(failingId).describe()).state.paused, false);
      assert.equal((await cli(["schedule", "trigger", failingId])).status, 0);
      const failed = await waitFor(
        "the triggered campaign to fail",
        async () => (await env.db.db.select().from(campaigns).where(eq(campaigns.scheduleId, failingId))).find((c) => c.status === "failed"),
        90_000,
        500,
      );
      const paused = await waitFor(
        "the schedule to pause itself",
        async () => {
          const d = await env.client.schedule.getHandle(failingId).describe();
          return d.state.paused ? d : undefined;
        },
        30_000,
        500,
      );
      t.diagnostic(`campaign ${failed.id} failed; schedule paused with note: ${paused.state.note ?? ""}`);
      const status = await cli(["campaign", "status", failed.id]);
      assert.match(status.stdout, /FAILED/, status.stdout + status.stderr);
      assert.match(status.stdout, /unavailable|refused/, "the reason names the endpoint failure");

      // The operator's recovery. The status's next step (`campaign start --config <file> --id <id>`)
      // with the schedule's own file: the only differences are real ones, not the run's id and seed.
      assert.match(status.stdout, new RegExp(`campaign start --config <file> --id ${failed.id}`));
      const unchanged = await cli(["campaign", "start", "--config", file, "--id", failed.id, "--skip-endpoint-check"]);
      t.diagnostic(`rerun with the schedule's file: ${unchanged.status} ${unchanged.stdout}${unchanged.stderr}`);
      assert.doesNotMatch(unchanged.stdout + unchanged.stderr, /registered with another config|seed: |campaignId: /);
      assert.match(unchanged.stdout, new RegExp(`campaign ${failed.id} is schedule ${failingId}'s run for `));
      // It started under the run's own workflow id (a new run of it), so it fails again on the dead endpoint.
      assert.equal(unchanged.status, 0, unchanged.stdout + unchanged.stderr);
      assert.match(unchanged.stdout, new RegExp(`^workflow id: ${failed.workflowId}$`, "m"));
      await env.client.workflow
        .getHandle(failed.workflowId!)
        .result()
        .catch(() => undefined);
      // Fix the endpoint: the schedule's config and this week's rerun, as config version 2 from iteration 1.
      const fixed = path.join(env.workDir, "fixed.json");
      writeFileSync(
        fixed,
        JSON.stringify({
          ...config,
          endpoints: { sim: { ...config.endpoints.sim, baseUrl: sim.url } },
          onStageFailure: "fail",
          schedules: [{ id: failingId, spec: { cron: ["0 6 * * MON"] } }],
        }),
      );
      assert.equal((await cli(["schedule", "update", "--config", fixed])).status, 0);
      const changed = await cli(["campaign", "start", "--config", fixed, "--id", failed.id]);
      assert.equal(changed.status, 2, "a changed config needs --config-version");
      assert.match(changed.stderr, /differences:\n {2}endpoints\.sim\.baseUrl: [^\n]*\nrerun with --config-version/);
      const rerun = await cli(["campaign", "start", "--config", fixed, "--id", failed.id, "--config-version", "--wait"]);
      assert.equal(rerun.status, 0, rerun.stdout + rerun.stderr);
      const versions = await env.db.db.select().from(campaignConfigs).where(eq(campaignConfigs.campaignId, failed.id)).orderBy(asc(campaignConfigs.version));
      const seeds = versions.map((v) => (v.frozen as FrozenCampaignConfig).config.seed);
      assert.equal(seeds.length, 2);
      assert.notEqual(seeds[0], config.seed, "the run's seed is derived from its scheduled time");
      assert.equal(seeds[1], seeds[0], "version 2 keeps the run's seed");
      const row = (await env.db.db.select().from(campaigns).where(eq(campaigns.id, failed.id)))[0]!;
      assert.equal(row.status, "completed");
      assert.equal(row.scheduleId, failingId);
      const after = await cli(["campaign", "status", failed.id]);
      assert.match(after.stdout, /^campaign \S+ \(ops-fail\): COMPLETED/m, after.stdout);
      assert.match(after.stdout, new RegExp(`^workflow: ${failed.workflowId} COMPLETED`, "m"));
      assert.equal((await cli(["schedule", "unpause", failingId, "--note", "endpoint fixed"])).status, 0);
      assert.equal((await env.client.schedule.getHandle(failingId).describe()).state.paused, false);
    } finally {
      await cli(["schedule", "delete", failingId]);
    }
  },
);

test(
  "a scheduled campaign waiting for an operator: describe says the schedule's runs are skipped meanwhile, and a trigger says it starts nothing",
  { timeout: 120_000 },
  async () => {
    const waitingId = `${scheduleId}-wait`;
    const config = simulatorCampaign(`http://127.0.0.1:${await closedPort()}/v1`, { name: "ops-wait", count: 4, batchSize: 4 }) as {
      endpoints: Record<string, Record<string, unknown>>;
    };
    for (const e of Object.values(config.endpoints)) Object.assign(e, { maxRetries: 0, attemptBudget: 1, connectTimeoutMs: 500 });
    const file = path.join(env.workDir, "waiting.json");
    writeFileSync(file, JSON.stringify({ ...config, schedules: [{ id: waitingId, spec: { cron: ["0 6 * * MON"] } }] }, null, 2));
    try {
      assert.equal((await cli(["schedule", "create", "--config", file])).status, 0);
      assert.equal((await cli(["schedule", "trigger", waitingId])).status, 0);
      const described = await waitFor(
        "describe to show the run waiting for an operator",
        async () => {
          const r = await cli(["schedule", "describe", waitingId]);
          return /waiting_for_operator/.test(r.stdout) ? r.stdout : undefined;
        },
        60_000,
        1000,
      );
      const campaignId = /\(campaign (\S+): waiting_for_operator, stage synthesize\.singleTurn\)$/m.exec(described)?.[1];
      assert.ok(campaignId, described);
      assert.match(
        described,
        new RegExp(`^ {2}note: campaign ${campaignId} waits for an operator: until it ends the runs due meanwhile are skipped \\(overlap SKIP\\)`, "m"),
      );
      const json = JSON.parse((await cli(["schedule", "describe", waitingId, "--json"])).stdout) as {
        runningCampaigns: { campaignId?: string; status?: string }[];
      };
      assert.deepEqual(
        json.runningCampaigns.map((c) => [c.campaignId, c.status]),
        [[campaignId, "waiting_for_operator"]],
      );
      const again = await cli(["schedule", "trigger", waitingId]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(
        again.stdout,
        new RegExp(
          `^note: campaign ${campaignId} \\(waiting_for_operator\\) of schedule ${waitingId} is still open: with overlap SKIP this trigger starts nothing`,
          "m",
        ),
      );
      await waitFor(
        "the trigger counted as skipped",
        async () => ((await env.client.schedule.getHandle(waitingId).describe()).info.numActionsSkippedOverlap === 1 ? true : undefined),
        20_000,
        500,
      );
      assert.equal((await cli(["campaign", "abort", campaignId, "--reason", "test over"])).status, 0);
    } finally {
      await cli(["schedule", "delete", waitingId]);
    }
  },
);

test("a scheduled run no worker has started is listed, shown and paused under the campaign id it will register", { timeout: 60_000 }, async () => {
  const idleId = `${scheduleId}-idle`;
  // A queue prefix no worker polls: the run waits for a worker.
  const idle = { ...cliEnvOf(env), TOOLLOOP_QUEUE_PREFIX: `${env.queuePrefix}-idle` };
  const file = configFile("idle.json", [{ id: idleId, spec: { cron: ["0 6 * * MON"] } }]);
  let runWorkflowId: string | undefined;
  try {
    assert.equal((await runCli(["schedule", "create", "--config", file], idle)).status, 0);
    assert.equal((await runCli(["schedule", "trigger", idleId], idle)).status, 0);
    const d = await waitFor(
      "the triggered run",
      async () => {
        const x = await env.client.schedule.getHandle(idleId).describe();
        return x.info.runningActions.length > 0 ? x : undefined;
      },
      20_000,
      500,
    );
    const workflowId = d.info.runningActions[0]!.workflow.workflowId;
    runWorkflowId = workflowId;
    const campaignId = `${idleId}-${workflowId.slice(`campaign-${idleId}-`.length).replace(/[-:]/g, "")}`;
    assert.match(campaignId, new RegExp(`^${idleId}-\\d{8}T\\d{6}Z$`));
    const listed = await waitFor(
      "the run in campaign list (visibility is eventually consistent)",
      async () => {
        const r = JSON.parse((await runCli(["campaign", "list", "--json"], idle)).stdout) as {
          campaigns: { campaignId: string; workflowId?: string; registered: boolean }[];
        };
        return r.campaigns.find((c) => c.workflowId === workflowId);
      },
      20_000,
      1000,
    );
    assert.equal(listed.campaignId, campaignId, "listed under the id it will register, not the workflow id without campaign-");
    assert.equal(listed.registered, false);
    const status = await runCli(["campaign", "status", campaignId], idle);
    assert.equal(status.status, 0, status.stdout + status.stderr);
    assert.match(status.stdout, new RegExp(`^campaign ${campaignId}: RUNNING`, "m"));
    assert.match(status.stdout, new RegExp(`^workflow: ${workflowId} RUNNING`, "m"));
    assert.match(status.stdout, /no worker has run this campaign yet/);
    const described = await runCli(["schedule", "describe", idleId], idle);
    assert.match(described.stdout, new RegExp(`^ {2}running: ${workflowId} \\(campaign ${campaignId}: running\\)$`, "m"));
    const paused = await runCli(["campaign", "pause", campaignId], idle);
    assert.equal(paused.status, 0, paused.stdout + paused.stderr);
    assert.match(paused.stdout, new RegExp(`pause: sent to ${workflowId}`));
  } finally {
    if (runWorkflowId)
      await env.client.workflow
        .getHandle(runWorkflowId)
        .terminate("test over")
        .catch(() => undefined);
    await runCli(["schedule", "delete", idleId], idle);
  }
});
