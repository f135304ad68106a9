/** `toolloop campaign ...`: start campaigns and drive them (status, pause, resume, retry, skip, abort). */
import path from "node:path";
import { WorkflowIdConflictPolicy, WorkflowNotFoundError, type Client } from "@temporalio/client";
import { TypedSearchAttributes } from "@temporalio/common";
import type { Command } from "commander";
import {
  campaignWorkflowId,
  pauseSignal,
  resumeSignal,
  retryStageUpdate,
  skipStageUpdate,
  statusQuery,
  type CampaignStatus,
  type IterationStatus,
} from "../../workflows/definitions.js";
import { CampaignIdKey, CampaignStatusKey, IterationKey } from "../../workflows/searchAttributes.js";
import { CONFIG_LIMITS, CONFIG_SIZE_HINT, parseCampaignConfig, type CampaignConfig } from "../config/campaignConfig.js";
import { describeConfigDiff, freezeCampaignConfig, frozenConfigHash, isFrozenCampaignConfig, type FrozenCampaignConfig } from "../config/frozen.js";
import type { DbHandle } from "../db/client.js";
import { openCliDatabase } from "./database.js";
import { parseDatabaseUrl } from "../db/databaseUrl.js";
import { latestConfig } from "../db/repos/campaignConfigs.js";
import { getCampaign, lastCompletedIteration } from "../db/repos/campaigns.js";
import { asScheduledRerun } from "../schedules/scheduledConfig.js";
import { scheduledRunWorkflowIdOf } from "../schedules/scheduledRun.js";
import { newConfigVersionRefusal } from "../config/configVersion.js";
import { campaignWorkflowIdProblem, derivedWorkflowIdOwner } from "../config/derivedWorkflowIds.js";
import { loadToolLibrary, type ToolLoadResult } from "../tools/library.js";
import { JsonFileError, readJsonFileSync } from "../util/jsonFile.js";
import { taskQueues } from "../taskQueues.js";
import { outputFolderLine } from "./outputFolder.js";
import { cliEnv, workflowUiLink, type CliEnv } from "./env.js";
import { campaignIdProblem } from "../config/campaignIdRule.js";
import { CliError, EXIT_ENVIRONMENT, campaignEndedError, isNoWorkerAnswer, isTemporalOutage, temporalCliError, type TemporalContext } from "./errors.js";
import { registerStatusCommands } from "./campaignStatus.js";
import { abortCampaign, campaignStartMetadata } from "./abortAndMetadata.js";
import { policyServerNote } from "./model.js";
import { changedEntries, renderStatus } from "./progress.js";
import { readInflightBatches, readWorkflowFacts } from "../status/workflowFacts.js";
import { CLI, noWorkerYetNote } from "../status/campaignView.js";
import { iterationWithInflight } from "../status/inflight.js";
import { noAnswerFromWorker, operatorCallRefusal } from "../status/operatorCalls.js";
import { checkEndpointsForStart } from "./endpointCheck.js";
import { newCampaignConfigIssues, type NewCampaignIssue } from "../config/newCampaignChecks.js";
import { connectClient } from "./temporal.js";

export { CliError } from "./errors.js";

/**
 * Reads a campaign config file and freezes it (defaults applied, tool paths resolved against the
 * file's folder, sha256): the one parse a campaign's config gets. Errors name the file and the field.
 */
