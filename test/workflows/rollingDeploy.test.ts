/**
 * A rolling deploy, against the real Temporal dev server and PostgreSQL: workers of an older build
 * (without a stage) and of a newer one (with it) poll the same task queues. The registration of a
 * config naming the new stage, and a step of the stage, that reach an old worker are left for
 * another worker (activities/stageOnWorker.ts), uncounted, and the campaign completes once newer
 * workers take them. Before, the old worker failed them at once, non-retryably (the campaign with
 * InvalidCampaignConfig "unknown stage name"; the stage with "stage ... is not known to this
 * worker", the iteration then waiting for an operator) although the newer workers would have run
 * them. A stage no worker takes within the limit waits for the operator, saying which worker lacks
 * it and what to do.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { like, sql } from "drizzle-orm";
import { z } from "zod";
import { batchSize } from "../../src/config/fields.js";
import { activityFailures } from "../../src/db/schema.js";
import { ErrorType } from "../../src/framework/errorTypes.js";
import { createStageRegistry } from "../../src/framework/registry.js";
import type { StageHandler } from "../../src/framework/stage.js";
import { defineStage } from "../../src/framework/stageSpec.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { buildIdentity } from "../../src/ops/workerBuilds.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { STAGE_SPECS } from "../../src/stages/specs.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId, retryStageUpdate, statusQuery, type CampaignStatus, type IterationStatus } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { cliEnvOf, runCli } from "../helpers/cli.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

// The stage only the newer build has: it counts the iteration's samples, on the llm task queue.
const newStageSpec = defineStage({
  name: "test.newStage",
  title: "a stage only the newer build has (test fixture)",
  latency: "llm",
  batchTimeoutMinutes: 5,
  roles: [],
  reads: { kind: "samples", selection: () => ({ scope: "iteration" }), describe: "the iteration's samples" },
  writes: "nothing: counters only",
  schema: z.strictObject({ name: z.literal("test.newStage"), batchSize: batchSize(4) }),
});
const newStageHandler: StageHandler<{ name: "test.newStage"; batchSize: number }> = {
  name: "test.newStage",
  async runBatch(ctx, batchIndex) {
    return { items: (await ctx.batchSamples(batchIndex, { limit: 1000 })).length };
  },
};
/**
 * The two builds, recorded in worker_builds as real workers record theirs: an old worker leaves what
 * it cannot read to the newer build only while that build has workers about (activities/index.ts freeze).
 */
const oldBuild = buildIdentity({ package: "toolloop", version: "0.1.0", commit: "a".repeat(40), dirty: false }, new Date("2026-01-01T00:00:00Z"));
const newBuild = buildIdentity({ package: "toolloop", version: "0.1.0", commit: "b".repeat(40), dirty: false }, new Date("2026-06-01T00:00:00Z"));
const newer = createStageRegistry([...STAGE_SPECS, newStageSpec], { ...STAGE_HANDLERS, "test.newStage": newStageHandler });

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
/** The newer build's workflow and cluster workers (already rolled out); the default and llm queues are what each test deploys. */
let control: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  env = await createTestEnv("rolling");
  sim = await startSimulator({ seed: 11, latencyMs: 1, maxConcurrency: 16, quiet: true });
  control = await env.startWorkers({ stages: newer, roles: ["workflows", "cluster"], build: newBuild });
});

after(async () => {
  await control?.stop();
  await sim?.close();
  await env?.close();
});

async function start(campaignId: string) {
  const config = simulatorCampaign(sim.url, { stages: [{ name: "synthesize.singleTurn", count: 8, batchSize: 4 }, { name: "test.newStage" }] });
  return env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
}

async function iterationOf(campaignWfId: string): Promise<string | undefined> {
  return ((await env.client.workflow.getHandle(campaignWfId).query(statusQuery)) as CampaignStatus).iterationWorkflowId;
}

async function stageRun(campaignId: string): Promise<{ status: string; error: string | null } | undefined> {
  const r = await env.db.db.execute(sql`select status, error from stage_runs where campaign_id = ${campaignId} and stage = 'test.newStage'`);
  return (r as unknown as { rows: { status: string; error: string | null }[] }).rows[0];
}

