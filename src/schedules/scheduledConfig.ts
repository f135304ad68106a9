/**
 * The config a scheduled run registers: the schedule's config with the run's own campaign id and a
 * seed derived from the scheduled time (same time, same seed; another week, other data).
 */
import { isFrozenCampaignConfig, type FrozenCampaignConfig } from "../config/frozen.js";
import { SCHEDULE_LIMITS } from "../config/scheduleConfig.js";
import { sha256Hex } from "../util/ids.js";
import type { ScheduledRun } from "./scheduledRun.js";

const SCHEDULE_ID = new RegExp(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,${SCHEDULE_LIMITS.idLength - 1}}$`);

/** A 48-bit seed from the config's seed, the schedule id and the scheduled time (ISO 8601 UTC). */
export function scheduledRunSeed(baseSeed: number, scheduleId: string, scheduledTime: string): number {
  return parseInt(sha256Hex(`toolloop-scheduled-run\n${baseSeed}\n${scheduleId}\n${scheduledTime}`).slice(0, 12), 16);
}

/** Why this run cannot be registered (a hand-made start with a bad `schedule`), naming the field; undefined when fine. */
export function scheduledRunProblem(run: ScheduledRun): string | undefined {
  if (typeof run.scheduleId !== "string" || !SCHEDULE_ID.test(run.scheduleId))
    return `schedule.id: expected letters, digits, '_' or '-' (at most ${SCHEDULE_LIMITS.idLength}, starting with a letter or digit), got ${JSON.stringify(run.scheduleId)}`;
  if (typeof run.scheduledTime !== "string" || Number.isNaN(Date.parse(run.scheduledTime)))
    return `schedule.scheduledTime: expected an ISO 8601 time, got ${JSON.stringify(run.scheduledTime)}`;
  return undefined;
}

/** The config with the run's campaign id and derived seed; the config's own seed is mixed in, so changing it changes every run's seed. */
export function withScheduledRun(config: unknown, run: ScheduledRun, campaignId: string): { config: unknown; seed: number } {
  if (isFrozenCampaignConfig(config)) {
    const seed = scheduledRunSeed(config.config.seed, run.scheduleId, run.scheduledTime);
    return { config: { ...config, config: { ...config.config, campaignId, seed } }, seed };
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) return { config, seed: 0 }; // the freeze says what is wrong
  const raw = config as Record<string, unknown>;
  const base = typeof raw.seed === "number" && Number.isSafeInteger(raw.seed) && raw.seed >= 0 ? raw.seed : 0;
  const seed = scheduledRunSeed(base, run.scheduleId, run.scheduledTime);
  return { config: { ...raw, campaignId, seed }, seed };
}

/** What the campaigns row records of a scheduled run (schedule_id, scheduled_at). */
export interface RegisteredScheduledRun {
  scheduleId: string | null;
  scheduledAt: Date | null;
}

/**
 * A frozen config from a file as the schedule's run `campaignId` registered it: with the run's id and
 * the seed of its scheduled time. `campaign start --id <scheduled run>` (the rerun of a failed or
 * aborted week) starts with it, so the same config file gives the same config hash and seed; the
 * file's own seed and campaignId would differ from the registered ones. Undefined for a campaign no
 * schedule started.
 */
export function asScheduledRerun(
  frozen: FrozenCampaignConfig,
  row: RegisteredScheduledRun | undefined,
  campaignId: string,
): { frozen: FrozenCampaignConfig; run: ScheduledRun } | undefined {
  if (!row?.scheduleId || !row.scheduledAt) return undefined;
  const run: ScheduledRun = { scheduleId: row.scheduleId, scheduledTime: row.scheduledAt.toISOString(), timeSource: "TemporalScheduledStartTime" };
  return { frozen: withScheduledRun(frozen, run, campaignId).config as FrozenCampaignConfig, run };
}