export function readConfigFile(file: string): {
  raw: unknown;
  config: CampaignConfig;
  frozen: FrozenCampaignConfig;
  hash: string;
  warnings: string[];
  /** What a new campaign may not start with (src/config/newCampaignChecks.ts); a registered one started again keeps its config. */
  newCampaignIssues: NewCampaignIssue[];
} {
  let raw: unknown;
  try {
    raw = readJsonFileSync(file, { maxBytes: CONFIG_LIMITS.configBytes, what: "a campaign config" });
  } catch (err) {
    if (!(err instanceof JsonFileError)) throw err;
    throw new CliError(`--config: ${err.message}${err.problem === "too_large" ? `; ${CONFIG_SIZE_HINT}` : ""}`, undefined, { cause: err });
  }
  // A frozen config (the form `campaign validate` prints and workers store) is taken as it is by the
  // freeze, so a field this build does not define would reach the workers unchecked: it is checked
  // as a config as written is, its paths under `config`.
  if (isFrozenCampaignConfig(raw)) {
    const check = parseCampaignConfig(raw.config);
    if (!check.ok) {
      const at = (p: string) => (p === "(root)" ? "config" : p.startsWith("[") ? `config${p}` : `config.${p}`);
      throw new CliError(`invalid campaign config ${file}:\n${check.error.issues.map((i) => `  ${at(i.path)}: ${i.message}`).join("\n")}`);
    }
  }
  const r = freezeCampaignConfig(raw, { configDir: path.dirname(path.resolve(file)) });
  if (!r.ok) {
    const where = uiStartInputConfigPath(raw);
    if (where !== undefined)
      throw new CliError(
        `invalid campaign config ${file}: it is a Temporal UI start input, not a campaign config; its campaign config is its \`${where}\`: save that object as a file of its own for \`campaign validate\` and \`campaign start\`, or paste the input into the UI's Start Workflow form (docs/operations.md)`,
      );
    throw new CliError(`invalid campaign config ${file}:\n${r.error.issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`);
  }
  for (const w of r.warnings) console.error(`warning: ${w}`);
  return { raw, config: r.frozen.config, frozen: r.frozen, hash: r.hash, warnings: r.warnings, newCampaignIssues: newCampaignConfigIssues(r.frozen.config) };
}

/** Refuses a config a new campaign may not start with, naming each field (`campaign validate`, `start`, `schedule create`). */
export function refuseNewCampaignIssues(file: string, issues: readonly NewCampaignIssue[]): void {
  if (issues.length > 0) throw new CliError(`invalid campaign config ${file}:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`);
}

/**
 * Where the campaign config sits in a file that holds a Temporal UI start instead of a config: the
 * whole form (`examples/ui-start.json`: workflowType, taskQueue, workflowId, input) or its input
 * (`{campaignId, config}`). Read only once the file failed as a config, so a config is never taken
 * for one.
 */
/** The fields a start's input sets (workflows/campaign.ts, CampaignInput). */
const START_INPUT_FIELDS = new Set(["config", "configDir", "newConfigVersion", "campaignId", "schedule"]);
function uiStartInputConfigPath(raw: unknown): string | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(raw)) return undefined;
  if ("workflowType" in raw && isObject(raw.input) && isObject(raw.input.config)) return "input.config";
  if (isObject(raw.config) && Object.keys(raw).every((k) => START_INPUT_FIELDS.has(k))) return "config";
  return undefined;
}

/**
 * With DATABASE_URL set, refuses early (with the differences) to start an existing campaign id with
 * another config unless a new config version is asked for; the campaign's registration enforces the
 * same rule for starts that skip the CLI. The id of a schedule's run (the rerun of a failed week)
 * starts with the config as the schedule registered it: the file's config with the run's id and the
 * seed of its scheduled time (src/schedules/scheduledConfig.ts), so an unchanged file is no change.
 * Returns the config to start with, its hash and the workflow id the campaign registered with: a
 * scheduled run's (`campaign-<schedule>-<time>`) is not `campaign-<id>`, and starting under another
 * id would run a second workflow beside one still waiting for an operator, and leave `campaign
 * status` reading the old, failed one.
 */
