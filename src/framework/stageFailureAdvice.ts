/**
 * What an operator does once the cause of a stage's failure is fixed, under the campaign's
 * `onStageFailure`: only a stage that waits (`wait`, the default) can be retried; a `fail` policy
 * has failed the campaign by the time the message is read, and a `skip` policy has gone on without the stage.
 */
export type OnStageFailure = "wait" | "fail" | "skip";

/** The campaign's policy for a failed stage, as the advice needs it. */
export interface StageFailurePolicy {
  onStageFailure: OnStageFailure | undefined;
  campaignId: string;
}

/** The clause after "check X, " in a stage's error (README, Failures: a failed campaign is run again with campaign start --id). */
export function afterFixAdvice(onStageFailure: OnStageFailure | undefined, campaignId: string): string {
  if (onStageFailure === "skip") return `before a later stage or run calls it (${SKIPPED})`;
  if (onStageFailure === "fail") return startAgain(campaignId);
  return "then retry the stage";
}

const SKIPPED = `onStageFailure "skip" has skipped this stage; it is not retried`;

/**
 * The clause after "Change that, " in a stage's error that names a setting of its own (a cluster job
 * the scheduler will never start as submitted): the setting is the campaign's config, which retry-stage
 * does not read (afterConfigChangeAdvice), unless the cluster is changed to fit the job instead; under
 * `skip` the change is for later runs.
 */
export function afterChangeAdvice(onStageFailure: OnStageFailure | undefined, campaignId: string): string {
  if (onStageFailure === "skip") return `so that later runs can start it (${SKIPPED})`;
  const inConfig = `in the campaign's config: ${afterConfigChangeAdvice(onStageFailure, campaignId)}`;
  if (onStageFailure === "fail") return `${inConfig}; or, if the cluster is changed to fit the job instead, the same without --config-version`;
  return `${inConfig}; or, if the cluster is changed to fit the job instead, retry the stage`;
}

/**
 * How a change to the campaign's config (a model renamed, a deadline raised) reaches the stage:
 * retry-stage runs the iteration's frozen config again, so the campaign is aborted (unless "fail" has
 * ended it) and started again with the changed file as its next config version (README, Configuration).
 */
export function afterConfigChangeAdvice(onStageFailure: OnStageFailure | undefined, campaignId: string): string {
  const id = shellId(campaignId);
  const start = `\`toolloop campaign start --config <changed file> --id ${id} --config-version\``;
  if (onStageFailure === "fail") return `start the campaign again with ${start} (onStageFailure "fail" has failed it)`;
  const otherwise = onStageFailure === "skip" ? "the campaign goes on with its frozen config otherwise" : "retry-stage would run the frozen config again";
  return `run \`toolloop campaign abort ${id}\`, then ${start} (${otherwise})`;
}

/** After an operator's fix outside the campaign (a worker upgraded): the command for a stage that waits, else the policy's clause. */
export function retryStageAdvice(onStageFailure: OnStageFailure | undefined, campaignId: string, stage: string): string {
  if (onStageFailure === "fail" || onStageFailure === "skip") return afterFixAdvice(onStageFailure, campaignId);
  return `then: toolloop campaign retry-stage ${shellId(campaignId)} --stage ${stage}`;
}

function startAgain(campaignId: string): string {
  return `then start the campaign again with \`toolloop campaign start --config <file> --id ${shellId(campaignId)}\` (onStageFailure "fail" has failed it; finished work is not redone)`;
}

/** The id as a shell word; an id not known where the message is made is written ID. */
function shellId(campaignId: string): string {
  if (campaignId === "") return "ID";
  return /^[A-Za-z0-9._-]+$/.test(campaignId) ? campaignId : JSON.stringify(campaignId);
}
