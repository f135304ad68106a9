/**
 * `toolloop campaign status` and `campaign list`: what PostgreSQL recorded plus what Temporal says of
 * the workflow (description, history, pollers). Nothing here queries the workflow, so both answer at
 * once with no worker running; either source alone still gives an answer (with a note).
 */
import { derivedWorkflowIdOwner } from "../config/derivedWorkflowIds.js";
import { scheduledRunCampaignIdOf, scheduledRunWorkflowIdOf } from "../schedules/scheduledRun.js";
import fs from "node:fs";
import type { Client } from "@temporalio/client";
import type { Command } from "commander";
import pLimit from "p-limit";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { pingDatabase, type Db, type DbHandle } from "../db/client.js";
import { openCliDatabase } from "./database.js";
import { parseDatabaseUrl } from "../db/databaseUrl.js";
import { finishedBatchKeys, listCampaignRows, readCampaignFacts, registeredCampaigns, type CampaignListRow } from "../db/repos/campaignStatus.js";
import { listCampaignStageJobs } from "../db/repos/clusterJobs.js";
import { checkServedPolicies } from "../training/servedPolicyJobs.js";
import { campaignOutputDir, campaignReportPath } from "../output/layout.js";
import { campaignListEntry, mergeCampaignList, unregisteredListEntry, unregisteredWorkflows } from "../status/campaignList.js";
import { campaignView, ENDED_STATES, type CampaignView, type DbFacts, type WorkflowFacts } from "../status/campaignView.js";
import { refusedBatchNotes, withInflight } from "../status/inflight.js";
import { ErrorType } from "../framework/errorTypes.js";
import { listCampaignWorkflows, readInflightBatches, readWorkflowFacts } from "../status/workflowFacts.js";
import { endedRunMessage, recordEndedRun, rowStatusOfEndedWorkflow } from "../schedules/endedRuns.js";
import { taskQueues } from "../taskQueues.js";
import { cliEnv, defaultBaseDir, workflowUiLink, type CliEnv } from "./env.js";
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT, databaseCliError, describeDatabaseUrl, temporalCliError } from "./errors.js";
import { integerFromTo, plainDecimal } from "./options.js";
import { renderCampaignList, renderCampaignView } from "./statusView.js";
import { connectClient } from "./temporal.js";

/** Open connections to both sources; a source that cannot be reached is a note, not a failure (unless both are). */
interface Sources {
  db?: DbHandle;
  client?: Client;
  notes: string[];
  /** Why a source is missing: thrown when the other one does not know the campaign either. */
  errors: CliError[];
  close(): Promise<void>;
}

async function openSources(e: CliEnv, need: { db?: boolean; temporal?: boolean } = { db: true, temporal: true }): Promise<Sources> {
  const notes: string[] = [];
  const errors: CliError[] = [];
  let db: DbHandle | undefined;
  let client: Client | undefined;
  let closeClient: (() => Promise<void>) | undefined;
  let pgliteNotOpened = false;
  if (need.db !== false) {
    if (!e.databaseUrl) notes.push("DATABASE_URL is not set: no stage progress (Temporal's records only)");
    else if ("dir" in parseDatabaseUrl(e.databaseUrl)) {
      // An embedded PGlite folder belongs to the one process that runs it (the demo's worker); a
      // second process opening it could corrupt it.
      notes.push(`DATABASE_URL is an embedded PGlite folder, owned by the process that runs it: not opened (Temporal's records only)`);
      pgliteNotOpened = true;
    } else {
      let opened: DbHandle | undefined;
      try {
        opened = await openCliDatabase(e.databaseUrl, { poolSize: 2 });
        // The pool connects lazily: without a round trip here an unreachable server would surface
        // only at the first read, past the point where Temporal can fill in.
        await pingDatabase(opened);
        db = opened;
      } catch (err) {
        await opened?.close().catch(() => undefined);
        const known = databaseCliError(err, e.databaseUrl) ?? databaseOtherError(err, e.databaseUrl);
        // A malformed DATABASE_URL is the caller's to fix, not a source to do without.
        if (known.exitCode === EXIT_BAD_INPUT) throw known;
        errors.push(known);
        notes.push(`${withoutAdvice(known.message)}: Temporal's records only`);
      }
    }
  }
  if (need.temporal !== false) {
    try {
      const c = await connectClient(e);
      client = c.client;
      closeClient = c.close;
    } catch (err) {
      const known = temporalCliError(err, e) ?? (err instanceof CliError ? err : undefined);
      // A malformed TEMPORAL_ADDRESS is the caller's to fix, not a source to do without.
      if (!known || known.exitCode === EXIT_BAD_INPUT) throw known ?? err;
      errors.push(known);
      notes.push(`${withoutAdvice(known.message)}: PostgreSQL's records only`);
    }
  }
  if (!db && !client) throw pgliteNotOpened && errors.length === 1 ? temporalMissingBesidePglite(errors[0] as CliError) : bothMissing(errors);
  return {
    db,
    client,
    notes,
    errors,
    async close() {
      await closeClient?.().catch(() => undefined);
      await db?.close().catch(() => undefined);
    },
  };
}

