/**
 * The framework's side of a stage whose every item failed: the first failure a batch noted is stored
 * beside its counts and handed back apart from them (the workflow sums counts; a string among them
 * would be concatenated), and failIfNothingSucceeded fails only when nothing succeeded and some
 * failure was not an item's own.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  EveryItemFailedError,
  FIRST_FAILURE_KEY,
  StageInputError,
  failIfNothingSucceeded,
  splitStoredBatch,
  sumBatchResults,
} from "../../../src/framework/stage.js";

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
  assert.doesNotThrow(() => failIfNothingSucceeded("score.perplexity", { ...base, succeeded: 1, failedByEndpoint: 3 }), "a partial failure");
  assert.doesNotThrow(() => failIfNothingSucceeded("score.perplexity", { ...base, succeeded: 0, failedByEndpoint: 0 }), "every failure the item's own");
  assert.doesNotThrow(() => failIfNothingSucceeded("score.perplexity", { ...base, failed: 0, succeeded: 0, failedByEndpoint: 0 }), "an empty stage");
  assert.throws(
    () => failIfNothingSucceeded("score.perplexity", { ...base, succeeded: 0, failedByEndpoint: 3 }),
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
