/** `campaign start`'s endpoint check (src/llm/endpointCheck.ts) as the CLI reports it. */
import type { CampaignConfig } from "../config/campaignConfig.js";
import type { Db } from "../db/client.js";
import { openCliDatabase } from "./database.js";
import { lastCompletedIteration } from "../db/repos/campaigns.js";
import { checkCampaignEndpoints, EndpointCheckError } from "../llm/endpointCheck.js";
import { continuedPolicyText, stagePolicy } from "../training/servedPolicy.js";
import { cliEnv } from "./env.js";
import { CliError, EXIT_ENVIRONMENT } from "./errors.js";

/**
 * `campaignId`: a registered campaign started again, whose first stages may call a served policy
 * rather than the configured roles.policy (read from DATABASE_URL, or `db`).
 */
export async function checkEndpointsForStart(config: CampaignConfig, opts: { campaignId?: string; db?: Db } = {}): Promise<void> {
  const log = (line: string) => console.log(line);
  try {
    await checkCampaignEndpoints(opts.campaignId !== undefined ? await configAsStartCalls(config, opts.campaignId, opts.db, log) : config, { log });
  } catch (err) {
    // An endpoint that does not answer is the environment's fault (exit 1); a model it does not serve, or a role without a key, the config's (exit 2).
    if (err instanceof EndpointCheckError)
      throw new CliError(err.message, err.results.some((r) => !r.answer.ok) ? EXIT_ENVIRONMENT : undefined, { cause: err });
    throw err;
  }
}

/**
 * The config as the stages before serve.policy of the iteration the start runs first call it: the
 * policy role bound by the stages' own rule (src/training/servedPolicy.ts stagePolicy) to the policy
 * an earlier iteration served, or, in a run continuing a predecessor of the same base model, the one
 * the predecessor served. The check tested the configured roles.policy, which such a run never calls
 * there, and not the server it does call. Without PostgreSQL the config as written.
 */
async function configAsStartCalls(config: CampaignConfig, campaignId: string, given: Db | undefined, log: (line: string) => void): Promise<CampaignConfig> {
  const url = given ? undefined : cliEnv().databaseUrl;
  if (!given && !url) return config;
  let handle: Awaited<ReturnType<typeof openCliDatabase>> | undefined;
  try {
    if (!given) handle = await openCliDatabase(url as string);
    const db = given ?? (handle as NonNullable<typeof handle>).db;
    const iteration = Math.min(config.iterations, (await lastCompletedIteration(db, campaignId)) + 1);
    // serve.policy is bound as the stages before it are (servedPolicyBound).
    const policy = await stagePolicy(db, { campaignId, config, stage: "serve.policy", iteration });
    const why =
      continuedPolicyText(campaignId, policy) ??
      (policy.served
        ? `the policy role calls the policy iteration ${policy.served.iteration} served, ${policy.served.servedModel} at ${policy.served.url}`
        : undefined);
    if (why) log(`endpoint check: iteration ${iteration}: ${why}`);
    return policy.config;
  } catch (err) {
    log(
      `endpoint check: could not read which policy the campaign calls (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); checking the configured roles.policy`,
    );
    return config;
  } finally {
    await handle?.close();
  }
}
