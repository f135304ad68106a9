/**
 * Workflows started before configs were frozen carry the config as written in their input and
 * parsed it themselves; their histories replay through this module. The stage scheduling they used
 * is fixed here as it was, so a later change to a spec cannot change how an old history replays.
 */
import { ApplicationFailure } from "@temporalio/workflow";
import { parseCampaignConfig } from "../src/config/campaignConfig.js";
import type { CampaignPlan } from "../src/config/plan.js";
import { ErrorType } from "../src/framework/errorTypes.js";
import type { StageScheduling } from "../src/framework/stageSpec.js";

const LEGACY_SCHEDULING: Record<string, Omit<StageScheduling, "name">> = {
  "synthesize.singleTurn": { latency: "llm", batchTimeoutMinutes: 60, title: "single-turn synthesis" },
  "verify.rules": { latency: "default", batchTimeoutMinutes: 15, title: "rule verification" },
  "export.dataset": { latency: "default", batchTimeoutMinutes: 30, title: "dataset export" },
  "evaluate.bfcl": { latency: "llm", batchTimeoutMinutes: 240, title: "BFCL evaluation (bfcl-eval)" },
  "evaluate.probe": { latency: "llm", batchTimeoutMinutes: 60, title: "BFCL fast probe (toolloop matcher)" },
};

export function legacyScheduling(name: string): StageScheduling {
  const s = LEGACY_SCHEDULING[name] ?? LEGACY_SCHEDULING[name === "evaluate.bfclFast" ? "evaluate.probe" : name];
  if (!s) throw ApplicationFailure.nonRetryable(`stage "${name}" has no scheduling for a workflow started before configs were frozen`, ErrorType.stageInput);
  return { name, ...s };
}

/** The plan an old workflow derived from its input config (a bad config fails as it always did). */
export function legacyPlan(raw: unknown, campaignId: string): CampaignPlan & { campaignIdInConfig?: string } {
  const parsed = parseCampaignConfig(raw);
  if (!parsed.ok) throw ApplicationFailure.nonRetryable(`InvalidCampaignConfig: ${parsed.error.message}`, ErrorType.invalidConfig, parsed.error.issues);
  const c = parsed.config;
  return {
    campaignId,
    campaignIdInConfig: c.campaignId,
    name: c.name,
    configVersion: 0,
    configHash: "",
    iterations: c.iterations,
    batchesInParallel: c.concurrency.batchesInParallel,
    onStageFailure: c.onStageFailure,
    stages: c.stages.map((s) => legacyScheduling(s.name)),
  };
}
