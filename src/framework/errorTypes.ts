/**
 * Failure type names shared by workflows, activities and tests (pure: workflows import it). The
 * type of an ApplicationFailure decides whether Temporal retries it.
 */
export const ErrorType = {
  invalidConfig: "InvalidCampaignConfig",
  unknownCampaign: "UnknownCampaign",
  stageInput: "StageInputError",
  noTools: "NoTools",
  /** A campaign id started again with a different config and no request for a new config version. */
  configChanged: "ConfigChanged",
  /** A request the LLM endpoint refused as malformed (4xx): retrying sends the same request. */
  llmClient: "LlmError:client",
  /** The database, the network or a worker failed: retried without limit, never counted. */
  infrastructure: "InfrastructureError",
  /**
   * A stage step reached a worker whose build lacks the stage (an older worker during a rolling
   * deploy): retried, never counted, for another worker to take; bounded (activities/stageOnWorker.ts).
   */
  stageNotOnWorker: "StageNotOnThisWorker",
  /**
   * A cluster job asked to stop still runs past the launcher's wait (a slow node): no failure of the
   * step, whose retry asks again; retried, never counted, bounded in time (activities/failurePolicy.ts).
   */
  jobStillStopping: "JobStillStopping",
  /** An activity's application failures reached its budget: an operator decides what next. */
  failedAfterRetries: "FailedAfterRetries",
  stageFailed: "StageFailed",
  /** An operator decision the iteration refused (no stage waiting, or another stage waiting). */
  decisionRefused: "DecisionRefused",
  /** A cluster job (training, merge, serving) failed, was cancelled outside toolloop or was lost by its scheduler. */
  clusterJobFailed: "ClusterJobFailed",
  /** A cluster job whose process or node went away without an exit code (a machine crash): the iteration retries it by itself. */
  clusterJobLost: "ClusterJobLost",
  /** An LLM endpoint failed its attempt budget (refused, no connection, no response): an operator checks it. */
  endpointUnavailable: "EndpointUnavailable",
  /** A campaign's iteration workflow could not be started (its id still held after the wait, or Temporal refused it). */
  iterationNotStarted: "IterationNotStarted",
} as const;

/** Failures no retry can fix: Temporal must not retry these. */
export const NON_RETRYABLE_ERROR_TYPES: string[] = [
  ErrorType.invalidConfig,
  ErrorType.unknownCampaign,
  ErrorType.stageInput,
  ErrorType.noTools,
  ErrorType.configChanged,
  ErrorType.llmClient,
  ErrorType.failedAfterRetries,
  ErrorType.decisionRefused,
  ErrorType.clusterJobFailed,
  ErrorType.clusterJobLost,
  ErrorType.endpointUnavailable,
  ErrorType.iterationNotStarted,
];
