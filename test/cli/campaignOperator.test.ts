/**
 * The operator commands (pause, resume, abort, retry-stage, skip-stage) as processes against the real
 * dev server, on campaigns whose workflow has closed: they say the campaign has ended and how (exit
 * 2), rather than that it does not exist; an id Temporal does not know still says so.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { cliEnvOf, runCli, type CliResult } from "../helpers/cli.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;

before(async () => {
  env = await createTestEnv("operator");
  sim = await startSimulator({ seed: 13, latencyMs: 5, maxConcurrency: 4, quiet: true });
});

after(async () => {
  await sim?.close();
  await env?.close();
});

const cli = (args: string[]): Promise<CliResult> => runCli(args, cliEnvOf(env));

function start(config: unknown, campaignId: string) {
  return env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
}

const OPERATOR_COMMANDS: [string[], string][] = [
  [["pause"], "pause"],
  [["resume"], "resume"],
  [["abort", "--reason", "too late"], "abort"],
  [["retry-stage"], "retry"],
  [["skip-stage"], "skip"],
];

async function assertEnded(campaignId: string, ended: string): Promise<void> {
  for (const [args, verb] of OPERATOR_COMMANDS) {
    const [command, ...rest] = args as [string, ...string[]];
    const r = await cli(["campaign", command, campaignId, ...rest]);
    assert.equal(r.status, 2, `${command}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `error: campaign ${campaignId} has already ended (workflow campaign-${campaignId}: ${ended}): there is nothing to ${verb}; \`toolloop campaign status ${campaignId}\` shows how it ended\n`,
      command,
    );
  }
}

test("on a completed campaign, pause/resume/abort/retry-stage/skip-stage say it has ended (Completed), exit 2", async () => {
  const campaignId = `op-done-${Date.now().toString(36)}`;
  const workers = await env.startWorkers();
  try {
    const handle = await start(simulatorCampaign(sim.url, { count: 20, batchSize: 10 }), campaignId);
    await waitFor("the campaign to complete", async () => (await handle.describe()).status.name === "COMPLETED", 120_000);
  } finally {
    await workers.stop();
  }
  await assertEnded(campaignId, "Completed");
});

test("on a terminated campaign they say Terminated; an unknown id is still 'no such campaign workflow'", async () => {
  const campaignId = `op-term-${Date.now().toString(36)}`;
  await (await start(simulatorCampaign(sim.url), campaignId)).terminate("replaced");
  await assertEnded(campaignId, "Terminated");

  const missing = await cli(["campaign", "pause", `op-none-${Date.now().toString(36)}`]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^error: no such campaign workflow: campaign-op-none-\S+; check the id/);
});
