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

/** How the client that got the refusal reaches the endpoint, where the advice depends on it (a 407). */
export interface RefusingClient {
  /**
   * Whether it goes through the proxy HTTPS_PROXY / HTTP_PROXY name in the worker's environment
   * (bfcl-eval's Python client does); toolloop's own client connects to baseUrl directly.
   */
  proxyFromEnvironment?: boolean;
}

/**
 * What fixes an endpoint that refuses every request, by status, and what to do then under the policy.
 * A key lives in the worker's environment (the variable apiKeyEnv names), which a running worker
 * never reads again: fixed there, the workers are restarted and the campaign's config is unchanged. A
 * wrong baseUrl, model or apiKeyEnv is the campaign's config, which retry-stage does not read
 * (afterConfigChangeAdvice). A fix at the endpoint (or a proxy before it) needs neither.
 */
export function endpointRefusalAdvice(status: number | undefined, p: StageFailurePolicy, client: RefusingClient = {}): string {
  const afterFix = afterFixAdvice(p.onStageFailure, p.campaignId);
  const configChange = afterConfigChangeAdvice(p.onStageFailure, p.campaignId);
  const restart = `restart those workers (a running worker keeps the environment it started with; the campaign's config is unchanged)`;
  switch (status) {
    case 401:
      return (
        `the endpoint takes no request without a valid key: set the right key in the variable the endpoint's apiKeyEnv names, in the environment of every worker, and ${restart}, ${afterFix}; ` +
        `or, if the endpoint has no apiKeyEnv or it names the wrong variable, change it in the campaign's config: ${configChange}`
      );
    case 403:
      return (
        `the endpoint knows the key but does not allow it this request: grant the key access at the endpoint, ` +
        `or set a key that has it in the variable the endpoint's apiKeyEnv names, in the environment of every worker, and ${restart}, ${afterFix}; ` +
        `or, if the role must use another model or endpoint instead, change the campaign's config: ${configChange}`
      );
    case 404:
      return (
        `check its baseUrl, its API key (apiKeyEnv) and the role's model. Fix it at the endpoint (serve the configured model at the configured baseUrl again), ${afterFix}; ` +
        `or, if the campaign's config must change instead (the model renamed, another baseUrl), ${configChange}`
      );
    case 405:
      return (
        `the path under baseUrl does not take POST, so baseUrl is not the OpenAI-compatible API (its /v1 missing, another server's port): ` +
        `correct baseUrl in the campaign's config: ${configChange}; or, if the server at baseUrl is to serve that API there again instead, ${afterFix}`
      );
    case 407:
      if (client.proxyFromEnvironment)
        return (
          `a proxy asks for credentials: the client goes through the proxy HTTPS_PROXY or HTTP_PROXY names in the worker's environment; ` +
          `put the proxy's credentials in that URL, or the endpoint's host in NO_PROXY, in the environment of every worker, and ${restart}, ${afterFix}; ` +
          `or, if baseUrl itself names the proxy, point it at the endpoint in the campaign's config: ${configChange}`
        );
      return (
        `a proxy at baseUrl asks for credentials, which toolloop's client does not send (it connects to baseUrl directly, whatever HTTPS_PROXY says): ` +
        `point baseUrl at the endpoint itself in the campaign's config: ${configChange}; or, if the proxy is changed to let the workers through instead, ${afterFix}`
      );
    default:
      return `check its baseUrl, its API key (apiKeyEnv) and the role's model, ${afterFix}`;
  }
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
