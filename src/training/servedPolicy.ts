/**
 * The policy an iteration calls: the one served by an earlier iteration of the campaign when there
 * is one (the loop), else, in a campaign that continues another, the one that campaign served last
 * when this run continues its lineage (same base model), else the configured `roles.policy`. Applied to the config a stage step sees,
 * so every stage that calls the policy role (scoring, probing, evaluation) and every program given
 * its endpoint (bfcl-eval) uses the trained model without knowing about training.
 */
import { roleSchema, type CampaignConfig, type EndpointConfig } from "../config/campaignConfig.js";
import type { Db } from "../db/client.js";
import { servedPolicyToCall } from "../db/repos/continuation.js";
import type { ModelVersionRow } from "../db/repos/modelVersions.js";
import { runsInIteration, type AnyStageSpec } from "../framework/stageSpec.js";

export interface ServedPolicy {
  /** Iteration whose serve.policy stage served it. */
  iteration: number;
  /** OpenAI-compatible base URL, e.g. http://node12:8000/v1. */
  url: string;
  servedModel: string;
}

/** Endpoint name the served policy gets in the effective config. */
export function servedPolicyEndpointName(iteration: number): string {
  return `served-policy-iter-${iteration}`;
}

export function withServedPolicy(config: CampaignConfig, served: ServedPolicy): CampaignConfig {
  const endpointName = servedPolicyEndpointName(served.iteration);
  const configured = Object.hasOwn(config.roles, "policy") ? config.roles.policy : undefined;
  const configuredEndpoint = configured && Object.hasOwn(config.endpoints, configured.endpoint) ? config.endpoints[configured.endpoint] : undefined;
  // Limits of the configured policy endpoint carry over; the key does not (our own server needs none).
  const endpoint: EndpointConfig = {
    baseUrl: served.url,
    maxConcurrency: configuredEndpoint?.maxConcurrency ?? 16,
    timeoutMs: configuredEndpoint?.timeoutMs ?? 120_000,
    maxRetries: configuredEndpoint?.maxRetries ?? 5,
  };
  const role = configured
    ? { ...configured, endpoint: endpointName, model: served.servedModel }
    : roleSchema.parse({ endpoint: endpointName, model: served.servedModel, temperature: 0 });
  return { ...config, endpoints: { ...config.endpoints, [endpointName]: endpoint }, roles: { ...config.roles, policy: role } };
}

/**
 * The iteration whose served model a stage uses: stages listed after `serve.policy` use the model
 * their own iteration just served (so an evaluation placed after it measures the trained policy);
 * every other stage uses the one served by an earlier iteration. Returns the exclusive upper bound
 * for the lookup (model_versions of iterations below it).
 */
export function servedPolicyBound(stageNames: readonly string[], stage: string, iteration: number): number {
  const serveAt = stageNames.indexOf("serve.policy");
  const at = stageNames.indexOf(stage);
  return serveAt >= 0 && at > serveAt ? iteration + 1 : iteration;
}

/** The policy role a stage's step calls: the config it runs with, the served version bound to it, and why. */
export interface StagePolicy {
  /** The frozen config, its policy role bound to `served` when there is one. */
  config: CampaignConfig;
  /** The served version the policy role calls (this campaign's, or the one of the campaign it continues from). */
  served?: ModelVersionRow;
  /** The predecessor's served version not called: trained from another base model than `baseModel`. */
  passedOver?: ModelVersionRow;
  /** The base model the run's training starts from (continuedBaseModel); none: the config trains nothing. */
  baseModel?: string;
}

/** Whether a stage calls the policy role (its spec's roles, or roles its own config names). */
export function stageCallsPolicy(spec: Pick<AnyStageSpec, "roles" | "configuredRoles">, stage: { name: string }): boolean {
  return spec.roles.includes("policy") || (spec.configuredRoles?.(stage) ?? []).some((r) => r.role === "policy");
}

const TRAINING_STAGES: ReadonlySet<string> = new Set(["train.sft", "train.grpo"]);

