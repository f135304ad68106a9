/** `campaign start`'s endpoint check (src/llm/endpointCheck.ts) as the CLI reports it. */
import type { CampaignConfig } from "../config/campaignConfig.js";
import { checkCampaignEndpoints, EndpointCheckError } from "../llm/endpointCheck.js";
import { CliError, EXIT_ENVIRONMENT } from "./errors.js";

export async function checkEndpointsForStart(config: CampaignConfig): Promise<void> {
  try {
    await checkCampaignEndpoints(config, { log: (line) => console.log(line) });
  } catch (err) {
    // An endpoint that does not answer is the environment's fault (exit 1); a model it does not serve, or a role without a key, the config's (exit 2).
    if (err instanceof EndpointCheckError)
      throw new CliError(err.message, err.results.some((r) => !r.answer.ok) ? EXIT_ENVIRONMENT : undefined, { cause: err });
    throw err;
  }
}
