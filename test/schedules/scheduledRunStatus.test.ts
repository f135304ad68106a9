/**
 * `campaign status` of a campaign asked for by an id it did not register under, against the real dev
 * server, PostgreSQL and a worker: a schedule's run by its workflow id (`campaign-<schedule>-<time>`,
 * what `schedule describe`, the Temporal UI and `campaign list --json` show), and a start from the
 * Temporal UI under `campaign-X` without a campaignId (registered as `campaign-X`) asked for as `X`.
 * Each shows the campaign as by its registered id, stages included. Before, only Temporal's half
 * showed (no name, no stages, no schedule line) without a note.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { campaigns } from "../../src/db/schema.js";
import { taskQueues } from "../../src/taskQueues.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { cliEnvOf, runCli } from "../helpers/cli.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
const scheduleId = `runstatus-${Date.now().toString(36)}`;
const cli = (args: string[]) => runCli(args, cliEnvOf(env));

before(async () => {
  env = await createTestEnv("sched-run-status");
  sim = await startSimulator({ seed: 4, latencyMs: 1, maxConcurrency: 16, quiet: true });
  workers = await env.startWorkers();
});
after(async () => {
  await cli(["schedule", "delete", scheduleId]);
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

test("status by a scheduled run's workflow id shows the campaign as by its id: name, stages and the schedule line", { timeout: 120_000 }, async () => {
  const file = path.join(env.workDir, "runstatus.json");
  writeFileSync(
    file,
    JSON.stringify({
      ...simulatorCampaign(sim.url, { name: "runstatus", count: 4, batchSize: 4 }),
      schedules: [{ id: scheduleId, spec: { cron: ["0 6 * * MON"] } }],
    }),
  );
  const created = await cli(["schedule", "create", "--config", file]);
  assert.equal(created.status, 0, created.stdout + created.stderr);
  assert.equal((await cli(["schedule", "trigger", scheduleId])).status, 0);
  const row = await waitFor(
    "the triggered run to complete",
    async () => (await env.db.db.select().from(campaigns).where(eq(campaigns.scheduleId, scheduleId))).find((c) => c.status === "completed"),
    90_000,
    500,
  );
  assert.ok(row.workflowId?.startsWith(`campaign-${scheduleId}-`), row.workflowId ?? "");
  assert.notEqual(row.workflowId, `campaign-${row.id}`, "a scheduled run's workflow id is not campaign-<campaign id>");

  const byId = await cli(["campaign", "status", row.id]);
  const byWorkflowId = await cli(["campaign", "status", row.workflowId!]);
  assert.equal(byWorkflowId.status, 0, byWorkflowId.stderr);
  assert.match(byWorkflowId.stdout, new RegExp(`^campaign ${row.id} \\(runstatus\\): COMPLETED, iteration 1/1$`, "m"), byWorkflowId.stdout);
  assert.match(byWorkflowId.stdout, new RegExp(`^schedule: ${scheduleId}, run scheduled for `, "m"));
  assert.match(byWorkflowId.stdout, /^ {2}synthesize\.singleTurn +4\/4 \(100%\)/m);
  assert.equal(byWorkflowId.stdout, byId.stdout, "the same view either way");

  const json = JSON.parse((await cli(["campaign", "status", row.workflowId!, "--json"])).stdout) as { campaignId: string; name?: string; schedule?: unknown };
  assert.equal(json.campaignId, row.id);
  assert.equal(json.name, "runstatus");
  assert.deepEqual(json.schedule, { scheduleId, scheduledAt: row.scheduledAt?.toISOString() });
});

test(
  "status X of a Temporal UI start under workflow id campaign-X with no campaignId (registered as campaign-X) shows that campaign",
  { timeout: 120_000 },
  async () => {
    const x = `uinoid-${Date.now().toString(36)}`;
    // As the UI sends it: the config as written, no campaignId; the workflow id is the campaign id then.
    await env.client.workflow.execute("campaignWorkflow", {
      workflowId: `campaign-${x}`,
      taskQueue: taskQueues(env.queuePrefix).workflows,
      args: [{ config: { ...simulatorCampaign(sim.url, { name: "uinoid", count: 4, batchSize: 4 }), output: { dir: env.workDir } } }],
    });
    const registered = await env.db.db
      .select()
      .from(campaigns)
      .where(eq(campaigns.id, `campaign-${x}`));
    assert.equal(registered.length, 1, "registered under the workflow id");
    const asked = await cli(["campaign", "status", x]);
    assert.equal(asked.status, 0, asked.stderr);
    assert.match(asked.stdout, new RegExp(`^campaign campaign-${x} \\(uinoid\\): COMPLETED, iteration 1/1$`, "m"), asked.stdout);
    assert.match(asked.stdout, /^ {2}synthesize\.singleTurn +4\/4 \(100%\)/m);
    assert.equal(asked.stdout, (await cli(["campaign", "status", `campaign-${x}`])).stdout, "the same view as by its registered id");
  },
);
