/** Activity inputs and outputs: ids and counts only, never datasets. Pure types (workflows import them). */
export interface StageRef {
  campaignId: string;
  iteration: number;
  stage: string;
}

export interface RegisterCampaignInput {
  campaignId: string;
  /** Raw config as the user wrote it; validated again here. */
  config: unknown;
}

export interface RegisterCampaignResult {
  tools: number;
  toolErrors: number;
  /** First few tool load errors, for status and logs. */
  toolErrorMessages: string[];
}

export type StagePlanResult =
  | { alreadyDone: true; status: "succeeded" | "skipped"; result: Record<string, unknown> | null }
  | { alreadyDone: false; batches: number; items: number; pendingBatches: number[]; doneItems: number; doneCounts: Record<string, number> };

export type BatchCounts = Record<string, number> & { items: number };