/** What databaseCliError does not classify: a bad URL, a server error. */
function databaseOtherError(err: unknown, url: string): CliError {
  // drizzle wraps the driver's error ("Failed query: SELECT 1").
  const chain: string[] = [];
  for (let cur: unknown = err, n = 0; cur !== undefined && n < 5; cur = cur instanceof Error ? cur.cause : undefined, n++)
    chain.push(cur instanceof Error ? cur.message : String(cur));
  const message = chain.find((m) => !m.startsWith("Failed query:")) ?? (chain[0] as string);
  return new CliError(`PostgreSQL at ${describeDatabaseUrl(url)} (DATABASE_URL): ${message.split("\n")[0]}`, EXIT_ENVIRONMENT, { cause: err });
}

/** A source's error as the cause alone: a note, or one half of the both-down error, gives its own advice. */
const withoutAdvice = (message: string) => message.replace(/; (start it|check that) .*$/, "");

/**
 * Temporal unreachable while DATABASE_URL names a PGlite folder, which status and list leave alone:
 * said together, since "start Temporal" alone hides why the database did not fill in (a user who
 * points DATABASE_URL at a finished demo's folder), with the commands that do read such a folder.
 */
function temporalMissingBesidePglite(temporal: CliError): CliError {
  return new CliError(
    `${withoutAdvice(temporal.message)}; and DATABASE_URL is an embedded PGlite folder, which campaign status and list do not open (it belongs to the process that runs it, such as the demo): start Temporal with \`node dist/src/services/main.js up\` or set TEMPORAL_ADDRESS; \`report build\`, \`model list\` and \`sample lineage\` read a PGlite folder no process runs (a finished demo's)`,
    EXIT_ENVIRONMENT,
    { cause: temporal },
  );
}

/** Neither source can be read: one line naming each cause (a single one keeps its own advice). */
function bothMissing(errors: CliError[]): CliError {
  if (errors.length === 0) return new CliError("neither DATABASE_URL nor TEMPORAL_ADDRESS can be read", EXIT_ENVIRONMENT);
  if (errors.length === 1) return errors[0] as CliError;
  const causes = errors.map((err) => withoutAdvice(err.message));
  return new CliError(
    `${causes.join("; and ")}; start them with \`node dist/src/services/main.js up\` or set DATABASE_URL and TEMPORAL_ADDRESS`,
    EXIT_ENVIRONMENT,
    { cause: errors[0] },
  );
}

/** `campaign-x` is accepted for `x` (the workflow id), unless a campaign is really called `campaign-x`. */
async function resolveCampaign(s: Sources, id: string): Promise<{ campaignId: string; dbFacts?: DbFacts }> {
  if (s.db) {
    const direct = await readCampaignFacts(s.db.db, id);
    if (direct) return { campaignId: id, dbFacts: direct };
    if (id.startsWith("campaign-")) {
      const stripped = await readCampaignFacts(s.db.db, id.slice("campaign-".length));
      if (stripped) return { campaignId: id.slice("campaign-".length), dbFacts: stripped };
    }
  }
  return { campaignId: id.startsWith("campaign-") && !s.db ? id.slice("campaign-".length) : id };
}

