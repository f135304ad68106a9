/**
 * `toolloop model list ID`: a campaign's policy lineage from model_versions (base -> checkpoint ->
 * merged -> served, per iteration, with the job and the training data that made each, and whether a
 * served one still serves: asked of the launcher that started it, for each PostgreSQL records as
 * live). `toolloop model stop ID`: stops its policy servers through their launcher. Both read
 * PostgreSQL and the launchers: no worker or Temporal needed.
 */
import type { Command } from "commander";
import type { Db } from "../db/client.js";
import { openCliDatabase } from "./database.js";
import { getCampaign } from "../db/repos/campaigns.js";
import { livePolicyServers } from "../db/repos/campaignStatus.js";
import { listCampaignStageJobs, type ClusterJobRow } from "../db/repos/clusterJobs.js";
import { checkpointsDeletedOf, listModelVersions, type ModelVersionRow } from "../db/repos/modelVersions.js";
import { CLI } from "../status/campaignView.js";
import {
  checkServedPolicies,
  servingState,
  stopServedPolicy,
  StopServedPolicyError,
  type ServerCheck,
  type StopOutcome,
} from "../training/servedPolicyJobs.js";
import { restartServedPolicy, RestartServedPolicyError, type RestartOutcome } from "../training/servedPolicyRestart.js";
import { formatBytes } from "../util/jsonFile.js";
import { cliEnv } from "./env.js";
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from "./errors.js";

