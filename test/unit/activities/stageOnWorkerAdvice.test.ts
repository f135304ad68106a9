/**
 * A stage no worker's build can run (a rolling deploy left unfinished) fails for an operator an hour
 * after it was scheduled, saying which workers to upgrade and what then. That was "then: toolloop
 * campaign retry-stage ..." under every onStageFailure, though with "fail" the campaign has failed
 * (started again with --id) and with "skip" the stage was skipped: nothing waits to be retried.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { rejectedValuesFailure, stageMissingFailure, unknownFieldsFailure } from "../../../activities/stageOnWorker.js";
import type { OnStageFailure } from "../../../src/framework/stageFailureAdvice.js";

/** The three failures past their limit (0: at once), under a policy. */
function failuresUnder(onStageFailure: OnStageFailure | undefined): string[] {
  const p = { stage: "verify.rules", campaignId: "c1", known: ["verify.rules"], limitMs: 0, ...(onStageFailure ? { onStageFailure } : {}) };
  return [
    stageMissingFailure(p),
    unknownFieldsFailure({ ...p, fields: ["stages[1].cpusPerTask"] }),
    rejectedValuesFailure({ ...p, values: [{ text: "stages[1].batchSize", value: "3000", expected: "at most 2000" }] }),
  ].map((f) => {
    assert.equal(f.nonRetryable, true, f.message);
    return f.message;
  });
}

const ENDS: Record<OnStageFailure, string> = {
  wait: ", then: toolloop campaign retry-stage c1 --stage verify.rules",
  fail: ', then start the campaign again with `toolloop campaign start --config <file> --id c1` (onStageFailure "fail" has failed it; finished work is not redone)',
  skip: ', before a later stage or run calls it (onStageFailure "skip" has skipped this stage; it is not retried)',
};

for (const onStageFailure of ["wait", "fail", "skip"] as const) {
  test(`a stage no worker can run, under onStageFailure "${onStageFailure}": what to do after the upgrade`, () => {
    for (const message of failuresUnder(onStageFailure)) {
      assert.ok(message.endsWith(ENDS[onStageFailure]), message);
      assert.match(message, /upgrade the workers polling \(none: not run as an activity\) to (a|the) build that/);
      if (onStageFailure !== "wait") assert.doesNotMatch(message, /retry-stage/);
    }
  });
}

test("a stage no worker can run, policy not given: the default (wait), retry-stage", () => {
  for (const message of failuresUnder(undefined)) assert.ok(message.endsWith(ENDS.wait), message);
});
