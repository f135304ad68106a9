/**
 * What a new campaign's id may be, wherever it comes from: `campaign start --id`, the config's
 * `campaignId`, a start from the Temporal UI (the input's `campaignId`, else the workflow id) or a
 * schedule's run. The id names the campaign's output folder (`<output.dir>/<campaignId>/`), its
 * workflows and its report links, so it must be one plain path segment. Pure: the registration
 * activity and the CLI use it.
 */

/**
 * Longest id. The config's `campaignId` and `--id` allow 63 characters; the CLI's default id is the
 * name (up to 63) and a 16-character timestamp, and a schedule's run is its id (up to 40) and the
 * scheduled time. Well inside a file name's 255 bytes and Temporal's workflow id limit.
 */
export const CAMPAIGN_ID_MAX_LENGTH = 128;

const CAMPAIGN_ID = new RegExp(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,${CAMPAIGN_ID_MAX_LENGTH - 1}}$`);

/** Why `id` cannot be a new campaign's id (`field` says where it came from), or undefined when it can. */
export function campaignIdProblem(id: unknown, field: string): string | undefined {
  if (typeof id === "string" && CAMPAIGN_ID.test(id)) return undefined;
  const shown =
    typeof id === "string" ? JSON.stringify(id.length > 200 ? `${id.slice(0, 200)}…` : id) : String(id === undefined ? "nothing" : JSON.stringify(id));
  return (
    `${field}: ${shown} cannot be a campaign id: expected letters, digits, '.', '_' or '-' (at most ${CAMPAIGN_ID_MAX_LENGTH}, ` +
    `starting with a letter or digit); the id names the campaign's output folder (<output.dir>/<campaignId>/) and its workflows`
  );
}

/**
 * Why the campaign workflow's input cannot be registered before its config is even read: it has no
 * `config` (a start from the Temporal UI whose input is the config itself, or only a campaignId).
 */
export function missingConfigProblem(config: unknown): string | undefined {
  if (config !== undefined && config !== null) return undefined;
  return (
    `config: missing from the workflow input; campaignWorkflow's input is {"campaignId": "<id>", "config": {<the campaign config>}} ` +
    `(a campaign config given as the whole input has no "config" field: wrap it)`
  );
}
