/**
 * A chunk of a large stage's batches in a history of its own: the iteration hands each child at
 * most BATCHES_PER_CHILD batches, so no history grows with the size of a stage however large its
 * count. Pause and resume are forwarded by the iteration; abort is the cancellation of this child.
 */
import { setHandler } from "@temporalio/workflow";
import type { StageRef } from "../activities/types.js";
import type { StageScheduling } from "../src/framework/stageSpec.js";
import { stageActivities } from "./activityOptions.js";
import { runBatchLanes } from "./batchLanes.js";
import { pauseSignal, resumeSignal } from "./definitions.js";
import { legacyScheduling } from "./legacyInput.js";

/** Batches per child history: a batch costs 3-5 events (more with retries), so a chunk stays a few thousand events. */
export const BATCHES_PER_CHILD = 500;

export interface StageBatchesInput {
  ref: StageRef;
  batches: number[];
  parallelism: number;
  paused: boolean;
  /** The stage's scheduling from the frozen plan; absent in chunks started before configs were frozen. */
  scheduling?: StageScheduling;
  /** Set by iterations on the abort-waits patch: a cancelled batch is waited for until it has stopped. */
  abortWaits?: boolean;
}

export interface StageBatchesResult {
  batchesDone: number;
  items: number;
  counts: Record<string, number>;
}

export async function stageBatchesWorkflow(input: StageBatchesInput): Promise<StageBatchesResult> {
  let paused = input.paused;
  setHandler(pauseSignal, () => {
    paused = true;
  });
  setHandler(resumeSignal, () => {
    paused = false;
  });
  // Chunks exist only in workflows started after the retry-by-cause patch.
  const waitForCancel = input.abortWaits ?? false;
  const acts = stageActivities(input.scheduling ?? legacyScheduling(input.ref.stage), true, waitForCancel);
  const result: StageBatchesResult = { batchesDone: 0, items: 0, counts: {} };
  await runBatchLanes(acts, input.ref, input.batches, input.parallelism, {
    paused: () => paused,
    aborted: () => false,
    waitForAll: waitForCancel,
    onBatchDone: (r) => {
      result.batchesDone++;
      result.items += r.items;
      for (const [k, v] of Object.entries(r)) result.counts[k] = (result.counts[k] ?? 0) + v;
    },
  });
  return result;
}