export function registerModelCommands(program: Command): void {
  const model = program.command("model").description("the policy versions a campaign trained and served");
  model
    .command("list")
    .argument("<campaignId>")
    .option("--json", "print the rows as JSON")
    .option("--iteration <n>", "only the versions of this iteration")
    .option("--last <k>", "only the versions of the last k iterations that made any (a long campaign lists 4 per iteration)")
    .description("the campaign's model versions, oldest first (needs DATABASE_URL)")
    .action(async (campaignId: string, opts: { json?: boolean; iteration?: string; last?: string }) => {
      const only = listSelection(opts);
      const url = cliEnv().databaseUrl;
      if (!url) throw new CliError("model list reads PostgreSQL: set DATABASE_URL", EXIT_ENVIRONMENT);
      const db = await openCliDatabase(url);
      try {
        const all = await listedVersions(db.db, campaignId);
        // No rows and no campaign: a mistyped id, not a campaign that has not trained yet.
        if (all.length === 0 && !(await getCampaign(db.db, campaignId))) {
          throw new CliError(`no campaign ${JSON.stringify(campaignId)} in PostgreSQL; check the id (\`campaign list\` shows them)`);
        }
        const rows = versionsIn(all, only);
        if (only.iteration !== undefined && rows.length === 0 && all.length > 0) {
          const its = [...new Set(all.map((r) => r.iteration))].sort((a, b) => a - b);
          throw new CliError(
            `--iteration ${only.iteration}: campaign ${campaignId} has no model version in iteration ${only.iteration} (it has some in iterations ${its[0]}-${its[its.length - 1]})`,
            EXIT_BAD_INPUT,
          );
        }
        if (opts.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        if (rows.length === 0) {
          console.log(`campaign ${campaignId} has no model versions yet (train.sft and train.grpo register them)`);
          return;
        }
        for (const line of formatModelVersions(rows)) console.log(line);
      } finally {
        await db.close();
      }
    });
  model
    .command("stop")
    .argument("<campaignId>")
    .option("--iteration <n>", "only the server of this iteration")
    .option("--version <id>", "only this served version (an id `model list` prints, e.g. ID:2:served)")
    .option("--force", "stop it even while a running campaign calls it")
    .option("--json", "print what was done as JSON")
    .description("stop the campaign's policy servers through the launcher that started them (needs DATABASE_URL)")
    .action(async (campaignId: string, opts: { iteration?: string; version?: string; force?: boolean; json?: boolean }) => {
      const iteration = iterationOption(campaignId, opts);
      const url = cliEnv().databaseUrl;
      if (!url) throw new CliError("model stop reads PostgreSQL: set DATABASE_URL", EXIT_ENVIRONMENT);
      const db = await openCliDatabase(url);
      try {
        let outcomes: StopOutcome[];
        try {
          outcomes = await stopServedPolicy(db.db, { campaignId, ...(iteration !== undefined ? { iteration } : {}), force: Boolean(opts.force) });
        } catch (e) {
          if (!(e instanceof StopServedPolicyError)) throw e;
          throw new CliError(e.message, e.kind === "unknown-campaign" || e.kind === "unknown-version" ? EXIT_BAD_INPUT : EXIT_ENVIRONMENT);
        }
        if (opts.json) console.log(JSON.stringify(outcomes, null, 2));
        else for (const line of formatStopOutcomes(campaignId, outcomes, iteration)) console.log(line);
      } finally {
        await db.close();
      }
    });
  model
    .command("restart")
    .argument("<campaignId>")
    .option("--iteration <n>", "the server of this iteration (default: the campaign's newest served version)")
    .option("--version <id>", "this served version (an id `model list` prints, e.g. ID:2:served)")
    .option("--timeout-seconds <s>", "how long the restarted server may take to answer (default 600)")
    .option("--stopped", "restart it also when it was stopped on purpose (`model stop`)")
    .option("--json", "print what was done as JSON")
    .description("bring back a policy server that ended by itself: its job again, through the launcher that started it (needs DATABASE_URL)")
    .action(async (campaignId: string, opts: { iteration?: string; version?: string; timeoutSeconds?: string; stopped?: boolean; json?: boolean }) => {
      const iteration = iterationOption(campaignId, opts);
      let readyTimeoutMs: number | undefined;
      if (opts.timeoutSeconds !== undefined) {
        if (!/^[1-9]\d{0,5}$/.test(opts.timeoutSeconds))
          throw new CliError(`--timeout-seconds ${JSON.stringify(opts.timeoutSeconds)}: expected a whole number of seconds from 1 to 999999`);
        readyTimeoutMs = Number(opts.timeoutSeconds) * 1000;
      }
      const url = cliEnv().databaseUrl;
      if (!url) throw new CliError("model restart reads PostgreSQL: set DATABASE_URL", EXIT_ENVIRONMENT);
      const db = await openCliDatabase(url);
      try {
        let outcome: RestartOutcome;
        try {
          outcome = await restartServedPolicy(db.db, {
            campaignId,
            ...(iteration !== undefined ? { iteration } : {}),
            ...(readyTimeoutMs !== undefined ? { readyTimeoutMs } : {}),
            ...(opts.stopped ? { stopped: true } : {}),
            // Progress goes to stderr, so --json's stdout stays one document.
            progress: (line) => console.error(`[model restart] ${line}`),
            log: (line) => console.error(line),
          });
        } catch (e) {
          if (!(e instanceof RestartServedPolicyError)) throw e;
          throw new CliError(e.message, e.kind === "unknown-campaign" || e.kind === "unknown-version" ? EXIT_BAD_INPUT : EXIT_ENVIRONMENT);
        }
        if (opts.json) console.log(JSON.stringify(outcome, null, 2));
        else for (const line of formatRestartOutcome(campaignId, outcome)) console.log(line);
      } finally {
        await db.close();
      }
    });
}

/** What `model restart` did, and what to run next. */
export function formatRestartOutcome(campaignId: string, o: RestartOutcome): string[] {
  const p = o.previous;
  const how = `${p.state}${p.message ? ` (${p.message})` : p.exitCode !== undefined ? ` (exit ${p.exitCode})` : ""}`;
  const id = /^[A-Za-z0-9._-]+$/.test(campaignId) ? campaignId : JSON.stringify(campaignId);
  return [
    `iteration ${o.iteration} ${o.version}: ${p.job} had ended, ${how}`,
    `restarted as ${o.job} (${o.launcher} ${o.externalId}, attempt ${o.attempt}); ${o.servedModel} serves at ${o.url}${o.urlChanged ? " (a new URL, recorded: later stages call it)" : " (the URL recorded before)"} after ${Math.round(o.readyAfterMs / 1000)} s`,
    `a stage waiting on it runs again with \`${CLI} campaign retry-stage ${id}\``,
  ];
}

/**
 * Said where a campaign ends (`campaign start --wait`) or is aborted: no campaign end stops its
 * policy servers. Best effort: nothing without DATABASE_URL or when PostgreSQL cannot be read.
 */
export async function policyServerNote(campaignId: string, when: "ended" | "abort"): Promise<string | undefined> {
  const url = cliEnv().databaseUrl;
  if (!url) return undefined;
  try {
    const db = await openCliDatabase(url);
    try {
      // Only servers that served: a server still starting is its stage's own job, which the abort cancels with the stage.
      const servers = (await livePolicyServers(db.db, campaignId)).filter((s) => s.url !== undefined);
      if (servers.length === 0) return undefined;
      const which = servers.map((s) => `iteration ${s.iteration}${s.url ? ` at ${s.url}` : ""}`).join(", ");
      const id = /^[A-Za-z0-9._-]+$/.test(campaignId) ? campaignId : JSON.stringify(campaignId);
      return when === "abort"
        ? `its policy server keeps running after the abort (${which}): stop it with \`${CLI} model stop ${id}\` once the campaign has ended`
        : `its policy server keeps running (${which}): stop it with \`${CLI} model stop ${id}\` when nothing calls it any more`;
    } finally {
      await db.close();
    }
  } catch {
    return undefined;
  }
}

/** --iteration N or --version <campaign>:<N>:served, checked against the campaign id. */
/** `model list --iteration N | --last K`, checked. */
function listSelection(opts: { iteration?: string; last?: string }): { iteration?: number; last?: number } {
  if (opts.iteration !== undefined && opts.last !== undefined) throw new CliError("give --iteration or --last, not both", EXIT_BAD_INPUT);
  const whole = (name: string, v: string) => {
    if (!/^[1-9]\d{0,8}$/.test(v)) throw new CliError(`${name} ${JSON.stringify(v)}: expected a positive whole number`, EXIT_BAD_INPUT);
    return Number(v);
  };
  if (opts.iteration !== undefined) return { iteration: whole("--iteration", opts.iteration) };
  if (opts.last !== undefined) return { last: whole("--last", opts.last) };
  return {};
}

/** The versions of one iteration, or of the last `last` iterations that have any; all of them when neither is given. */
export function versionsIn<T extends { iteration: number }>(rows: readonly T[], only: { iteration?: number; last?: number }): T[] {
  if (only.iteration !== undefined) return rows.filter((r) => r.iteration === only.iteration);
  if (only.last !== undefined) {
    const keep = new Set([...new Set(rows.map((r) => r.iteration))].sort((a, b) => b - a).slice(0, only.last));
    return rows.filter((r) => keep.has(r.iteration));
  }
  return [...rows];
}

function iterationOption(campaignId: string, opts: { iteration?: string; version?: string }): number | undefined {
  if (opts.iteration !== undefined && opts.version !== undefined) throw new CliError("give --iteration or --version, not both");
  if (opts.version !== undefined) {
    const prefix = `${campaignId}:`;
    const m = opts.version.startsWith(prefix) ? /^(\d+):served$/.exec(opts.version.slice(prefix.length)) : null;
    if (!m)
      throw new CliError(
        `--version ${JSON.stringify(opts.version)} is not a served version of ${campaignId}: expected ${campaignId}:<iteration>:served, as \`${CLI} model list ${campaignId}\` prints`,
      );
    return Number(m[1]);
  }
  if (opts.iteration === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(opts.iteration)) throw new CliError(`--iteration ${JSON.stringify(opts.iteration)}: expected a positive whole number`);
  return Number(opts.iteration);
}

/**
 * One line per server: what was done to it. `iteration`: the one server asked for (--iteration or
 * --version), of which alone the headline speaks: another iteration's may run.
 */
export function formatStopOutcomes(campaignId: string, outcomes: StopOutcome[], iteration?: number): string[] {
  if (outcomes.length === 0) return [`campaign ${campaignId} has no policy server (serve.policy never submitted a job); nothing to stop`];
  if (outcomes.every((o) => o.action === "unchanged")) {
    return [
      iteration === undefined
        ? `no policy server of ${campaignId} is running; nothing to stop`
        : `the policy server of ${campaignId} iteration ${iteration} is not running; nothing to stop (\`${CLI} model list ${campaignId}\` shows the others)`,
      ...outcomes.map((o) => `  iteration ${o.iteration} ${o.job}: ${o.state}${o.message ? ` (${o.message})` : ""}`),
    ];
  }
  return outcomes.map((o) => {
    const what = o.action === "stopped" ? "stopped" : o.action === "ended" ? "had ended already by itself" : "not running";
    return `iteration ${o.iteration} ${o.job} (${o.launcher}): ${what}, ${o.state}${o.message && o.action !== "stopped" ? ` (${o.message})` : ""}`;
  });
}

/**
 * A served version's state: `serving` (its launcher says it runs), `unconfirmed` (PostgreSQL records
 * it running but its launcher could not be asked: `servingNote` says why), `stopped`, or `ended` (by
 * itself; `server` says how, as its launcher said).
 */
export type ListedVersion = ModelVersionRow & {
  serving?: "serving" | "unconfirmed" | "stopped" | "ended";
  servingNote?: string;
  server?: { job: string; launcher: string; state: string; exitCode?: number; message?: string };
};

/**
 * The campaign's versions, each served one with its state: those PostgreSQL records as serving are
 * asked of their launcher, and one that ended by itself is recorded so (as `model stop` records it)
 * before the rows are read again.
 */
async function listedVersions(db: Db, campaignId: string): Promise<ListedVersion[]> {
  const read = async () => {
    const jobs = new Map((await listCampaignStageJobs(db, campaignId, "serve.policy")).map((j) => [j.name, j]));
    return { jobs, versions: await listModelVersions(db, campaignId) };
  };
  let { jobs, versions } = await read();
  const serving = new Set(versions.filter((v) => servingState(v, jobs) === "serving" && v.jobName).map((v) => v.jobName!));
  const checks = await checkServedPolicies(
    db,
    [...jobs.values()].filter((j) => serving.has(j.name)),
    { campaignId },
  );
  if ([...checks.values()].some((c) => c.result === "ended")) ({ jobs, versions } = await read());
  return versions.map((r) => withServing(r, jobs, checks));
}

function withServing(r: ModelVersionRow, jobs: Map<string, ClusterJobRow>, checks: Map<string, ServerCheck>): ListedVersion {
  const serving = servingState(r, jobs);
  if (!serving) return r;
  const job = r.jobName ? jobs.get(r.jobName) : undefined;
  const check = r.jobName ? checks.get(r.jobName) : undefined;
  const server = job
    ? {
        server: {
          job: job.name,
          launcher: job.launcher,
          state: job.state,
          ...(job.exitCode !== null ? { exitCode: job.exitCode } : {}),
          ...(job.message ? { message: job.message } : {}),
        },
      }
    : {};
  if (serving === "serving" && check?.result === "unknown") {
    return {
      ...r,
      serving: "unconfirmed",
      servingNote: `could not ask the ${check.launcher} launcher whether ${check.job} still runs (${check.reason}); PostgreSQL last recorded it ${job?.state ?? "running"}`,
      ...server,
    };
  }
  return { ...r, serving, ...server };
}

/** `exited failed (exit 137: ...)`: how a server that ended by itself ended, as its launcher said. */
function endedText(server: ListedVersion["server"]): string {
  if (!server) return "exited";
  const { exitCode, message } = server;
  const code = exitCode !== undefined && !(message ?? "").includes(`code ${exitCode}`) ? `exit ${exitCode}` : undefined;
  const detail = [code, message].filter(Boolean).join(": ");
  return `exited ${server.state}${detail ? ` (${detail})` : ""}`;
}

/**
 * Two lines per version: what and where, then its id, parent, job and training data counts; a third,
 * `note:`, for a server whose launcher could not be asked (shown `SERVING?`).
 */
export function formatModelVersions(rows: ListedVersion[]): string[] {
  return rows.map((r) => {
    const state =
      r.serving === "serving"
        ? "  SERVING"
        : r.serving === "unconfirmed"
          ? "  SERVING?"
          : r.serving === "stopped"
            ? `  stopped${r.stoppedAt ? ` ${new Date(r.stoppedAt).toISOString()}` : ""}`
            : r.serving === "ended"
              ? `  ${endedText(r.server)}`
              : "";
    const where = r.url ? `${r.url} (${r.servedModel})${state}` : (r.path ?? "");
    const data = (r.dataset as { counts?: Record<string, number> } | null)?.counts;
    const deleted = checkpointsDeletedOf(r);
    return (
      `iteration ${r.iteration} ${r.kind.padEnd(10)} ${where}${r.simulated ? "  [SIMULATED]" : ""}\n` +
      `    id ${r.id}  from ${r.parentId ?? `base ${r.baseModel}`}${r.jobName ? `  job ${r.jobName}` : ""}${data ? `  data ${JSON.stringify(data)}` : ""}` +
      (deleted
        ? `\n    checkpoints deleted ${deleted.at} after the merge into ${deleted.mergedModel}: ` +
          `${deleted.steps.map((s) => `global_step_${s}`).join(", ") || "no complete step"}, ${formatBytes(deleted.bytes)} freed`
        : "") +
      (r.servingNote ? `\n    note: ${r.servingNote}` : "")
    );
  });
}
