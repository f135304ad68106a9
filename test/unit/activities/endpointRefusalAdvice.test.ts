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
import { afterFixAdvice, endpointRefusalAdvice, type OnStageFailure, type StageFailurePolicy } from "../../../src/framework/stageFailureAdvice.js";
import { LlmClient } from "../../../src/llm/client.js";
import { isEndpointMisconfigured, LlmError } from "../../../src/llm/errors.js";
import { REFUSAL_STATUSES, startSimulator, type RefusalStatus } from "../../../src/llm/simulator/server.js";

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
  assert.match(message, /and restart those workers \([^)]*\), then start the campaign again with `toolloop campaign start --config <file> --id c1`/);
  assert.match(message, /onStageFailure "fail" has failed it; finished work is not redone/);
  assert.doesNotMatch(message, /retry the stage/);
});

test('onStageFailure "skip": the refusal says the stage was skipped, not to retry it', async () => {
  const message = await refusalMessage(policy("skip"));
  assert.match(
    message,
    /and restart those workers \([^)]*\), before a later stage or run calls it \(onStageFailure "skip" has skipped this stage; it is not retried\)/,
  );
  assert.doesNotMatch(message, /retry the stage/);
});

test('onStageFailure "wait" (the default), or a policy that cannot be read: retry the stage once the workers have the key', async () => {
  for (const stageFailure of [policy("wait"), undefined, () => Promise.reject(new Error("database away"))]) {
    assert.match(await refusalMessage(stageFailure), /and restart those workers \([^)]*\), then retry the stage; or, if the endpoint has no apiKeyEnv/);
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

/*
 * 401, 403, 405 and 407 said "check its baseUrl, its API key (apiKeyEnv) and the role's model, then
 * retry the stage" alike. A key is read from the worker's environment, which a running worker never
 * reads again: a new key needs the workers restarted (and no config change); a wrong baseUrl (405) is
 * the campaign's config, which retry-stage does not read.
 */
const RESTART = "restart those workers (a running worker keeps the environment it started with; the campaign's config is unchanged), ";
const AFTER_FIX: Record<OnStageFailure, string> = {
  wait: "then retry the stage",
  fail: 'then start the campaign again with `toolloop campaign start --config <file> --id c1` (onStageFailure "fail" has failed it; finished work is not redone)',
  skip: 'before a later stage or run calls it (onStageFailure "skip" has skipped this stage; it is not retried)',
};
const CONFIG_VERSION: Record<OnStageFailure, string> = {
  wait: "run `toolloop campaign abort c1`, then `toolloop campaign start --config <changed file> --id c1 --config-version` (retry-stage would run the frozen config again)",
  fail: 'start the campaign again with `toolloop campaign start --config <changed file> --id c1 --config-version` (onStageFailure "fail" has failed it)',
  skip: "run `toolloop campaign abort c1`, then `toolloop campaign start --config <changed file> --id c1 --config-version` (the campaign goes on with its frozen config otherwise)",
};
const POLICIES: OnStageFailure[] = ["wait", "fail", "skip"];

test("a 401 (no valid key): the key goes in every worker's environment and the workers restart, then the policy's way on; a wrong apiKeyEnv is a config change", async () => {
  for (const p of POLICIES) {
    const message = await refusalMessage(policy(p), 401);
    assert.ok(
      message.endsWith(
        "HTTP 401 invalid API key; the endpoint answers every request so: the endpoint takes no request without a valid key: " +
          `set the right key in the variable the endpoint's apiKeyEnv names, in the environment of every worker, and ${RESTART}${AFTER_FIX[p]}; ` +
          `or, if the endpoint has no apiKeyEnv or it names the wrong variable, change it in the campaign's config: ${CONFIG_VERSION[p]}`,
      ),
      `${p}: ${message}`,
    );
  }
});

test("a 403 (the key not allowed): access granted at the endpoint or another key with a restart, then the policy's way on; another model is a config change", async () => {
  for (const p of POLICIES) {
    const message = await refusalMessage(policy(p), 403);
    assert.ok(
      message.endsWith(
        "the endpoint knows the key but does not allow it this request: grant the key access at the endpoint, " +
          `or set a key that has it in the variable the endpoint's apiKeyEnv names, in the environment of every worker, and ${RESTART}${AFTER_FIX[p]}; ` +
          `or, if the role must use another model or endpoint instead, change the campaign's config: ${CONFIG_VERSION[p]}`,
      ),
      `${p}: ${message}`,
    );
  }
});

test("a 405 (baseUrl is not the API): a config change first, abort and --config-version under wait and skip; a fix at the server the policy's way", async () => {
  for (const p of POLICIES) {
    const message = await refusalMessage(policy(p), 405);
    assert.ok(
      message.endsWith(
        "the path under baseUrl does not take POST, so baseUrl is not the OpenAI-compatible API (its /v1 missing, another server's port): " +
          `correct baseUrl in the campaign's config: ${CONFIG_VERSION[p]}; or, if the server at baseUrl is to serve that API there again instead, ${AFTER_FIX[p]}`,
      ),
      `${p}: ${message}`,
    );
    assert.doesNotMatch(message, /restart/);
  }
});

test("a 407 from toolloop's client (it sends no proxy credentials): baseUrl past the proxy is a config change; no worker environment is blamed", async () => {
  for (const p of POLICIES) {
    const message = await refusalMessage(policy(p), 407);
    assert.ok(
      message.endsWith(
        "a proxy at baseUrl asks for credentials, which toolloop's client does not send (it connects to baseUrl directly, whatever HTTPS_PROXY says): " +
          `point baseUrl at the endpoint itself in the campaign's config: ${CONFIG_VERSION[p]}; or, if the proxy is changed to let the workers through instead, ${AFTER_FIX[p]}`,
      ),
      `${p}: ${message}`,
    );
  }
});

test("a 407 for a client that goes through the environment's proxy (bfcl-eval): the proxy settings in every worker's environment and a restart", () => {
  const advice = endpointRefusalAdvice(407, { onStageFailure: "fail", campaignId: "c1" }, { proxyFromEnvironment: true });
  assert.ok(
    advice.startsWith(
      "a proxy asks for credentials: the client goes through the proxy HTTPS_PROXY or HTTP_PROXY names in the worker's environment; " +
        `put the proxy's credentials in that URL, or the endpoint's host in NO_PROXY, in the environment of every worker, and ${RESTART}${AFTER_FIX.fail}; ` +
        `or, if baseUrl itself names the proxy, point it at the endpoint in the campaign's config: ${CONFIG_VERSION.fail}`,
    ),
    advice,
  );
});

test("end to end: the simulator refuses with 401, 403 or 407 (SIMULATED), the real client classifies it, and the stage's failure gives that status's fix", async () => {
  const expected: Record<RefusalStatus, RegExp> = {
    401: /HTTP 401: Incorrect API key provided \(simulated refusal\)\. .*the endpoint answers every request so: the endpoint takes no request without a valid key: set the right key in the variable the endpoint's apiKeyEnv names/,
    403: /HTTP 403: The API key is not allowed to use this model \(simulated refusal\)\. .*the endpoint answers every request so: the endpoint knows the key but does not allow it this request: grant the key access at the endpoint/,
    407: /HTTP 407: .*Proxy Authentication Required.*the endpoint answers every request so: a proxy at baseUrl asks for credentials, which toolloop's client does not send/,
  };
  for (const status of REFUSAL_STATUSES) {
    const sim = await startSimulator({ seed: 1, latencyMs: 0, quiet: true, faults: { refuseStatus: status } });
    try {
      const recorded: { failed: boolean; simulated: boolean }[] = [];
      const client = new LlmClient({
        baseUrl: sim.url,
        model: "toolloop-sim",
        role: "policy",
        timeoutMs: 5000,
        maxRetries: 3,
        maxConcurrency: 1,
        usage: { record: (u) => recorded.push({ failed: u.failed, simulated: u.simulated === true }) },
      });
      let refusal: unknown;
      const env = new MockActivityEnvironment({ activityType: "runStageBatch", attempt: 1 });
      try {
        await env.run(() =>
          withFailurePolicy({ getDb: () => Promise.reject(new Error("no database in this test")), budget: 3, stageFailure: policy("wait") }, async () => {
            try {
              await client.chat({ messages: [{ role: "user", content: "hi" }] });
            } catch (err) {
              refusal = err;
              throw err;
            }
          }),
        );
        assert.fail(`expected the ${status} to fail the step`);
      } catch (err) {
        assert.ok(err instanceof ApplicationFailure && err.nonRetryable, `${status}: ${String(err)}`);
        assert.match(err.message, expected[status], `${status}: ${err.message}`);
      }
      // The client's own error: a configuration refusal, asked once (not retried), and marked as the simulator's answer.
      assert.ok(refusal instanceof LlmError && refusal.status === status && isEndpointMisconfigured(refusal) && refusal.attempts === 1, String(refusal));
      assert.deepEqual(sim.stats().faultsInjected, { [`refuse${status}`]: 1 });
      // SIMULATED, as the simulator's other faults: the ledger records the failed request as the simulator's.
      assert.deepEqual(recorded, [{ failed: true, simulated: true }]);
    } finally {
      await sim.close();
    }
  }
});

test("the simulator refuses a refusal status it cannot answer, naming the field", async () => {
  await assert.rejects(
    startSimulator({ seed: 1, quiet: true, faults: { refuseStatus: 404 as RefusalStatus } }),
    /simulator faults\.refuseStatus must be one of 401, 403, 407 \(got 404\)/,
  );
});
