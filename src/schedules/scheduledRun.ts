/**
 * What makes each scheduled run a campaign of its own: its id comes from the schedule id and the
 * time it was scheduled for (Temporal's `TemporalScheduledStartTime` search attribute, recorded at
 * the run's start, so reading it in a workflow is deterministic). Pure: workflows import it.
 */

/** The `schedule` field of a campaign workflow's input, set by the schedule's action. */
export interface ScheduleInput {
  /** The schedule id (`schedules[].id`). */
  id: string;
}

/** What a scheduled run passes to its registration. */
export interface ScheduledRun {
  scheduleId: string;
  /** ISO 8601 UTC, the nominal time the schedule started this run for (not when it actually started). */
  scheduledTime: string;
  /** Where the time came from: the search attribute, or the run's start time when the attribute is absent (a hand-made start). */
  timeSource: "TemporalScheduledStartTime" | "workflowStartTime";
}

/**
 * `weekly-20261207T060000Z`: the schedule id and the scheduled UTC time, with no `:` or other
 * character a path, a URL or a shell would trip on. Milliseconds appear only when not zero, which
 * a schedule's run never has: the server records `TemporalScheduledStartTime` truncated to the
 * second (a trigger at 07:20:19.130Z is `weekly-20261205T072019Z`; two triggers within one second
 * share the time and the workflow id the server derives from it). Only a hand-made start without
 * the attribute, which uses the workflow's start time, can carry them (`...T072019.130Z`).
 */
export function scheduledCampaignId(scheduleId: string, scheduledTime: Date): string {
  const iso = scheduledTime.toISOString(); // 2026-12-07T06:00:00.000Z
  const ms = iso.slice(20, 23);
  const compact = iso.slice(0, 19).replace(/[-:]/g, "");
  return `${scheduleId}-${compact}${ms === "000" ? "" : `.${ms}`}Z`;
}

/** The scheduled time from the run's search attributes (a Date, or the server's ISO string form). */
export function scheduledTimeOf(value: unknown): Date | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v === "string") {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

/** `campaign-<schedule id>-2026-12-07T06:00:00Z`: the workflow id a schedule's run gets (its prefix and the time the server appends). */
const RUN_WORKFLOW_ID = /^campaign-([a-zA-Z0-9][a-zA-Z0-9_-]*)-(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)$/;
/** `<schedule id>-20261207T060000Z`: a schedule's run's campaign id (scheduledCampaignId). */
const RUN_CAMPAIGN_ID = /^([a-zA-Z0-9][a-zA-Z0-9_-]*)-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * The campaign id a schedule's run will register under, from its workflow id: what to call a run no
 * worker has started yet (it has no CampaignId search attribute until it runs). Undefined for any
 * other workflow id.
 */
export function scheduledRunCampaignIdOf(workflowId: string): string | undefined {
  const m = RUN_WORKFLOW_ID.exec(workflowId);
  if (!m) return undefined;
  const time = new Date(m[2]!);
  return Number.isNaN(time.getTime()) ? undefined : scheduledCampaignId(m[1]!, time);
}

/** The inverse: the workflow id a schedule started the run `campaignId` under, when the id has a scheduled run's form. */
export function scheduledRunWorkflowIdOf(campaignId: string): string | undefined {
  const m = RUN_CAMPAIGN_ID.exec(campaignId);
  if (!m) return undefined;
  const [, schedule, y, mo, d, h, mi, s] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}Z`;
  return Number.isNaN(Date.parse(iso)) ? undefined : `campaign-${schedule}-${iso}`;
}
