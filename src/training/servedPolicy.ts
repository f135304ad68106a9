/**
 * The policy an iteration calls: the one served by an earlier iteration of the campaign when there
 * is one (the loop), else the configured `roles.policy`. Applied to the config a stage step sees,
 * so every stage that calls the policy role (scoring, probing, evaluation) and every program given
 * its endpoint (bfcl-eval) uses the trained model without knowing about training.
 */
import { roleSchema, type CampaignConfig, type EndpointConfig } from "../config/campaignConfig.js";

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
