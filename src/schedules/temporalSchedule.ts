/**
 * A config's `schedules[]` as Temporal Schedules: each one's action starts `campaignWorkflow` with
 * the frozen config and the schedule's id; every run registers as a campaign of its own
 * (src/schedules/scheduledRun.ts) and continues from the schedule's previous campaign.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  ServiceError,
  isGrpcServiceError,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleOptionsStartWorkflowAction,
} from "@temporalio/client";
import { TypedSearchAttributes, type Workflow } from "@temporalio/common";
import { frozenConfigHash, isFrozenCampaignConfig, type FrozenCampaignConfig } from "../config/frozen.js";
import { durationMs, type OverlapPolicyName, type ScheduleConfig } from "../config/scheduleConfig.js";
import { taskQueues } from "../taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { CampaignStatusKey, IterationKey } from "../../workflows/searchAttributes.js";
import type { ScheduleInput } from "./scheduledRun.js";

export const OVERLAP: Record<OverlapPolicyName, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  bufferOne: ScheduleOverlapPolicy.BUFFER_ONE,
  bufferAll: ScheduleOverlapPolicy.BUFFER_ALL,
  cancelOther: ScheduleOverlapPolicy.CANCEL_OTHER,
  terminateOther: ScheduleOverlapPolicy.TERMINATE_OTHER,
  allowAll: ScheduleOverlapPolicy.ALLOW_ALL,
};

/** The workflow id prefix of a schedule's runs; Temporal appends each run's scheduled time (`-2026-12-07T06:00:00Z`). */
export const scheduledWorkflowIdPrefix = (scheduleId: string) => campaignWorkflowId(scheduleId);

type Action = ScheduleOptionsStartWorkflowAction<Workflow>;

/** The schedule's action: start campaignWorkflow with the frozen config; the run derives its campaign id and seed. */
export function scheduleAction(schedule: ScheduleConfig, frozen: FrozenCampaignConfig, queuePrefix: string): Action {
  const input: { config: FrozenCampaignConfig; schedule: ScheduleInput } = { config: frozen, schedule: { id: schedule.id } };
  return {
    type: "startWorkflow",
    workflowType: "campaignWorkflow",
    workflowId: scheduledWorkflowIdPrefix(schedule.id),
    taskQueue: taskQueues(queuePrefix).workflows,
    args: [input],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: IterationKey, value: 1 },
      { key: CampaignStatusKey, value: "running" },
    ]),
    staticSummary: `toolloop campaign "${frozen.config.name}" from schedule ${schedule.id}`,
  };
}

export function scheduleSpecOf(schedule: ScheduleConfig): ScheduleOptions["spec"] {
  const { spec } = schedule;
  return {
    ...(spec.cron.length ? { cronExpressions: spec.cron } : {}),
    ...(spec.intervals.length
      ? { intervals: spec.intervals.map((i) => ({ every: durationMs(i.every), ...(i.offset !== undefined ? { offset: durationMs(i.offset) } : {}) })) }
      : {}),
    timezone: spec.timezone,
    ...(spec.jitter !== undefined ? { jitter: durationMs(spec.jitter) } : {}),
  };
}

export function schedulePolicies(schedule: ScheduleConfig): NonNullable<ScheduleOptions["policies"]> {
  return { overlap: OVERLAP[schedule.overlap], catchupWindow: durationMs(schedule.catchupWindow), pauseOnFailure: schedule.pauseOnFailure };
}

export interface UpsertResult {
  scheduleId: string;
  outcome: "created" | "updated";
}

/**
 * Creates the schedule when absent, else updates its spec, action and policies and keeps its state
 * (paused or not, its note, remaining actions), its running campaigns and its action counts.
 */
