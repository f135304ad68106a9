/** Job names, verl output parsing and the served-policy override: pure pieces of the training stages. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { parseCampaignConfig } from "../../../src/config/campaignConfig.js";
import { resolveRole } from "../../../src/llm/roles.js";
import { stageJobName } from "../../../src/training/jobNames.js";
import { JOB_NAME } from "../../../src/training/launchers/launcher.js";
import { checkpointActorDir, headlineMetrics, lastMetricLine, latestCheckpointStep, parseMetricLine } from "../../../src/training/jobOutputs.js";
import { servedPolicyBound, servedPolicyEndpointName, withServedPolicy } from "../../../src/training/servedPolicy.js";

test("job names are deterministic, distinct per attempt and campaign, and valid for Slurm, Ray and paths", () => {
  const a = stageJobName("Weekly Campaign/2026-12-01T00:00Z", 3, "train.grpo", 1);
  assert.equal(a, stageJobName("Weekly Campaign/2026-12-01T00:00Z", 3, "train.grpo", 1));
  assert.match(a, JOB_NAME);
  assert.ok(a.length <= 63, a);
  assert.notEqual(a, stageJobName("Weekly Campaign/2026-12-01T00:00Z", 3, "train.grpo", 2));
  // Two ids that slug alike still get different names (the hash of the full id).
  assert.notEqual(stageJobName("a.b", 1, "train.grpo", 1), stageJobName("a-b", 1, "train.grpo", 1));
  const long = stageJobName("x".repeat(63), 10_000, "serve.policy", 99);
  assert.match(long, JOB_NAME);
});

test("verl metric lines parse into step and numbers; other lines are ignored", () => {
  const line = "step:12 - critic/score/mean:0.4375 - critic/rewards/mean:0.41 - response_length/mean:88.5 - timing_s/step:1.25";
  const parsed = parseMetricLine(line);
  assert.deepEqual(parsed, {
    step: 12,
    metrics: { "critic/score/mean": 0.4375, "critic/rewards/mean": 0.41, "response_length/mean": 88.5, "timing_s/step": 1.25 },
  });
  assert.equal(parseMetricLine("INFO loading model"), undefined);
  const tail = ["noise", line, "step:13 - critic/score/mean:0.5", "saving checkpoint"].join("\n");
  assert.equal(lastMetricLine(tail)?.step, 13);
  assert.deepEqual(headlineMetrics(parsed?.metrics ?? {}), { "critic/score/mean": 0.4375, "critic/rewards/mean": 0.41, "response_length/mean": 88.5 });
});

test("the newest checkpoint step is read from latest_checkpointed_iteration.txt", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-"));
  try {
    assert.equal(await latestCheckpointStep(dir), undefined);
    fs.writeFileSync(path.join(dir, "latest_checkpointed_iteration.txt"), "40\n");
    assert.equal(await latestCheckpointStep(dir), 40);
    assert.equal(checkpointActorDir(dir, 40), path.join(dir, "global_step_40", "actor"));
    fs.writeFileSync(path.join(dir, "latest_checkpointed_iteration.txt"), "garbage");
    assert.equal(await latestCheckpointStep(dir), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a served policy replaces roles.policy's endpoint and model, keeping its sampling settings and the endpoint's limits", () => {
  const parsed = parseCampaignConfig({
    name: "loop",
    endpoints: { base: { baseUrl: "http://127.0.0.1:9/v1", apiKeyEnv: "BASE_KEY", maxConcurrency: 7 } },
    roles: { policy: { endpoint: "base", model: "base-model", temperature: 0.2 }, generator: { endpoint: "base", model: "gen" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "verify.rules" }],
  });
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
  const cfg = withServedPolicy(parsed.config, { iteration: 1, url: "http://node7:8000/v1", servedModel: "loop-iter-1" });
  const r = resolveRole(cfg, "policy", {});
  assert.equal(r.endpointName, servedPolicyEndpointName(1));
  assert.equal(r.endpoint.baseUrl, "http://node7:8000/v1");
  assert.equal(r.endpoint.maxConcurrency, 7);
  assert.equal(r.apiKey, undefined, "our own server needs no key; the base endpoint's key is not sent to it");
  assert.equal(r.roleConfig.model, "loop-iter-1");
  assert.equal(r.roleConfig.temperature, 0.2);
  // Other roles are untouched.
  assert.equal(resolveRole(cfg, "generator", { BASE_KEY: "k" }).endpoint.baseUrl, "http://127.0.0.1:9/v1");
});

test("stages after serve.policy use their own iteration's served model; the others an earlier iteration's", () => {
  const stages = ["evaluate.bfclFast", "synthesize.singleTurn", "train.grpo", "train.merge", "serve.policy", "evaluate.bfcl"];
  assert.equal(servedPolicyBound(stages, "evaluate.bfclFast", 3), 3, "before serving: iterations below 3");
  assert.equal(servedPolicyBound(stages, "train.grpo", 3), 3);
  assert.equal(servedPolicyBound(stages, "serve.policy", 3), 3);
  assert.equal(servedPolicyBound(stages, "evaluate.bfcl", 3), 4, "after serving: this iteration's model too");
  assert.equal(servedPolicyBound(["synthesize.singleTurn", "evaluate.bfcl"], "evaluate.bfcl", 2), 2, "no serve.policy: the earlier iterations'");
});
