/**
 * The loop closed, end to end on the local launcher: two iterations of synthesize -> verify ->
 * export.verl -> train.sft -> train.grpo -> train.merge -> serve.policy, evaluating first, with the stand-in trainer
 * (SIMULATED: it trains nothing; it scores rollouts through the generated Python shim and this
 * worker's live reward service, and writes a profile the LLM simulator reads when it serves the
 * checkpoint). Real: the dev server, PostgreSQL, the worker, the local launcher, the parquet, the
 * reward service and shim, the served OpenAI-compatible endpoint and the policy switch.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { toOpenAiTool } from "../../src/domain/types.js";
import { bfclScores, clusterJobs, llmRequests, modelVersions, samples as samplesTable } from "../../src/db/schema.js";
import { rewardConfigSchema } from "../../src/reward/config.js";
import { scoreResponse } from "../../src/reward/score.js";
import { stopServedPolicies } from "../../src/training/servedPolicyJobs.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId, retryStageUpdate, statusQuery, type CampaignStatus, type IterationStatus } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";
import { trainVenvPython as trainPython } from "../helpers/trainVenv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
const BASE_MISTAKE_RATE = 0.4;

before(async () => {
  env = await createTestEnv("trainloop");
  // The untrained policy (and the generator): the simulator at a high mistake rate.
  sim = await startSimulator({ seed: 11, latencyMs: 1, maxConcurrency: 16, mistakeRate: BASE_MISTAKE_RATE, quiet: true });
  workers = await env.startWorkers();
});
/** Campaigns this file started: their policy servers are stopped at the end (they outlive the campaign by design). */
const started: string[] = [];
after(async () => {
  for (const id of started) await stopServedPolicies(env.db.db, id, localLauncher(), () => undefined).catch(() => undefined);
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

function localLauncher() {
  return { kind: "local" as const, stateDir: path.join(env.workDir, "local-jobs") };
}

function loopConfig(campaignId: string, over: { iterations?: number; grpoEnv?: Record<string, string>; deleteCheckpointsAfterMerge?: boolean } = {}) {
  const deleteCheckpointsAfterMerge = over.deleteCheckpointsAfterMerge ?? false;
  const stages = [
    // First in each iteration: it measures the policy the iteration starts with (iteration 2: the one iteration 1 trained).
    { name: "evaluate.bfclFast", categories: ["simple", "multiple", "parallel"], limitPerCategory: 40, batchSize: 3 },
    { name: "synthesize.singleTurn", count: 96, batchSize: 32, mix: { standard: 0.5, parallel: 0.3, irrelevance: 0.2 } },
    { name: "verify.rules", batchSize: 96 },
    { name: "export.verl", valFraction: 0.2, sft: true },
    {
      name: "train.sft",
      trainer: "standin",
      baseModel: "toolloop-sim-policy",
      sft: { trainBatchSize: 16, totalEpochs: 1 },
      deleteCheckpointsAfterMerge,
      env: { TOOLLOOP_STANDIN_STEP_SECONDS: "0.05" },
      watch: { windowSeconds: 10, pollSeconds: 1 },
    },
    {
      name: "train.grpo",
      trainer: "standin",
      baseModel: "toolloop-sim-policy",
      grpo: { trainBatchSize: 8, ppoMiniBatchSize: 8, rolloutN: 2, saveFreq: 4, totalEpochs: 4 },
      env: { TOOLLOOP_STANDIN_STEP_SECONDS: "0.05", ...over.grpoEnv },
      watch: { windowSeconds: 10, pollSeconds: 1 },
    },
    { name: "train.merge", trainer: "standin", deleteCheckpointsAfterMerge, watch: { windowSeconds: 10, pollSeconds: 1 } },
    {
      name: "serve.policy",
      engine: "simulator",
      simulator: { mistakeRate: BASE_MISTAKE_RATE, seed: 5, idleExitMinutes: 10 },
      watch: { windowSeconds: 10, pollSeconds: 1 },
    },
  ];
  return simulatorCampaign(sim.url, {
    iterations: over.iterations ?? 2,
    roles: {
      generator: { endpoint: "sim", model: "toolloop-sim" },
      policy: { endpoint: "sim", model: "toolloop-sim-policy", temperature: 0 },
    },
    stages: stages as never,
    cluster: { launcher: localLauncher(), python: trainPython() },
    campaignId,
  } as never);
}

test("two iterations: iteration 2's policy is the model iteration 1 served, and its answers change", { timeout: 600_000 }, async (t) => {
  const id = `loop-${Date.now().toString(36)}`;
  started.push(id);
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(id),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: loopConfig(id, { deleteCheckpointsAfterMerge: true }), campaignId: id }],
  });
  const result = await handle.result();
  assert.equal(result.state, "completed", JSON.stringify(result));

  // Lineage: base -> checkpoint -> merged -> served per iteration; iteration 2 starts from iteration 1's merged model.
  const versions = await env.db.db.select().from(modelVersions).where(eq(modelVersions.campaignId, id));
  const v = (iteration: number, kind: string) => versions.find((r) => r.iteration === iteration && r.kind === kind);
  for (const iteration of [1, 2]) {
    const [ckpt, merged, served] = [v(iteration, "checkpoint"), v(iteration, "merged"), v(iteration, "served")];
    assert.ok(ckpt && merged && served, `iteration ${iteration} registered checkpoint, merged and served versions`);
    assert.equal(merged.parentId, ckpt.id);
    assert.equal(served.parentId, merged.id);
    assert.equal(ckpt.simulated, true, "the stand-in trainer's checkpoints are marked simulated");
    assert.match(ckpt.path ?? "", /global_step_\d+[/\\]actor$/);
    assert.ok(fs.existsSync(path.join(merged.path ?? "", "toolloop_profile.json")), "the merged folder carries the stand-in profile");
    assert.ok((ckpt.dataset as { manifestPath?: string } | null)?.manifestPath, "the checkpoint records the training data manifest that produced it");
    assert.match(served.url ?? "", /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  }
  assert.equal(v(1, "sft")?.parentId, null, "iteration 1 fine-tunes the base model");
  assert.equal(v(1, "sft")?.baseModel, "toolloop-sim-policy");
  assert.equal(v(1, "checkpoint")?.parentId, v(1, "sft")?.id, "GRPO starts from the SFT warm-up");
  assert.equal(v(2, "sft")?.parentId, v(1, "merged")?.id, "iteration 2 starts from iteration 1's merged policy");
  assert.equal(v(2, "checkpoint")?.parentId, v(2, "sft")?.id);
  assert.ok(fs.existsSync(path.join(v(1, "sft")?.path ?? "", "toolloop_profile.json")), "the SFT job merged its last step");

  // deleteCheckpointsAfterMerge: each iteration's SFT and GRPO steps were deleted once merged, and recorded;
  // the merged models (what iteration 2 and serving started from) stay. GRPO saved every 4 steps and
  // verl's default max_actor_ckpt_to_keep (2) had kept the newest two until the merge.
  for (const iteration of [1, 2]) {
    for (const [kind, job] of [
      ["sft", "sft"],
      ["checkpoint", "grpo"],
    ] as const) {
      const deleted = (v(iteration, kind)?.details as { checkpointsDeleted?: { dir: string; steps: number[]; bytes: number; mergedModel: string } } | null)
        ?.checkpointsDeleted;
      assert.ok(deleted, `iteration ${iteration} ${kind}: deletion recorded`);
      assert.match(deleted.dir, new RegExp(`iter-${iteration}[/\\\\]train[/\\\\]${job}[/\\\\]checkpoints$`));
      assert.deepEqual(fs.readdirSync(deleted.dir), ["CHECKPOINTS_DELETED.txt"], `${deleted.dir} emptied`);
      assert.ok(deleted.bytes > 0);
      assert.ok(fs.existsSync(path.join(deleted.mergedModel, "config.json")), `${deleted.mergedModel} kept`);
      if (job === "grpo") {
        const last = (v(iteration, kind)?.details as { step: number }).step;
        assert.deepEqual(deleted.steps, [Math.ceil(last / 4) * 4 - 4, last], "the two newest saved steps were all that was left");
      }
    }
  }

  // Every job ran once, under its deterministic name, and succeeded (the last server keeps running).
  const jobs = await env.db.db.select().from(clusterJobs).where(eq(clusterJobs.campaignId, id));
  assert.equal(jobs.length, 8, jobs.map((j) => j.name).join(", "));
  for (const j of jobs.filter((j) => j.stage !== "serve.policy")) assert.equal(j.state, "succeeded", j.name);
  // Once iteration 2 serves, iteration 1's server is stopped (keepPrevious 0): servers do not pile up over a long campaign.
  const servers = jobs.filter((j) => j.stage === "serve.policy").sort((a, b) => a.iteration - b.iteration);
  assert.deepEqual(
    servers.map((j) => [j.iteration, j.state]),
    [
      [1, "cancelled"],
      [2, "running"],
    ],
  );
  assert.equal(servers[0]!.message, `superseded by ${servers[1]!.name}`);

  // The policy role: iteration 1 asks the configured model; iteration 2 asks the model iteration 1 served.
  const policyModels = async (iteration: number) =>
    new Set(
      (
        await env.db.db
          .select({ model: llmRequests.model })
          .from(llmRequests)
          .where(and(eq(llmRequests.campaignId, id), eq(llmRequests.iteration, iteration), eq(llmRequests.role, "policy")))
      ).map((r) => r.model),
    );
  assert.deepEqual([...(await policyModels(1))], ["toolloop-sim-policy"]);
  assert.deepEqual([...(await policyModels(2))], [`${id}-iter-1`], "iteration 2's policy is the model iteration 1 served");

  // Training changed the policy's answers (the simulated learning effect of the stand-in profile):
  // on the same training prompts, the model iteration 2 serves calls the tools right more often than
  // the untrained policy. Scored by the real reward path (binary: the calls match the label).
  const samples = (
    await env.db.db
      .select()
      .from(samplesTable)
      .where(and(eq(samplesTable.campaignId, id), eq(samplesTable.status, "verified")))
  ).slice(0, 150);
  assert.ok(samples.length >= 100, `verified samples: ${samples.length}`);
  const untrained = await policyAccuracy(sim.url, "toolloop-sim-policy", samples);
  const trained = await policyAccuracy(v(2, "served")?.url ?? "", `${id}-iter-2`, samples);
  t.diagnostic(`policy accuracy on ${samples.length} training prompts: untrained ${untrained.toFixed(3)}, trained (iteration 2's model) ${trained.toFixed(3)}`);
  assert.ok(trained > untrained + 0.08, `the trained policy (${trained}) answers better than the untrained one (${untrained})`);

  // The evaluation stage ran against each iteration's policy and stored its scores.
  const scores = await env.db.db
    .select()
    .from(bfclScores)
    .where(and(eq(bfclScores.campaignId, id), eq(bfclScores.category, "overall_probe")));
  assert.deepEqual(scores.map((r) => r.iteration).sort(), [1, 2]);
});

