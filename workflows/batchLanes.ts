/**
 * Runs a list of a stage's batches with bounded parallelism: `parallelism` lanes each take the next
 * batch until the list is empty or a batch fails. Pause holds back new batches; batches in flight
 * finish. Used by the iteration for small stages and by stageBatchesWorkflow for chunks of large ones.
 */
import { condition } from "@temporalio/workflow";
import type { BatchCounts, StageRef } from "../activities/types.js";
import type { StageActivities } from "./activityOptions.js";

export interface LaneControl {
  paused(): boolean;
  aborted(): boolean;
  /**
   * Return only once every lane has stopped (the abort-waits patch): a lane whose batch finished
   * just before a cancellation stops at once, while the others still wait for theirs to stop.
   * Without it the first lane to throw ended the wait.
   */
  waitForAll?: boolean;
  onBatchDone(result: BatchCounts): void;
  /** The activity's summary in the UI (operator-surface patch); absent: none. */
  summary?(batchIndex: number): string;
}

export async function runBatchLanes(acts: StageActivities, ref: StageRef, batches: number[], parallelism: number, control: LaneControl): Promise<void> {
  const queue = [...batches];
  let firstError: unknown;
  const lane = async () => {
    while (queue.length > 0 && firstError === undefined) {
      await condition(() => !control.paused() || control.aborted());
      if (control.aborted()) return;
      // Another lane may have taken the last batch while this one waited on the pause condition.
      const batchIndex = queue.shift();
      if (batchIndex === undefined) return;
      try {
        const args = { ...ref, batchIndex };
        control.onBatchDone(
          control.summary ? await acts.runStageBatch.executeWithOptions({ summary: control.summary(batchIndex) }, [args]) : await acts.runStageBatch(args),
        );
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  const lanes = Array.from({ length: Math.min(parallelism, Math.max(1, queue.length)) }, lane);
  if (!control.waitForAll) await Promise.all(lanes);
  else for (const r of await Promise.allSettled(lanes)) if (r.status === "rejected") firstError ??= r.reason;
  if (firstError !== undefined) throw firstError;
}
