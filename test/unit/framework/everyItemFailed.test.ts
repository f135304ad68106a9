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
  BatchFailureNotes,
  EveryItemFailedError,
  FIRST_FAILURE_KEY,
  StageInputError,
  failIfNothingSucceeded,
  splitStoredBatch,
  stageFailurePolicy,
  stageNotesOf,
  sumBatchResults,
} from "../../../src/framework/stage.js";
import { countFailureClass, endpointFailureClass, failureClassCounts } from "../../../src/framework/endpointFailureClass.js";
import { LlmError } from "../../../src/llm/errors.js";

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

test("no sample succeeded: the advice names the class most failures fell in, with that class's fix (it was one generic list)", () => {
  const checks = { any: "Check the endpoint", refused: "It refuses what the stage sends", unusable: "Its answers lack prompt_logprobs" };
  const fail = (classes: [string, number][], failedByEndpoint: number, policy: { onStageFailure: "wait" | "fail" | "skip"; campaignId: string } = WAITS) => {
    try {
      failIfNothingSucceeded(
        "score.perplexity",
        { succeeded: 0, failed: 4, failedByEndpoint, firstFailures: ["sample a: x"], check: checks, classes: new Map(classes) },
        policy,
      );
    } catch (err) {
      assert.ok(err instanceof EveryItemFailedError);
      return err.message;
    }
    return assert.fail("expected the stage to fail");
  };
  const lead = "score.perplexity: no sample succeeded; 4 failed, 4 of them for a reason that is not the sample's own: ";
  const configChange =
    "run `toolloop campaign abort c1`, then `toolloop campaign start --config <changed file> --id c1 --config-version` (retry-stage would run the frozen config again)";
  // Every request refused with a 400 (a parameter the endpoint does not take): the stage's check for refusals.
  assert.equal(
    fail([["http400", 4]], 4),
    `${lead}all 4 refused with HTTP 400. The first: sample a: x. It refuses what the stage sends. Fix the endpoint, then retry the stage; or, if the role must call another endpoint or model instead, change the campaign's config: ${configChange} (its samples are asked again)`,
  );
  // Another refusal status names itself.
  assert.match(fail([["http422", 4]], 4), /: all 4 refused with HTTP 422\. The first: sample a: x\. It refuses what the stage sends\. /);
  // Answers without what the stage reads: the check for unusable answers.
  assert.match(
    fail([["unusable", 4]], 4),
    /: all 4 answered, but without what the stage reads\. The first: sample a: x\. Its answers lack prompt_logprobs\. Fix the endpoint, /,
  );
  // Mixed: the most common class, said to be the most.
  assert.match(
    fail(
      [
        ["http400", 1],
        ["unusable", 3],
      ],
      4,
    ),
    /: 3 of the 4 \(the most\) answered, but without what the stage reads\. .*Its answers lack prompt_logprobs/,
  );
  // A key refused (401): endpointRefusalAdvice's fix, the workers' environment, not the stage's check.
  const key = fail([["http401", 4]], 4);
  assert.match(
    key,
    /: all 4 refused with HTTP 401\. The first: sample a: x\. the endpoint takes no request without a valid key: set the right key in the variable the endpoint's apiKeyEnv names/,
  );
  assert.doesNotMatch(key, /It refuses what the stage sends/);
  // A proxy asking for credentials (407): toolloop's own client goes to baseUrl directly.
  assert.match(fail([["http407", 4]], 4), /refused with HTTP 407\. .*a proxy at baseUrl asks for credentials, which toolloop's client does not send/);
  // What to do after the fix follows onStageFailure in every class.
  assert.match(
    fail([["http400", 4]], 4, { onStageFailure: "skip", campaignId: "c1" }),
    /Fix the endpoint, before a later stage or run calls it \(onStageFailure "skip" has skipped this stage; it is not retried\);/,
  );
  // No class counted (batches of an older build): the generic advice, as before.
  assert.match(fail([], 4), /sample's own\. The first: sample a: x\. Check the endpoint; then retry the stage/);
});

test("no sample succeeded: the example shown is the first failure of the class named, and the others are counted by class", () => {
  // It named the class most failures fell in but showed the first failure noted, of another class.
  const checks = { any: "Check the endpoint", unusable: "Its answers lack prompt_logprobs" };
  const run = (firstFailureByClass?: Record<string, string>) => {
    try {
      failIfNothingSucceeded(
        "score.perplexity",
        {
          succeeded: 0,
          failed: 5,
          failedByEndpoint: 5,
          firstFailures: ["sample a: label_ppl: timed out"],
          check: checks,
          classes: new Map([
            ["timeout", 1],
            ["unusable", 3],
            ["http400", 1],
          ]),
          ...(firstFailureByClass ? { firstFailureByClass } : {}),
        },
        WAITS,
      );
    } catch (err) {
      assert.ok(err instanceof EveryItemFailedError);
      return err.message;
    }
    return assert.fail("expected the stage to fail");
  };
  const message = run({ timeout: "sample a: label_ppl: timed out", unusable: "sample b: label_ppl: no prompt_logprobs", http400: "sample c: 400" });
  assert.match(
    message,
    /: 3 of the 5 \(the most\) answered, but without what the stage reads\. The first of them: sample b: label_ppl: no prompt_logprobs\. The other 2: 1 timed out, 1 refused with HTTP 400\. Its answers lack prompt_logprobs\./,
  );
  assert.doesNotMatch(message, /sample a/);
  // Batches of an older build noted no classes: the first noted, as before, with the others still counted.
  assert.match(
    run(),
    /\(the most\) answered, but without what the stage reads\. The first: sample a: label_ppl: timed out\. The other 2: 1 timed out, 1 refused with HTTP 400\./,
  );
});

test("a batch's noted failures are stored with the first of each class, and finalize's notes take each class's first in batch order", () => {
  const batch0 = new BatchFailureNotes();
  batch0.note("sample a: timed out", "timeout");
  batch0.note("sample b: no prompt_logprobs", "unusable");
  batch0.note("sample c: no prompt_logprobs either", "unusable");
  const batch1 = new BatchFailureNotes();
  batch1.note("sample d: refused", "http400");
  batch1.note("sample e: no prompt_logprobs", "unusable");
  const stored = [
    { items: 3, failed: 3, ...batch0.stored() },
    { items: 2, failed: 2, ...batch1.stored() },
    { items: 1, ...new BatchFailureNotes().stored() },
  ].map(splitStoredBatch);
  assert.deepEqual(
    stored.map((b) => b.counts),
    [{ items: 3, failed: 3 }, { items: 2, failed: 2 }, { items: 1 }],
    "the notes are not counts",
  );
  assert.deepEqual(stageNotesOf(stored), {
    firstFailures: ["sample a: timed out", "sample d: refused"],
    firstFailureByClass: { timeout: "sample a: timed out", unusable: "sample b: no prompt_logprobs", http400: "sample d: refused" },
  });
  // A note without a class (a caller of an older build) is still the batch's first.
  const unclassed = new BatchFailureNotes(5);
  unclassed.note("sample f: something long");
  assert.deepEqual(unclassed.stored(), { [FIRST_FAILURE_KEY]: "sampl" });
});

test("failure classes: HTTP status for a refusal, unusable for an answer without what the stage reads, counted per batch and summed", () => {
  assert.equal(endpointFailureClass(new LlmError("client", "HTTP 400: prompt_logprobs is not supported", { status: 400 })), "http400");
  assert.equal(endpointFailureClass(new LlmError("bad_response", "the response has no prompt_logprobs list")), "unusable");
  assert.equal(endpointFailureClass(new Error("x")), "other");
  const a: Record<string, number> = {};
  countFailureClass(a, new LlmError("client", "HTTP 400", { status: 400 }));
  countFailureClass(a, new LlmError("client", "HTTP 400", { status: 400 }));
  const b: Record<string, number> = { items: 2 };
  countFailureClass(b, new LlmError("bad_response", "no list"));
  countFailureClass(b, new LlmError("client", "HTTP 400", { status: 400 }));
  assert.deepEqual([...failureClassCounts([a, b]).entries()].sort(), [
    ["http400", 3],
    ["unusable", 1],
  ]);
  // The counts survive the stored batch result (numbers) and the workflow's summing.
  assert.deepEqual(splitStoredBatch({ ...b, [FIRST_FAILURE_KEY]: "s" }).counts, { ...b });
});
