/** Activity inputs and outputs: ids and counts only, never datasets. Pure types (workflows import them). */
import type { CampaignPlan } from "../src/config/plan.js";
import type { ScheduledRun } from "../src/schedules/scheduledRun.js";

export type { CampaignPlan };
export interface StageRef {
  campaignId: string;
  iteration: number;
  stage: string;
}

export interface RegisterCampaignInput {
  /** Defaults to the config's campaignId, else `workflowId`. */
  campaignId?: string;
  workflowId?: string;
  /** The config: frozen by the CLI, or as written (a start from the UI), frozen here. */
  config: unknown;
  /** Where relative paths in a config as written resolve (default: the worker's base dir). */
  configDir?: string;
  /** A config that differs from the campaign's stored one becomes a new version (else it is refused with a diff). */
  newConfigVersion?: boolean;
  /** A run started by a schedule: its seed is derived from the scheduled time and it continues from the schedule's previous campaign. */
  schedule?: ScheduledRun;
}

export interface RegisterCampaignResult {
  tools: number;
  toolErrors: number;
  /** First few tool load errors, for status and logs. */
  toolErrorMessages: string[];
  /** Present for registrations made since configs are frozen. */
  plan?: CampaignPlan;
  warnings?: string[];
}

export type StagePlanResult =
  | { alreadyDone: true; status: "succeeded" | "skipped"; result: Record<string, unknown> | null }
  | {
      alreadyDone: false;
      batches: number;
      items: number;
      pendingBatches: number[];
      doneItems: number;
      doneCounts: Record<string, number>;
      /**
       * A cluster-job stage's attempt, as the database counts it (src/db/repos/stages.ts
       * stageJobAttempt): a resumed campaign's new iteration run starts counting at 1 again, and
       * attempt 1's job, failed or cancelled in the run before, would be found and reported failed
       * instead of a new job running. Absent for batch stages and in results recorded before it.
       */
      jobAttempt?: number;
    };

export type BatchCounts = Record<string, number> & { items: number };
