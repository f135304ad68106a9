/**
 * The policy role a stage's step calls (src/training/servedPolicy.ts stagePolicy, what the activities
 * bind before every step), on PGlite. In iteration 1 of a scheduled run, the stages before
 * serve.policy (scoring, probing, repair) called the policy its predecessor served last even when the
 * schedule's config had moved to a new base model: training started from the new base (the
 * predecessor's policy of another base model is passed over), while those stages still scored and
 * probed with the old lineage's server. They now call the configured `roles.policy` then.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCampaignConfig, type CampaignConfig } from "../../../src/config/campaignConfig.js";
import { migrateDatabase, openDatabase, type DbHandle } from "../../../src/db/client.js";
import { insertCampaign, upsertIteration } from "../../../src/db/repos/campaigns.js";
import { upsertModelVersion } from "../../../src/db/repos/modelVersions.js";
import { resolveRole } from "../../../src/llm/roles.js";
import { stagePolicy } from "../../../src/training/servedPolicy.js";

async function withDb(fn: (h: DbHandle) => Promise<void>) {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    await fn(h);
  } finally {
    await h.close();
  }
}

/** A loop whose scoring runs before training, trained from `baseModel`; its configured policy role is the base model's endpoint. */
function loopConfig(baseModel: string | undefined): CampaignConfig {
  const training = baseModel
    ? [
        { name: "export.verl", valFraction: 0.1 },
        { name: "train.grpo", trainer: "standin", baseModel, grpo: { trainBatchSize: 4, ppoMiniBatchSize: 4, rolloutN: 2 } },
        { name: "train.merge", trainer: "standin" },
        { name: "serve.policy", engine: "simulator" },
      ]
    : [];
  const parsed = parseCampaignConfig({
    name: "wk",
    seed: 1,
    endpoints: { gen: { baseUrl: "http://gen:8000/v1" }, base: { baseUrl: "http://base:8000/v1" } },
    roles: { generator: { endpoint: "gen", model: "gen-model" }, policy: { endpoint: "base", model: `${baseModel ?? "fixed"}-instruct` } },
    tools: { sources: [{ kind: "example" }] },
    stages: [
      { name: "synthesize.singleTurn", count: 8, batchSize: 8 },
      { name: "verify.rules" },
      { name: "score.perplexity", batchSize: 8 },
      ...training,
      { name: "evaluate.bfclFast" },
    ],
  });
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

/** wk-a (completed, served iteration 2 from `predecessorBase`) and wk-b continuing it. */
async function continuing(h: DbHandle, predecessorBase: string) {
  await insertCampaign(h.db, { id: "wk-a", name: "wk", config: {}, scheduleId: "wk", scheduledAt: new Date("2026-11-30T06:00:00Z") });
  for (const i of [1, 2]) {
    await upsertModelVersion(h.db, { campaignId: "wk-a", iteration: i, kind: "merged", path: `/out/wk-a/${i}`, baseModel: predecessorBase, parentId: null });
    await upsertModelVersion(h.db, {
      campaignId: "wk-a",
      iteration: i,
      kind: "served",
      path: `/out/wk-a/${i}`,
      baseModel: predecessorBase,
      parentId: `wk-a:${i}:merged`,
      url: `http://old-node:800${i}/v1`,
      servedModel: `wk-a-iter-${i}`,
    });
    await upsertIteration(h.db, { campaignId: "wk-a", iteration: i, status: "completed" });
  }
  await insertCampaign(h.db, {
    id: "wk-b",
    name: "wk",
    config: {},
    scheduleId: "wk",
    scheduledAt: new Date("2026-12-07T06:00:00Z"),
    continuesFrom: "wk-a",
  });
}

const policyOf = (config: CampaignConfig) => {
  const r = resolveRole(config, "policy", {});
  return { url: r.endpoint.baseUrl, model: r.roleConfig.model };
};

test("after a base-model change, the stages before serve.policy call the configured policy, not the predecessor's served one", async () => {
  await withDb(async (h) => {
    await continuing(h, "old-base");
    const config = loopConfig("new-base");
    const p = await stagePolicy(h.db, { campaignId: "wk-b", config, stage: "score.perplexity", iteration: 1 });
    assert.deepEqual(policyOf(p.config), { url: "http://base:8000/v1", model: "new-base-instruct" });
    assert.equal(p.served, undefined);
    assert.equal(p.passedOver?.id, "wk-a:2:served", "says which served policy it did not call");
    assert.equal(p.baseModel, "new-base");
    // A stage after serve.policy before this run served: the same.
    const evalBefore = await stagePolicy(h.db, { campaignId: "wk-b", config, stage: "evaluate.bfclFast", iteration: 1 });
    assert.deepEqual(policyOf(evalBefore.config), { url: "http://base:8000/v1", model: "new-base-instruct" });
    // Once the run serves its own policy (trained from the new base), its own later stages call it.
    await upsertModelVersion(h.db, {
      campaignId: "wk-b",
      iteration: 1,
      kind: "served",
      baseModel: "new-base",
      parentId: "wk-b:1:merged",
      url: "http://new-node:8000/v1",
      servedModel: "wk-b-iter-1",
    });
    const evalAfter = await stagePolicy(h.db, { campaignId: "wk-b", config, stage: "evaluate.bfclFast", iteration: 1 });
    assert.deepEqual(policyOf(evalAfter.config), { url: "http://new-node:8000/v1", model: "wk-b-iter-1" });
    assert.equal(evalAfter.served?.id, "wk-b:1:served");
    const next = await stagePolicy(h.db, { campaignId: "wk-b", config, stage: "score.perplexity", iteration: 2 });
    assert.deepEqual(policyOf(next.config), { url: "http://new-node:8000/v1", model: "wk-b-iter-1" });
    assert.equal(next.passedOver, undefined);
  });
});

test("a run on the same base model calls the policy its predecessor served last", async () => {
  await withDb(async (h) => {
    await continuing(h, "new-base");
    const p = await stagePolicy(h.db, { campaignId: "wk-b", config: loopConfig("new-base"), stage: "score.perplexity", iteration: 1 });
    assert.deepEqual(policyOf(p.config), { url: "http://old-node:8002/v1", model: "wk-a-iter-2" });
    assert.equal(p.served?.id, "wk-a:2:served");
    assert.equal(p.passedOver, undefined);
  });
});

test("a run whose config trains nothing names no base model: it calls the predecessor's served policy", async () => {
  await withDb(async (h) => {
    await continuing(h, "old-base");
    const p = await stagePolicy(h.db, { campaignId: "wk-b", config: loopConfig(undefined), stage: "score.perplexity", iteration: 1 });
    assert.deepEqual(policyOf(p.config), { url: "http://old-node:8002/v1", model: "wk-a-iter-2" });
    assert.equal(p.baseModel, undefined);
  });
});
