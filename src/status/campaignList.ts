/** One `campaign list` row: the campaign's row in PostgreSQL and its workflow's facts, through the same state rules as `status`. */
import type { CampaignListRow } from "../db/repos/campaignStatus.js";
import { campaignView, type CampaignState, type WorkflowFacts } from "./campaignView.js";

export interface CampaignListEntry extends CampaignListRow {
  state: CampaignState;
  reason?: string;
  workflowStatus?: string;
}

export function campaignListEntry(row: CampaignListRow, wf: WorkflowFacts | undefined): CampaignListEntry {
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
    // The view's word for the stage: `stopped` when the campaign ended while its row said running.
    ...(v.stages[0] ? { stageStatus: v.stages[0].status } : {}),
    state: v.state,
    ...(v.reason !== undefined ? { reason: v.reason } : {}),
    ...(wf ? { workflowStatus: wf.status } : {}),
  };
}