async function checkConfigChange(
  campaignId: string,
  fileFrozen: FrozenCampaignConfig,
  fileHash: string,
  newVersion: boolean,
): Promise<{ frozen: FrozenCampaignConfig; hash: string; workflowId?: string; registered?: boolean; allIterationsDone?: number }> {
  const asIs = { frozen: fileFrozen, hash: fileHash };
  const url = cliEnv().databaseUrl;
  if (!url) return asIs;
  // A malformed DATABASE_URL is refused like in every other command; an unreachable one skips the check.
  parseDatabaseUrl(url);
  let db: DbHandle;
  try {
    db = await openCliDatabase(url);
  } catch {
    return asIs;
  }
  try {
    const row = await getCampaign(db.db, campaignId).catch(() => undefined);
    const workflowId = row?.workflowId ?? undefined;
    const rerun = asScheduledRerun(fileFrozen, row, campaignId);
    const frozen = rerun?.frozen ?? fileFrozen;
    const hash = rerun ? frozenConfigHash(frozen) : fileHash;
    if (rerun)
      console.log(
        `campaign ${campaignId} is schedule ${rerun.run.scheduleId}'s run for ${rerun.run.scheduledTime}: started with that id and its seed ${frozen.config.seed} (not the file's ${fileFrozen.config.seed})`,
      );
    const current = await latestConfig(db.db, campaignId).catch(() => undefined);
    if (!current || current.sha256 === hash) {
      // The same config on a campaign whose iterations have all completed: a start would run nothing.
      const done = row && current ? await lastCompletedIteration(db.db, campaignId).catch(() => 0) : 0;
      const allIterationsDone = done > 0 && done >= frozen.config.iterations ? frozen.config.iterations : undefined;
      return { frozen, hash, workflowId, registered: row !== undefined, ...(allIterationsDone ? { allIterationsDone } : {}) };
    }
    if (newVersion) {
      const refusal = newConfigVersionRefusal({
        campaignId,
        currentVersion: current.version,
        lastCompletedIteration: await lastCompletedIteration(db.db, campaignId),
        newIterations: frozen.config.iterations,
      });
      if (refusal) throw new CliError(refusal);
      console.log(`config version ${current.version + 1} will apply to campaign ${campaignId} from its next iteration`);
      return { frozen, hash, workflowId, registered: row !== undefined };
    }
    const diff = describeConfigDiff(current.frozen.config, frozen.config);
    throw new CliError(
      `campaign ${campaignId} is registered with another config (version ${current.version}); differences:\n  ${diff.join("\n  ")}\n` +
        `rerun with --config-version to record this config as version ${current.version + 1} from the next iteration, or use another --id`,
    );
  } finally {
    await db.close();
  }
}

/**
 * Loads the config's tool sources (paths relative to the config file's folder) the way a worker will,
 * so a missing file or a file without one usable tool stops `campaign start` instead of failing the
 * first stage later. Invalid tools in an otherwise good file are warnings: the loader skips them.
 */
export async function checkToolSources(config: CampaignConfig, configFile: string): Promise<{ result: ToolLoadResult; warnings: string[] }> {
  const dir = path.dirname(path.resolve(configFile));
  // Frozen paths are absolute; messages name each file as the config wrote it (relative to its folder).
  const asWritten = config.tools.sources.map((src) => ("path" in src ? { ...src, path: path.relative(dir, src.path) || "." } : src));
  const result = await loadToolLibrary(asWritten, dir);
  const sourceErrors = result.errors.filter((e) => e.index === -1);
  const toolErrors = result.errors.filter((e) => e.index !== -1).map((e) => `${e.source}: ${e.message}`);
  if (sourceErrors.length > 0 || result.tools.length === 0) {
    const lines = [...sourceErrors.map((e) => `${e.source}: ${e.message}`), ...toolErrors];
    const headline = result.tools.length === 0 ? "no valid tool loads from tools.sources" : "a tool source cannot be loaded";
    throw new CliError(`${headline} (paths are relative to ${path.dirname(path.resolve(configFile))}):\n${lines.map((l) => `  ${l}`).join("\n")}`);
  }
  return { result, warnings: toolErrors };
}

export function defaultCampaignId(config: CampaignConfig, now = new Date()): string {
  return config.campaignId ?? `${config.name}-${now.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-")}`;
}

