/**
 * A dead endpoint (refuses connections) and a hung one (accepts, never answers) put the stage in
 * waiting_for_operator with a reason naming the endpoint, within seconds at short configured
 * timeouts, instead of retrying activities for half an hour; so does one that answers every request
 * with a 404 (the model renamed after the start), instead of a stage that records every slot failed
 * and succeeds with nothing. Real dev server and PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { activityFailures, samples, stageRuns, stageSlotOutcomes } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId, statusQuery, type CampaignStatus, type IterationStatus } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { closedPort, startHungServer } from "../helpers/deadEndpoints.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  env = await createTestEnv("endpoints");
  workers = await env.startWorkers();
});

after(async () => {
  await workers?.stop();
  await Promise.all(closers.map((c) => c()));
  await env?.close();
});

async function iterationStatus(campaignWfId: string): Promise<IterationStatus | undefined> {
  const c = (await env.client.workflow.getHandle(campaignWfId).query(statusQuery)) as CampaignStatus;
  if (!c.iterationWorkflowId) return undefined;
  return (await env.client.workflow.getHandle(c.iterationWorkflowId).query(statusQuery)) as IterationStatus;
}

/** Starts a small campaign on `baseUrl` and returns the waiting stage, how long it took, and the campaign's counted activity failures. */
async function waitingFor(baseUrl: string, name: string, fastFail: Record<string, number>, model = "toolloop-sim") {
  const campaignId = `${name}-${Date.now().toString(36)}`;
  const config = simulatorCampaign(baseUrl, { count: 8, batchSize: 4 });
  config.endpoints = { sim: { baseUrl, maxConcurrency: 2, timeoutMs: 60_000, maxRetries: 5, ...fastFail } };
  config.roles = { generator: { endpoint: "sim", model } };
  const started = performance.now();
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  const waiting = await waitFor(
    `${name}: the stage to wait for an operator`,
    async () => {
      const s = await iterationStatus(handle.workflowId).catch(() => undefined);
      return s?.state === "waiting_for_operator" ? s : undefined;
    },
    60_000,
  );
  const seconds = (performance.now() - started) / 1000;
  const c = (await env.client.workflow.getHandle(handle.workflowId).query(statusQuery)) as CampaignStatus;
  const failures = await env.db.db
    .select()
    .from(activityFailures)
    .where(eq(activityFailures.workflowId, c.iterationWorkflowId ?? ""));
  await handle.terminate("test done");
  return { campaignId, stage: waiting.stages[0], seconds, failures };
}

test("a refusing endpoint: the stage waits for an operator within seconds, the reason names endpoint, role and URL", async () => {
  const port = await closedPort();
  const baseUrl = `http://127.0.0.1:${port}/v1`;
  const { stage, seconds, failures } = await waitingFor(baseUrl, "refused", { attemptBudget: 3, connectTimeoutMs: 1000 });
  assert.equal(stage?.name, "synthesize.singleTurn");
  assert.equal(stage?.state, "waiting_for_operator");
  assert.match(
    stage?.lastError ?? "",
    new RegExp(
      `endpoint sim \\(http://127\\.0\\.0\\.1:${port}/v1\\) is unavailable for role generator: \\d+ attempts in a row got no answer \\(attemptBudget 3\\)(, attempts already in flight when it was reached counted too)?;`,
    ),
  );
  assert.match(stage?.lastError ?? "", /connection refused/);
  console.log(`refusing endpoint: waiting_for_operator after ${seconds.toFixed(1)} s`);
  assert.ok(seconds < 20, `waiting after ${seconds.toFixed(1)} s`);
  assert.deepEqual(failures, [], "failed at once, non-retryably: no counted activity retries");
});

test("a hung endpoint: the stage waits for an operator after the attempt budget of first-byte timeouts, not the request timeout", async () => {
  const hung = await startHungServer();
  closers.push(hung.close);
  const { stage, seconds, failures } = await waitingFor(hung.baseUrl, "hung", { attemptBudget: 2, firstByteTimeoutMs: 1500 });
  assert.equal(stage?.state, "waiting_for_operator");
  assert.match(
    stage?.lastError ?? "",
    /endpoint sim \(http:\/\/127\.0\.0\.1:\d+\/v1\) is unavailable for role generator: \d+ attempts in a row got no answer \(attemptBudget 2\)(, attempts already in flight when it was reached counted too)?; last: \/chat\/completions: connected, but no response headers within 1500 ms/,
  );
  // Concurrent requests share the streak (so it may pass the budget by the time one throws); one activity attempt: no Temporal retries.
  console.log(`hung endpoint: waiting_for_operator after ${seconds.toFixed(1)} s`);
  assert.ok(seconds >= 1.5 && seconds < 20, `waiting after ${seconds.toFixed(1)} s`);
  assert.ok(hung.connections() >= 2);
  assert.deepEqual(failures, []);
});

