/**
 * The framework's side of a stage whose every item failed: the first failure a batch noted is stored
 * beside its counts and handed back apart from them (the workflow sums counts; a string among them
 * would be concatenated), and failIfNothingSucceeded fails only when nothing succeeded and some
 * failure was not an item's own. Its advice follows the campaign's onStageFailure: it said "then retry
 * the stage" also when "fail" had failed the campaign or "skip" had skipped the stage.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  EveryItemFailedError,
  FIRST_FAILURE_KEY,
  StageInputError,
  failIfNothingSucceeded,
  splitStoredBatch,
  stageFailurePolicy,
  sumBatchResults,
} from "../../../src/framework/stage.js";

const WAITS = { onStageFailure: "wait", campaignId: "c1" } as const;

test("a stored batch result splits into its counts and its first noted failure", () => {
  const stored = { items: 3, failed: 3, failedByEndpoint: 2, [FIRST_FAILURE_KEY]: "sample s1: 400 refused" };
  const { counts, firstFailure } = splitStoredBatch(stored);
  assert.deepEqual(counts, { items: 3, failed: 3, failedByEndpoint: 2 });
  assert.equal(firstFailure, "sample s1: 400 refused");
  assert.deepEqual(sumBatchResults([counts, splitStoredBatch({ items: 2, failed: 0 }).counts]), { items: 5, failed: 3, failedByEndpoint: 2 });
  assert.deepEqual(splitStoredBatch({ items: 1 }), { counts: { items: 1 } }, "a batch that noted nothing has no firstFailure");
});

test("failIfNothingSucceeded: fails only when nothing succeeded and a failure was not an item's own", () => {
  const base = { failed: 4, firstFailures: ["sample a: label_ppl: no prompt_logprobs"], check: "Check the endpoint" };
  assert.doesNotThrow(() => failIfNothingSucceeded("score.perplexity", { ...base, succeeded: 1, failedByEndpoint: 3 }, WAITS), "a partial failure");
  assert.doesNotThrow(() => failIfNothingSucceeded("score.perplexity", { ...base, succeeded: 0, failedByEndpoint: 0 }, WAITS), "every failure the item's own");
  assert.doesNotThrow(() => failIfNothingSucceeded("score.perplexity", { ...base, failed: 0, succeeded: 0, failedByEndpoint: 0 }, WAITS), "an empty stage");
  assert.throws(
    () => failIfNothingSucceeded("score.perplexity", { ...base, succeeded: 0, failedByEndpoint: 3 }, WAITS),
    (err: unknown) => {
      assert.ok(err instanceof EveryItemFailedError && err instanceof StageInputError, "non-retryable, as bad input is");
      assert.equal(
        err.message,
        "score.perplexity: no sample succeeded; 4 failed, 3 of them for a reason that is not the sample's own. The first: sample a: label_ppl: no prompt_logprobs. Check the endpoint; then retry the stage (its samples are asked again)",
      );
      return true;
    },
  );
});

test("failIfNothingSucceeded: what to do after the fix follows onStageFailure", () => {
  const r = { succeeded: 0, failed: 2, failedByEndpoint: 2, firstFailures: ["sample a: 400 refused"], check: "Check the endpoint" };
  const messageUnder = (onStageFailure: "wait" | "fail" | "skip" | undefined) => {
    try {
      failIfNothingSucceeded("probe.greedy", r, stageFailurePolicy({ campaignId: "c1", config: { ...(onStageFailure ? { onStageFailure } : {}) } }));
    } catch (err) {
      assert.ok(err instanceof EveryItemFailedError);
      return err.message;
    }
    return assert.fail("expected the stage to fail");
  };
  const lead =
    "probe.greedy: no sample succeeded; 2 failed, 2 of them for a reason that is not the sample's own. The first: sample a: 400 refused. Check the endpoint; ";
  assert.equal(messageUnder("wait"), `${lead}then retry the stage (its samples are asked again)`);
  assert.equal(messageUnder(undefined), `${lead}then retry the stage (its samples are asked again)`, "the default is wait");
  assert.equal(
    messageUnder("fail"),
    `${lead}then start the campaign again with \`toolloop campaign start --config <file> --id c1\` (onStageFailure "fail" has failed it; finished work is not redone)`,
  );
  assert.equal(messageUnder("skip"), `${lead}before a later stage or run calls it (onStageFailure "skip" has skipped this stage; it is not retried)`);
});
