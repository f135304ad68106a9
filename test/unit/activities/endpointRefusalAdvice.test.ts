/**
 * An endpoint that refuses every request (401, 403, 404, ...) fails its stage at once with what to
 * check and what to do then. That advice said "then retry the stage" under every onStageFailure,
 * though with "fail" the campaign has failed by the time it is read (no stage waits to be retried;
 * the README's way back is `campaign start --id`) and with "skip" the stage was skipped.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { withFailurePolicy } from "../../../activities/failurePolicy.js";
import { afterFixAdvice } from "../../../src/framework/stageFailureAdvice.js";
import { LlmError } from "../../../src/llm/errors.js";

/** The refusal, classified in an activity context as a stage's batch would be; the database is never read for it. */
async function refusalMessage(afterFix?: () => Promise<string>): Promise<string> {
  const env = new MockActivityEnvironment({ activityType: "runStageBatch", attempt: 1 });
  const getDb = () => Promise.reject(new Error("no database in this test"));
  try {
    await env.run(() =>
      withFailurePolicy({ getDb, budget: 3, ...(afterFix ? { afterFix } : {}) }, () => {
        throw new LlmError("client", "sim (http://127.0.0.1:9/v1) /chat/completions: HTTP 401 invalid API key", { status: 401 });
      }),
    );
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure && err.nonRetryable, String(err));
    return err.message;
  }
  assert.fail("expected the refusal to fail the step");
}

test('onStageFailure "fail": the refusal says to start the campaign again with the same --id, not to retry a stage', async () => {
  const message = await refusalMessage(async () => afterFixAdvice("fail", "c1"));
  assert.match(
    message,
    /check its baseUrl, its API key \(apiKeyEnv\) and the role's model, then start the campaign again with `toolloop campaign start --config <file> --id c1`/,
  );
  assert.match(message, /onStageFailure "fail" has failed it; finished work is not redone/);
  assert.doesNotMatch(message, /retry the stage/);
});

test('onStageFailure "skip": the refusal says the stage was skipped, not to retry it', async () => {
  const message = await refusalMessage(async () => afterFixAdvice("skip", "c1"));
  assert.match(message, /and the role's model, before a later stage or run calls it \(onStageFailure "skip" has skipped this stage; it is not retried\)/);
  assert.doesNotMatch(message, /retry the stage/);
});

test('onStageFailure "wait" (the default), or a policy that cannot be read: retry the stage, as before', async () => {
  for (const afterFix of [async () => afterFixAdvice("wait", "c1"), undefined, () => Promise.reject(new Error("database away"))]) {
    assert.match(await refusalMessage(afterFix), /and the role's model, then retry the stage$/);
  }
});

test("afterFixAdvice quotes a campaign id the shell would split", () => {
  assert.match(afterFixAdvice("fail", "my run"), /--id "my run"`/);
  assert.equal(afterFixAdvice(undefined, "c1"), "then retry the stage");
});