/**
 * The base model that decides whether a run continues its predecessor's lineage: the `baseModel` of
 * its first training stage that runs in iteration 1 (train.sft, whose model train.grpo then starts
 * from, else train.grpo), else of its first training stage at all; none when the config trains nothing.
 */
export function continuedBaseModel(config: CampaignConfig): string | undefined {
  const training = config.stages.filter((s) => TRAINING_STAGES.has(s.name)) as { name: string; baseModel: string; runIn?: string }[];
  const first = training.find((s) => runsInIteration({ runIn: s.runIn === "first" || s.runIn === "later" ? s.runIn : undefined }, 1)) ?? training[0];
  return first?.baseModel;
}

/**
 * The policy role of `stage` in `iteration`: the model an earlier iteration served (or this one, for
 * stages after serve.policy); in a campaign that continues another, before it serves its own, the
 * policy that campaign served last, but only when it descends from the base model this run trains
 * from (the rule training follows, src/db/repos/continuation.ts); else the configured `roles.policy`.
 */
export async function stagePolicy(db: Db, p: { campaignId: string; config: CampaignConfig; stage: string; iteration: number }): Promise<StagePolicy> {
  const bound = servedPolicyBound(
    p.config.stages.map((s) => s.name),
    p.stage,
    p.iteration,
  );
  const baseModel = continuedBaseModel(p.config);
  const { version, passedOver } = await servedPolicyToCall(db, p.campaignId, bound, baseModel);
  const why = { ...(passedOver ? { passedOver } : {}), ...(baseModel !== undefined ? { baseModel } : {}) };
  if (!version?.url || !version.servedModel) return { config: p.config, ...why };
  const config = withServedPolicy(p.config, { iteration: version.iteration, url: version.url, servedModel: version.servedModel });
  return { config, served: version, ...why };
}

/**
 * What a campaign that continues another calls as its policy role, and why: said in the worker's log
 * and by `campaign status` while the predecessor decides it (before the run serves its own); none
 * when this campaign's own served policy is called or no predecessor is involved.
 */
export function continuedPolicyText(campaignId: string, p: StagePolicy): string | undefined {
  if (p.served && p.served.campaignId !== campaignId) {
    const lineage =
      p.baseModel !== undefined
        ? `trained from base model ${p.served.baseModel}, the configured baseModel`
        : "the config trains nothing, so no baseModel decides";
    return `the policy role calls ${p.served.campaignId}'s served policy ${p.served.servedModel} at ${p.served.url} (${p.served.id}; ${lineage}) until this run's own serve.policy`;
  }
  if (!p.passedOver) return undefined;
  const role = Object.hasOwn(p.config.roles, "policy") ? p.config.roles.policy : undefined;
  const endpoint = role && Object.hasOwn(p.config.endpoints, role.endpoint) ? p.config.endpoints[role.endpoint] : undefined;
  const calls = role
    ? `the configured roles.policy, model ${role.model} at endpoint ${role.endpoint}${endpoint ? ` (${endpoint.baseUrl})` : ""}`
    : "the configured roles.policy";
  return (
    `the policy role calls ${calls} until this run's own serve.policy: ${p.passedOver.campaignId}'s served policy ${p.passedOver.servedModel ?? p.passedOver.id} (${p.passedOver.id}) ` +
    `was trained from base model ${p.passedOver.baseModel}, not the configured baseModel ${p.baseModel}, so this run trains from ${p.baseModel} and does not call it`
  );
}

/**
 * What the stages before serve.policy of `iteration` call when a predecessor decides it (the
 * continuedPolicyText of that stagePolicy), for `campaign status`; none otherwise.
 */
export async function continuedPolicyNote(db: Db, campaignId: string, config: CampaignConfig, iteration: number): Promise<string | undefined> {
  // serve.policy itself is bound as the stages before it are (servedPolicyBound).
  return continuedPolicyText(campaignId, await stagePolicy(db, { campaignId, config, stage: "serve.policy", iteration }));
}
