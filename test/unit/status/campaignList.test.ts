/**
 * `campaign list`'s campaigns only Temporal knows (started while no worker ran, so never registered
 * in PostgreSQL): which listed workflows they are, their rows, and the merge with PostgreSQL's rows.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderCampaignList } from "../../../src/cli/statusView.js";
import {
  FAILED_BEFORE_REGISTRATION_NOTE,
  NOT_REGISTERED_NOTE,
  campaignListEntry,
  mergeCampaignList,
  unregisteredListEntry,
  unregisteredWorkflows,
  type CampaignListEntry,
  type ListedWorkflow,
} from "../../../src/status/campaignList.js";
import type { WorkflowFacts } from "../../../src/status/campaignView.js";

const listed = (workflowId: string, startTime: string, over: Partial<ListedWorkflow> = {}): ListedWorkflow => ({
  workflowId,
  campaignId: workflowId.replace(/^campaign-/, ""),
  startTime,
  ...over,
});

const none = { ids: new Set<string>(), workflowIds: new Set<string>() };

const wf = (over: Partial<WorkflowFacts>): WorkflowFacts => ({
  workflowId: "campaign-fresh",
  runId: "r1",
  status: "RUNNING",
  taskQueue: "toolloop-workflows",
  startTime: "2026-12-02T11:00:00.000Z",
  ...over,
});

test("unregisteredWorkflows leaves out what PostgreSQL has, by campaign id or by the recorded workflow id", () => {
  const out = unregisteredWorkflows(
    [
      listed("campaign-known", "2026-12-02T10:00:00.000Z"),
      // A scheduled run: its workflow id is not campaign-<id>, registration recorded it.
      listed("campaign-nightly-20261202", "2026-12-02T10:01:00.000Z", { campaignId: "nightly-a" }),
      listed("campaign-fresh", "2026-12-02T10:02:00.000Z"),
    ],
    { ids: new Set(["known"]), workflowIds: new Set(["campaign-nightly-20261202"]) },
  );
  assert.deepEqual(
    out.map((w) => w.workflowId),
    ["campaign-fresh"],
  );
  assert.deepEqual(unregisteredWorkflows([], none), []);
});

test("unregisteredWorkflows keeps the newest run of each workflow id, newest first", () => {
  const out = unregisteredWorkflows(
    [
      listed("campaign-a", "2026-12-02T10:00:00.000Z", { status: "TERMINATED" }),
      listed("campaign-b", "2026-12-02T11:00:00.000Z"),
      listed("campaign-a", "2026-12-02T12:00:00.000Z", { status: "RUNNING" }),
      listed("campaign-c", "2026-12-02T09:00:00.000Z"),
      listed("campaign-a", "2026-12-02T08:00:00.000Z", { status: "FAILED" }),
    ],
    none,
  );
  assert.deepEqual(
    out.map((w) => [w.workflowId, w.startTime]),
    [
      ["campaign-a", "2026-12-02T12:00:00.000Z"],
      ["campaign-b", "2026-12-02T11:00:00.000Z"],
      ["campaign-c", "2026-12-02T09:00:00.000Z"],
    ],
  );
  assert.equal(out[0]?.status, "RUNNING");
});

test("unregisteredListEntry: the state from the workflow's facts, with the not-registered note and a registered row's fields", () => {
  const w = listed("campaign-fresh", "2026-12-02T11:00:00.000Z");
  const running = unregisteredListEntry(w, wf({ searchStatus: "running", searchIteration: 1 }));
  assert.deepEqual(running, {
    campaignId: "fresh",
    name: "",
    status: "",
    registered: false,
    note: NOT_REGISTERED_NOTE,
    workflowId: "campaign-fresh",
    createdAt: "2026-12-02T11:00:00.000Z",
    updatedAt: "2026-12-02T11:00:00.000Z",
    iteration: 1,
    state: "running",
    workflowStatus: "RUNNING",
  });

  const paused = unregisteredListEntry(w, wf({ searchStatus: "paused" }));
  assert.equal(paused.state, "paused");
  assert.equal(paused.iteration, undefined);

  const terminated = unregisteredListEntry(w, wf({ status: "TERMINATED", closeTime: "2026-12-02T11:05:00.000Z", terminateReason: "replaced" }));
  assert.equal(terminated.state, "terminated");
  assert.equal(terminated.reason, "terminated: replaced");
  assert.equal(terminated.workflowStatus, "TERMINATED");
  assert.equal(terminated.createdAt, "2026-12-02T11:00:00.000Z");
  assert.equal(terminated.updatedAt, "2026-12-02T11:05:00.000Z", "a closed run was last updated when it closed");
});

test("unregisteredListEntry of a run that failed unregistered: a worker ran it (its registration refused it), so the note does not say none did", () => {
  const failed = unregisteredListEntry(
    listed("campaign-ui-bad", "2026-12-02T11:00:00.000Z"),
    wf({ workflowId: "campaign-ui-bad", status: "FAILED", closeTime: "2026-12-02T11:00:01.000Z" }),
  );
  assert.equal(failed.state, "failed");
  assert.equal(failed.note, FAILED_BEFORE_REGISTRATION_NOTE);
  assert.doesNotMatch(failed.note ?? "", /no worker/);
  // Without the workflow's facts, from what the list said.
  const listedOnly = unregisteredListEntry(
    listed("campaign-ui-bad", "2026-12-02T11:00:00.000Z", { status: "FAILED", closeTime: "2026-12-02T11:00:01.000Z" }),
    undefined,
  );
  assert.equal(listedOnly.note, FAILED_BEFORE_REGISTRATION_NOTE);
});

test("unregisteredListEntry without the workflow's facts: what the list said, else running", () => {
  const bare = unregisteredListEntry(listed("campaign-fresh", "2026-12-02T11:00:00.000Z"), undefined);
  assert.equal(bare.state, "running");
  assert.equal(bare.registered, false);
  assert.equal(bare.note, NOT_REGISTERED_NOTE);
  assert.equal(bare.workflowStatus, undefined);
  assert.equal(bare.updatedAt, "2026-12-02T11:00:00.000Z");
  assert.equal(bare.reason, undefined);

  const closed = unregisteredListEntry(
    listed("campaign-fresh", "2026-12-02T11:00:00.000Z", { status: "TERMINATED", closeTime: "2026-12-02T11:30:00.000Z" }),
    undefined,
  );
  assert.equal(closed.state, "terminated");
  assert.equal(closed.workflowStatus, "TERMINATED");
  assert.equal(closed.updatedAt, "2026-12-02T11:30:00.000Z");
});

function registered(campaignId: string, updatedAt: string): CampaignListEntry {
  return campaignListEntry({ campaignId, name: "demo", status: "running", createdAt: updatedAt, updatedAt }, wf({ workflowId: `campaign-${campaignId}` }));
}

test("mergeCampaignList: newest first by last update across both sources, PostgreSQL's order among equal times, at most --limit", () => {
  const pg = [registered("p3", "2026-12-02T12:00:00.000Z"), registered("p2", "2026-12-02T10:00:00.000Z"), registered("p1", "2026-12-02T10:00:00.000Z")];
  assert.equal(pg[0]?.registered, true);
  const only = [
    unregisteredListEntry(listed("campaign-t2", "2026-12-02T11:00:00.000Z"), undefined),
    unregisteredListEntry(listed("campaign-t1", "2026-12-02T09:00:00.000Z"), undefined),
  ];
  const ids = (rows: CampaignListEntry[]) => rows.map((r) => r.campaignId);
  assert.deepEqual(ids(mergeCampaignList(pg, only, 20)), ["p3", "t2", "p2", "p1", "t1"]);
  assert.deepEqual(ids(mergeCampaignList(pg, only, 3)), ["p3", "t2", "p2"]);
  assert.deepEqual(ids(mergeCampaignList(pg, only, 1)), ["p3"]);
  assert.deepEqual(ids(mergeCampaignList([], only, 1)), ["t2"]);
  assert.deepEqual(mergeCampaignList([], [], 5), []);
  // The inputs are left as they were.
  assert.deepEqual(ids(pg), ["p3", "p2", "p1"]);
});

test("renderCampaignList shows a campaign only Temporal knows with '-' for its name and the note after its reason", () => {
  const pg = registered("weekly", "2026-12-02T10:00:00.000Z");
  const fresh = unregisteredListEntry(listed("campaign-fresh", "2026-12-02T11:00:00.123Z"), wf({ searchStatus: "running", searchIteration: 1 }));
  const gone = unregisteredListEntry(
    listed("campaign-gone", "2026-12-02T09:00:00.000Z"),
    wf({ workflowId: "campaign-gone", status: "TERMINATED", closeTime: "2026-12-02T09:30:00.000Z", terminateReason: "stop" }),
  );
  const table = renderCampaignList(mergeCampaignList([pg], [fresh, gone], 20));
  const lines = table.split("\n");
  assert.match(lines[0] ?? "", /^CAMPAIGN +NAME +STATE +ITER +STAGE +UPDATED +REASON$/);
  assert.match(lines[1] ?? "", new RegExp(`^fresh +- +running +1 +- +2026-12-02 11:00:00Z {2}${escape(NOT_REGISTERED_NOTE)}$`));
  assert.match(lines[2] ?? "", /^weekly +demo +running +- +- +2026-12-02 10:00:00Z$/);
  assert.match(lines[3] ?? "", new RegExp(`^gone +- +terminated +- +- +2026-12-02 09:30:00Z {2}terminated: stop; ${escape(NOT_REGISTERED_NOTE)}$`));
  assert.equal(lines.length, 4);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
