/**
 * A schedule's run ended by the overlap policy terminateOther, against the real dev server,
 * PostgreSQL and a worker. A terminated workflow runs no cleanup, so its campaigns row said running
 * for good: never continued from, and shown running. The next run of the schedule records it as
 * terminated when it registers, and `campaign status` and `campaign list` do for a run terminated by
 * hand; asking again changes nothing.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, test } from "node:test";
import { asc, eq } from "drizzle-orm";
import { campaigns } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { cliEnvOf, runCli } from "../helpers/cli.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
const scheduleId = `termrun-${Date.now().toString(36)}`;
const cli = (args: string[]) => runCli(args, cliEnvOf(env));

before(async () => {
  env = await createTestEnv("sched-terminated");
  // Slow answers: each run is still synthesizing when the next one is triggered.
  sim = await startSimulator({ seed: 4, latencyMs: 2000, maxConcurrency: 4, quiet: true });
  workers = await env.startWorkers();
});
after(async () => {
  await cli(["schedule", "delete", scheduleId]);
  const rows = await env.db.db.select().from(campaigns).where(eq(campaigns.scheduleId, scheduleId));
  for (const r of rows)
    await env.client.workflow
      .getHandle(r.workflowId!)
      .terminate("test over")
      .catch(() => undefined);
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

const ofSchedule = () => env.db.db.select().from(campaigns).where(eq(campaigns.scheduleId, scheduleId)).orderBy(asc(campaigns.scheduledAt));

/** Triggers a run and waits for its row; a second apart, as run ids are the scheduled time to the second. */
async function triggerRun(n: number) {
  await sleep(1100);
  const triggered = await cli(["schedule", "trigger", scheduleId]);
  assert.equal(triggered.status, 0, triggered.stdout + triggered.stderr);
  const rows = await waitFor(`run ${n} to register`, async () => ((await ofSchedule()).length >= n ? ofSchedule() : undefined), 60_000, 200);
  return rows[n - 1]!;
}

test(
  "a run terminated by terminateOther is recorded as terminated when the next run registers; one terminated by hand by campaign status or list",
  { timeout: 240_000 },
  async () => {
    const file = path.join(env.workDir, "termrun.json");
    writeFileSync(
      file,
      JSON.stringify({
        ...simulatorCampaign(sim.url, { name: "termrun", count: 400, batchSize: 4 }),
        schedules: [{ id: scheduleId, spec: { cron: ["0 6 * * MON"] }, overlap: "terminateOther", paused: true }],
      }),
    );
    const created = await cli(["schedule", "create", "--config", file]);
    assert.equal(created.status, 0, created.stdout + created.stderr);

    const first = await triggerRun(1);
    assert.equal(first.status, "running");
    const second = await triggerRun(2);
    assert.equal((await env.client.workflow.getHandle(first.workflowId!).describe()).status.name, "TERMINATED", "terminateOther ended the first run");
    // Recorded before the second run looked for its predecessor.
    const [firstNow, secondNow] = await ofSchedule();
    assert.equal(firstNow?.status, "terminated");
    assert.equal(secondNow?.status, "running", "the run going on is left running");
    const status = await cli(["campaign", "status", first.id]);
    assert.match(status.stdout, new RegExp(`^campaign ${first.id} \\(termrun\\): TERMINATED`, "m"), status.stdout);
    assert.doesNotMatch(status.stdout, /recorded as terminated/, "already recorded: nothing to say");

    // Terminated by hand, with no run after it: campaign status records it.
    await env.client.workflow.getHandle(second.workflowId!).terminate("an operator stops it");
    assert.equal((await ofSchedule())[1]?.status, "running", "no cleanup ran");
    const asked = await cli(["campaign", "status", second.id]);
    assert.equal(asked.status, 0, asked.stderr);
    assert.match(asked.stdout, /TERMINATED/);
    assert.match(
      asked.stdout,
      /^note: PostgreSQL recorded the campaign as running; its workflow .* ended terminated .*; recorded as terminated$/m,
      asked.stdout,
    );
    assert.equal((await ofSchedule())[1]?.status, "terminated");
    const again = await cli(["campaign", "status", second.id]);
    assert.doesNotMatch(again.stdout, /recorded as terminated/, "a second status changes nothing and says nothing");

    // Terminated by hand and then listed: campaign list records it too (it showed PostgreSQL's running for good).
    const third = await triggerRun(3);
    await env.client.workflow.getHandle(third.workflowId!).terminate("an operator stops it");
    assert.equal((await ofSchedule())[2]?.status, "running", "no cleanup ran");
    const listed = await cli(["campaign", "list", "--json"]);
    assert.equal(listed.status, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as { campaigns: { campaignId: string; status: string; state: string }[]; notes: string[] };
    const entry = list.campaigns.find((c) => c.campaignId === third.id);
    assert.equal(entry?.state, "terminated");
    assert.equal(entry?.status, "terminated", "PostgreSQL's status as now recorded");
    // The suite's files share one database, and a `campaign list` of a file running beside this one
    // lists this row too: it may record the end first (it then says so, in its own output), and this
    // list finds it recorded and says nothing. Either way exactly one reader noted it.
    const noted = list.notes.some(
      (n) => n.startsWith(`campaign ${third.id}: its workflow ${third.workflowId} ended terminated`) && n.endsWith("recorded as terminated"),
    );
    if (!noted) assert.ok(!list.notes.some((n) => n.includes(third.id)), list.notes.join("\n"));
    assert.equal((await ofSchedule())[2]?.status, "terminated");
    const listedAgain = JSON.parse((await cli(["campaign", "list", "--json"])).stdout) as { notes: string[] };
    assert.ok(!listedAgain.notes.some((n) => n.includes(third.id)), "a second list changes nothing and says nothing");
  },
);
