/**
 * Campaign rows left `running` by a workflow that ended without its own cleanup. A schedule's overlap
 * policy terminateOther terminates the run still going when the next one starts (and an operator may
 * terminate one, or it may time out): a terminated workflow runs no code, so its row said running for
 * good. Such a run was never continued from (previousScheduledCampaign passes over running ones),
 * `model stop` took its predecessor's server for still in use, and status showed it running. The next
 * scheduled run of its schedule (at registration) and `campaign status` ask Temporal about such rows
 * and record the ones whose workflow ended so as terminated. Only Temporal's TERMINATED and TIMED_OUT
 * count: a workflow that failed, was cancelled or completed writes its own end, and one Temporal does
 * not know (history past retention) is left as it is. Only the run Temporal described is marked: a
 * campaign started again under the same workflow id meanwhile is another run, recorded on the row by
 * its registration, and is left running (markCampaignTerminated). Idempotent: a row is marked only
 * while it still says running.
 */
import { WorkflowNotFoundError, type Client } from "@temporalio/client";
import type { Db } from "../db/client.js";
import { markCampaignTerminated, runningScheduledCampaigns } from "../db/repos/campaigns.js";

/** A workflow's latest run as Temporal describes it: its run id and execution status (RUNNING, TERMINATED, ...). */
export interface DescribedRun {
  runId: string;
  status: string;
}

/** Temporal's description of a workflow's latest run, or undefined when Temporal has none under the id. */
export type WorkflowStatusOf = (workflowId: string) => Promise<DescribedRun | undefined>;

/** Execution statuses that end a campaign workflow without its cleanup writing the row. */
export const ENDED_WITHOUT_CLEANUP: ReadonlySet<string> = new Set(["TERMINATED", "TIMED_OUT"]);

export interface EndedRun {
  campaignId: string;
  workflowId: string;
  /** TERMINATED or TIMED_OUT. */
  workflowStatus: string;
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

/** Marks each running row whose workflow ended without cleanup terminated; returns the ones this call marked. */
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
    if (described === undefined || !ENDED_WITHOUT_CLEANUP.has(described.status)) continue;
    if (await markCampaignTerminated(db, row.id, row, described.runId))
      marked.push({ campaignId: row.id, workflowId: row.workflowId, workflowStatus: described.status });
  }
  return marked;
}

/** The schedule's other runs recorded running whose workflow ended without cleanup, marked terminated (before a new run picks its predecessor). */
export async function markScheduleEndedRuns(db: Db, scheduleId: string, statusOf: WorkflowStatusOf, excludeId?: string): Promise<EndedRun[]> {
  return markEndedRuns(db, await runningScheduledCampaigns(db, scheduleId, excludeId), statusOf);
}

/** The log line of a run found ended. */
export function endedRunMessage(r: EndedRun): string {
  return `campaign ${r.campaignId}: its workflow ${r.workflowId} ended ${r.workflowStatus === "TIMED_OUT" ? "by timing out" : "terminated (by the schedule's overlap policy terminateOther, or by hand)"} without recording its end; recorded as terminated`;
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
  if (row.status !== "running" || !ENDED_WITHOUT_CLEANUP.has(described.status)) return undefined;
  const [ended] = await markEndedRuns(db, [row], async () => described);
  return ended;
}
