/**
 * A campaign's iterations run as workflows `campaign-<id>-iter-<n>`, so a second campaign whose id is
 * `<id>-iter-<n>` takes the workflow id the first one's iteration n needs. Before, on one worker:
 * campaign `cx-iter-2` (a long synthesis) started beside loop campaign `cx` made `cx` FAIL as it
 * reached iteration 2 ("Workflow execution already started"), and `campaign pause|abort cx-iter-2`
 * reached `cx`'s iteration 2 when no such campaign existed. Now such an id is refused by `campaign
 * start` (exit 2), a start from the Temporal UI fails at registration, the other campaign runs to the
 * end, and operator commands refuse to reach another campaign's iteration.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { WorkflowFailedError } from "@temporalio/client";
import { eq } from "drizzle-orm";
import { campaigns } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { campaignWorkflowIdProblem, derivedWorkflowIdOwner } from "../../src/config/derivedWorkflowIds.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId, iterationWorkflowId, pauseSignal } from "../../workflows/definitions.js";
import { cliEnvOf, runCli } from "../helpers/cli.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("idclash");
  sim = await startSimulator({ seed: 3, latencyMs: 5, maxConcurrency: 16, quiet: true });
  workers = await env.startWorkers();
});

after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

test("the ids a campaign derives for its parts are recognised, and nothing else", () => {
  assert.deepEqual(derivedWorkflowIdOwner("campaign-cx-iter-2"), { ownerWorkflowId: "campaign-cx", part: "iteration 2" });
  assert.deepEqual(derivedWorkflowIdOwner("campaign-cx-iter-1-train.grpo-job-a2"), {
    ownerWorkflowId: "campaign-cx",
    part: "iteration 1's stage train.grpo",
  });
  assert.deepEqual(derivedWorkflowIdOwner("campaign-cx-iter-3-synthesize.singleTurn-a1-from500"), {
    ownerWorkflowId: "campaign-cx",
    part: "iteration 3's stage synthesize.singleTurn",
  });
  for (const ok of ["campaign-cx", "campaign-iter-2-x", "campaign-exp-iter-2-20261206-152300", "campaign-weekly-2026-12-07T06:00:00Z", "campaign-a-iter-x"])
    assert.equal(derivedWorkflowIdOwner(ok), undefined, ok);
  const problem = campaignWorkflowIdProblem("campaign-cx-iter-2", "cx-iter-2", "--id");
  assert.match(
    problem ?? "",
    /^--id: campaign id "cx-iter-2" cannot be used: its workflow id campaign-cx-iter-2 is the id campaign "cx" runs its iteration 2 under/,
  );
  assert.match(problem ?? "", /e\.g\. "cx-it2"/);
});

test("a campaign started under another campaign's iteration id fails at registration, and the other campaign completes", async () => {
  const owner = `clash-${Date.now().toString(36)}`;
  const intruder = `${owner}-iter-2`;
  const queue = taskQueues(env.queuePrefix).workflows;
  // As a start from the Temporal UI would: the workflow id the user typed, no CLI check on the way.
  const intruderHandle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(intruder),
    taskQueue: queue,
    args: [{ config: simulatorCampaign(sim.url, { count: 400, batchSize: 20 }), campaignId: intruder }],
  });
  // Held open (paused), so it would still hold the id when the owner reaches iteration 2.
  await intruderHandle.signal(pauseSignal);
  const ownerHandle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(owner),
    taskQueue: queue,
    args: [{ config: simulatorCampaign(sim.url, { iterations: 2, count: 10, batchSize: 10 }), campaignId: owner }],
  });

  try {
    // Before, this failed with "Workflow execution already started" as it reached iteration 2.
    const result = await ownerHandle.result();
    assert.equal(result.state, "completed");
    assert.deepEqual(
      result.iterations.map((i: { iteration: number }) => i.iteration),
      [1, 2],
    );

    const failure = await intruderHandle.result().then(
      () => assert.fail("the intruding campaign ran"),
      (e: unknown) => e,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    const cause = failure.cause as { message?: string; type?: string } | undefined;
    assert.equal(cause?.type, "InvalidCampaignConfig");
    assert.match(
      cause?.message ?? "",
      new RegExp(`campaign id "${intruder}" cannot be used: its workflow id campaign-${intruder} is the id campaign "${owner}" runs its iteration 2 under`),
    );
    assert.equal((await env.db.db.select().from(campaigns).where(eq(campaigns.id, intruder))).length, 0, "nothing registered");
  } finally {
    await intruderHandle.terminate("test done").catch(() => undefined);
  }
});

test("campaign start refuses such an id (exit 2) before starting anything; pause, abort and status of it do not reach the other campaign's iteration", async () => {
  const owner = `clcli-${Date.now().toString(36)}`;
  const dir = fs.mkdtempSync(path.join(env.workDir, "idclash-"));
  const file = path.join(dir, "c.json");
  fs.writeFileSync(file, JSON.stringify(simulatorCampaign(sim.url, { count: 10, batchSize: 10 })));
  const cliEnv = cliEnvOf(env);

  const refused = await runCli(["campaign", "start", "--config", file, "--id", `${owner}-iter-1`, "--skip-endpoint-check"], cliEnv);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `^error: --id: campaign id "${owner}-iter-1" cannot be used: its workflow id campaign-${owner}-iter-1 is the id campaign "${owner}" runs its iteration 1 under`,
    ),
  );
  assert.doesNotMatch(refused.stdout, /started campaign/);
  await assert.rejects(env.client.workflow.getHandle(campaignWorkflowId(`${owner}-iter-1`)).describe(), /not found/i);

  // The owner, held in its iteration 1 (paused before it starts a stage would be a race: pause it via its campaign).
  const ownerHandle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(owner),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: simulatorCampaign(sim.url, { count: 400, batchSize: 20 }), campaignId: owner }],
  });
  const iterationId = iterationWorkflowId(campaignWorkflowId(owner), 1);
  await waitFor("the owner's iteration 1 runs", () =>
    env.client.workflow
      .getHandle(iterationId)
      .describe()
      .then(() => true)
      .catch(() => false),
  );
  for (const verb of ["pause", "abort"]) {
    const r = await runCli(["campaign", verb, `${owner}-iter-1`], cliEnv);
    assert.equal(r.status, 2, `${verb}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: no campaign "${owner}-iter-1": workflow ${iterationId} is the iteration 1 of campaign ${owner} \\(workflow type iterationWorkflow\\), not a campaign`,
      ),
    );
  }
  // Nor is the iteration shown as a campaign of that name (it was, RUNNING, with pause and abort as next steps).
  const status = await runCli(["campaign", "status", `${owner}-iter-1`], cliEnv);
  assert.equal(status.status, 2, status.stdout);
  assert.match(
    status.stderr,
    new RegExp(
      `^error: no such campaign: ${owner}-iter-1; workflow ${iterationId} is the iteration 1 of campaign ${owner} \\(workflow type iterationWorkflow\\)`,
    ),
  );
  const desc = await env.client.workflow.getHandle(iterationId).describe();
  assert.equal(desc.status.name, "RUNNING", "the owner's iteration was not aborted");
  await ownerHandle.terminate("test done");
});
