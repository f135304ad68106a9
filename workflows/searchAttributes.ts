import { defineSearchAttributeKey, SearchAttributeType } from "@temporalio/common";
import { upsertSearchAttributes } from "@temporalio/workflow";

export const CampaignIdKey = defineSearchAttributeKey("CampaignId", SearchAttributeType.KEYWORD);
export const IterationKey = defineSearchAttributeKey("Iteration", SearchAttributeType.INT);
export const StageKey = defineSearchAttributeKey("Stage", SearchAttributeType.KEYWORD);
export const CampaignStatusKey = defineSearchAttributeKey("CampaignStatus", SearchAttributeType.KEYWORD);

/**
 * `CampaignStatus` of a campaign run that continued as new into the next iteration's run (since
 * patch handover-status-v1). Before it such a closed run kept "running" for good.
 */
export const HANDED_OVER = "continued_as_new";
export const PATCH_HANDOVER_STATUS = "handover-status-v1";

/** Upserts only what changed, so the history gets one event per real transition. */
export class SearchAttributeTracker {
  private last: Record<string, string | number | undefined> = {};
  update(values: { campaignId?: string; iteration?: number; stage?: string; status?: string }): void {
    const pairs = [];
    if (values.campaignId !== undefined && this.last.CampaignId !== values.campaignId) pairs.push({ key: CampaignIdKey, value: values.campaignId });
    if (values.iteration !== undefined && this.last.Iteration !== values.iteration) pairs.push({ key: IterationKey, value: values.iteration });
    if (values.stage !== undefined && this.last.Stage !== values.stage) pairs.push({ key: StageKey, value: values.stage });
    if (values.status !== undefined && this.last.CampaignStatus !== values.status) pairs.push({ key: CampaignStatusKey, value: values.status });
    if (pairs.length === 0) return;
    upsertSearchAttributes(pairs);
    for (const p of pairs) this.last[p.key.name] = p.value;
  }
}