/**
 * PostgreSQL's word on the campaign's live policy servers, checked with the launchers that started
 * them (as `model list` does: a few at a time, 5 s each): one that ended by itself is recorded so and
 * the facts are read again, so the view says it is not running and how to bring it back. A launcher
 * that cannot be asked leaves PostgreSQL's word, with a note.
 */
async function withServersAsked(db: Db, facts: DbFacts, notes: string[]): Promise<DbFacts> {
  const names = new Set((facts.policyServers ?? []).map((p) => p.job));
  try {
    const jobs = (await listCampaignStageJobs(db, facts.campaignId, "serve.policy")).filter((j) => names.has(j.name) && j.state !== "submitting");
    const checks = [...(await checkServedPolicies(db, jobs, { campaignId: facts.campaignId })).values()];
    for (const c of checks)
      if (c.result === "unknown")
        notes.push(`policy server ${c.job}: could not ask its ${c.launcher} launcher whether it runs (${c.reason}); PostgreSQL says it does`);
    if (!checks.some((c) => c.result === "ended")) return facts;
    return (await readCampaignFacts(db, facts.campaignId)) ?? facts;
  } catch (e) {
    notes.push(`could not check the policy servers with their launchers: ${e instanceof Error ? e.message : String(e)}`);
    return facts;
  }
}

/** The campaign's view, or a CliError (exit 2) when neither PostgreSQL nor Temporal knows the id. */
export async function loadCampaignView(s: Sources, e: CliEnv, id: string): Promise<CampaignView> {
  const resolved = await resolveCampaign(s, id);
  let { dbFacts } = resolved;
  let { campaignId } = resolved;
  let wf: WorkflowFacts | undefined;
  let workflowMissing: { namespace: string; workflowId: string } | undefined;
  const notes = [...s.notes];
  if (s.db && dbFacts?.policyServers?.length) dbFacts = await withServersAsked(s.db.db, dbFacts, notes);
  /** The id was a workflow id that is not `campaign-<campaign id>`: a schedule's run (`campaign-weekly-2026-12-07T06:00:00Z`). */
  let byScheduledWorkflowId = false;
  if (s.client) {
    try {
      wf = await readWorkflowFacts(s.client, dbFacts?.workflowId ?? campaignWorkflowId(campaignId));
      if (!wf && id.startsWith("campaign-") && !dbFacts) {
        wf = await readWorkflowFacts(s.client, id);
        const scheduledRunId = wf ? scheduledRunCampaignIdOf(id) : undefined;
        if (wf) campaignId = scheduledRunId ?? id.slice("campaign-".length);
        byScheduledWorkflowId = scheduledRunId !== undefined;
      }
      // A schedule's run no worker has registered yet: its workflow id is campaign-<schedule>-<time>.
      const scheduledWorkflowId = !wf && !dbFacts ? scheduledRunWorkflowIdOf(campaignId) : undefined;
      if (scheduledWorkflowId) wf = await readWorkflowFacts(s.client, scheduledWorkflowId);
      // Temporal answered: it has no such workflow.
      if (dbFacts && !wf) workflowMissing = { namespace: e.namespace, workflowId: dbFacts.workflowId ?? campaignWorkflowId(campaignId) };
    } catch (err) {
      const known = temporalCliError(err, e);
      if (!known || !dbFacts) throw known ?? err;
      notes.push(`Temporal: ${known.message}`);
    }
  }
  // PostgreSQL knows the campaign by the id it registered, which the asked id is not: a schedule's run
  // asked for by its workflow id (what `schedule describe` and the Temporal UI show), or a campaign
  // workflow whose CampaignId names another id (a start from the Temporal UI under `campaign-X` with
  // no campaignId registers as `campaign-X`). Before, only Temporal's half showed, without a word.
  const registeredAs =
    wf?.workflowType === "campaignWorkflow" && !dbFacts
      ? byScheduledWorkflowId
        ? campaignId
        : wf.searchCampaignId !== undefined && wf.searchCampaignId !== campaignId
          ? wf.searchCampaignId
          : undefined
      : undefined;
  if (registeredAs && s.db) {
    const facts = await readCampaignFacts(s.db.db, registeredAs);
    if (facts) {
      campaignId = registeredAs;
      dbFacts = facts.policyServers?.length ? await withServersAsked(s.db.db, facts, notes) : facts;
    }
  }
  // An id PostgreSQL does not know whose workflow is another campaign's part (`cx-iter-2`: campaign cx's iteration 2).
  if (!dbFacts && wf?.workflowType && wf.workflowType !== "campaignWorkflow") {
    const owner = derivedWorkflowIdOwner(wf.workflowId);
    const ownerId = owner?.ownerWorkflowId.replace(/^campaign-/, "");
    throw new CliError(
      `no such campaign: ${id}; workflow ${wf.workflowId} is ${owner ? `the ${owner.part} of campaign ${ownerId}` : "no campaign"} (workflow type ${wf.workflowType})` +
        (ownerId ? `: \`toolloop campaign status ${ownerId}\`` : ""),
      EXIT_BAD_INPUT,
    );
  }
  if (s.db && dbFacts && wf) dbFacts = await withEndRecorded(s.db.db, dbFacts, wf, notes);
  if (s.client && s.db && dbFacts) await addInflight(s.client, s.db, dbFacts, wf, notes);
  if (!dbFacts && !wf) {
    // One source is down and the other does not know the id: the campaign may well exist.
    if (s.errors[0]) throw s.errors[0];
    const where = [
      s.db && e.databaseUrl ? `PostgreSQL (${describeDatabaseUrl(e.databaseUrl)}) has no campaign "${campaignId}"` : undefined,
      s.client ? `Temporal (${e.temporalAddress}, namespace ${e.namespace}) has no workflow ${campaignWorkflowId(campaignId)}` : undefined,
    ].filter(Boolean);
    throw new CliError(`no such campaign: ${id}; ${where.join(" and ")}; \`toolloop campaign list\` shows the campaigns`, EXIT_BAD_INPUT);
  }
  return campaignView({
    campaignId,
    db: dbFacts,
    wf,
    notes,
    reportPath: findReport(campaignId, {
      ...(wf?.outputDir ? { outputDir: wf.outputDir } : {}),
      ...(dbFacts?.outputDirRecorded ? { recordedDir: dbFacts.outputDirRecorded } : {}),
      ...(dbFacts?.outputDirSetting !== undefined ? { setting: dbFacts.outputDirSetting } : {}),
    }),
    ...(workflowMissing ? { workflowMissing } : {}),
  });
}

