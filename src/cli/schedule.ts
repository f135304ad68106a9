/**
 * `toolloop schedule ...`: the config's `schedules[]` as Temporal Schedules (weekly campaigns).
 * create/update are the same idempotent upsert: created when absent, else updated keeping the
 * schedule's state (paused, note, running campaigns, action counts).
 */
import { ScheduleNotFoundError, isGrpcServiceError, type Client, type ScheduleOverlapPolicy } from "@temporalio/client";
import type { Command } from "commander";
import { OVERLAP_POLICIES, type OverlapPolicyName } from "../config/scheduleConfig.js";
import {
  OVERLAP,
  renderScheduleDescription,
  scheduleRefusal,
  scheduledWorkflowIdPrefix,
  upsertSchedule,
  triggerWhileRunningNote,
  type RunningCampaign,
} from "../schedules/temporalSchedule.js";
import { CampaignIdKey, CampaignStatusKey, StageKey } from "../../workflows/searchAttributes.js";
import { backfillRange, backfillRefusal, DEFAULT_BACKFILL_MAX_RUNS, parseBackfillTime } from "../schedules/backfillRange.js";
import { optionalDateToTs, tsToDate } from "@temporalio/common/lib/time.js";
import { positiveInteger } from "./options.js";
import { scheduledRunCampaignIdOf } from "../schedules/scheduledRun.js";
import { checkToolSources, readConfigFile, refuseNewCampaignIssues } from "./campaign.js";
import { CLI } from "../status/campaignView.js";
import { cliEnv, type CliEnv } from "./env.js";
import { CliError, EXIT_BAD_INPUT, temporalCliError } from "./errors.js";
import { connectClient } from "./temporal.js";

/** gRPC's NOT_FOUND status code. */
const GRPC_NOT_FOUND = 5;

async function withClient<T>(fn: (client: Client, e: CliEnv) => Promise<T>, scheduleId?: string): Promise<T> {
  const e = cliEnv();
  const { client, close } = await connectClient(e);
  try {
    return await fn(client, e);
  } catch (err) {
    if (err instanceof ScheduleNotFoundError)
      throw new CliError(`no such schedule: ${scheduleId ?? err.scheduleId}; \`schedule list\` shows the schedules of namespace ${e.namespace}`, undefined, {
        cause: err,
      });
    throw temporalCliError(err, e) ?? err;
  } finally {
    await close();
  }
}

function overlapOption(value: string | undefined, flag = "--overlap"): ScheduleOverlapPolicy | undefined {
  if (value === undefined) return undefined;
  if (!(OVERLAP_POLICIES as readonly string[]).includes(value))
    throw new CliError(`${flag}: expected one of ${OVERLAP_POLICIES.join(", ")}, got ${JSON.stringify(value)}`);
  return OVERLAP[value as OverlapPolicyName];
}

function timeOption(value: string, flag: string): Date {
  const r = parseBackfillTime(value);
  if ("problem" in r) throw new CliError(`${flag}: ${r.problem}, got ${JSON.stringify(value)}`);
  return r.time;
}

/**
 * The state each running action's campaign publishes (its workflow's search attributes: CampaignId,
 * CampaignStatus, Stage), read from Temporal, so no database is needed. One that cannot be read is
 * shown without its state.
 */
async function runningCampaigns(client: Client, workflowIds: string[]): Promise<RunningCampaign[]> {
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const all = await Promise.all(
    workflowIds.map(async (workflowId): Promise<RunningCampaign> => {
      const desc = await client.workflow
        .getHandle(workflowId)
        .describe()
        .catch(() => undefined);
      const sa = desc?.typedSearchAttributes;
      if (!sa) return { workflowId };
      // A run no worker has started yet has no CampaignId: the id it will register under.
      const campaignId = str(sa.get(CampaignIdKey)) ?? scheduledRunCampaignIdOf(workflowId);
      const status = str(sa.get(CampaignStatusKey));
      const stage = str(sa.get(StageKey));
      return { workflowId, ...(campaignId ? { campaignId } : {}), ...(status ? { status } : {}), ...(stage ? { stage } : {}) };
    }),
  );
  return all;
}

