/**
 * `campaign start --id X` of a campaign that has completed all its configured iterations, with the
 * same config, printed "started campaign X" and started a workflow that did nothing. Now it starts
 * nothing: it says the campaign has completed all N iterations and how to continue it (exit 0).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { cliEnvOf, runCli } from "../helpers/cli.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;

before(async () => {
  env = await createTestEnv("start-completed");
  sim = await startSimulator({ seed: 13, latencyMs: 5, maxConcurrency: 4, quiet: true });
});
after(async () => {
  await sim?.close();
  await env?.close();
});

test(
  "start of a campaign whose iterations have all completed, same config: nothing started, says so and how to continue (exit 0)",
  { timeout: 150_000 },
  async () => {
    const campaignId = `done-${Date.now().toString(36)}`;
    const file = path.join(env.workDir, "done.json");
    writeFileSync(file, JSON.stringify({ ...simulatorCampaign(sim.url, { count: 20, batchSize: 10 }), output: { dir: path.join(env.workDir, "out") } }));
    const workers = await env.startWorkers();
    try {
      const first = await runCli(["campaign", "start", "--config", file, "--id", campaignId, "--wait", "--skip-endpoint-check"], cliEnvOf(env), 120_000);
      assert.equal(first.status, 0, first.stdout + first.stderr);
      const ran = await env.client.workflow.getHandle(campaignWorkflowId(campaignId)).describe();
      assert.equal(ran.status.name, "COMPLETED");

      const again = await runCli(["campaign", "start", "--config", file, "--id", campaignId, "--skip-endpoint-check"], cliEnvOf(env));
      assert.equal(again.status, 0, again.stdout + again.stderr);
      assert.doesNotMatch(again.stdout, /started campaign/);
      assert.match(
        again.stdout,
        new RegExp(
          `^campaign ${campaignId} has completed all 1 iterations; nothing is left to run, nothing started\\. To continue it, raise iterations .*--config-version`,
          "m",
        ),
      );
      // No new run of the campaign's workflow.
      const after = await env.client.workflow.getHandle(campaignWorkflowId(campaignId)).describe();
      assert.equal(after.runId, ran.runId);
    } finally {
      await workers.stop();
    }
  },
);
