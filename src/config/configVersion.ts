/**
 * When a new config version may be recorded for a campaign: it applies from the iteration after the
 * last completed one, so it must leave that iteration to run. A campaign that finished all its
 * iterations would otherwise record a version no iteration ran under, and its status and reports
 * would show that config beside data made under the old one. Pure: the CLI checks it before
 * starting, the campaign's registration enforces it for every other start.
 */
export interface ConfigVersionCheck {
  campaignId: string;
  currentVersion: number;
  lastCompletedIteration: number;
  /** `iterations` of the config to be recorded. */
  newIterations: number;
}

/** Why the new version cannot be recorded, or undefined when it can. */
export function newConfigVersionRefusal(c: ConfigVersionCheck): string | undefined {
  const from = c.lastCompletedIteration + 1;
  if (from <= c.newIterations) return undefined;
  return (
    `campaign ${c.campaignId} has completed ${c.lastCompletedIteration} iteration${c.lastCompletedIteration === 1 ? "" : "s"}: config version ${c.currentVersion + 1} ` +
    `would apply from iteration ${from}, past its iterations (${c.newIterations}), so nothing would run under it; ` +
    `raise iterations above ${c.lastCompletedIteration} to continue the campaign, or start the config under another campaign id`
  );
}