export async function startCampaign(
  client: Client,
  e: CliEnv,
  p: {
    frozen: FrozenCampaignConfig;
    campaignId: string;
    newConfigVersion?: boolean;
    /** The registered campaign's own (default `campaign-<id>`). */ workflowId?: string;
  },
) {
  const workflowId = p.workflowId ?? campaignWorkflowId(p.campaignId);
  const handle = await client.workflow.start("campaignWorkflow", {
    // What the Temporal UI shows above the campaign's page (user metadata, fixed at start).
    ...campaignStartMetadata(p.frozen, p.campaignId),
    workflowId,
    taskQueue: taskQueues(e.queuePrefix).workflows,
    args: [{ config: p.frozen, campaignId: p.campaignId, ...(p.newConfigVersion ? { newConfigVersion: true } : {}) }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    typedSearchAttributes: new TypedSearchAttributes([
      { key: CampaignIdKey, value: p.campaignId },
      { key: IterationKey, value: 1 },
      { key: CampaignStatusKey, value: "running" },
    ]),
  });
  return handle;
}

export async function fetchStatus(client: Client, workflowId: string): Promise<{ campaign: CampaignStatus; iteration?: IterationStatus }> {
  const campaign = (await client.workflow.getHandle(workflowId).query(statusQuery)) as CampaignStatus;
  let iteration: IterationStatus | undefined;
  if (campaign.iterationWorkflowId && campaign.state !== "completed") {
    // Batch-level progress lives in the iteration workflow; the campaign only hears of transitions.
    iteration = (await client.workflow
      .getHandle(campaign.iterationWorkflowId)
      .query(statusQuery)
      .catch(() => undefined)) as IterationStatus | undefined;
  }
  return { campaign, iteration };
}

/**
 * The campaign workflow's id: `campaign-<id>` for a campaign started by `campaign start`; a scheduled
 * run's (`campaign-<schedule>-<time>`) is found by its CampaignId search attribute.
 */
async function toWorkflowId(client: Client, id: string): Promise<string> {
  return notAnotherCampaignsPart(client, id, await campaignWorkflowIdFor(client, id));
}

/**
 * `workflowId` itself unless it is a part of a campaign (its iteration, a stage's cluster job or
 * batch chunk: `campaign-cx-iter-2` for `campaign abort cx-iter-2`), which an operator command must
 * not reach: an iteration takes pause, resume, abort, retry and skip like its campaign, so a
 * mistyped id would have stopped another campaign's work.
 */
async function notAnotherCampaignsPart(client: Client, id: string, workflowId: string): Promise<string> {
  const owner = derivedWorkflowIdOwner(workflowId);
  if (!owner) return workflowId;
  const type = await client.workflow
    .getHandle(workflowId)
    .describe()
    .then((d) => d.type)
    .catch(() => undefined);
  if (type === undefined || type === "campaignWorkflow") return workflowId;
  const ownerId = owner.ownerWorkflowId.startsWith("campaign-") ? owner.ownerWorkflowId.slice("campaign-".length) : owner.ownerWorkflowId;
  throw new CliError(
    `no campaign ${JSON.stringify(id)}: workflow ${workflowId} is the ${owner.part} of campaign ${ownerId} (workflow type ${type}), not a campaign; ` +
      `operator commands take the campaign's id (\`${CLI} campaign status ${ownerId}\`)`,
  );
}

async function campaignWorkflowIdFor(client: Client, id: string): Promise<string> {
  if (id.startsWith("campaign-")) return id;
  const query = `WorkflowType = "campaignWorkflow" AND CampaignId = ${JSON.stringify(id)}`;
  try {
    for await (const wf of client.workflow.list({ query, pageSize: 1 })) return wf.workflowId;
  } catch {
    // Visibility without the search attribute (or unreachable): the conventional id below.
  }
  // A schedule's run no worker has started yet has no CampaignId: its workflow id has the scheduled form.
  const scheduled = scheduledRunWorkflowIdOf(id);
  if (scheduled) {
    const found = await client.workflow
      .getHandle(scheduled)
      .describe()
      .then(() => true)
      .catch(() => false);
    if (found) return scheduled;
  }
  return campaignWorkflowId(id);
}

/**
 * The error for an operator command that reached a closed campaign workflow, or undefined when the
 * workflow is open or absent. Temporal answers a signal to a closed workflow with the same
 * WorkflowNotFoundError as for a missing one; describe() tells them apart.
 */
async function endedCampaign(client: Client, workflowId: string, id: string, verb: string): Promise<CliError | undefined> {
  const desc = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
  if (!desc || desc.status.name === "RUNNING") return undefined;
  return campaignEndedError(id, workflowId, desc.status.name, verb);
}

/** Sends an operator signal; a closed campaign is reported as ended rather than as missing. */
async function signalCampaign(client: Client, workflowId: string, id: string, verb: string, send: () => Promise<void>): Promise<void> {
  try {
    await send();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw (await endedCampaign(client, workflowId, id, verb)) ?? err;
    throw err;
  }
}

/**
 * After a signal or an abort: when no worker has run the campaign yet, says that what was sent waits
 * until one does, and how to end it without one. Sent is sent: failing to read this is not an error.
 */
async function noteIfNoWorkerYet(client: Client, workflowId: string): Promise<void> {
  const facts = await readWorkflowFacts(client, workflowId).catch(() => undefined);
  if (facts?.status === "RUNNING" && facts.noWorkerYet) console.log(`note: ${noWorkerYetNote(facts)}`);
}

/** How long `pause` and `resume` wait for the status query that tells whether the campaign is paused. */
const PAUSED_QUERY_DEADLINE_MS = 10_000;

/**
 * Whether the campaign is paused now, as its status query says; undefined when that cannot be read
 * promptly: the workflow is not running (the signal then reports it as ended), no worker has run it
 * yet or none polls its queue (the query would wait out Temporal's deadline), or none answered.
 */
async function pausedNow(client: Client, workflowId: string): Promise<{ paused: boolean; state: string } | undefined> {
  const facts = await readWorkflowFacts(client, workflowId).catch(() => undefined);
  if (facts?.status !== "RUNNING" || facts.noWorkerYet || facts.workerPolling === false) return undefined;
  const status = (await client.connection
    .withDeadline(Date.now() + PAUSED_QUERY_DEADLINE_MS, () => client.workflow.getHandle(workflowId).query(statusQuery))
    .catch(() => undefined)) as CampaignStatus | undefined;
  return status ? { paused: status.paused, state: status.state } : undefined;
}

/** Runs `fn` with a connected client; what the SDK throws becomes a CliError that says what to do. */
async function withClient<T>(ctx: TemporalContext, fn: (client: Client, e: CliEnv) => Promise<T>): Promise<T> {
  const e = cliEnv();
  const { client, close } = await connectClient(e);
  try {
    return await fn(client, e);
  } catch (err) {
    throw temporalCliError(err, e, ctx) ?? err;
  } finally {
    await close();
  }
}

function printToolSummary(config: CampaignConfig, checked: { result: ToolLoadResult; warnings: string[] }): void {
  const n = checked.result.tools.length;
  console.log(`tools: ${n} loaded from ${config.tools.sources.length} source${config.tools.sources.length === 1 ? "" : "s"}`);
  for (const w of checked.warnings) console.error(`warning: skipped ${w}`);
}

export function registerCampaignCommands(program: Command): void {
  const campaign = program.command("campaign").description("start and operate campaigns");

  campaign
    .command("start")
    .description("validate a campaign config and start it")
    .requiredOption(
      "--config <file>",
      "campaign config (JSON); also when --id starts a registered campaign again: the config it was started with, or a changed one with --config-version",
    )
    .option(
      "--id <campaignId>",
      "campaign id (default: config.campaignId, else name + UTC timestamp); reuse an id to resume a finished, failed or aborted campaign",
    )
    .option("--wait", "follow progress until the campaign ends")
    .option("--config-version", "the id exists with another config: record this one as its next version, applying from the next iteration")
    .option("--skip-endpoint-check", "start without checking that every endpoint answers GET /models and serves the configured models")
    .action(async (opts: { config: string; id?: string; wait?: boolean; configVersion?: boolean; skipEndpointCheck?: boolean }) => {
      const { config, frozen: fileFrozen, hash: fileHash, newCampaignIssues } = readConfigFile(opts.config);
      // What a registration accepts (up to 128 characters): a default id (name and timestamp, up to 79) can be given back to resume it.
      const badId = opts.id === undefined ? undefined : campaignIdProblem(opts.id, "--id");
      if (badId) throw new CliError(badId);
      printToolSummary(config, await checkToolSources(config, opts.config));
      const campaignId = opts.id ?? defaultCampaignId(config);
      const { frozen, hash, workflowId, registered, allIterationsDone } = await checkConfigChange(
        campaignId,
        fileFrozen,
        fileHash,
        opts.configVersion ?? false,
      );
      if (allIterationsDone !== undefined) {
        console.log(
          `campaign ${campaignId} has completed all ${allIterationsDone} iterations; nothing is left to run, nothing started. ` +
            `To continue it, raise iterations in the config and start it as a new config version (--config-version)`,
        );
        return;
      }
      // A campaign registered with such a config (before the check) is started again as it was frozen: said, not refused.
      if (registered && !opts.configVersion) for (const i of newCampaignIssues) console.error(`warning: ${i.path}: ${i.message}`);
      else refuseNewCampaignIssues(opts.config, newCampaignIssues);
      // A new campaign must not take the workflow id another campaign's iteration runs under (a
      // registered one is let through: refusing its rerun would not free the id it already uses).
      const idProblem = registered
        ? undefined
        : campaignWorkflowIdProblem(
            workflowId ?? campaignWorkflowId(campaignId),
            campaignId,
            opts.id !== undefined ? "--id" : config.campaignId ? "campaignId" : "campaign id",
          );
      if (idProblem) throw new CliError(idProblem);
      await withClient({ campaignId }, async (client, e) => {
        if (!opts.skipEndpointCheck) await checkEndpointsForStart(frozen.config, registered ? { campaignId } : {});
        const handle = await startCampaign(client, e, { frozen, campaignId, newConfigVersion: opts.configVersion, workflowId });
        console.log(`config sha256 ${hash}`);
        console.log(`started campaign ${campaignId}`);
        console.log(`workflow id: ${handle.workflowId}`);
        console.log(`Temporal UI: ${workflowUiLink(e, handle.workflowId)}`);
        console.log(outputFolderLine(config.output.dir, campaignId));
        if (opts.wait) {
          // Ctrl-C stops only the following: say that the campaign goes on and how to follow it again.
          const onInterrupt = () =>
            process.stdout.write(
              `stopped following (Ctrl-C leaves the campaign as it is): campaign ${campaignId} goes on running; \`${CLI} campaign status ${campaignId} --watch\` follows it\n`,
              () => process.exit(130),
            );
          process.once("SIGINT", onInterrupt);
          try {
            await follow(client, handle.workflowId);
          } finally {
            process.off("SIGINT", onInterrupt);
            const note = await policyServerNote(campaignId, "ended");
            if (note) console.log(note);
          }
        }
      });
    });

  campaign
    .command("validate")
    .description("check a campaign config and its tool files without starting anything; print the frozen config")
    .requiredOption("--config <file>", "campaign config (JSON)")
    .option("--json", "print only the frozen config as JSON (defaults applied, paths resolved)")
    .action(async (opts: { config: string; json?: boolean }) => {
      const { config, frozen, hash, newCampaignIssues } = readConfigFile(opts.config);
      refuseNewCampaignIssues(opts.config, newCampaignIssues);
      // What `campaign start` refuses for a new campaign, refused here too (validate reads no database).
      const idProblem = config.campaignId ? campaignWorkflowIdProblem(campaignWorkflowId(config.campaignId), config.campaignId, "campaignId") : undefined;
      if (idProblem) throw new CliError(idProblem);
      const checked = await checkToolSources(config, opts.config);
      if (opts.json) {
        console.log(JSON.stringify({ sha256: hash, ...frozen }, null, 2));
        return;
      }
      console.log(
        `OK: ${opts.config}: campaign "${config.name}", ${config.iterations} iteration${config.iterations === 1 ? "" : "s"}, endpoints ${Object.keys(config.endpoints).join(", ")}`,
      );
      const when = { first: " (first iteration only)", later: " (from the second iteration on)" } as const;
      for (const s of config.stages)
        console.log(
          `  stage ${s.name}${"count" in s ? `: ${s.count} samples in batches of ${s.batchSize}` : ""}${s.runIn === "first" || s.runIn === "later" ? when[s.runIn] : ""}`,
        );
      printToolSummary(config, checked);
      console.log(`frozen config (sha256 ${hash}; defaults applied, tool paths resolved against ${frozen.configDir}):`);
      console.log(JSON.stringify(frozen.config, null, 2));
    });

  registerStatusCommands(campaign);

  for (const [name, update, desc] of [
    ["retry-stage", retryStageUpdate, "retry the stage waiting for an operator (finished batches are not redone)"],
    ["skip-stage", skipStageUpdate, "skip the stage waiting for an operator"],
  ] as const) {
    campaign
      .command(`${name} <id>`)
      .description(desc)
      .option("--stage <name>", "the stage expected to be waiting")
      .action(async (id: string, opts: { stage?: string }) => {
        await withClient({ campaignId: id }, async (client) => {
          const workflowId = await toWorkflowId(client, id);
          // A closed campaign first: its status query would wait for a worker, and its iteration has
          // ended too ("workflow execution already completed").
          const ended = await endedCampaign(client, workflowId, id, name.replace(/-stage$/, ""));
          if (ended) throw ended;
          // The status query and the update are answered by a worker: without one, say so now rather
          // than after Temporal's 30 s deadline as a server that "did not answer".
          const facts = await readWorkflowFacts(client, workflowId).catch(() => undefined);
          const refusal = facts && operatorCallRefusal(name, id, facts);
          if (refusal) throw new CliError(refusal, EXIT_ENVIRONMENT);
          const { campaign: c } = await fetchStatus(client, workflowId).catch((err: unknown) => {
            throw isNoWorkerAnswer(err) && facts ? new CliError(noAnswerFromWorker(name, facts), EXIT_ENVIRONMENT, { cause: err }) : err;
          });
          if (!c.iterationWorkflowId) throw new CliError(`campaign ${id} has no running iteration`);
          try {
            const r = await client.workflow.getHandle(c.iterationWorkflowId).executeUpdate(update, { args: [{ stage: opts.stage }] });
            console.log(`${name}: ${r.stage} accepted`);
          } catch (err) {
            throw new CliError(`${name} rejected: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
          }
        });
      });
  }

  for (const [name, signal, desc] of [
    ["pause", pauseSignal, "stop starting new batches and iterations (batches in flight finish)"],
    ["resume", resumeSignal, "continue a paused campaign"],
  ] as const) {
    campaign
      .command(`${name} <id>`)
      .description(desc)
      .action(async (id: string) => {
        await withClient({ campaignId: id }, async (client) => {
          const workflowId = await toWorkflowId(client, id);
          // The signal alone would be accepted either way: say so instead of "sent" when it would change nothing.
          const now = await pausedNow(client, workflowId);
          if (now && now.paused === (name === "pause")) {
            console.log(
              name === "pause"
                ? `pause: campaign ${id} is already paused; nothing sent (\`${CLI} campaign resume ${id}\` continues it)`
                : `resume: campaign ${id} is not paused (it is ${now.state.replaceAll("_", " ")}); nothing sent`,
            );
            return;
          }
          await signalCampaign(client, workflowId, id, name, () => client.workflow.getHandle(workflowId).signal(signal));
          console.log(`${name}: sent to ${workflowId}`);
          await noteIfNoWorkerYet(client, workflowId);
        });
      });
  }

  campaign
    .command("abort <id>")
    .description("cancel running work and end the campaign as aborted")
    .option("--reason <text>", "recorded in the status")
    .action(async (id: string, opts: { reason?: string }) => {
      await withClient({ campaignId: id }, async (client) => {
        const workflowId = await toWorkflowId(client, id);
        await signalCampaign(client, workflowId, id, "abort", () => abortCampaign(client, workflowId, opts.reason));
        console.log(`abort: sent to ${workflowId} (the workflow records the reason, cancels its work and ends as Canceled)`);
        await noteIfNoWorkerYet(client, workflowId);
        const note = await policyServerNote(id, "abort");
        if (note) console.log(note);
      });
    });
}

/**
 * The iteration's status with its running batches' items (their heartbeats; the workflow counts a
 * batch once it finishes). Read after the status query (iterationWithInflight); unreadable: as queried.
 */
async function withRunningBatches(client: Client, c: CampaignStatus, it: IterationStatus | undefined): Promise<IterationStatus | undefined> {
  if (!it || !c.iterationWorkflowId || !it.stages.some((s) => s.state === "running")) return it;
  const batches = await readInflightBatches(client, c.iterationWorkflowId).catch(() => []);
  const mine = batches.filter((b) => b.iteration === it.iteration);
  return mine.length > 0 ? { ...it, stages: iterationWithInflight(it.stages, mine) } : it;
}

/** How long `--wait` lets a worker take a new campaign before saying that none has. */
const WAITING_FOR_WORKER_AFTER_MS = 5_000;

/**
 * Prints status whenever it changes until the campaign workflow closes: the whole view on a terminal,
 * only its changed entries otherwise (`changesOnly`), or a log would repeat every unchanged line on
 * every refresh.
 */
export async function follow(
  client: Client,
  workflowId: string,
  intervalMs = 1000,
  out: (s: string) => void = (s) => console.log(s),
  changesOnly = !process.stdout.isTTY,
): Promise<CampaignStatus> {
  let last = "";
  const started = Date.now();
  // Until a worker has taken the campaign, its status query would only wait for Temporal's deadline.
  let workerSeen = false;
  let saidWaiting = false;
  // When Temporal went away (a restart): said once, then said again when it answers; the campaign runs on without us.
  let outageSince: number | undefined;
  for (;;) {
    let desc: Awaited<ReturnType<ReturnType<Client["workflow"]["getHandle"]>["describe"]>>;
    try {
      desc = await client.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (!isTemporalOutage(err)) throw err;
      if (outageSince === undefined) {
        outageSince = Date.now();
        out(
          `(Temporal does not answer: ${err instanceof Error ? err.message : String(err)}; still following: the campaign carries on, and this resumes when Temporal is back)`,
        );
      }
      await new Promise((r) => setTimeout(r, Math.max(intervalMs, 2000)));
      continue;
    }
    if (outageSince !== undefined) {
      out(`(Temporal answers again after ${Math.round((Date.now() - outageSince) / 1000)} s)`);
      outageSince = undefined;
    }
    const open = desc.status.name === "RUNNING";
    let rendered: string | undefined;
    let status: CampaignStatus | undefined;
    let facts: Awaited<ReturnType<typeof readWorkflowFacts>>;
    if (!workerSeen) {
      facts = await readWorkflowFacts(client, workflowId).catch(() => undefined);
      if (facts && !facts.noWorkerYet) workerSeen = true;
    }
    if (!workerSeen && facts) {
      // No worker has taken it: nothing to ask (a closed one, terminated, is reported below). A worker
      // usually takes a new campaign within a second or two, so this is said only when it does not;
      // and once: a worker starting to poll changes the note's words, not what the operator should know.
      if (open && !saidWaiting && (facts.workerPolling === false || Date.now() - started >= WAITING_FOR_WORKER_AFTER_MS)) {
        rendered = `(waiting: ${noWorkerYetNote(facts)})`;
        saidWaiting = true;
      }
    } else {
      try {
        const s = await fetchStatus(client, workflowId);
        status = s.campaign;
        rendered = renderStatus(s.campaign, await withRunningBatches(client, s.campaign, s.iteration));
      } catch (err) {
        rendered = isNoWorkerAnswer(err)
          ? `(status unavailable: no worker answered the status query; is a worker running on task queue ${desc.taskQueue}?)`
          : `(status unavailable: ${err instanceof Error ? err.message : String(err)})`;
      }
    }
    if (rendered !== undefined && rendered !== last) {
      const shown = changesOnly ? changedEntries(last, rendered) : rendered;
      if (shown !== "") out(shown);
      last = rendered;
    }
    if (!open) {
      if (desc.status.name !== "COMPLETED") {
        // The first real error (or the abort / terminate reason), not the SDK's wrapper message.
        const facts = await readWorkflowFacts(client, workflowId, { checkPollers: false }).catch(() => undefined);
        const why = facts?.failure?.message ?? facts?.terminateReason ?? facts?.abortReason;
        throw new CliError(`campaign workflow ${workflowId} ended ${desc.status.name}${why ? `: ${why}` : ""}`, 1);
      }
      return status as CampaignStatus;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
