/**
 * What the workflow needs to know about each stage to schedule it: its latency class (task queue)
 * and how long one batch may run. Pure: imported by workflows.
 */
import type { StageName } from "../config/campaignConfig.js";
import type { LatencyClass } from "../taskQueues.js";

export interface StageScheduling {
  latency: LatencyClass;
  /** Upper bound for one batch activity, in minutes. */
  batchTimeoutMinutes: number;
  /** A human label for status and the UI. */
  title: string;
}

export const STAGE_CATALOG: Record<StageName, StageScheduling> = {
  "synthesize.singleTurn": { latency: "llm", batchTimeoutMinutes: 60, title: "single-turn synthesis" },
  "verify.rules": { latency: "default", batchTimeoutMinutes: 15, title: "rule verification" },
  "export.dataset": { latency: "default", batchTimeoutMinutes: 30, title: "dataset export" },
  "evaluate.bfcl": { latency: "llm", batchTimeoutMinutes: 240, title: "BFCL evaluation (bfcl-eval)" },
  "evaluate.probe": { latency: "llm", batchTimeoutMinutes: 60, title: "BFCL fast probe (toolloop matcher)" },
};