/**
 * A row still running whose workflow Temporal says ended: terminated or timed out (a schedule's
 * terminateOther overlap, an operator's terminate; no cleanup ran), cancelled or failed without
 * writing its end (src/schedules/endedRuns.ts). Its end is recorded here, so a later run of its
 * schedule can continue from it.
 */
async function withEndRecorded(db: Db, facts: DbFacts, wf: WorkflowFacts, notes: string[]): Promise<DbFacts> {
  if (facts.status !== "running" || rowStatusOfEndedWorkflow(wf.status) === undefined) return facts;
  try {
    const row = { id: facts.campaignId, status: facts.status, workflowId: wf.workflowId, updatedAt: new Date(facts.updatedAt) };
    const ended = await recordEndedRun(db, row, wf);
    if (!ended) return facts;
    notes.push(`PostgreSQL recorded the campaign as running; ${endedRunMessage(ended).replace(/^campaign \S+: /, "")}`);
    return { ...facts, status: ended.rowStatus };
  } catch (e) {
    notes.push(`could not record the campaign's end (${rowStatusOfEndedWorkflow(wf.status)}) in PostgreSQL: ${e instanceof Error ? e.message : String(e)}`);
    return facts;
  }
}

/**
 * A listed row still running whose workflow run Temporal says ended without recording it (terminated,
 * timed out, cancelled or failed: src/schedules/endedRuns.ts), recorded as `campaign status` records it (withEndRecorded): `campaign list` showed such a run
 * as running in PostgreSQL's status for good, and it was never continued from until a status or the
 * next run of its schedule came by. A failure to write is a note; the row is listed as read.
 */
