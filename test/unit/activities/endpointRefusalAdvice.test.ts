/**
 * An endpoint that refuses every request (401, 403, 404, ...) fails its stage at once with what to
 * check and what to do then. That advice said "then retry the stage" under every onStageFailure,
 * though with "fail" the campaign has failed by the time it is read (no stage waits to be retried;
 * the README's way back is `campaign start --id`) and with "skip" the stage was skipped. A 404 (a
 * wrong model) said the same though the fix may be the campaign's config (a model renamed), which
 * retry-stage does not read (it runs the frozen config again): that takes an abort and
 * `campaign start --config-version`, and the advice now says both.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { withFailurePolicy } from "../../../activities/failurePolicy.js";
import { afterFixAdvice, type OnStageFailure, type StageFailurePolicy } from "../../../src/framework/stageFailureAdvice.js";
import { LlmError } from "../../../src/llm/errors.js";

const policy = (onStageFailure: OnStageFailure) => async (): Promise<StageFailurePolicy> => ({ onStageFailure, campaignId: "c1" });

/** The refusal, classified in an activity context as a stage's batch would be; the database is never read for it. */
async function refusalMessage(stageFailure?: () => Promise<StageFailurePolicy>, status = 401): Promise<string> {
  const env = new MockActivityEnvironment({ activityType: "runStageBatch", attempt: 1 });
  const getDb = () => Promise.reject(new Error("no database in this test"));
  try {
    await env.run(() =>
      withFailurePolicy({ getDb, budget: 3, ...(stageFailure ? { stageFailure } : {}) }, () => {
        throw new LlmError(
          "client",
          `sim (http://127.0.0.1:9/v1) /chat/completions: HTTP ${status} ${status === 404 ? "The model `m1` does not exist." : "invalid API key"}`,
          {
            status,
          },
        );
      }),
    );
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure && err.nonRetryable, String(err));
    return err.message;
  }
  assert.fail("expected the refusal to fail the step");
}

test('onStageFailure "fail": the refusal says to start the campaign again with the same --id, not to retry a stage', async () => {
  const message = await refusalMessage(policy("fail"));
  assert.match(
    message,
    /check its baseUrl, its API key \(apiKeyEnv\) and the role's model, then start the campaign again with `toolloop campaign start --config <file> --id c1`/,
  );
  assert.match(message, /onStageFailure "fail" has failed it; finished work is not redone/);
  assert.doesNotMatch(message, /retry the stage/);
});

test('onStageFailure "skip": the refusal says the stage was skipped, not to retry it', async () => {
  const message = await refusalMessage(policy("skip"));
  assert.match(message, /and the role's model, before a later stage or run calls it \(onStageFailure "skip" has skipped this stage; it is not retried\)/);
  assert.doesNotMatch(message, /retry the stage/);
});

test('onStageFailure "wait" (the default), or a policy that cannot be read: retry the stage, as before', async () => {
  for (const stageFailure of [policy("wait"), undefined, () => Promise.reject(new Error("database away"))]) {
    assert.match(await refusalMessage(stageFailure), /and the role's model, then retry the stage$/);
  }
});

test("afterFixAdvice quotes a campaign id the shell would split", () => {
  assert.match(afterFixAdvice("fail", "my run"), /--id "my run"`/);
  assert.equal(afterFixAdvice(undefined, "c1"), "then retry the stage");
});

const FIX_AT_ENDPOINT = "and the role's model. Fix it at the endpoint (serve the configured model at the configured baseUrl again), ";
const CONFIG_CHANGE = "; or, if the campaign's config must change instead (the model renamed, another baseUrl), ";

test('a 404 (a wrong model) under onStageFailure "wait": retry once the endpoint is fixed; a config change is an abort and a start with --config-version', async () => {
  const message = await refusalMessage(policy("wait"), 404);
  assert.ok(
    message.endsWith(
      `HTTP 404 The model \`m1\` does not exist.; the endpoint answers every request so: check its baseUrl, its API key (apiKeyEnv) ${FIX_AT_ENDPOINT}then retry the stage` +
        `${CONFIG_CHANGE}run \`toolloop campaign abort c1\`, then \`toolloop campaign start --config <changed file> --id c1 --config-version\` (retry-stage would run the frozen config again)`,
    ),
    message,
  );
});

test('a 404 under onStageFailure "fail": both ways start the campaign again, a config change with --config-version and no abort', async () => {
  const message = await refusalMessage(policy("fail"), 404);
  assert.ok(
    message.endsWith(
      `${FIX_AT_ENDPOINT}then start the campaign again with \`toolloop campaign start --config <file> --id c1\` (onStageFailure "fail" has failed it; finished work is not redone)` +
        `${CONFIG_CHANGE}start the campaign again with \`toolloop campaign start --config <changed file> --id c1 --config-version\` (onStageFailure "fail" has failed it)`,
    ),
    message,
  );
  assert.doesNotMatch(message, /retry the stage|campaign abort/);
});

test('a 404 under onStageFailure "skip": the stage was skipped; a config change is an abort and a start with --config-version', async () => {
  const message = await refusalMessage(policy("skip"), 404);
  assert.ok(
    message.endsWith(
      `${FIX_AT_ENDPOINT}before a later stage or run calls it (onStageFailure "skip" has skipped this stage; it is not retried)` +
        `${CONFIG_CHANGE}run \`toolloop campaign abort c1\`, then \`toolloop campaign start --config <changed file> --id c1 --config-version\` (the campaign goes on with its frozen config otherwise)`,
    ),
    message,
  );
  assert.doesNotMatch(message, /retry the stage/);
});

test("a 404 whose policy cannot be read: the default (wait) advice, the campaign's id written ID", async () => {
  const message = await refusalMessage(() => Promise.reject(new Error("database away")), 404);
  assert.ok(message.includes(`${FIX_AT_ENDPOINT}then retry the stage${CONFIG_CHANGE}run \`toolloop campaign abort ID\`, then`), message);
});