test("the registration and a step of a stage only the newer build has wait for a newer worker instead of failing", { timeout: 180_000 }, async () => {
  // The build before test.newStage, on both queues.
  const oldDefault = await env.startWorkers({ roles: ["default"], build: oldBuild });
  const oldLlm = await env.startWorkers({ roles: ["llm"], build: oldBuild });
  let newDefault: Awaited<ReturnType<TestEnv["startWorkers"]>> | undefined;
  let newLlm: Awaited<ReturnType<TestEnv["startWorkers"]>> | undefined;
  try {
    const campaignId = `rolling-${Date.now().toString(36)}`;
    const handle = await start(campaignId);
    // The old default worker cannot freeze a config naming test.newStage: retried, the campaign not failed.
    const registration = await waitFor(
      "the registration refused by the old worker and retried",
      async () =>
        ((await env.client.workflow.getHandle(handle.workflowId).describe()).raw.pendingActivities ?? []).find(
          (a) => a.lastFailure?.applicationFailureInfo?.type === ErrorType.stageNotOnWorker && Number(a.attempt) >= 2,
        ),
      60_000,
    );
    assert.equal(registration.activityType?.name, "registerCampaign");
    assert.match(registration.lastFailure?.message ?? "", /the config names stage "test\.newStage" \(stages\[1\]\.name\), which this worker does not know/);
    newDefault = await env.startWorkers({ stages: newer, roles: ["default"], build: newBuild });
    await oldDefault.stop();

    // The old llm worker runs synthesis (it has that stage) and refuses the new stage's batch: retried, not failed.
    const refused = await waitFor(
      "the new stage's batch refused by the old worker and retried",
      async () => {
        const id = await iterationOf(handle.workflowId);
        if (!id) return undefined;
        const desc = await env.client.workflow.getHandle(id).describe();
        return (desc.raw.pendingActivities ?? []).find(
          (a) => a.lastFailure?.applicationFailureInfo?.type === ErrorType.stageNotOnWorker && Number(a.attempt) >= 2,
        );
      },
      60_000,
    );
    assert.match(refused.lastFailure?.message ?? "", /stage "test\.newStage" is not known to this worker \(worker \d+@.*; it runs: .*\): an older build/);
    const iteration = (await env.client.workflow.getHandle((await iterationOf(handle.workflowId))!).query(statusQuery)) as IterationStatus;
    assert.equal(iteration.state, "running", "the stage did not fail");
    const status = await runCli(["campaign", "status", campaignId], cliEnvOf(env));
    assert.equal(status.status, 0, status.stderr);
    assert.match(
      status.stdout,
      /note: test\.newStage: (batch \d|\d batches) refused by an older worker \(without the stage, a field of its config or a value it accepts\), retried for another \(attempt \d+\): stage "test\.newStage" is not known to this worker \(worker \d+@/,
    );

    // The deploy goes on: a newer llm worker starts, the old one stops.
    newLlm = await env.startWorkers({ stages: newer, roles: ["llm"], build: newBuild });
    await oldLlm.stop();
    const result = (await handle.result()) as { state: string };
    assert.equal(result.state, "completed");
    assert.deepEqual(await stageRun(campaignId), { status: "succeeded", error: null });
    const counted = await env.db.db
      .select()
      .from(activityFailures)
      .where(like(activityFailures.workflowId, `${campaignWorkflowId(campaignId)}%`));
    assert.equal(counted.length, 0, "the refusals were not counted toward any budget");
  } finally {
    await oldDefault.stop();
    await oldLlm.stop();
    await newDefault?.stop();
    await newLlm?.stop();
  }
});

test(
  "a stage no worker of its task queue has past the limit waits for the operator, saying which worker lacks it and what to do",
  { timeout: 180_000 },
  async () => {
    const newDefault = await env.startWorkers({ stages: newer, roles: ["default"], build: newBuild });
    const oldLlm = await env.startWorkers({ roles: ["llm"], stageMissingLimitMs: 3000, build: oldBuild });
    let newLlm: Awaited<ReturnType<TestEnv["startWorkers"]>> | undefined;
    try {
      const campaignId = `stuck-${Date.now().toString(36)}`;
      const handle = await start(campaignId);
      const waiting = await waitFor(
        "the stage to wait for an operator",
        async () => {
          const id = await iterationOf(handle.workflowId);
          const s = id ? ((await env.client.workflow.getHandle(id).query(statusQuery)) as IterationStatus) : undefined;
          return s?.state === "waiting_for_operator" ? s : undefined;
        },
        60_000,
      );
      const expected = new RegExp(
        `stage "test\\.newStage" is not known to the workers of task queue ${env.queuePrefix}-llm that took this step .*\\(last: worker \\d+@.*\\): ` +
          `upgrade the workers polling ${env.queuePrefix}-llm to a build that has the stage, then: toolloop campaign retry-stage ${campaignId} --stage test\\.newStage`,
      );
      assert.match(waiting.stages.find((s) => s.name === "test.newStage")?.lastError ?? "", expected);
      // What `campaign status` shows as the stage's error.
      assert.match((await stageRun(campaignId))?.error ?? "", expected);

      // The operator does as told.
      newLlm = await env.startWorkers({ stages: newer, roles: ["llm"], build: newBuild });
      await oldLlm.stop();
      await env.client.workflow.getHandle((await iterationOf(handle.workflowId))!).executeUpdate(retryStageUpdate, {
        args: [{ stage: "test.newStage" }],
      });
      assert.equal(((await handle.result()) as { state: string }).state, "completed");
    } finally {
      await oldLlm.stop();
      await newLlm?.stop();
      await newDefault.stop();
    }
  },
);
