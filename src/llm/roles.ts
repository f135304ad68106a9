/**
 * The one place a role name becomes an endpoint, a model and an API key: LLM clients are built from
 * it, and stages that hand an endpoint to another program (bfcl-eval) read it. Keys come from the
 * environment variable the endpoint names, never from the config itself.
 */
import type { CampaignConfig, EndpointConfig, RoleConfig } from "../config/campaignConfig.js";

export interface ResolvedRole {
  role: string;
  roleConfig: RoleConfig;
  endpointName: string;
  endpoint: EndpointConfig;
  /** undefined when the endpoint names no key variable (vLLM and the simulator accept any key). */
  apiKey?: string;
}

/** A role that cannot be resolved: a config or environment problem no retry fixes. */
export class RoleResolutionError extends Error {
  override name = "RoleResolutionError";
}

export function resolveRole(config: CampaignConfig, role: string, env: NodeJS.ProcessEnv = process.env): ResolvedRole {
  const roleConfig = Object.hasOwn(config.roles, role) ? config.roles[role] : undefined;
  if (!roleConfig) throw new RoleResolutionError(`roles.${role} is not configured; add it to the campaign config ({ "endpoint": ..., "model": ... })`);
  const endpoint = Object.hasOwn(config.endpoints, roleConfig.endpoint) ? config.endpoints[roleConfig.endpoint] : undefined;
  if (!endpoint) {
    throw new RoleResolutionError(`roles.${role}.endpoint: unknown endpoint "${roleConfig.endpoint}"; defined: ${Object.keys(config.endpoints).join(", ")}`);
  }
  let apiKey: string | undefined;
  if (endpoint.apiKeyEnv !== undefined && endpoint.apiKeyEnv !== "") {
    apiKey = env[endpoint.apiKeyEnv];
    if (apiKey === undefined || apiKey === "") {
      throw new RoleResolutionError(
        `environment variable ${endpoint.apiKeyEnv} (named by endpoints.${roleConfig.endpoint}.apiKeyEnv for roles.${role}) is not set`,
      );
    }
  }
  return { role, roleConfig, endpointName: roleConfig.endpoint, endpoint, apiKey };
}
