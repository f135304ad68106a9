/**
 * Activities: thin adapters from Temporal to the stage framework in src/. Built by a factory from
 * their dependencies so tests can pass a real database, a simulator endpoint or extra stages.
 */
import { campaignWorkflowIdProblem } from "../src/config/derivedWorkflowIds.js";
import { campaignIdProblem, missingConfigProblem } from "../src/config/campaignIdRule.js";
import { ApplicationFailure, CancelledFailure, Context } from "@temporalio/activity";
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from "@temporalio/client";
import { newConfigVersionRefusal } from "../src/config/configVersion.js";
import { describeConfigDiff, freezeCampaignConfig, planOf, type FrozenCampaignConfig } from "../src/config/frozen.js";
import { newCampaignConfigIssues } from "../src/config/newCampaignChecks.js";
import type { CampaignPlan } from "../src/config/plan.js";
import { campaignOutputDir } from "../src/output/layout.js";
import { writeCampaignReport, writeIterationReports } from "../src/reports/build.js";
import type { Db } from "../src/db/client.js";
import { configForIteration, insertConfigVersion, latestConfig, type StoredConfig } from "../src/db/repos/campaignConfigs.js";
import {
  closeRunningIterations,
  getCampaign,
  insertCampaign,
  lastCompletedIteration,
  markCampaignRunningAgain,
  recordCampaignRun,
  setCampaignStatus,
  upsertIteration,
} from "../src/db/repos/campaigns.js";
import type { CampaignRowStatus, IterationRowStatus } from "../src/db/schema.js";
import { countSamples } from "../src/db/repos/samples.js";
import { planSelection } from "../src/db/repos/stageBatchItems.js";
import {
  beginStageRun,
  finishStageRun,
  forgetDoneBatches,
  getStageRun,
  listDoneBatches,
  noteFailedStageRun,
  recordBatchDone,
  recordStepRetries,
  stageJobAttempt,
  stageSummaryOf,
  type StageKey,
} from "../src/db/repos/stages.js";
import { upsertTools } from "../src/db/repos/tools.js";
import { iterationOfWorkflow, latestIteration, recordIterationStep } from "../src/db/repos/iterationSteps.js";
import { ErrorType } from "../src/framework/errorTypes.js";
import type { AnyStageHandler, StageRegistry } from "../src/framework/registry.js";
import { RequestLedger } from "../src/framework/requestLedger.js";
import { buildStageContext } from "../src/framework/stageContext.js";
import {
  BatchFailureNotes,
  EveryItemFailedError,
  splitStoredBatch,
  stageNotesOf,
  sumBatchResults,
  type StageContext,
  type StageDeps,
} from "../src/framework/stage.js";
import type { AnyStageSpec } from "../src/framework/stageSpec.js";
import { defaultStageRegistry } from "../src/stages/registry.js";
import { loadToolLibrary } from "../src/tools/library.js";
import { toolHash } from "../src/tools/hash.js";
import { FAILURE_BUDGET, withFailurePolicy } from "./failurePolicy.js";
import {
  configNoNewerBuildFailure,
  configStageMissingFailure,
  refusedByThisBuild,
  rejectedValuesFailure,
  stageMissingFailure,
  unknownFieldsFailure,
} from "./stageOnWorker.js";
import { newerBuildsSeen, RECENT_BUILD_MS, thisBuild, type BuildIdentity } from "../src/ops/workerBuilds.js";
import { countStageBatch } from "../src/metrics/toolloopMetrics.js";
import { retryStageUpdate, skipStageUpdate } from "../workflows/definitions.js";
import type { BatchCounts, RegisterCampaignInput, RegisterCampaignResult, StagePlanResult, StageRef } from "./types.js";
import { createClusterJobActivities, type StageJobRef } from "./clusterJobs.js";
import { isClusterJobHandler } from "../src/framework/clusterJob.js";
import { createLauncher } from "../src/training/launchers/index.js";
import { UnknownLauncherKindError } from "../src/training/launchers/launcher.js";
import { previousScheduledCampaign } from "../src/db/repos/continuation.js";
import { endedRunMessage, markScheduleEndedRuns, temporalWorkflowStatus } from "../src/schedules/endedRuns.js";
import { scheduledRunProblem, withScheduledRun } from "../src/schedules/scheduledConfig.js";
import { continuedPolicyText, stageCallsPolicy, stagePolicy, type StagePolicy } from "../src/training/servedPolicy.js";
import { explainServedPolicyDown } from "../src/training/servedPolicyDown.js";
import { clusterOf } from "../src/training/clusterConfig.js";
import { configThisBuildRefuses, InvalidCampaignConfigError, type CampaignConfig } from "../src/config/campaignConfig.js";
import { TERMINAL_JOB_STATES, type JobLauncher, type JobState } from "../src/training/launchers/launcher.js";
import { stageEndpointNeeds, waitUntilEndpointsAnswer } from "../src/llm/endpointRecovery.js";
import { revivalNote, revivalReadyTimeoutMs, ServedPolicyRevival } from "../src/training/servedPolicyRevival.js";
import { createProgressBeat } from "../src/util/progressBeat.js";

/** How long finishIteration spends on reports at most (its activity has a few minutes in all). */
const REPORT_BUDGET_MS = 90_000;

