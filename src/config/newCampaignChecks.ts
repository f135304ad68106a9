/**
 * Checks a config must pass to start a new campaign (`campaign validate`, `campaign start`, `schedule
 * create/update`, and the registration of a new campaign, a schedule's runs included), kept out of
 * the schema: a campaign frozen before a check existed keeps running (a frozen config is parsed again
 * only to find what a newer build added, and a rejected value there would set its steps aside), and
 * a workflow started before configs were frozen parses its config again on replay. Pure (no I/O).
 */
import type { CampaignConfig } from "./campaignConfig.js";

export interface NewCampaignIssue {
  /** The field as the config's author writes it: `stages[3].baseModel`. */
  path: string;
  message: string;
}

/**
 * One campaign trains one lineage: train.grpo starts from train.sft's model when both run, later
 * iterations from the policy merged last, and whether a continuing run takes its predecessor's
 * policy and calls its served policy is decided by one base model (the first training stage's that
 * runs in iteration 1, src/training/servedPolicy.ts continuedBaseModel). A second, different
 * `baseModel` was followed nowhere or only in some iterations, without a word.
 */
function baseModelIssues(config: Pick<CampaignConfig, "stages">): NewCampaignIssue[] {
  const training = config.stages.flatMap((s, i) =>
    (s.name === "train.sft" || s.name === "train.grpo") && typeof (s as { baseModel?: unknown }).baseModel === "string"
      ? [{ index: i, name: s.name, baseModel: (s as { baseModel: string }).baseModel }]
      : [],
  );
  const [first, ...rest] = training;
  if (!first) return [];
  return rest
    .filter((t) => t.baseModel !== first.baseModel)
    .map((t) => ({
      path: `stages[${t.index}].baseModel`,
      message:
        `${t.name}'s baseModel ${JSON.stringify(t.baseModel)} differs from stages[${first.index}].baseModel (${first.name}) ${JSON.stringify(first.baseModel)}: ` +
        `a campaign trains one lineage (train.grpo starts from train.sft's model, later iterations from the policy merged last, and a continuing run's policy and served policy follow one baseModel), ` +
        `so the other would be ignored; set both to the same model`,
    }));
}

/** What a new campaign's config may not hold, each naming its field; empty when it may start. */
export function newCampaignConfigIssues(config: Pick<CampaignConfig, "stages">): NewCampaignIssue[] {
  return baseModelIssues(config);
}
