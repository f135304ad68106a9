/**
 * `schedule pause|unpause --note` with a note the Temporal server refuses (over its length limit),
 * against the real dev server: bad input (exit 2) naming --note with the server's reason, and the
 * schedule's state unchanged. Before, it was "Failed to patch schedule (unexpected ...)", exit 1.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { simulatorCampaign } from "../helpers/configs.js";
import { cliEnvOf, runCli } from "../helpers/cli.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
const scheduleId = `note-${Date.now().toString(36)}`;
const cli = (args: string[]) => runCli(args, cliEnvOf(env));

before(async () => {
  env = await createTestEnv("sched-note");
});
after(async () => {
  await cli(["schedule", "delete", scheduleId]);
  await env?.close();
});

test("a note the server refuses is bad input naming --note, with the server's reason; the schedule stays as it was", async () => {
  const file = path.join(env.workDir, "note.json");
  writeFileSync(
    file,
    JSON.stringify({ ...simulatorCampaign("http://127.0.0.1:9/v1", { name: "note" }), schedules: [{ id: scheduleId, spec: { cron: ["0 6 * * MON"] } }] }),
  );
  const created = await cli(["schedule", "create", "--config", file]);
  assert.equal(created.status, 0, created.stdout + created.stderr);

  const long = "x".repeat(20_000);
  const refused = async (verb: string) => {
    const r = await cli(["schedule", verb, scheduleId, "--note", long]);
    assert.equal(r.status, 2, `${verb}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^error: --note: Temporal at \S+ refused it \(20000 characters\): .*note/im);
    assert.doesNotMatch(r.stderr, /unexpected/);
  };
  await refused("pause");
  assert.equal((await env.client.schedule.getHandle(scheduleId).describe()).state.paused, false);

  // A note it takes still works.
  const ok = await cli(["schedule", "pause", scheduleId, "--note", "holiday week"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((await env.client.schedule.getHandle(scheduleId).describe()).state.note, "holiday week");

  // Unpausing (the paused schedule) with a note it refuses leaves it paused with its note.
  await refused("unpause");
  const d = await env.client.schedule.getHandle(scheduleId).describe();
  assert.equal(d.state.paused, true);
  assert.equal(d.state.note, "holiday week");
});

test("pause of a paused schedule and unpause of an active one say so and keep the note (exit 0, as campaign pause|resume)", async () => {
  // The schedule is paused with note "holiday week" by the test above.
  const again = await cli(["schedule", "pause", scheduleId, "--note", "another note"]);
  assert.equal(again.status, 0, again.stdout + again.stderr);
  assert.match(again.stdout, new RegExp(`^pause: schedule ${scheduleId} is already paused \\(note: holiday week\\); nothing changed`, "m"));
  assert.equal((await env.client.schedule.getHandle(scheduleId).describe()).state.note, "holiday week");

  const unpaused = await cli(["schedule", "unpause", scheduleId, "--note", "back"]);
  assert.equal(unpaused.status, 0, unpaused.stderr);
  const twice = await cli(["schedule", "unpause", scheduleId, "--note", "back again"]);
  assert.equal(twice.status, 0, twice.stdout + twice.stderr);
  assert.match(twice.stdout, new RegExp(`^unpause: schedule ${scheduleId} is not paused \\(note: back\\); nothing changed`, "m"));
  const d = await env.client.schedule.getHandle(scheduleId).describe();
  assert.equal(d.state.paused, false);
  assert.equal(d.state.note, "back");
});
