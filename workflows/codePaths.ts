/**
 * Which code path a campaign or iteration run takes, decided once at its start by patch markers.
 *
 * Since the lean-history patch a new workflow records ONE patch marker that implies every earlier
 * patch (retry by cause, frozen config, operator surface, stage chunks, cluster-job stages): each
 * marker costs two history events (the marker and the TemporalChangeVersion search attribute), so
 * one instead of five keeps a campaign's fixed cost down. Workflows started before it never see the
 * lean marker (patched() returns false while replaying a history without it, and records nothing),
 * so they go on asking the earlier patches one by one, in the order they always did.
 */
import { patched } from "@temporalio/workflow";
import { PATCH_ABORT_WAITS, PATCH_FROZEN_CONFIG, PATCH_RETRY_BY_CAUSE } from "./activityOptions.js";
import { PATCH_OPERATOR_SURFACE } from "./operatorSurface.js";

/**
 * Light bookkeeping (loading the frozen plan, marking the iteration started, planning a stage) runs
 * as local activities in the workflow task, and the iteration's final status reaches the campaign in
 * its result instead of a last progress signal: a single-stage iteration records about a third
 * fewer events. Implies every patch listed in this module's comment.
 */
export const PATCH_LEAN_HISTORY = "lean-history-v1";

export interface CodePaths {
  /** The lean-history patch (local bookkeeping, final status in the result, one marker). */
  leanHistory: boolean;
  /** Retry by cause: unlimited activity retries, failures classified where they are seen. */
  retryByCause: boolean;
  /** The plan is loaded from the frozen config by an activity, never parsed from the input. */
  frozenConfig: boolean;
  /** Abort ends as Canceled, summaries, memo, internal signals unlisted. */
  operatorSurface: boolean;
}

/** Must be called at the same point of every run, before the workflow's first command. */
export function codePaths(): CodePaths {
  if (patched(PATCH_LEAN_HISTORY)) return { leanHistory: true, retryByCause: true, frozenConfig: true, operatorSurface: true };
  // The order these were always asked in: histories recorded before the lean patch expect it.
  const retryByCause = patched(PATCH_RETRY_BY_CAUSE);
  const frozenConfig = patched(PATCH_FROZEN_CONFIG);
  const operatorSurface = patched(PATCH_OPERATOR_SURFACE);
  return { leanHistory: false, retryByCause, frozenConfig, operatorSurface };
}

/**
 * The abort-waits patch (activityOptions.ts): an abort waits until the stage's running activities
 * have stopped before the iteration finishes and writes its reports. Newer than the lean marker, so
 * asked on its own, by the iteration only (the campaign runs no stage work; chunk children get it in
 * their input), once at its start: runs without its marker keep the old path however they replay.
 */
export function abortWaitsForStageWork(): boolean {
  return patched(PATCH_ABORT_WAITS);
}