/** Share of samples whose label calls the policy at `baseUrl` reproduces (binary reward over its OpenAI tool calls). */
async function policyAccuracy(baseUrl: string, model: string, samples: (typeof samplesTable.$inferSelect)[]): Promise<number> {
  const binary = rewardConfigSchema.parse({ kind: "binary", template: "openai" });
  let right = 0;
  for (const s of samples) {
    const label = s.messages.at(-1) as { tool_calls?: { function: { name: string; arguments: string } }[] };
    const groundTruth = JSON.stringify({
      calls: (label.tool_calls ?? []).map((c) => ({ name: c.function.name, arguments: JSON.parse(c.function.arguments || "{}") as unknown })),
    });
    const tools = s.tools.map(toOpenAiTool);
    const res = await fetch(`${baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: s.messages.slice(0, -1), tools, temperature: 0 }),
    });
    assert.equal(res.status, 200, `${baseUrl}: ${res.status}`);
    const message = ((await res.json()) as { choices: { message: { content: string | null; tool_calls?: unknown[] } }[] }).choices[0]!.message;
    const solution = JSON.stringify({ content: message.content ?? "", tool_calls: message.tool_calls ?? [] });
    if (
      scoreResponse(binary, { data_source: "toolloop", solution_str: solution, ground_truth: groundTruth, extra_info: { tools: JSON.stringify(tools) } })
        .score === 1
    )
      right++;
  }
  return right / samples.length;
}

test("a training job that crashes waits for the operator; retry resumes from its last checkpoint", { timeout: 600_000 }, async () => {
  const id = `crash-${Date.now().toString(36)}`;
  started.push(id);
  // The stand-in crashes at step 6 the first time (checkpoints every 4 steps): attempt 2 must resume from step 4.
  const config = loopConfig(id, { iterations: 1, grpoEnv: { TOOLLOOP_STANDIN_FAIL_AT_STEP: "6", TOOLLOOP_STANDIN_FAIL_ONCE: "1" } });
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(id),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId: id }],
  });
  const waiting = await waitFor(
    "train.grpo to wait for the operator",
    async () => {
      const c = (await handle.query(statusQuery)) as CampaignStatus;
      if (!c.iterationWorkflowId) return undefined;
      const it = (await env.client.workflow.getHandle(c.iterationWorkflowId).query(statusQuery)) as IterationStatus;
      return it.state === "waiting_for_operator" ? { it, iterationWorkflowId: c.iterationWorkflowId } : undefined;
    },
    300_000,
    500,
  );
  const grpo = waiting.it.stages.find((st) => st.name === "train.grpo");
  assert.match(grpo?.lastError ?? "", /simulated failure of the stand-in trainer at step 6/, "the error carries the end of the trainer's output");
  await env.client.workflow.getHandle(waiting.iterationWorkflowId).executeUpdate(retryStageUpdate, { args: [{}] });
  assert.equal((await handle.result()).state, "completed");

  const jobs = await env.db.db
    .select()
    .from(clusterJobs)
    .where(and(eq(clusterJobs.campaignId, id), eq(clusterJobs.stage, "train.grpo")))
    .orderBy(clusterJobs.attempt);
  assert.deepEqual(
    jobs.map((j) => [j.attempt, j.state]),
    [
      [1, "failed"],
      [2, "succeeded"],
    ],
  );
  const workDir = (jobs[1]!.request as { workDir: string }).workDir;
  const log = fs.readFileSync(path.join(workDir, `${jobs[1]!.name}.log`), "utf8");
  assert.match(log, /resuming from global_step_4/, "attempt 2 continued from attempt 1's last checkpoint");
  const ckpt = (
    await env.db.db
      .select()
      .from(modelVersions)
      .where(eq(modelVersions.id, `${id}:1:checkpoint`))
  )[0];
  assert.equal(ckpt?.jobName, jobs[1]!.name);
});
