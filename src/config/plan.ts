/**
 * What workflows know of a campaign's config: the frozen copy's scheduling view, loaded by an
 * activity (so it is recorded in history and replays unchanged whatever today's defaults are).
 * Pure types and no imports of schemas: workflows import this module.
 */
import type { StageScheduling } from "../framework/stageSpec.js";

export interface CampaignPlan {
  campaignId: string;
  name: string;
  /** The frozen config this plan comes from: version (1, 2, ...) and sha256. */
  configVersion: number;
  configHash: string;
  iterations: number;
  batchesInParallel: number;
  onStageFailure: "wait" | "fail" | "skip";
  stages: StageScheduling[];
  /** The campaign's output folder (absolute, on the worker): src/output/layout.ts. Absent in plans recorded before it existed. */
  outputDir?: string;
}
