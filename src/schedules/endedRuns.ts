/**
 * Campaign rows left `running` by a workflow that ended without its own cleanup. A schedule's overlap
 * policy terminateOther terminates the run still going when the next one starts (and an operator may
 * terminate one, or it may time out): a terminated workflow runs no code, so its row said running for
 * good. Such a run was never continued from (previousScheduledCampaign passes over running ones),
 * `model stop` took its predecessor's server for still in use, and status showed it running. The next
 * scheduled run of its schedule (at registration) and `campaign status` ask Temporal about such rows
 * and record the ones whose workflow ended so as terminated. A cancelled or failed workflow writes its
 * own end, but not always: a run started before the abort-waits-for-registration patch, aborted while
 * it registered, was cancelled while its registration went on to write "running"; a failed one may
 * have failed because that last status write failed for good. Those are recorded as `aborted` and
 * `failed`. A completed workflow wrote its end before completing, and one Temporal does not know
 * (history past retention) is left as it is. Idempotent: a row is marked only while it still says
 * running as read, and only the run Temporal described: a campaign started again under the same
 * workflow id meanwhile is another run, recorded on the row by its registration, and is left running
 * (markCampaignEnded).
 */
import { WorkflowNotFoundError, type Client } from "@temporalio/client";
import type { Db } from "../db/client.js";
import { markCampaignEnded, runningScheduledCampaigns } from "../db/repos/campaigns.js";
import type { CampaignRowStatus } from "../db/schema.js";

/** A workflow's latest run as Temporal describes it: its run id and execution status (RUNNING, TERMINATED, ...). */
export interface DescribedRun {
  runId: string;
  status: string;
}

/** Temporal's description of a workflow's latest run, or undefined when Temporal has none under the id. */
export type WorkflowStatusOf = (workflowId: string) => Promise<DescribedRun | undefined>;

type EndedRowStatus = Exclude<CampaignRowStatus, "running" | "completed">;

/** Execution statuses of a campaign workflow that may leave its row running, and what the row then records. */
const ROW_STATUS_OF_ENDED: ReadonlyMap<string, EndedRowStatus> = new Map([
  ["TERMINATED", "terminated"],
  ["TIMED_OUT", "terminated"],
  ["CANCELED", "aborted"],
  ["FAILED", "failed"],
]);

/** What a row still `running` records once Temporal says its workflow ended so; undefined for a workflow that runs or completed. */
export function rowStatusOfEndedWorkflow(workflowStatus: string | undefined): EndedRowStatus | undefined {
  return workflowStatus === undefined ? undefined : ROW_STATUS_OF_ENDED.get(workflowStatus);
}

export interface EndedRun {
  campaignId: string;
  workflowId: string;
  /** TERMINATED, TIMED_OUT, CANCELED or FAILED. */
  workflowStatus: string;
  /** What the row now records. */
  rowStatus: EndedRowStatus;
}

/** What Temporal says of a workflow, through a client. */
export function temporalWorkflowStatus(client: Client): WorkflowStatusOf {
  return async (workflowId) => {
    try {
      const desc = await client.workflow.getHandle(workflowId).describe();
      return { runId: desc.runId, status: desc.status.name };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
}

/** Records each running row's end whose workflow ended without writing it; returns the ones this call marked. */
export async function markEndedRuns(
  db: Db,
  rows: { id: string; workflowId: string | null; updatedAt: Date }[],
  statusOf: WorkflowStatusOf,
): Promise<EndedRun[]> {
  const marked: EndedRun[] = [];
  for (const row of rows) {
    // A row registered before its workflow id was recorded has none to ask about.
    if (!row.workflowId) continue;
    const described = await statusOf(row.workflowId);
    const rowStatus = rowStatusOfEndedWorkflow(described?.status);
    if (described === undefined || rowStatus === undefined) continue;
    if (await markCampaignEnded(db, row.id, row, rowStatus, described.runId))
      marked.push({ campaignId: row.id, workflowId: row.workflowId, workflowStatus: described.status, rowStatus });
  }
  return marked;
}

/** The schedule's other runs recorded running whose workflow ended without writing its end, marked so (before a new run picks its predecessor). */
export async function markScheduleEndedRuns(db: Db, scheduleId: string, statusOf: WorkflowStatusOf, excludeId?: string): Promise<EndedRun[]> {
  return markEndedRuns(db, await runningScheduledCampaigns(db, scheduleId, excludeId), statusOf);
}

/** The log line of a run found ended. */
export function endedRunMessage(r: EndedRun): string {
  const how =
    r.workflowStatus === "TIMED_OUT"
      ? "ended by timing out"
      : r.workflowStatus === "TERMINATED"
        ? "ended terminated (by the schedule's overlap policy terminateOther, or by hand)"
        : r.workflowStatus === "CANCELED"
          ? "was cancelled (aborted)"
          : "failed";
  return `campaign ${r.campaignId}: its workflow ${r.workflowId} ${how} without recording its end; recorded as ${r.rowStatus}`;
}

/**
 * One row's end, recorded from a description of its workflow already at hand (`campaign status`,
 * `campaign list`): marked terminated when it still says running and that run ended without cleanup.
 * Returns the run marked, or undefined.
 */
export async function recordEndedRun(
  db: Db,
  row: { id: string; status: string; workflowId: string; updatedAt: Date },
  described: DescribedRun,
): Promise<EndedRun | undefined> {
  if (row.status !== "running" || rowStatusOfEndedWorkflow(described.status) === undefined) return undefined;
  const [ended] = await markEndedRuns(db, [row], async () => described);
  return ended;
}