export async function upsertSchedule(
  client: Client,
  p: { schedule: ScheduleConfig; frozen: FrozenCampaignConfig; configHash: string; queuePrefix: string },
): Promise<UpsertResult> {
  const { schedule } = p;
  const handle = client.schedule.getHandle(schedule.id);
  const spec = scheduleSpecOf(schedule);
  const action = scheduleAction(schedule, p.frozen, p.queuePrefix);
  const policies = schedulePolicies(schedule);
  const update = async (): Promise<UpsertResult> => {
    await handle.update((prev: ScheduleDescription) => ({
      spec,
      action,
      policies,
      state: { paused: prev.state.paused, note: prev.state.note, remainingActions: prev.state.remainingActions },
    }));
    return { scheduleId: schedule.id, outcome: "updated" };
  };
  try {
    await handle.describe();
    return await update();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  try {
    await client.schedule.create({
      scheduleId: schedule.id,
      spec,
      action,
      policies,
      memo: { toolloopConfigSha256: p.configHash, campaignName: p.frozen.config.name },
      state: { paused: schedule.paused, ...(schedule.note !== undefined ? { note: schedule.note } : {}) },
    });
    return { scheduleId: schedule.id, outcome: "created" };
  } catch (err) {
    // Created by someone else between the describe and the create: update it like any existing one.
    if (err instanceof ScheduleAlreadyRunning) return update();
    throw err;
  }
}

/** gRPC status INVALID_ARGUMENT (from @grpc/grpc-js): the server refused the request's content. */
const GRPC_INVALID_ARGUMENT = 3;

/**
 * The server's reason when `err` is its refusal (INVALID_ARGUMENT) of a schedule at create or
 * update, or undefined for anything else. @temporalio/client (1.24) rethrows a refused spec
 * ("Invalid schedule spec: unknown time zone ...") as a plain TypeError carrying only the reason,
 * from ScheduleClient.rethrowGrpcError, and any other INVALID_ARGUMENT as a ServiceError whose
 * cause is the gRPC error; a TypeError thrown anywhere else (a bug) is not a refusal.
 */
export function scheduleRefusal(err: unknown): string | undefined {
  if (err instanceof TypeError && /^\s+at .*\brethrowGrpcError\b/.test(err.stack?.split("\n").find((l) => /^\s+at /.test(l)) ?? ""))
    return `invalid schedule spec: ${err.message}`;
  const grpc = isGrpcServiceError(err) ? err : err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause : undefined;
  if (grpc?.code === GRPC_INVALID_ARGUMENT) return grpc.details || grpc.message;
  return undefined;
}

const fmt = (d: Date | undefined) => (d ? d.toISOString() : "-");
const durationText = (ms: number) =>
  ms % 86_400_000 === 0
    ? `${ms / 86_400_000}d`
    : ms % 3_600_000 === 0
      ? `${ms / 3_600_000}h`
      : ms % 60_000 === 0
        ? `${ms / 60_000}m`
        : ms % 1000 === 0
          ? `${ms / 1000}s`
          : `${ms}ms`;

type CalendarDescription = NonNullable<ScheduleDescription["spec"]["calendars"]>[number];
type RangeDescription = { start: number | string; end?: number | string; step?: number };

/** One calendar field as cron writes it: `*`, `6`, `1-5/2`, `*\/15`, `MON-FRI`, lists of these. `names[i]` is the value `i + first`. */
function cronField(ranges: readonly RangeDescription[] | undefined, min: number, max: number, names?: { list: readonly string[]; first: number }): string {
  if (!ranges || ranges.length === 0) return "*";
  const num = (v: number | string) => (typeof v === "number" ? v : names ? names.list.indexOf(v) + names.first : Number.NaN);
  const text = (v: number) => names?.list[v - names.first]?.slice(0, 3) ?? String(v);
  return ranges
    .map((r) => {
      const start = num(r.start);
      const end = Math.max(start, num(r.end ?? r.start));
      const base = start === min && end === max ? "*" : start === end ? text(start) : `${text(start)}-${text(end)}`;
      return r.step && r.step > 1 ? `${base}/${r.step}` : base;
    })
    .join(",");
}

const MONTH_NAMES = ["JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"];
const DAY_NAMES = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"];

/**
 * The server's calendar spec (what it made of a cron line) as a cron line again: 5 fields, or 7
 * (seconds first, year last) when the seconds or the year are not the defaults.
 */
export function calendarAsCron(c: CalendarDescription): string {
  const r = c as unknown as Record<string, readonly RangeDescription[] | undefined>;
  const second = cronField(r.second, 0, 59);
  const year = cronField(r.year, 2000, 2100);
  const five = [
    cronField(r.minute, 0, 59),
    cronField(r.hour, 0, 23),
    cronField(r.dayOfMonth, 1, 31),
    cronField(r.month, 1, 12, { list: MONTH_NAMES, first: 1 }),
    cronField(r.dayOfWeek, 0, 6, { list: DAY_NAMES, first: 0 }),
  ];
  const line = second === "0" && year === "*" ? five.join(" ") : [second, ...five, year].join(" ");
  return c.comment ? `${line} # ${c.comment}` : line;
}

/** The frozen config the schedule's action starts runs with (replaced at each upsert), when it carries one. */
function actionConfig(d: ScheduleDescription): FrozenCampaignConfig | undefined {
  const input = (d.action as { args?: unknown[] }).args?.[0] as { config?: unknown } | undefined;
  return isFrozenCampaignConfig(input?.config) ? input.config : undefined;
}

/** The config's own schedule entry, from the frozen config the schedule's action starts runs with (updated with the spec at each upsert). */
function configuredSchedule(d: ScheduleDescription): ScheduleConfig | undefined {
  const input = (d.action as { args?: unknown[] }).args?.[0] as { config?: FrozenCampaignConfig; schedule?: ScheduleInput } | undefined;
  const id = input?.schedule?.id;
  const list = input?.config?.config?.schedules;
  return Array.isArray(list) ? list.find((s) => s.id === id) : undefined;
}

/**
 * What `when:` says: the config's cron lines and intervals as written, or, for a schedule whose
 * action carries no toolloop config, the server's calendars as cron lines and its intervals.
 */
export function describeWhen(d: ScheduleDescription): string[] {
  const own = configuredSchedule(d);
  if (own && Array.isArray(own.spec?.cron) && Array.isArray(own.spec?.intervals))
    return [
      ...own.spec.cron.map((c) => `cron "${c}"`),
      ...own.spec.intervals.map((i) => `every ${i.every}${i.offset !== undefined ? ` (offset ${i.offset})` : ""}`),
    ];
  const spec = d.spec;
  return [
    ...(spec.calendars ?? []).map((c) => `calendar "${calendarAsCron(c)}"`),
    ...(spec.intervals ?? []).map((i) => `every ${durationText(Number(i.every))}${i.offset ? ` (offset ${durationText(Number(i.offset))})` : ""}`),
  ];
}

/** What the campaign a schedule's running action started says of itself (its workflow's search attributes). */
export interface RunningCampaign {
  workflowId: string;
  campaignId?: string;
  /** CampaignStatus: running, paused, waiting_for_operator, ... */
  status?: string;
  stage?: string;
}

/** What happens to the runs due while a campaign of the schedule is still open, by overlap policy. */
const WHILE_OPEN: Partial<Record<string, string>> = {
  SKIP: "the runs due meanwhile are skipped (overlap SKIP)",
  BUFFER_ONE: "one run due meanwhile waits for it, later ones are skipped (overlap BUFFER_ONE)",
  BUFFER_ALL: "the runs due meanwhile wait for it (overlap BUFFER_ALL)",
};

/** The state a running campaign cannot leave by itself: an operator has to act before the schedule's next run can start. */
const STUCK: Record<string, string> = { waiting_for_operator: "waits for an operator", paused: "is paused" };

/** The running action's line, with its campaign's own state when known, and what holds the schedule up. */
function runningLines(wfId: string, overlap: string, c: RunningCampaign | undefined): string[] {
  if (!c?.status) return [`  running: ${wfId}`];
  const id = c.campaignId ?? wfId;
  const lines = [`  running: ${wfId} (campaign ${id}: ${c.status}${c.stage ? `, stage ${c.stage}` : ""})`];
  const stuck = STUCK[c.status];
  const held = WHILE_OPEN[overlap];
  if (stuck && held) lines.push(`  note: campaign ${id} ${stuck}: until it ends ${held}; \`toolloop campaign status ${id}\` says what to do`);
  return lines;
}

/**
 * What `trigger` adds when a campaign of the schedule is still open: under SKIP the server drops the
 * triggered run (it counts it as skipped), under BUFFER_ONE/BUFFER_ALL it starts when that campaign
 * ends. Undefined when nothing is open or the policy starts it anyway.
 */
export function triggerWhileRunningNote(scheduleId: string, overlap: string, open: readonly RunningCampaign[]): string | undefined {
  if (open.length === 0) return undefined;
  const which = open.map((c) => `${c.campaignId ?? c.workflowId}${c.status ? ` (${c.status})` : ""}`).join(", ");
  if (overlap === "SKIP")
    return `campaign ${which} of schedule ${scheduleId} is still open: with overlap SKIP this trigger starts nothing (counted as skipped); \`--overlap bufferOne\` starts it once that campaign ends, \`--overlap allowAll\` beside it`;
  if (overlap === "BUFFER_ONE" || overlap === "BUFFER_ALL")
    return `campaign ${which} of schedule ${scheduleId} is still open: this run starts when it ends (overlap ${overlap}${overlap === "BUFFER_ONE" ? "; a run already waiting keeps its place and this one is skipped" : ""})`;
  return undefined;
}

/** A schedule's description as the CLI prints it: spec, policies, state, counts, running (with their campaigns' states), recent and next runs. */
export function renderScheduleDescription(d: ScheduleDescription, out: string[] = [], running: readonly RunningCampaign[] = []): string[] {
  const spec = d.spec;
  const when = describeWhen(d);
  out.push(`schedule ${d.scheduleId}: ${d.state.paused ? "PAUSED" : "active"}${d.state.note ? ` (note: ${d.state.note})` : ""}`);
  out.push(`  when: ${when.join(", ") || "(none)"}; timezone ${spec.timezone ?? "UTC"}${spec.jitter ? `; jitter ${durationText(spec.jitter)}` : ""}`);
  out.push(
    `  overlap ${d.policies.overlap}, catch-up window ${durationText(d.policies.catchupWindow)}, pause on failure ${d.policies.pauseOnFailure ? "yes" : "no"}`,
  );
  const action = d.action;
  out.push(`  action: start ${action.workflowType} on ${action.taskQueue}, workflow ids ${action.workflowId}-<scheduled time>`);
  const memo = d.memo as { toolloopConfigSha256?: string; campaignName?: string } | undefined;
  // The config the next run starts with is the action's (replaced at each update); the memo keeps the creation's.
  const inForce = actionConfig(d);
  if (inForce) {
    const hash = frozenConfigHash(inForce);
    const created = memo?.toolloopConfigSha256;
    out.push(
      `  campaign "${inForce.config.name}", config sha256 ${hash}${created && created !== hash ? ` (updated; at creation ${created})` : created ? " (as created)" : ""}`,
    );
  } else if (memo?.toolloopConfigSha256) out.push(`  campaign "${memo.campaignName ?? "?"}", config sha256 ${memo.toolloopConfigSha256} (at creation)`);
  out.push(
    `  runs: ${d.info.numActionsTaken} taken, ${d.info.numActionsSkippedOverlap} skipped (overlap), ${d.info.numActionsMissedCatchupWindow} missed (catch-up window)`,
  );
  for (const r of d.info.runningActions)
    out.push(
      ...runningLines(
        r.workflow.workflowId,
        d.policies.overlap ?? "SKIP",
        running.find((c) => c.workflowId === r.workflow.workflowId),
      ),
    );
  for (const r of d.info.recentActions.slice(-5))
    out.push(`  recent: scheduled ${fmt(r.scheduledAt)}, started ${fmt(r.takenAt)}: ${r.action.workflow.workflowId}`);
  // The server lists next times for a paused schedule too (computed when it paused, so possibly past): none starts.
  if (d.state.paused) out.push(`  next: none while paused (after unpause: the next scheduled time; a missed one within the catch-up window starts at once)`);
  else for (const t of d.info.nextActionTimes.slice(0, 3)) out.push(`  next: ${fmt(t)}`);
  return out;
}