export async function withListedEndRecorded(db: Db, row: CampaignListRow, wf: WorkflowFacts, notes: string[]): Promise<CampaignListRow> {
  if (row.status !== "running" || rowStatusOfEndedWorkflow(wf.status) === undefined) return row;
  try {
    const ended = await recordEndedRun(db, { id: row.campaignId, status: row.status, workflowId: wf.workflowId, updatedAt: new Date(row.updatedAt) }, wf);
    if (!ended) return row;
    notes.push(endedRunMessage(ended));
    return { ...row, status: ended.rowStatus };
  } catch (e) {
    notes.push(
      `could not record campaign ${row.campaignId} as ${rowStatusOfEndedWorkflow(wf.status)} in PostgreSQL: ${e instanceof Error ? e.message : String(e)}`,
    );
    return row;
  }
}

/**
 * The running batches' progress (their activities' heartbeats, from Temporal's description of the
 * running iteration and its chunk children) added to their stages: PostgreSQL records a batch only
 * once it finishes. A failure to read it is a note; the finished batches still show.
 */
async function addInflight(client: Client, db: DbHandle, facts: DbFacts, wf: WorkflowFacts | undefined, notes: string[]): Promise<void> {
  const n = facts.iteration?.n;
  if (wf?.status !== "RUNNING" || !wf.iterationWorkflowId || n === undefined || !facts.stages.some((st) => st.status === "running")) return;
  try {
    const batches = (await readInflightBatches(client, wf.iterationWorkflowId)).filter((b) => b.iteration === n);
    if (batches.length === 0) return;
    notes.push(...refusedBatchNotes(batches, ErrorType.stageNotOnWorker));
    facts.stages = withInflight(facts.stages, batches, await finishedBatchKeys(db.db, facts.campaignId, n, batches));
  } catch (err) {
    notes.push(
      `the running batches' progress could not be read from Temporal (${err instanceof Error ? err.message.split("\n")[0] : String(err)}): finished batches only`,
    );
  }
}

/**
 * The campaign report when the file exists, in the campaign's own output folder: the one the worker
 * resolved (the memo or plan, else the report folder it recorded in PostgreSQL). Only when neither
 * is known, the config's output.dir resolved against TOOLLOOP_BASE_DIR or the current folder (the
 * worker's default): a known folder without the report is not second-guessed, since a file at a
 * guessed place may be a stray copy with broken links, not the campaign's report.
 */
export function findReport(
  campaignId: string,
  known: { outputDir?: string; recordedDir?: string; setting?: string },
  baseDir = defaultBaseDir(),
): string | undefined {
  const dir = known.outputDir ?? known.recordedDir ?? (known.setting !== undefined ? campaignOutputDir(baseDir, known.setting, campaignId) : undefined);
  if (!dir) return undefined;
  const p = campaignReportPath(dir);
  return fs.existsSync(p) ? p : undefined;
}

async function printStatus(id: string, opts: { json?: boolean; watch?: boolean; interval?: string }): Promise<void> {
  const e = cliEnv();
  // Without --watch there is nothing to refresh: a given --interval would be ignored without a word.
  if (opts.interval !== undefined && !opts.watch) throw new CliError(`--interval applies only with --watch; add --watch or leave out --interval`);
  const interval = opts.interval ?? "2";
  const intervalS = plainDecimal(interval);
  if (intervalS === undefined || intervalS < 0.2 || intervalS > 3600)
    throw new CliError(`--interval: expected seconds between 0.2 and 3600, got ${JSON.stringify(interval)}`);
  const s = await openSources(e);
  try {
    let last = "";
    for (;;) {
      const v = await loadCampaignView(s, e, id);
      const text = opts.json ? JSON.stringify(v, null, 2) : renderCampaignView(v, v.workflowId ? { uiLink: workflowUiLink(e, v.workflowId) } : {});
      if (!opts.watch) {
        console.log(text);
        return;
      }
      if (text !== last) {
        // A terminal redraws in place; a pipe or a log gets each new state once.
        if (process.stdout.isTTY && !opts.json) process.stdout.write("\x1b[H\x1b[2J");
        console.log(text);
        last = text;
      }
      if (ENDED_STATES.has(v.state)) {
        if (v.state !== "completed") process.exitCode = EXIT_ENVIRONMENT;
        return;
      }
      await new Promise((r) => setTimeout(r, intervalS * 1000));
    }
  } finally {
    await s.close();
  }
}

