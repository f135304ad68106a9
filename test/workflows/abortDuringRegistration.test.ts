/**
 * `campaign abort` while the campaign registers. The campaign workflow cancelled its registration
 * without waiting for it (TRY_CANCEL) and wrote "aborted" at once, while the registration ran on:
 * - on a first start there was no row yet: the abort's write changed nothing, and the registration
 *   then inserted the row as running;
 * - on a rerun, an abort written before the registration read the row looked like the earlier run's
 *   end, and the registration marked the row running again.
 * Either way Temporal said Canceled and PostgreSQL said running for good. Now the workflow waits for
 * its registration to stop before it writes its end. The registration is held before it reads the
 * row (test/helpers/registrationGate.ts), so both orders are certain, not timing.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { abortCampaign } from "../../src/cli/abortAndMetadata.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { abortWhileRegistering, campaignRowStatus, registeredThenAborted, registrationGate } from "../helpers/registrationGate.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
const gate = registrationGate();

before(async () => {
  env = await createTestEnv("abort-registering");
  sim = await startSimulator({ seed: 3, latencyMs: 200, maxConcurrency: 8, quiet: true });
  workers = await env.startWorkers({ getDb: gate.getDb });
});
after(async () => {
  gate.release();
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

const rowStatus = (id: string) => campaignRowStatus(env, id);
const config = () => simulatorCampaign(sim.url, { count: 400, batchSize: 4 });

test("an abort during a campaign's first registration leaves it aborted in PostgreSQL, not running", { timeout: 120_000 }, async () => {
  const id = `abreg-first-${Date.now().toString(36)}`;
  const r = await abortWhileRegistering(env, gate, workers.workers, id, config());
  assert.equal(r.outcome, "cancelled");
  assert.equal(await rowStatus(id), "aborted", "the abort's end, not the registration's running");
  assert.equal(r.wroteAbortAtOnce, false, "the abort is written only once the registration has stopped");
  assert.equal(r.workflowWhileHeld, "RUNNING", "the workflow waits for its registration");
});

test("an abort of a rerun before its registration reads the row leaves it aborted, not running again", { timeout: 180_000 }, async () => {
  const id = `abreg-rerun-${Date.now().toString(36)}`;
  // The earlier run registered, ran and was aborted.
  assert.equal(await registeredThenAborted(env, id, config()), "aborted");

  // `campaign start --id` again, aborted before its registration reads the row.
  const r = await abortWhileRegistering(env, gate, workers.workers, id, config());
  assert.equal(r.outcome, "cancelled");
  assert.equal(await rowStatus(id), "aborted", "the abort's end, not running again");
  assert.equal(r.wroteAbortAtOnce, false, "the abort is written only once the registration has stopped");

  // Started again with no abort: running, as a rerun is.
  const third = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(id),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: config(), campaignId: id }],
  });
  await waitFor("the third run registered", async () => (await rowStatus(id)) === "running");
  await abortCampaign(env.client, third.workflowId, "test over");
  await third.result().catch(() => undefined);
  assert.equal(await rowStatus(id), "aborted");
});
