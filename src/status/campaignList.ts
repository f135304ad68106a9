/**
 * One `campaign list` row: the campaign's row in PostgreSQL and its workflow's facts, through the same
 * state rules as `status`; or, for a campaign workflow PostgreSQL has no record of (no worker has run
 * it yet, so it never registered), Temporal's facts alone.
 */
import type { CampaignListRow } from "../db/repos/campaignStatus.js";
import { campaignView, type CampaignState, type WorkflowFacts } from "./campaignView.js";

export interface CampaignListEntry extends CampaignListRow {
  /**
   * Whether PostgreSQL has the campaign (a worker ran its registration). A campaign only Temporal
   * knows keeps every field of a registered one, `name` and `status` (campaigns.status) empty.
   */
  registered: boolean;
  /** Why a row is shown from Temporal alone (NOT_REGISTERED_NOTE, or FAILED_BEFORE_REGISTRATION_NOTE). */
  note?: string;
  state: CampaignState;
  reason?: string;
  workflowStatus?: string;
}

/** The marker of a campaign only Temporal knows. */
export const NOT_REGISTERED_NOTE = "not registered: no worker has run it (PostgreSQL has no record of it yet)";

/**
 * The marker of a campaign workflow that failed without a record in PostgreSQL: a worker ran it and
 * its registration refused it (a start from the Temporal UI with a bad config or id), so "no worker
 * has run it" would send the operator looking for a missing worker.
 */
export const FAILED_BEFORE_REGISTRATION_NOTE =
  "not registered: it failed before its registration completed (PostgreSQL has no record of it; the reason says why)";

/** A campaign workflow as Temporal's visibility lists it. */
export interface ListedWorkflow {
  workflowId: string;
  /** The CampaignId search attribute, else the workflow id without `campaign-`. */
  campaignId: string;
  startTime: string;
  /** The run's execution status (RUNNING, TERMINATED, ...) and close time as the list gave them. */
  status?: string;
  closeTime?: string;
}

/**
 * The listed campaign workflows PostgreSQL has no campaign for (neither by id nor by the recorded
 * workflow id), one per workflow id (its newest run), newest first.
 */
export function unregisteredWorkflows(listed: ListedWorkflow[], known: { ids: ReadonlySet<string>; workflowIds: ReadonlySet<string> }): ListedWorkflow[] {
  const newest = new Map<string, ListedWorkflow>();
  for (const w of listed) {
    if (known.ids.has(w.campaignId) || known.workflowIds.has(w.workflowId)) continue;
    const seen = newest.get(w.workflowId);
    if (!seen || seen.startTime < w.startTime) newest.set(w.workflowId, w);
  }
  return [...newest.values()].sort((a, b) => (a.startTime < b.startTime ? 1 : a.startTime > b.startTime ? -1 : 0));
}

/** A campaign only Temporal knows: its state from the workflow's facts, with the not-registered marker. */
export function unregisteredListEntry(w: ListedWorkflow, wf: WorkflowFacts | undefined): CampaignListEntry {
  // Without a description (the run went in between, or Temporal failed to answer), what the list said.
  const facts: WorkflowFacts = wf ?? {
    workflowId: w.workflowId,
    runId: "",
    status: w.status ?? "RUNNING",
    taskQueue: "",
    startTime: w.startTime,
    ...(w.closeTime ? { closeTime: w.closeTime } : {}),
  };
  const v = campaignView({ campaignId: w.campaignId, wf: facts });
  const startedAt = facts.startTime ?? w.startTime;
  return {
    campaignId: w.campaignId,
    name: "",
    status: "",
    registered: false,
    note: facts.status === "FAILED" ? FAILED_BEFORE_REGISTRATION_NOTE : NOT_REGISTERED_NOTE,
    workflowId: w.workflowId,
    createdAt: startedAt,
    updatedAt: facts.closeTime ?? startedAt,
    ...(v.iteration !== undefined ? { iteration: v.iteration } : {}),
    state: v.state,
    ...(v.reason !== undefined ? { reason: v.reason } : {}),
    ...(wf || w.status ? { workflowStatus: facts.status } : {}),
  };
}

/** Registered and Temporal-only rows in one list: newest first (by last update), at most `limit`. */
export function mergeCampaignList(registered: CampaignListEntry[], temporalOnly: CampaignListEntry[], limit: number): CampaignListEntry[] {
  // A stable sort keeps PostgreSQL's own order (updated, then created) among equal times.
  return [...registered, ...temporalOnly].sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0)).slice(0, limit);
}

/**
 * `workflowMissing`: Temporal answered that it has no workflow for the row (not: it could not be
 * asked); a campaign PostgreSQL records as running is then `no_workflow`.
 */
export function campaignListEntry(
  row: CampaignListRow,
  wf: WorkflowFacts | undefined,
  workflowMissing?: { namespace: string; workflowId: string },
): CampaignListEntry {
  const stage =
    row.stage !== undefined && row.stageStatus !== undefined
      ? [
          {
            name: row.stage,
            status: row.stageStatus as "running",
            attempts: 0,
            batchesDone: 0,
            itemsDone: 0,
            windowItems: 0,
            ...(row.stageError ? { error: row.stageError } : {}),
          },
        ]
      : [];
  const v = campaignView({
    campaignId: row.campaignId,
    wf,
    ...(workflowMissing && !wf ? { workflowMissing } : {}),
    db: {
      campaignId: row.campaignId,
      name: row.name,
      status: row.status,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      stages: stage,
      nowMs: 0,
      ...(row.iteration !== undefined
        ? { iteration: { n: row.iteration, status: row.status === "running" ? "running" : row.status, startedAt: row.createdAt } }
        : {}),
    },
  });
  return {
    ...row,
    registered: true,
    // The view's word for the stage: `stopped` when the campaign ended while its row said running.
    ...(v.stages[0] ? { stageStatus: v.stages[0].status } : {}),
    state: v.state,
    ...(v.reason !== undefined ? { reason: v.reason } : {}),
    ...(wf ? { workflowStatus: wf.status } : {}),
  };
}