async function printList(opts: { json?: boolean; limit: string }): Promise<void> {
  const e = cliEnv();
  const limit = integerFromTo("--limit", opts.limit, 1, 1000);
  if (!e.databaseUrl) throw new CliError("campaign list reads the campaigns from PostgreSQL: set DATABASE_URL", EXIT_ENVIRONMENT);
  const s = await openSources(e);
  try {
    // The campaigns come from PostgreSQL (Temporal alone cannot tell a campaign's name, stages or
    // progress); Temporal adds only the campaign workflows PostgreSQL has no record of yet.
    if (!s.db) throw s.errors[0] ?? new CliError("PostgreSQL cannot be reached (DATABASE_URL)", EXIT_ENVIRONMENT);
    const db = s.db.db;
    const client = s.client;
    const notes = [...s.notes];
    // Campaign workflows Temporal has on this deployment's queue but PostgreSQL does not (started
    // while no worker ran): one visibility query, read alongside PostgreSQL's rows. A failure is a
    // note: the list is PostgreSQL's then, as before.
    const taskQueue = taskQueues(e.queuePrefix).workflows;
    const [rows, listed] = await Promise.all([
      listCampaignRows(db, { limit }),
      client
        ? listCampaignWorkflows(client, { taskQueue, limit }).catch((err: unknown) => {
            const known = temporalCliError(err, e);
            notes.push(
              `Temporal (namespace ${e.namespace}) could not list the campaign workflows on ${taskQueue}: ${withoutAdvice(known?.message ?? (err instanceof Error ? err.message : String(err))).split("\n")[0]}; campaigns no worker has run are not shown`,
            );
            return [];
          })
        : Promise.resolve([]),
    ]);
    const unregistered = unregisteredWorkflows(listed, await registeredCampaigns(db, listed));
    const run = pLimit(8);
    const wfFacts = (workflowId: string) =>
      client ? readWorkflowFacts(client, workflowId, { checkPollers: false }).catch(() => undefined) : Promise.resolve(undefined);
    /** The workflow's facts, and whether Temporal answered that it has none (an error is not an answer). */
    const rowFacts = async (workflowId: string) => {
      if (!client) return { wf: undefined };
      try {
        const wf = await readWorkflowFacts(client, workflowId, { checkPollers: false });
        return wf ? { wf } : { wf, missing: { namespace: e.namespace, workflowId } };
      } catch {
        return { wf: undefined };
      }
    };
    const [registered, temporalOnly] = await Promise.all([
      Promise.all(
        rows.map((row) =>
          run(async () => {
            const { wf, missing } = await rowFacts(row.workflowId ?? campaignWorkflowId(row.campaignId));
            return campaignListEntry(wf ? await withListedEndRecorded(db, row, wf, notes) : row, wf, missing);
          }),
        ),
      ),
      Promise.all(unregistered.map((w) => run(async () => unregisteredListEntry(w, await wfFacts(w.workflowId))))),
    ]);
    const entries = mergeCampaignList(registered, temporalOnly, limit);
    if (opts.json) console.log(JSON.stringify({ campaigns: entries, notes }, null, 2));
    else {
      console.log(renderCampaignList(entries));
      for (const n of notes) console.log(`note: ${n}`);
    }
  } finally {
    await s.close();
  }
}

export function registerStatusCommands(campaign: Command): void {
  campaign
    .command("status <id>")
    .description("a campaign's true state, stage progress and next commands, from PostgreSQL and Temporal (no worker needed); id: campaign id or workflow id")
    .option("--watch", "refresh until the campaign ends (exit 1 unless it completed)")
    .option("--interval <seconds>", "refresh interval for --watch, only with --watch (default: 2)")
    .option("--json", "print the status as JSON")
    .action((id: string, opts: { watch?: boolean; json?: boolean; interval?: string }) => printStatus(id, opts));

  campaign
    .command("list")
    .description("campaigns, newest first, with their true state (from PostgreSQL and Temporal; no worker needed)")
    .option("--limit <n>", "how many", "20")
    .option("--json", "print the list as JSON")
    .action((opts: { json?: boolean; limit: string }) => printList(opts));
}