/** A schedule's lineage is its id's: what `create` does with the runs of a schedule deleted earlier. */
const LINEAGE_HELP = `
Each run continues from the schedule's previous run, found by the schedule id (campaigns.schedule_id).
A schedule deleted and created again under the same id continues that lineage: its first run
continues from the latest run made under that id before (its policy and pool). To start a fresh
lineage, give the schedule a new id.`;

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command("schedule").description("weekly (or any cadence) campaigns with Temporal Schedules: the config's schedules[]");

  for (const name of ["create", "update"] as const) {
    schedule
      .command(name)
      .description(
        name === "create"
          ? "create the config's schedules (an existing one is updated, keeping its state)"
          : "update the config's schedules, keeping their state (paused, running campaigns, counts); one that is absent is created",
      )
      .requiredOption("--config <file>", "campaign config (JSON) with schedules[]")
      .option("--schedule <id>", "only this schedule of the config")
      .addHelpText("after", LINEAGE_HELP)
      .action(async (opts: { config: string; schedule?: string }) => {
        const { config, frozen, hash, newCampaignIssues } = readConfigFile(opts.config);
        // Each run of the schedule is a new campaign: its registration would refuse the config.
        refuseNewCampaignIssues(opts.config, newCampaignIssues);
        const all = config.schedules ?? [];
        if (all.length === 0)
          throw new CliError(
            `${opts.config}: schedules: the config has no schedules; add one, e.g. "schedules": [{ "id": "weekly", "spec": { "cron": ["0 6 * * MON"] } }]`,
          );
        const chosen = opts.schedule === undefined ? all : all.filter((s) => s.id === opts.schedule);
        if (chosen.length === 0) throw new CliError(`--schedule: no schedule "${opts.schedule}" in ${opts.config}; it has: ${all.map((s) => s.id).join(", ")}`);
        await checkToolSources(config, opts.config);
        if (config.campaignId !== undefined)
          console.error(`warning: campaignId "${config.campaignId}" is not used by scheduled runs: each is named <schedule id>-<scheduled UTC time>`);
        await withClient(async (client, e) => {
          for (const s of chosen) {
            const r = await upsertSchedule(client, { schedule: s, frozen, configHash: hash, queuePrefix: e.queuePrefix }).catch((err: unknown) => {
              // What the config check let through but the server refuses (its rules may differ): bad input, in its words.
              const reason = scheduleRefusal(err);
              if (reason === undefined) throw err;
              throw new CliError(
                `schedule ${s.id} (${opts.config}, schedules[${all.indexOf(s)}]): Temporal at ${e.temporalAddress} refused it: ${reason}`,
                EXIT_BAD_INPUT,
                { cause: err },
              );
            });
            console.log(`${r.outcome} schedule ${s.id} (config sha256 ${hash}); runs start workflows ${scheduledWorkflowIdPrefix(s.id)}-<scheduled time>`);
            console.log(`Temporal UI: ${e.uiUrl}/namespaces/${encodeURIComponent(e.namespace)}/schedules/${encodeURIComponent(s.id)}`);
          }
        });
      });
  }

  schedule
    .command("describe <id>")
    .description("a schedule's spec, policies, state, counts, running, recent and next runs")
    .option("--json", "print the description as JSON")
    .action(async (id: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const d = await client.schedule.getHandle(id).describe();
        const running = await runningCampaigns(
          client,
          d.info.runningActions.map((r) => r.workflow.workflowId),
        );
        if (opts.json) {
          const { raw: _raw, ...rest } = d;
          console.log(JSON.stringify({ ...rest, action: { ...rest.action, args: undefined }, runningCampaigns: running }, null, 2));
        } else console.log(renderScheduleDescription(d, [], running).join("\n"));
      }, id);
    });

  schedule
    .command("list")
    .description("the namespace's schedules")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const rows: {
          scheduleId: string;
          paused: boolean;
          note?: string;
          workflowType?: string;
          /** The scheduled time of the run started last (a backfilled run's is in the past). */
          recent?: string;
          /** When that run started. */
          recentStartedAt?: string;
          next?: string;
        }[] = [];
        for await (const s of client.schedule.list()) {
          // The run started last, by when it started: a backfill starts runs scheduled weeks ago.
          const last = [...s.info.recentActions].sort((a, b) => a.takenAt.getTime() - b.takenAt.getTime()).at(-1);
          rows.push({
            scheduleId: s.scheduleId,
            paused: s.state.paused,
            note: s.state.note,
            workflowType: s.action?.workflowType,
            recent: last?.scheduledAt.toISOString(),
            recentStartedAt: last?.takenAt.toISOString(),
            next: s.info.nextActionTimes[0]?.toISOString(),
          });
        }
        if (opts.json) return console.log(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return console.log("no schedules");
        for (const r of rows) {
          const last = r.recent ? `last run started ${r.recentStartedAt} (scheduled for ${r.recent})` : "no run yet";
          // A paused schedule starts nothing at the next time the server lists (it stops updating it: it may be past).
          const next = r.paused ? "none while paused" : (r.next ?? "-");
          console.log(`${r.scheduleId}: ${r.paused ? "PAUSED" : "active"}, ${last}, next ${next}${r.note ? ` (note: ${r.note})` : ""}`);
        }
      });
    });

  for (const [name, desc] of [
    ["pause", "stop starting timed runs (running campaigns go on; trigger and backfill still start runs)"],
    ["unpause", "start runs again at the next scheduled time (missed ones within the catch-up window start now)"],
  ] as const) {
    schedule
      .command(`${name} <id>`)
      .description(desc)
      .option("--note <text>", "shown beside the schedule's state")
      .action(async (id: string, opts: { note?: string }) => {
        await withClient(async (client, e) => {
          const h = client.schedule.getHandle(id);
          // Pausing a paused schedule (or unpausing an active one) would only overwrite its note: say so, as `campaign pause|resume` do.
          const { state } = await h.describe();
          if (state.paused === (name === "pause")) {
            const noted = state.note ? ` (note: ${state.note})` : "";
            console.log(
              name === "pause"
                ? `pause: schedule ${id} is already paused${noted}; nothing changed (\`${CLI} schedule unpause ${id}\` starts its runs again)`
                : `unpause: schedule ${id} is not paused${noted}; nothing changed`,
            );
            return;
          }
          const note = opts.note ?? `${name}d with toolloop schedule ${name}`;
          await (name === "pause" ? h.pause(note) : h.unpause(note)).catch((err: unknown) => {
            // The server refuses a note over its length limit (INVALID_ARGUMENT): bad input, in its words.
            const reason = scheduleRefusal(err);
            if (reason === undefined) throw err;
            throw new CliError(`--note: Temporal at ${e.temporalAddress} refused it (${note.length} characters): ${reason}`, EXIT_BAD_INPUT, { cause: err });
          });
          console.log(`${name}: schedule ${id} (${note})`);
        }, id);
      });
  }

  schedule
    .command("trigger <id>")
    .description("start a run now (a new campaign scheduled for now)")
    .option("--overlap <policy>", `if a run is still going: ${OVERLAP_POLICIES.join(", ")} (default: the schedule's own policy)`)
    .action(async (id: string, opts: { overlap?: string }) => {
      const overlap = overlapOption(opts.overlap);
      await withClient(async (client) => {
        const h = client.schedule.getHandle(id);
        const d = await h.describe();
        const policy = overlap ?? d.policies.overlap;
        await h.trigger(policy);
        console.log(`trigger: schedule ${id} asked to start a run now (overlap ${policy}); \`schedule describe ${id}\` shows it`);
        // Under SKIP (or a buffer already taken) the server drops the run without a word: say so.
        const open = await runningCampaigns(
          client,
          d.info.runningActions.map((r) => r.workflow.workflowId),
        );
        const note = triggerWhileRunningNote(id, policy ?? "SKIP", open);
        if (note) console.log(`note: ${note}`);
        // Temporal starts a triggered run of a paused schedule too: say so, pausing stops only the timed runs.
        if (d.state.paused) console.log(`note: schedule ${id} is paused: this run starts anyway; its timed runs stay stopped until \`schedule unpause ${id}\``);
      }, id);
    });

  schedule
    .command("backfill <id>")
    .description("start the runs the schedule would have started between two times (one campaign each, each continuing from the one before)")
    .requiredOption("--from <time>", "ISO 8601 start, inclusive (2026-11-02, or 2026-11-02T06:00:00Z: a time needs Z or an offset)")
    .requiredOption("--to <time>", "ISO 8601 end, exclusive (a run scheduled exactly then is not started)")
    .option("--overlap <policy>", `${OVERLAP_POLICIES.join(", ")} (default bufferAll: the runs go one after another, so each continues from the one before)`)
    .option("--max-runs <n>", `refuse a range holding more runs than this (default ${DEFAULT_BACKFILL_MAX_RUNS}): each run is a campaign`)
    .action(async (id: string, opts: { from: string; to: string; overlap?: string; maxRuns?: string }) => {
      const start = timeOption(opts.from, "--from");
      const end = timeOption(opts.to, "--to");
      if (end.getTime() <= start.getTime()) throw new CliError(`--to: expected a time after --from (${start.toISOString()}), got ${end.toISOString()}`);
      const overlap = overlapOption(opts.overlap) ?? OVERLAP.bufferAll;
      const maxRuns = opts.maxRuns === undefined ? DEFAULT_BACKFILL_MAX_RUNS : positiveInteger("--max-runs", opts.maxRuns);
      await withClient(async (client, e) => {
        const range = backfillRange(start, end);
        // The runs the range holds, as the server computes them from the schedule's spec (its zone, calendars and intervals).
        const listed = await client.workflowService
          .listScheduleMatchingTimes({
            namespace: e.namespace,
            scheduleId: id,
            startTime: optionalDateToTs(range.start),
            endTime: optionalDateToTs(range.end),
          })
          .catch((err: unknown) => {
            // The raw service call, unlike the schedule handle's, answers an unknown id with a bare gRPC NOT_FOUND.
            if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) throw new ScheduleNotFoundError(err.details, id);
            throw err;
          });
        const times = (listed.startTime ?? []).map((t) => tsToDate(t));
        const refusal = backfillRefusal(id, times, maxRuns);
        if (refusal) throw new CliError(refusal);
        const span = `from ${start.toISOString()} (inclusive) to ${end.toISOString()} (exclusive)`;
        if (times.length === 0) {
          console.log(`backfill: schedule ${id} has no run scheduled ${span}; nothing started`);
          return;
        }
        await client.schedule.getHandle(id).backfill({ ...range, overlap });
        const which =
          times.length === 1 ? `1 run (${times[0]!.toISOString()})` : `${times.length} runs (${times[0]!.toISOString()} to ${times.at(-1)!.toISOString()})`;
        console.log(`backfill: schedule ${id}: ${which} scheduled ${span} (overlap ${overlap}); \`schedule describe ${id}\` shows them`);
      }, id);
    });

  schedule
    .command("delete <id>")
    .description("delete the schedule (campaigns it started keep running; their data stays, and a schedule created again under this id continues from them)")
    .action(async (id: string) => {
      await withClient(async (client) => {
        await client.schedule.getHandle(id).delete();
        console.log(`deleted schedule ${id}`);
      }, id);
    });
}
