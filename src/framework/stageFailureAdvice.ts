/**
 * What an operator does once the cause of a stage's failure is fixed, under the campaign's
 * `onStageFailure`: only a stage that waits (`wait`, the default) can be retried; a `fail` policy
 * has failed the campaign by the time the message is read, and a `skip` policy has gone on without the stage.
 */
export type OnStageFailure = "wait" | "fail" | "skip";

/** The clause after "check X, " in a stage's error (README, Failures: a failed campaign is run again with campaign start --id). */
export function afterFixAdvice(onStageFailure: OnStageFailure | undefined, campaignId: string): string {
  if (onStageFailure === "skip") return `before a later stage or run calls it (${SKIPPED})`;
  return afterChangeAdvice(onStageFailure, campaignId);
}

const SKIPPED = `onStageFailure "skip" has skipped this stage; it is not retried`;

/**
 * The clause after "Change that, " in a stage's error that names a setting of its own (a cluster job
 * the scheduler will never start as submitted): under `skip` the change is for later runs.
 */
export function afterChangeAdvice(onStageFailure: OnStageFailure | undefined, campaignId: string): string {
  const id = /^[A-Za-z0-9._-]+$/.test(campaignId) ? campaignId : JSON.stringify(campaignId);
  if (onStageFailure === "fail")
    return `then start the campaign again with \`toolloop campaign start --config <file> --id ${id}\` (onStageFailure "fail" has failed it; finished work is not redone)`;
  if (onStageFailure === "skip") return `so that later runs can start it (${SKIPPED})`;
  return "then retry the stage";
}