export interface ActivityDeps extends Omit<StageDeps, "db"> {
  /** Lazily opened database (workers open it once). */
  getDb(): Promise<Db>;
  /** The stages this worker runs (default: the built-in ones). */
  stages?: StageRegistry;
  /** A Temporal client, for the one activity that talks to another workflow (forwarding a decision). */
  temporalClient?(): Promise<Client>;
  /** Interval for background heartbeats while a batch waits on slow calls (default 1 s: the heartbeat timeout is short so a lost worker's batches move on fast). */
  heartbeatIntervalMs?: number;
  /** Application failures an activity may have before it gives up (infrastructure failures are not counted). */
  failureBudget?: { batch: number; bookkeeping: number };
  /** How long a step of a stage this worker lacks is left for other workers before it fails (default activities/stageOnWorker.ts STAGE_MISSING_LIMIT_MS). */
  stageMissingLimitMs?: number;
  /** This worker's build, as recorded in worker_builds (default: this process's, src/ops/workerBuilds.ts thisBuild). */
  build?: BuildIdentity;
  /** How recently a newer build must have been alive for a config this build does not know to wait for it (default RECENT_BUILD_MS, 24 h). */
  recentBuildMs?: number;
  /** The launcher cluster jobs run on (default: the one `cluster.launcher` in the campaign config names). */
  launcherFor?(config: CampaignConfig): JobLauncher;
}

/** The workflow run the current activity serves (Temporal's run id); undefined outside an activity (a direct call in a test). */
function activityWorkflowRunId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.runId;
  } catch {
    return undefined;
  }
}

