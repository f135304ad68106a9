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
  for (const verb of ["pause", "unpause"]) {
    const r = await cli(["schedule", verb, scheduleId, "--note", long]);
    assert.equal(r.status, 2, `${verb}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^error: --note: Temporal at \S+ refused it \(20000 characters\): .*note/im);
    assert.doesNotMatch(r.stderr, /unexpected/);
  }
  const d = await env.client.schedule.getHandle(scheduleId).describe();
  assert.equal(d.state.paused, false);

  // A note it takes still works.
  const ok = await cli(["schedule", "pause", scheduleId, "--note", "holiday week"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((await env.client.schedule.getHandle(scheduleId).describe()).state.note, "holiday week");
});