test("an endpoint that answers 404 for the role's model: the stage waits for an operator with the answer, no slot is recorded failed", async () => {
  const sim = await startSimulator({ seed: 11, latencyMs: 5, maxConcurrency: 4, quiet: true });
  closers.push(() => sim.close());
  // As when the served model is renamed mid-campaign: the start-time endpoint check passed, every request now gets a 404.
  const { campaignId, stage, failures } = await waitingFor(sim.url, "wrong-model", {}, "qwen-renamed");
  assert.equal(stage?.name, "synthesize.singleTurn");
  assert.equal(stage?.state, "waiting_for_operator");
  assert.match(stage?.lastError ?? "", /LLM generator \(qwen-renamed at endpoint sim, http:\/\/127\.0\.0\.1:\d+\/v1\) \/chat\/completions/);
  assert.match(
    stage?.lastError ?? "",
    /check its baseUrl, its API key \(apiKeyEnv\) and the role's model\. Fix it at the endpoint \([^)]*\), then retry the stage;/,
  );
  // A renamed model is fixed in the config, which retry-stage would not read: the abort and start path is named too.
  assert.match(
    stage?.lastError ?? "",
    new RegExp(
      `if the campaign's config must change instead \\(the model renamed, another baseUrl\\), run \`toolloop campaign abort ${campaignId}\`, then \`toolloop campaign start --config <changed file> --id ${campaignId} --config-version\``,
    ),
  );
  assert.match(stage?.lastError ?? "", /HTTP 404/);
  assert.match(stage?.lastError ?? "", /The model `qwen-renamed` does not exist/);
  assert.deepEqual(failures, [], "failed at once, non-retryably: no counted activity retries");
  const recorded = await env.db.db.select().from(stageSlotOutcomes).where(eq(stageSlotOutcomes.campaignId, campaignId));
  assert.deepEqual(recorded, [], "no slot recorded as the model's failure");
  assert.deepEqual(await env.db.db.select().from(samples).where(eq(samples.campaignId, campaignId)), []);
});

test('an endpoint that answers 404 under onStageFailure "fail": the campaign fails, and its error says to start it again with --id, not to retry the stage', async () => {
  const sim = await startSimulator({ seed: 13, latencyMs: 5, maxConcurrency: 4, quiet: true });
  closers.push(() => sim.close());
  const campaignId = `fail-policy-${Date.now().toString(36)}`;
  const config = simulatorCampaign(sim.url, { count: 8, batchSize: 4 });
  config.onStageFailure = "fail";
  config.endpoints = { sim: { baseUrl: sim.url, maxConcurrency: 2, timeoutMs: 60_000, maxRetries: 5 } };
  config.roles = { generator: { endpoint: "sim", model: "qwen-renamed" } };
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  await assert.rejects(handle.result());
  const [run] = await env.db.db
    .select()
    .from(stageRuns)
    .where(and(eq(stageRuns.campaignId, campaignId), eq(stageRuns.stage, "synthesize.singleTurn")));
  assert.match(run?.error ?? "", /HTTP 404/);
  assert.match(
    run?.error ?? "",
    new RegExp(
      `and the role's model\\. Fix it at the endpoint \\([^)]*\\), then start the campaign again with \`toolloop campaign start --config <file> --id ${campaignId}\``,
    ),
  );
  assert.match(
    run?.error ?? "",
    new RegExp(`start the campaign again with \`toolloop campaign start --config <changed file> --id ${campaignId} --config-version\``),
  );
  assert.doesNotMatch(run?.error ?? "", /retry the stage/);
});

test("an endpoint that comes back (a server restarted): the waiting stage retries by itself once it answers, and the campaign completes without an operator", async () => {
  // A port a simulator listened on, closed again: the server "crashed"; it comes back on the same port.
  const first = await startSimulator({ seed: 12, latencyMs: 5, maxConcurrency: 4, quiet: true });
  const port = Number(new URL(first.url).port);
  await first.close();
  const baseUrl = `http://127.0.0.1:${port}/v1`;
  const campaignId = `comes-back-${Date.now().toString(36)}`;
  const config = simulatorCampaign(baseUrl, { count: 8, batchSize: 4 });
  config.endpoints = { sim: { baseUrl, maxConcurrency: 2, timeoutMs: 60_000, maxRetries: 5, attemptBudget: 3, connectTimeoutMs: 1000 } };
  config.roles = { generator: { endpoint: "sim", model: "toolloop-sim" } };
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  try {
    const waiting = await waitFor(
      "the stage to wait, watching its endpoint",
      async () => {
        const s = await iterationStatus(handle.workflowId).catch(() => undefined);
        return s?.state === "waiting_for_operator" && s.stages[0]?.recovery ? s : undefined;
      },
      60_000,
    );
    assert.match(waiting.stages[0]?.lastError ?? "", /endpoint sim .* is unavailable for role generator/);
    assert.match(waiting.stages[0]?.recovery ?? "", /retries by itself once its endpoints answer GET \/models again/);
    // What `campaign status` reads (PostgreSQL): the stage's error says what happens next.
    const run = await waitFor("the stage run's note", async () => {
      const [r] = await env.db.db
        .select()
        .from(stageRuns)
        .where(and(eq(stageRuns.campaignId, campaignId), eq(stageRuns.stage, "synthesize.singleTurn")));
      return r?.error?.includes("retries by itself") ? r : undefined;
    });
    assert.match(
      run.error ?? "",
      new RegExp(
        `the stage retries by itself once sim \\(http://127\\.0\\.0\\.1:${port}/v1\\) answers again \\(or decide now: campaign retry-stage / skip-stage\\)`,
      ),
    );
    const back = await startSimulator({ port, seed: 12, latencyMs: 5, maxConcurrency: 4, quiet: true });
    closers.push(() => back.close());
    const result = await handle.result();
    assert.equal(result.state, "completed");
    const stored = await env.db.db.select().from(samples).where(eq(samples.campaignId, campaignId));
    assert.equal(stored.length > 0, true, "the retried stage wrote its samples");
    const [after] = await env.db.db
      .select()
      .from(stageRuns)
      .where(and(eq(stageRuns.campaignId, campaignId), eq(stageRuns.stage, "synthesize.singleTurn")));
    assert.equal(after?.status, "succeeded");
    assert.equal(after?.attempts, 2, "one automatic retry");
  } finally {
    await handle.terminate("test done").catch(() => undefined);
  }
});