export function createActivities(deps: ActivityDeps) {
  const registry = deps.stages ?? defaultStageRegistry();
  const heartbeatIntervalMs = deps.heartbeatIntervalMs ?? 1000;
  const budget = deps.failureBudget ?? FAILURE_BUDGET;
  const asBatch = { getDb: deps.getDb, budget: budget.batch };
  const asBookkeeping = { getDb: deps.getDb, budget: budget.bookkeeping };
  /** Stages (and stage fields) this worker said it lacks, each once (bounded by the names configs use). */
  const missingLogged = new Set<string>();
  const build = deps.build ?? thisBuild();
  const recentBuildMs = deps.recentBuildMs ?? RECENT_BUILD_MS;

  /**
   * The frozen config in force for an iteration. A campaign registered before configs were frozen
   * has only its config as written: it is frozen now, once, as version 1.
   */
  async function frozenFor(db: Db, campaignId: string, iteration: number): Promise<StoredConfig> {
    const stored = await configForIteration(db, campaignId, iteration);
    if (stored) return stored;
    const row = await getCampaign(db, campaignId);
    if (!row) throw ApplicationFailure.nonRetryable(`campaign "${campaignId}" is not registered`, ErrorType.unknownCampaign);
    const frozen = await freeze(row.config, deps.baseDir);
    await insertConfigVersion(db, campaignId, { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
    return (await configForIteration(db, campaignId, iteration)) as StoredConfig;
  }

  /**
   * Freezes a submitted config. What this build does not know (a stage, a field, a value) is a newer
   * build's during a rolling deploy, or a mistake (a start from the Temporal UI, which nothing
   * validated before): the builds recorded in worker_builds tell which (src/ops/workerBuilds.ts).
   */
  async function freeze(raw: unknown, configDir: string): Promise<{ frozen: FrozenCampaignConfig; hash: string; warnings: string[] }> {
    const r = freezeCampaignConfig(raw, { configDir, specs: registry.specs });
    if (r.ok) return r;
    const refused = refusedByThisBuild(raw, registry.specs);
    if (refused.unknownStages.length + refused.unknownFields.length + refused.rejectedValues.length === 0)
      throw ApplicationFailure.nonRetryable(r.error.message, ErrorType.invalidConfig, r.error.issues);
    const builds = await newerBuildsSeen(await deps.getDb(), build, { withinMs: recentBuildMs });
    const common = {
      ...refused,
      invalid: r.error.message,
      known: registry.specs.map((s) => s.name),
      ...(deps.stageMissingLimitMs !== undefined ? { limitMs: deps.stageMissingLimitMs } : {}),
    };
    // Builds known, none newer alive lately: no worker that accepts it is coming, so it is a mistake.
    if (builds.known && builds.newer.length === 0) throw configNoNewerBuildFailure({ ...common, build, withinMs: builds.withinMs, issues: r.error.issues });
    // Unknown builds (this one not recorded yet, the table unreadable): a value refused fails at once,
    // as every build refuses most of them; a stage or field is left for another worker, bounded.
    if (!builds.known && refused.unknownStages.length + refused.unknownFields.length === 0)
      throw ApplicationFailure.nonRetryable(r.error.message, ErrorType.invalidConfig, r.error.issues);
    throw configStageMissingFailure({ ...common, ...(builds.known ? { newer: builds.newer } : {}) });
  }

  function stageOf(frozen: FrozenCampaignConfig, ref: StageRef): { stage: StageContext["stage"]; spec: AnyStageSpec; handler: AnyStageHandler } {
    const stage = frozen.config.stages.find((s) => s.name === ref.stage);
    if (!stage) throw ApplicationFailure.nonRetryable(`stage "${ref.stage}" is not in campaign ${ref.campaignId}'s config`, ErrorType.stageInput);
    const spec = registry.spec(stage.name);
    const handler = registry.handler(stage.name);
    if (!spec || !handler) {
      // An older build than the one that froze the config (a rolling deploy): another worker may have it.
      const failure = stageMissingFailure({
        stage: stage.name,
        campaignId: ref.campaignId,
        onStageFailure: frozen.config.onStageFailure,
        known: registry.specs.map((s) => s.name),
        ...(deps.stageMissingLimitMs !== undefined ? { limitMs: deps.stageMissingLimitMs } : {}),
      });
      if (!missingLogged.has(stage.name)) {
        missingLogged.add(stage.name);
        deps.log(`[deploy] ${failure.message}`);
      }
      throw failure;
    }
    // Fields of a newer build (the stage's own, or the endpoints, roles, cluster it uses) this build
    // would silently run without: left for another worker, as a missing stage is.
    const index = frozen.config.stages.indexOf(stage);
    // Around the stages, the stages list as a whole, and this stage's own entry: what the step reads.
    const concernsStep = (at: readonly (string | number)[]) => at[0] !== "stages" || at.length === 1 || at[1] === index;
    const refused = configThisBuildRefuses(frozen.config, registry.specs);
    const common = {
      stage: stage.name,
      campaignId: ref.campaignId,
      onStageFailure: frozen.config.onStageFailure,
      known: registry.specs.map((s) => s.name),
      ...(deps.stageMissingLimitMs !== undefined ? { limitMs: deps.stageMissingLimitMs } : {}),
    };
    // Logged once per worker for each stage and what it refused; thrown on every step.
    const leave = (failure: Error, said: string): never => {
      if (!missingLogged.has(said)) {
        missingLogged.add(said);
        deps.log(`[deploy] ${failure.message}`);
      }
      throw failure;
    };
    const fields = refused.unknownFields.filter((f) => concernsStep(f.path)).map((f) => f.text);
    if (fields.length > 0) leave(unknownFieldsFailure({ ...common, fields }), `${stage.name}: ${fields.join(", ")}`);
    // Values of a newer build (a new enum member, a looser bound) this build would run with unchecked: the same.
    const values = refused.rejectedValues.filter((v) => concernsStep(v.path));
    if (values.length > 0) leave(rejectedValuesFailure({ ...common, values }), `${stage.name}: ${values.map((v) => `${v.text}=${v.value ?? ""}`).join(", ")}`);
    return { stage, spec, handler };
  }

  /** The config a stage's step runs with: the frozen one, its policy role bound to the model the loop served. */
  async function stageConfigFor(db: Db, ref: StageRef) {
    const { frozen } = await frozenFor(db, ref.campaignId, ref.iteration);
    const policy = await stagePolicy(db, { campaignId: ref.campaignId, config: frozen.config, stage: ref.stage, iteration: ref.iteration });
    return { frozen, config: policy.config, served: policy.served, bindsServed: policy.served !== undefined, policy };
  }

  /** Said once per stage and iteration: which policy a stage of a continuing run calls while its predecessor decides it, and why. */
  const continuedPolicyLogged = new Set<string>();
  function logContinuedPolicy(ref: StageRef, spec: AnyStageSpec, stage: StageContext["stage"], policy: StagePolicy): void {
    const key = `${ref.campaignId}\u0000${ref.iteration}\u0000${ref.stage}`;
    if (continuedPolicyLogged.has(key) || !stageCallsPolicy(spec, stage)) return;
    const text = continuedPolicyText(ref.campaignId, policy);
    if (!text) return;
    continuedPolicyLogged.add(key);
    deps.log(`[policy] ${ref.campaignId} iteration ${ref.iteration} ${ref.stage}: ${text}`);
  }

  /**
   * The stage's context for one step (plan, a batch, finalize): its role clients record every
   * request in a ledger that is drained before the step returns, whether it succeeded or not.
   */
  async function withStageContext<T>(
    ref: StageRef & { batchIndex?: number },
    fn: (ctx: StageContext, handler: AnyStageHandler, spec: AnyStageSpec) => Promise<T>,
  ): Promise<T> {
    const db = await deps.getDb();
    const { frozen, config, served, bindsServed, policy } = await stageConfigFor(db, ref);
    const { stage, spec, handler } = stageOf(frozen, ref);
    logContinuedPolicy(ref, spec, stage, policy);
    const { ctx, ledger } = buildStageContext({
      campaignId: ref.campaignId,
      iteration: ref.iteration,
      config,
      stage,
      deps: { ...deps, db },
      signal: Context.current().cancellationSignal,
      policyVersionId: bindsServed ? served!.id : null,
      ledger: new RequestLedger(db, { campaignId: ref.campaignId, iteration: ref.iteration, stage: ref.stage, batchIndex: ref.batchIndex ?? null }),
    });
    let result: T;
    try {
      result = await fn(ctx, handler, spec);
    } catch (err) {
      // Outcomes of requests already made are still written; the step's own error is what matters.
      await ledger.drain().catch((drainErr: unknown) => deps.log(`[usage] request ledger not fully written: ${String(drainErr)}`));
      // The served policy not answering: say whether its launcher says it runs, and how to bring it back.
      if (bindsServed) await explainServedPolicyDown(db, err, ref.campaignId, served!, { log: deps.log });
      throw err;
    }
    await ledger.drain();
    return result;
  }

  /** Heartbeats on a timer while fn runs, so steps without their own progress survive the heartbeat timeout. */
  async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
    const actx = Context.current();
    // A local activity cannot heartbeat: the workflow task it runs in keeps it alive.
    if (actx.info.isLocal) return fn();
    const timer = setInterval(() => actx.heartbeat(), heartbeatIntervalMs);
    try {
      return await fn();
    } finally {
      clearInterval(timer);
    }
  }

  /** The campaign's launcher; a kind this build lacks fails the activity for good (the same config fails again), named. */
  function launcherOfConfig(config: CampaignConfig) {
    try {
      return createLauncher(clusterOf(config).launcher, { log: deps.log, python: clusterOf(config).python });
    } catch (err) {
      if (err instanceof UnknownLauncherKindError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.invalidConfig);
      throw err;
    }
  }

  const jobs = createClusterJobActivities({
    getDb: deps.getDb,
    createLauncher: deps.launcherFor ?? ((config) => launcherOfConfig(config)),
    withStageContext,
    log: deps.log,
  });

  async function registerCampaign(input: RegisterCampaignInput): Promise<RegisterCampaignResult> {
    const run = input.schedule;
    const problem = run && scheduledRunProblem(run);
    if (problem) throw ApplicationFailure.nonRetryable(problem, ErrorType.invalidConfig);
    const noConfig = missingConfigProblem(input.config);
    if (noConfig) throw ApplicationFailure.nonRetryable(noConfig, ErrorType.invalidConfig);
    // A scheduled run registers the schedule's config with its own id and a seed of its scheduled time.
    const submitted = run && input.campaignId ? withScheduledRun(input.config, run, input.campaignId).config : input.config;
    const { frozen, hash, warnings } = await freeze(submitted, input.configDir ?? deps.baseDir);
    const campaignId = input.campaignId ?? frozen.config.campaignId ?? input.workflowId;
    if (!campaignId)
      throw ApplicationFailure.nonRetryable("registerCampaign: no campaign id (none given, none in the config, no workflow id)", ErrorType.invalidConfig);
    const db = await deps.getDb();
    const workflowRunId = activityWorkflowRunId();
    // Recorded once: a retried registration keeps the predecessor it found first.
    const registered = await getCampaign(db, campaignId);
    // A new campaign started under another campaign's iteration id (a start from the Temporal UI; the CLI refuses it first).
    const idProblem = !registered && input.workflowId ? campaignWorkflowIdProblem(input.workflowId, campaignId, "workflow id") : undefined;
    if (idProblem) throw ApplicationFailure.nonRetryable(idProblem, ErrorType.invalidConfig);
    // The id names the output folder: a new one from the input or the workflow id (a start from the
    // Temporal UI) must be one plain path segment ("../x" wrote outside output.dir). Registered ones keep theirs.
    const badId = registered
      ? undefined
      : input.campaignId !== undefined
        ? campaignIdProblem(input.campaignId, "campaignId")
        : frozen.config.campaignId === undefined
          ? campaignIdProblem(campaignId, 'workflow id (the campaign id when neither the input nor the config has a campaignId; add "campaignId" to the input)')
          : undefined;
    if (badId) throw ApplicationFailure.nonRetryable(badId, ErrorType.invalidConfig);
    // What a new campaign (a schedule's runs included) or a new config version may not hold; a campaign
    // registered with it before the check, started again with the config it has, keeps it.
    const startIssues = newCampaignConfigIssues(frozen.config);
    const keepsItsConfig = registered !== undefined && startIssues.length > 0 && (await latestConfig(db, campaignId))?.sha256 === hash;
    if (startIssues.length > 0 && !keepsItsConfig)
      throw ApplicationFailure.nonRetryable(new InvalidCampaignConfigError(startIssues).message, ErrorType.invalidConfig, startIssues);
    for (const i of keepsItsConfig ? startIssues : []) deps.log(`[config] campaign ${campaignId}: warning: ${i.path}: ${i.message}`);
    // Runs of the schedule a terminateOther overlap ended are still recorded running: record them as ended first, so one is continued from.
    if (run && !registered) await markScheduleRunsEnded(db, run.scheduleId, campaignId);
    const continuesFrom = run
      ? registered
        ? (registered.continuesFrom ?? undefined)
        : await previousScheduledCampaign(db, { scheduleId: run.scheduleId, before: new Date(run.scheduledTime), excludeId: campaignId })
      : undefined;
    if (run && !registered)
      deps.log(
        `[schedule] ${run.scheduleId}: campaign ${campaignId} scheduled for ${run.scheduledTime}, seed ${frozen.config.seed}, ${continuesFrom ? `continues from ${continuesFrom}` : "starts from scratch (no earlier campaign of this schedule registered a policy)"}`,
      );
    const { tools, errors } = await loadToolLibrary(frozen.config.tools.sources, frozen.configDir);
    const messages = errors.map((e) => `${e.source}: ${e.message}`);
    for (const m of messages.slice(0, 50)) deps.log(`[tools] rejected: ${m}`);
    if (tools.length === 0)
      throw ApplicationFailure.nonRetryable(`no valid tools loaded (${errors.length} rejected): ${messages.slice(0, 3).join("; ")}`, ErrorType.noTools);

    const current = await latestConfig(db, campaignId);
    let inForce: StoredConfig;
    if (!current) {
      inForce = { version: 1, sha256: hash, frozen, appliesFromIteration: 1 };
      await insertConfigVersion(db, campaignId, inForce);
    } else if (current.sha256 === hash) {
      inForce = current;
    } else if (input.newConfigVersion) {
      const completed = await lastCompletedIteration(db, campaignId);
      const refusal = newConfigVersionRefusal({
        campaignId,
        currentVersion: current.version,
        lastCompletedIteration: completed,
        newIterations: frozen.config.iterations,
      });
      if (refusal) throw ApplicationFailure.nonRetryable(refusal, ErrorType.configChanged);
      const next = completed + 1;
      inForce = { version: current.version + 1, sha256: hash, frozen, appliesFromIteration: next };
      await insertConfigVersion(db, campaignId, inForce);
      deps.log(`[config] campaign ${campaignId}: config version ${inForce.version} applies from iteration ${next}`);
    } else {
      const diff = describeConfigDiff(current.frozen.config, frozen.config);
      throw ApplicationFailure.nonRetryable(
        `campaign ${campaignId} is registered with another config (version ${current.version}); differences:\n  ${diff.join("\n  ")}\n` +
          `start it with --config-version to record this config as version ${current.version + 1} from the next iteration, or choose another campaign id`,
        ErrorType.configChanged,
      );
    }
    // Said once per config recorded: a start from the Temporal UI has no CLI to print them (the result carries them too).
    if (inForce.sha256 !== current?.sha256) for (const w of warnings) deps.log(`[config] campaign ${campaignId}: warning: ${w}`);
    await insertCampaign(db, {
      id: campaignId,
      name: frozen.config.name,
      config: submitted,
      workflowId: input.workflowId,
      ...(workflowRunId !== undefined ? { workflowRunId } : {}),
      ...(run ? { scheduleId: run.scheduleId, scheduledAt: new Date(run.scheduledTime), continuesFrom } : {}),
    });
    // Keyed on the row as read above: an abort of this run written since wins (a run started before patch abort-waits-for-registration-v1 does not wait for this activity).
    if (registered && registered.status !== "running" && !(await markCampaignRunningAgain(db, campaignId, registered)))
      deps.log(`[campaign] ${campaignId}: not marked running again: its status was written while it registered (an abort of this run)`);
    // The row is this run's from now on: the terminated-run marking leaves it alone (src/schedules/endedRuns.ts).
    if (registered && workflowRunId !== undefined) await recordCampaignRun(db, campaignId, workflowRunId);
    await upsertTools(
      db,
      campaignId,
      tools.map((t) => ({ tool: t.tool, source: t.source, domain: t.domain, hash: toolHash(t.tool) })),
    );
    return {
      tools: tools.length,
      toolErrors: errors.length,
      toolErrorMessages: messages.slice(0, 10),
      plan: withOutputDir(planOf(campaignId, inForce.frozen, inForce.version, inForce.sha256), inForce.frozen),
      warnings,
    };
  }

  /**
   * The schedule's other runs recorded running whose workflow Temporal says was terminated or timed
   * out, marked terminated (src/schedules/endedRuns.ts). A worker without a Temporal client, or a
   * Temporal that does not answer, leaves them as they are: the run registers all the same.
   */
  async function markScheduleRunsEnded(db: Db, scheduleId: string, campaignId: string): Promise<void> {
    if (!deps.temporalClient) return;
    try {
      const ended = await markScheduleEndedRuns(db, scheduleId, temporalWorkflowStatus(await deps.temporalClient()), campaignId);
      for (const r of ended) deps.log(`[schedule] ${scheduleId}: ${endedRunMessage(r)}`);
    } catch (err) {
      deps.log(
        `[schedule] ${scheduleId}: could not ask Temporal whether its runs recorded running still run: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  async function planStage(ref: StageRef): Promise<StagePlanResult> {
    const db = await deps.getDb();
    const existing = await getStageRun(db, ref);
    if (existing && (existing.status === "succeeded" || existing.status === "skipped")) {
      // The summary only: the workflow's history need not carry the step retries the report reads.
      return { alreadyDone: true, status: existing.status, result: stageSummaryOf(existing.result) };
    }
    const plan = await withStageContext(ref, async (ctx, handler, spec): Promise<{ batches: number; items: number; job?: { completion: string } }> => {
      // A cluster-job stage is one unit of work, run by the stageJob child workflow.
      if (spec.reads.kind === "job") return { batches: 1, items: 1, job: { completion: isClusterJobHandler(handler) ? handler.completion : "exit" } };
      if (spec.reads.kind !== "samples") {
        if (isClusterJobHandler(handler) || !handler.plan)
          throw ApplicationFailure.nonRetryable(`stage "${ref.stage}" reads ${spec.reads.kind} but its handler has no plan()`, ErrorType.stageInput);
        return handler.plan(ctx);
      }
      // A selection is planned once per stage run: a retry keeps the batches (and their members) it had.
      if (existing && existing.batchesTotal !== null && existing.itemsTotal !== null) return { batches: existing.batchesTotal, items: existing.itemsTotal };
      return planSelection(db, ref, spec.reads.selection(ctx.stage), ctx.stage.batchSize, spec.reads.oneBatch ?? false);
    });
    await beginStageRun(db, ref, plan.batches, plan.items);
    if (plan.job) {
      // A job that ended short of the stage's need is an earlier attempt's, never this run's (types.ts jobAttempt).
      const completion = plan.job.completion;
      const spent = (state: string) => TERMINAL_JOB_STATES.has(state as JobState) && (completion !== "exit" || state !== "succeeded");
      return { ...pendingOf(plan, await listDoneBatches(db, ref)), jobAttempt: await stageJobAttempt(db, ref, spent) };
    }
    return pendingOf(plan, await listDoneBatches(db, ref));
  }

  function pendingOf(plan: { batches: number; items: number }, done: { batchIndex: number; result: unknown }[]): StagePlanResult & { alreadyDone: false } {
    const doneSet = new Set(done.map((d) => d.batchIndex));
    const pendingBatches: number[] = [];
    for (let b = 0; b < plan.batches; b++) if (!doneSet.has(b)) pendingBatches.push(b);
    const doneCounts = sumBatchResults(done.map((d) => splitStoredBatch(d.result).counts));
    return { alreadyDone: false, batches: plan.batches, items: plan.items, pendingBatches, doneItems: doneCounts.items ?? 0, doneCounts };
  }

  async function runStageBatch(ref: StageRef & { batchIndex: number }): Promise<BatchCounts> {
    const db = await deps.getDb();
    const already = (await listDoneBatches(db, ref)).find((d) => d.batchIndex === ref.batchIndex);
    if (already) return splitStoredBatch(already.result).counts as BatchCounts;
    const actx = Context.current();
    // At most about one heartbeat per interval, the latest progress always sent last (src/util/progressBeat.ts).
    const beat = createProgressBeat((d) => actx.heartbeat(d), heartbeatIntervalMs, actx.info.heartbeatDetails);
    const timer = setInterval(beat.tick, heartbeatIntervalMs);
    try {
      const failures = new BatchFailureNotes();
      const result = await withStageContext(ref, (ctx, handler) => {
        if (isClusterJobHandler(handler)) throw ApplicationFailure.nonRetryable(`stage "${ref.stage}" runs a cluster job, not batches`, ErrorType.stageInput);
        return handler.runBatch(ctx, ref.batchIndex, {
          resumeFrom: actx.info.heartbeatDetails,
          report: beat.report,
          noteFailure: (message, failureClass) => failures.note(message, failureClass),
        });
      });
      // The notes are kept for finalize only: the workflow sums what it gets back, so it gets the counts.
      await recordBatchDone(db, ref, ref.batchIndex, { ...result, ...failures.stored() });
      return result as BatchCounts;
    } finally {
      clearInterval(timer);
      // The latest progress goes out last, also with a failed attempt (the SDK flushes its last heartbeat), for a retry to resume from.
      beat.flush();
    }
  }

  async function completeStage(ref: StageRef): Promise<Record<string, unknown>> {
    const db = await deps.getDb();
    const stored = (await listDoneBatches(db, ref)).map((d) => splitStoredBatch(d.result));
    const batches = stored.map((b) => b.counts);
    const notes = stageNotesOf(stored);
    const summary = await withStageContext(ref, async (ctx, handler) => {
      if (isClusterJobHandler(handler)) {
        const job = await jobs.collectableJob(db, ref);
        const summary = await handler.collect(ctx, job);
        const retired = await jobs.retireSuperseded(db, ctx, handler, job);
        return retired.length ? { ...summary, stoppedJobs: retired } : summary;
      }
      if (!handler.finalize) return sumBatchResults(batches);
      try {
        return await handler.finalize(ctx, batches, notes);
      } catch (err) {
        // Its batches run again on retry-stage (after the operator fixed what the message names), not only finalize.
        if (err instanceof EveryItemFailedError) await forgetDoneBatches(db, ref);
        throw err;
      }
    });
    await finishStageRun(db, ref, "succeeded", summary);
    return summary;
  }

  async function loadCampaignPlan(ref: { campaignId: string; iteration: number }): Promise<CampaignPlan> {
    const stored = await frozenFor(await deps.getDb(), ref.campaignId, ref.iteration);
    return withOutputDir(planOf(ref.campaignId, stored.frozen, stored.version, stored.sha256, ref.iteration), stored.frozen);
  }

  /** The iteration's report and the refreshed campaign report, within a time budget; what happened, for the iteration's summary. */
  async function withinReportBudget<T>(write: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`took longer than ${REPORT_BUDGET_MS / 1000} s`)), REPORT_BUDGET_MS);
    });
    try {
      return await Promise.race([write(), budget]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function writeReportsBestEffort(db: Db, ref: { campaignId: string; iteration: number }): Promise<{ path: string } | { error: string }> {
    try {
      const written = await withinReportBudget(() => writeIterationReports(db, { baseDir: deps.baseDir, ...ref }));
      deps.log(`[report] ${ref.campaignId} iteration ${ref.iteration}: ${written.iterationReport} (campaign report ${written.campaignReport})`);
      return { path: written.iterationReport };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      deps.log(
        // With this worker's --base-dir: an iteration whose report failed leaves no record of where its folder is.
        `[report] ${ref.campaignId} iteration ${ref.iteration}: no report written (${error}); build it with: toolloop report build ${ref.campaignId} --iteration ${ref.iteration} --base-dir ${JSON.stringify(deps.baseDir)}`,
      );
      return { error };
    }
  }

  /**
   * Runs one attempt of a stage's step, first recording on the stage run how many times Temporal
   * retried this execution before it (its attempt number less one): attempts the operator never saw
   * (a transient or application failure, a killed worker's heartbeat timeout, a step left for another
   * worker), which a report shows beside the operator's runs. Recorded at the attempt's start, so a
   * step that fails for good or is still retrying is counted too; a first plan, before its stage run
   * has a row, after it. Best effort: a count that cannot be written never fails the step.
   */
  async function countingRetries<T>(ref: StageKey, step: () => Promise<T>): Promise<T> {
    const { info } = Context.current();
    if (info.attempt <= 1) return step();
    const execution = `${info.activityType} ${info.workflowExecution?.runId ?? "(no run)"}/${info.activityId}`;
    const note = async () => {
      try {
        return await recordStepRetries(await deps.getDb(), ref, execution, info.attempt - 1);
      } catch (err) {
        deps.log(`[retries] ${ref.campaignId} iteration ${ref.iteration} ${ref.stage}: ${execution}'s retries not recorded: ${String(err)}`);
        return true;
      }
    };
    const noted = await note();
    try {
      return await step();
    } finally {
      if (!noted) await note();
    }
  }

  /**
   * Records one attempt of an iteration's own step (an activity its workflow or its campaign's runs
   * outside stage steps) and how many times Temporal retried the call before it (its attempt number
   * less one), in iteration_steps, which a report shows beside the stages. Every attempt is recorded,
   * the first too, so an iteration without a record ran before they were. `where` locates the step
   * (or undefined: not recorded). Best effort: a record that cannot be written never fails the step.
   */
  async function noteIterationStep(where: (db: Db) => Promise<{ campaignId: string; iteration: number } | undefined>): Promise<void> {
    const { info } = Context.current();
    const execution = `${info.workflowExecution?.runId ?? "(no run)"}/${info.activityId}`;
    try {
      const db = await deps.getDb();
      const at = await where(db);
      if (at) await recordIterationStep(db, { ...at, step: info.activityType, execution }, info.attempt - 1);
    } catch (err) {
      deps.log(`[retries] ${info.activityType} ${execution}: its attempt ${info.attempt} not recorded: ${String(err)}`);
    }
  }

  /** An iteration step located before it runs (recorded at the attempt's start, so one still retrying or failing for good counts too). */
  async function iterationStep<T>(where: (db: Db) => Promise<{ campaignId: string; iteration: number } | undefined>, step: () => Promise<T>): Promise<T> {
    await noteIterationStep(where);
    return step();
  }
  const atIteration = (ref: { campaignId: string; iteration: number }) => () => Promise.resolve({ campaignId: ref.campaignId, iteration: ref.iteration });
  /** A step of the workflow that runs it, located by that workflow's id (forwarding a decision, asking for a cancel). */
  const ofCallingWorkflow = (db: Db) => {
    const workflowId = Context.current().info.workflowExecution?.workflowId;
    return workflowId ? iterationOfWorkflow(db, workflowId) : Promise.resolve(undefined);
  };

  /** A stage step's failure policy: its advice after a fix follows the campaign's onStageFailure. */
  function stepPolicy(ref: { campaignId: string; iteration: number }, base: typeof asBatch | typeof asBookkeeping = asBatch) {
    return {
      ...base,
      // Read only for the error that needs it, and without frozenFor's registration of a missing version.
      stageFailure: async () => ({
        onStageFailure: (await configForIteration(await deps.getDb(), ref.campaignId, ref.iteration))?.frozen.config.onStageFailure,
        campaignId: ref.campaignId,
      }),
    };
  }

  function withOutputDir(plan: CampaignPlan, frozen: FrozenCampaignConfig): CampaignPlan {
    return { ...plan, outputDir: campaignOutputDir(deps.baseDir, frozen.config.output.dir, plan.campaignId) };
  }

  // Every activity heartbeats (a lost worker's activity is retried within seconds, not at its
  // start-to-close timeout) and classifies its failures (activities/failurePolicy.ts).
  return {
    // The campaign id is known once the config is frozen: recorded as it succeeds (a campaign run registers as it
    // starts, at iteration 1: workflows/campaign.ts); a registration that failed for good registered nothing to report on.
    registerCampaign: async (input: RegisterCampaignInput) => {
      const result = await withFailurePolicy(asBookkeeping, () => withHeartbeat(() => registerCampaign(input)));
      const campaignId = result.plan?.campaignId;
      if (campaignId !== undefined) await noteIterationStep(() => Promise.resolve({ campaignId, iteration: 1 }));
      return result;
    },

    loadCampaignPlan: (ref: { campaignId: string; iteration: number }) =>
      iterationStep(atIteration(ref), () => withFailurePolicy(asBookkeeping, () => withHeartbeat(() => loadCampaignPlan(ref)))),

    async startIteration(ref: { campaignId: string; iteration: number }): Promise<void> {
      await iterationStep(atIteration(ref), () =>
        withFailurePolicy(asBookkeeping, () => withHeartbeat(async () => upsertIteration(await deps.getDb(), { ...ref, status: "running" }))),
      );
    },

    // Recorded before the reports are written: they count this step's own retries too.
    finishIteration: (ref: { campaignId: string; iteration: number; status: Exclude<IterationRowStatus, "running"> }): Promise<Record<string, number>> =>
      iterationStep(atIteration(ref), () =>
        withFailurePolicy(asBookkeeping, () =>
          withHeartbeat(async () => {
            const db = await deps.getDb();
            const counts = await countSamples(db, ref.campaignId, ref.iteration);
            await upsertIteration(db, { ...ref, summary: { samples: counts } });
            // Best effort (contract 2): a report that cannot be written is logged and recorded, the iteration still finishes.
            const report = await writeReportsBestEffort(db, ref);
            await upsertIteration(db, { ...ref, summary: { samples: counts, report } });
            return counts;
          }),
        ),
      ),

    // The campaign's end belongs to its latest iteration.
    async setCampaignStatus(ref: { campaignId: string; status: Exclude<CampaignRowStatus, "running"> }): Promise<void> {
      await noteIterationStep(async (db) => ({ campaignId: ref.campaignId, iteration: await latestIteration(db, ref.campaignId) }));
      await withFailurePolicy(asBookkeeping, () =>
        withHeartbeat(async () => {
          const db = await deps.getDb();
          await setCampaignStatus(db, ref.campaignId, ref.status);
          // A campaign that failed in a stage left its iteration row running: it ended with the campaign.
          if (ref.status === "failed" || ref.status === "aborted") {
            const closed = await closeRunningIterations(db, ref.campaignId, ref.status);
            if (closed.length) deps.log(`[campaign] ${ref.campaignId} ${ref.status}: iteration ${closed.join(", ")} recorded ${ref.status}`);
            // These never reached finishIteration: without their own reports the campaign report's links to them lead nowhere.
            for (const iteration of closed) {
              const counts = await countSamples(db, ref.campaignId, iteration);
              const report = await writeReportsBestEffort(db, { campaignId: ref.campaignId, iteration });
              await upsertIteration(db, { campaignId: ref.campaignId, iteration, status: ref.status, summary: { samples: counts, report } });
            }
          }
          // The campaign report written at the last iteration's end still said "running": refresh it (best effort).
          await withinReportBudget(() => writeCampaignReport(db, { baseDir: deps.baseDir, campaignId: ref.campaignId })).then(
            (file) => deps.log(`[report] ${ref.campaignId} ${ref.status}: ${file}`),
            (err: unknown) => deps.log(`[report] ${ref.campaignId}: campaign report not refreshed (${err instanceof Error ? err.message : String(err)})`),
          );
        }),
      );
    },

    planStage: (ref: StageRef): Promise<StagePlanResult> =>
      countingRetries(ref, () => withFailurePolicy(asBookkeeping, () => withHeartbeat(() => planStage(ref)))),

    runStageBatch: (ref: StageRef & { batchIndex: number }): Promise<BatchCounts> =>
      countStageBatch(ref.campaignId, ref.stage, () => countingRetries(ref, () => withFailurePolicy(stepPolicy(ref), () => runStageBatch(ref)))),

    // finalize may run a long external step (e.g. the bfcl-eval summary): keep heartbeating.
    completeStage: (ref: StageRef): Promise<Record<string, unknown>> =>
      countingRetries(ref, () => withFailurePolicy(stepPolicy(ref), () => withHeartbeat(() => completeStage(ref)))),

    /**
     * A campaign's retryStage / skipStage, forwarded to its iteration as the same update; the
     * iteration's answer, or its refusal (no stage waiting, another stage waiting), is returned as is.
     */
    forwardStageDecision: (d: { workflowId: string; action: "retry" | "skip"; stage?: string }) =>
      iterationStep(ofCallingWorkflow, () =>
        withFailurePolicy(asBookkeeping, async () => {
          if (!deps.temporalClient)
            throw ApplicationFailure.nonRetryable("this worker has no Temporal client to forward operator decisions with", ErrorType.stageInput);
          const client = await deps.temporalClient();
          try {
            return await client.workflow
              .getHandle(d.workflowId)
              .executeUpdate(d.action === "retry" ? retryStageUpdate : skipStageUpdate, { args: [{ stage: d.stage }] });
          } catch (err) {
            if (err instanceof WorkflowUpdateFailedError) throw ApplicationFailure.nonRetryable(err.cause?.message ?? err.message, ErrorType.decisionRefused);
            throw err;
          }
        }),
      ),

    /**
     * Asks Temporal to cancel a workflow (the campaign's own, on an `abort` signal): a workflow cannot
     * cancel itself, and only a cancel request ends it as Canceled. Idempotent: a repeated request,
     * or one for a workflow already closed, changes nothing.
     */
    requestWorkflowCancel: (d: { workflowId: string; runId?: string }) =>
      iterationStep(ofCallingWorkflow, () =>
        withFailurePolicy(asBookkeeping, async () => {
          if (!deps.temporalClient)
            throw ApplicationFailure.nonRetryable("this worker has no Temporal client to request a cancellation with", ErrorType.stageInput);
          const client = await deps.temporalClient();
          try {
            await client.workflow.getHandle(d.workflowId, d.runId).cancel();
            return { requested: true };
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) return { requested: false };
            throw err;
          }
        }),
      ),

    // Cluster-job stages (workflows/stageJob.ts). Submit and cancel are bookkeeping; a watch heartbeats as it polls.
    submitStageJob: (ref: StageJobRef) =>
      countingRetries(ref, () => withFailurePolicy(stepPolicy(ref, asBookkeeping), () => withHeartbeat(() => jobs.submitStageJob(ref)))),
    watchStageJob: (ref: StageJobRef & { name: string; windowSeconds: number; pollSeconds: number }) =>
      countingRetries(ref, () => withFailurePolicy(stepPolicy(ref, asBookkeeping), () => withHeartbeat(() => jobs.watchStageJob(ref)))),
    cancelStageJob: (ref: StageJobRef & { name?: string }) =>
      countingRetries(ref, () => withFailurePolicy(stepPolicy(ref, asBookkeeping), () => withHeartbeat(() => jobs.cancelStageJob(ref)))),

    /**
     * While a stage waits for an operator after EndpointUnavailable: asks the endpoints its roles call
     * `GET /models` every few seconds (src/llm/endpointRecovery.ts) until all answer, heartbeating
     * what is still silent; returns `answered: true` then, for the iteration to retry the stage.
     * Cancelled when the operator decides first. `watched: 0`: nothing to watch (the iteration waits
     * for the operator alone).
     */
    awaitStageEndpoints: (ref: StageRef) =>
      iterationStep(atIteration(ref), () =>
        withFailurePolicy(asBookkeeping, async (): Promise<{ answered: boolean; watched: number }> => {
          const actx = Context.current();
          const db = await deps.getDb();
          const { config, served, bindsServed } = await stageConfigFor(db, ref);
          let needs = stageEndpointNeeds(config, ref.stage);
          if (needs.length === 0) return { answered: false, watched: 0 };
          await noteFailedStageRun(
            db,
            ref,
            `the stage retries by itself once ${needs.map((n) => `${n.endpoint} (${n.baseUrl})`).join(" and ")} answer${needs.length === 1 ? "s" : ""} again (or decide now: campaign retry-stage / skip-stage)`,
          );
          // The loop's own policy server, when the stage calls it: restarted meanwhile if it ended by itself.
          const revival =
            bindsServed && served?.url && needs.some((n) => n.baseUrl === served.url)
              ? new ServedPolicyRevival(
                  db,
                  { campaignId: served.campaignId, iteration: served.iteration, url: served.url },
                  {
                    readyTimeoutMs: revivalReadyTimeoutMs(
                      (await frozenFor(db, served.campaignId, served.iteration)).frozen.config.stages.find((s) => s.name === "serve.policy")
                        ?.readyTimeoutMinutes as number | undefined,
                    ),
                    signal: actx.cancellationSignal,
                    progress: (line) => actx.heartbeat({ restart: line }),
                    log: deps.log,
                  },
                )
              : undefined;
          const noted = new Set<string>();
          const heartbeat = setInterval(() => actx.heartbeat(), 2000);
          try {
            const answered = await waitUntilEndpointsAnswer(() => needs, {
              signal: actx.cancellationSignal,
              onRound: async (r) => {
                actx.heartbeat({ silent: r.silent });
                if (r.silent.length === 0) return;
                const outcome = await revival?.onSilent(r.silentUrls);
                // Asked anew while something is silent: a served policy restarted elsewhere (by us, or by
                // `model restart` on another port or node) is watched where PostgreSQL now records it.
                const current = await stageConfigFor(db, ref);
                needs = stageEndpointNeeds(current.config, ref.stage);
                if (current.served?.url && current.served.url !== revival?.url) revival?.moveTo(current.served.url);
                if (!outcome) return;
                // Each kind of refusal is said once; every restart is.
                if (outcome.kind === "declined" && noted.has(outcome.why)) return;
                if (outcome.kind === "declined") noted.add(outcome.why);
                const note = revivalNote(served!, outcome);
                deps.log(`[endpoint] ${ref.campaignId} iteration ${ref.iteration} ${ref.stage}: ${note}`);
                await noteFailedStageRun(db, ref, note);
              },
            });
            if (!answered) throw new CancelledFailure("cancelled while waiting for the endpoints to answer");
            deps.log(`[endpoint] ${ref.campaignId} iteration ${ref.iteration} ${ref.stage}: ${needs.map((n) => n.endpoint).join(", ")} answer again`);
            return { answered, watched: needs.length };
          } finally {
            clearInterval(heartbeat);
          }
        }),
      ),

    async recordStageOutcome(ref: StageRef & { status: "failed" | "skipped"; error?: string }): Promise<void> {
      await iterationStep(atIteration(ref), () =>
        withFailurePolicy(asBookkeeping, () => withHeartbeat(async () => finishStageRun(await deps.getDb(), ref, ref.status, null, ref.error))),
      );
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
