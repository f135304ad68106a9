/**
 * A campaign that only serves its policy (serve.policy running the LLM simulator through a real
 * launcher), for the tests of what happens to policy servers afterwards (`model list`, `model stop`).
 * The merged versions it serves are written here: no training.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { and, eq } from "drizzle-orm";
import { upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import { clusterJobs, modelVersions } from "../../src/db/schema.js";
import { CHECKPOINT_PROFILE_FORMAT } from "../../src/llm/simulator/checkpointProfile.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "./configs.js";
import type { TestEnv } from "./testEnv.js";

/** Writes a merged version per iteration (a folder with a stand-in profile), then runs the campaign to completion. */
/** `serve`: more serve.policy settings (e.g. a `host`). */
export async function runServingCampaign(
  env: TestEnv,
  campaignId: string,
  iterations: number,
  launcher: unknown,
  serve: Record<string, unknown> = {},
): Promise<void> {
  const dir = path.join(env.workDir, "merged");
  fs.mkdirSync(dir, { recursive: true });
  const profile = { simulated: true, format: CHECKPOINT_PROFILE_FORMAT, steps: 1, trainedTools: {}, mistakeRateScale: {}, meanReward: 0 };
  fs.writeFileSync(path.join(dir, "toolloop_profile.json"), JSON.stringify(profile));
  for (let iteration = 1; iteration <= iterations; iteration++) {
    await upsertModelVersion(env.db.db, { campaignId, iteration, kind: "merged", baseModel: "toolloop-sim-policy", path: dir, simulated: true });
  }
  const config = simulatorCampaign("http://127.0.0.1:9/v1", {
    iterations,
    campaignId,
    stages: [{ name: "serve.policy", engine: "simulator", simulator: { idleExitMinutes: 10 }, watch: { windowSeconds: 5, pollSeconds: 1 }, ...serve }] as never,
    cluster: { launcher },
  } as never);
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  const result = await handle.result().catch((e: unknown) => {
    throw new Error(`the campaign failed: ${String((e as { cause?: unknown }).cause ?? e)}`);
  });
  assert.equal(result.state, "completed");
}

/** The serve.policy job row of one iteration (exactly one). */
export async function servePolicyJob(env: TestEnv, campaignId: string, iteration: number) {
  const rows = await env.db.db
    .select()
    .from(clusterJobs)
    .where(and(eq(clusterJobs.campaignId, campaignId), eq(clusterJobs.iteration, iteration), eq(clusterJobs.stage, "serve.policy")));
  assert.equal(rows.length, 1, `one serve.policy job in iteration ${iteration}`);
  return rows[0]!;
}

/** The served model version of one iteration, if any. */
export async function servedVersion(env: TestEnv, campaignId: string, iteration: number) {
  const rows = await env.db.db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.campaignId, campaignId), eq(modelVersions.iteration, iteration), eq(modelVersions.kind, "served")));
  return rows[0];
}
