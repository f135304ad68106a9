/**
 * The terminated-run marking (src/schedules/endedRuns.ts) against a campaign started again by hand
 * under the same workflow id while the marking ran: Temporal described the old run as TERMINATED, the
 * new run registered, and then the row was marked terminated while the new run went on (its
 * registration leaves a row that says running as it is, so the "unchanged since read" check passed).
 * Now each registration records its run id and only the run Temporal described is marked. Real
 * registrations (the registerCampaign activity, with the run id Temporal gives an activity) on an
 * embedded PostgreSQL; Temporal is a stand-in whose describe lets the restart happen in between.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Client } from "@temporalio/client";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createActivities } from "../../../activities/index.js";
import type { RegisterCampaignInput } from "../../../activities/types.js";
import { activityDepsFor } from "../../../src/cli/worker.js";
import { migrateDatabase, openDatabase, type DbHandle } from "../../../src/db/client.js";
import { getCampaign, insertCampaign, markCampaignEnded, recordCampaignRun } from "../../../src/db/repos/campaigns.js";
import { simulatorCampaign } from "../../helpers/configs.js";

let h: DbHandle;
let dir: string;
before(async () => {
  h = await openDatabase("pglite:memory");
  await migrateDatabase(h);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-restarted-run-"));
});
after(async () => {
  await h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A stand-in Temporal client: describe() runs `meanwhile` (what happens while Temporal answers), then answers `answer`. */
function describingClient(answers: Map<string, { runId: string; status: string; meanwhile?: () => Promise<void> }>): Client {
  return {
    workflow: {
      getHandle: (workflowId: string) => ({
        describe: async () => {
          const a = answers.get(workflowId);
          if (!a) throw new Error(`no workflow ${workflowId} in this test`);
          await a.meanwhile?.();
          return { runId: a.runId, status: { name: a.status } };
        },
      }),
    },
  } as unknown as Client;
}

function scheduledRun(schedule: string, id: string, scheduledTime: string): RegisterCampaignInput {
  return {
    campaignId: id,
    workflowId: `campaign-${schedule}-${scheduledTime}`,
    config: simulatorCampaign("http://127.0.0.1:1/v1", { name: schedule }),
    configDir: dir,
    schedule: { scheduleId: schedule, scheduledTime, timeSource: "TemporalScheduledStartTime" },
  };
}

test("a campaign started again under the same workflow id while the next run marks the old one is not marked terminated", async () => {
  const answers = new Map<string, { runId: string; status: string; meanwhile?: () => Promise<void> }>();
  const activities = createActivities({ ...activityDepsFor(h, dir, () => undefined), temporalClient: async () => describingClient(answers) });
  const register = (input: RegisterCampaignInput, runId: string) =>
    new MockActivityEnvironment({ workflowExecution: { workflowId: input.workflowId!, runId } }).run(activities.registerCampaign, input);

  const a = scheduledRun("wk", "wk-a", "2026-11-30T06:00:00Z");
  await register(a, "a-run-1");
  assert.equal((await getCampaign(h.db, "wk-a"))?.status, "running");
  // Temporal describes a's first run as terminated; while it answers, an operator starts wk-a again
  // under the same workflow id, and the new run registers.
  answers.set(a.workflowId!, { runId: "a-run-1", status: "TERMINATED", meanwhile: () => register(a, "a-run-2").then(() => undefined) });
  await register(scheduledRun("wk", "wk-b", "2026-12-07T06:00:00Z"), "b-run-1");
  const row = await getCampaign(h.db, "wk-a");
  assert.equal(row?.status, "running", "the restarted run goes on: it is not marked terminated");
  assert.equal(row?.workflowRunId, "a-run-2", "the row belongs to the run that registered last");

  // That run terminated in turn: the next marking records it.
  answers.set(a.workflowId!, { runId: "a-run-2", status: "TERMINATED" });
  await register(scheduledRun("wk", "wk-c", "2026-12-14T06:00:00Z"), "c-run-1");
  assert.equal((await getCampaign(h.db, "wk-a"))?.status, "terminated");
});

test("a restart that registers after the old run was marked runs again; a mark of its own run stays", async () => {
  const answers = new Map<string, { runId: string; status: string; meanwhile?: () => Promise<void> }>();
  const activities = createActivities({ ...activityDepsFor(h, dir, () => undefined), temporalClient: async () => describingClient(answers) });
  const register = (input: RegisterCampaignInput, runId: string) =>
    new MockActivityEnvironment({ workflowExecution: { workflowId: input.workflowId!, runId } }).run(activities.registerCampaign, input);
  const a = scheduledRun("mo", "mo-a", "2026-11-30T06:00:00Z");
  await register(a, "mo-a-1");
  answers.set(a.workflowId!, { runId: "mo-a-1", status: "TERMINATED" });
  // The restart's workflow started before the mark, its registration comes after.
  await register(scheduledRun("mo", "mo-b", "2026-12-07T06:00:00Z"), "mo-b-1");
  assert.equal((await getCampaign(h.db, "mo-a"))?.status, "terminated", "the run Temporal described is marked");
  await register(a, "mo-a-2");
  assert.equal((await getCampaign(h.db, "mo-a"))?.status, "running", "the new run's registration says it runs");

  // The registration read the row (running) before the mark and writes after it: the same outcome.
  assert.ok(await markCampaignEnded(h.db, "mo-a", { updatedAt: new Date(0) }, "terminated", "mo-a-2"), "its own run's end is marked");
  assert.equal(await recordCampaignRun(h.db, "mo-a", "mo-a-2"), false, "a retried registration of the same run changes nothing");
  assert.equal((await getCampaign(h.db, "mo-a"))?.status, "terminated", "the run the mark was for stays terminated");
  assert.ok(await recordCampaignRun(h.db, "mo-a", "mo-a-3"));
  assert.equal((await getCampaign(h.db, "mo-a"))?.status, "running", "a terminated of an earlier run gives way to the run registering");
});

test("rows registered before run ids were recorded are marked as before: only while unchanged since read", async () => {
  await insertCampaign(h.db, { id: "old", name: "old", config: {}, workflowId: "campaign-old" });
  const read = (await getCampaign(h.db, "old"))!;
  assert.equal(read.workflowRunId, null);
  assert.equal(
    await markCampaignEnded(h.db, "old", { updatedAt: new Date(read.updatedAt.getTime() - 5) }, "terminated", "any-run"),
    false,
    "changed since read",
  );
  assert.equal(await markCampaignEnded(h.db, "old", read, "terminated", "any-run"), true);
  assert.equal(await markCampaignEnded(h.db, "old", read, "terminated", "any-run"), false, "a second call changes nothing");
  assert.equal((await getCampaign(h.db, "old"))?.status, "terminated");
});
