/**
 * The worker says which policy a stage of a continuing run calls before the run serves its own, and
 * why (activities/index.ts, src/training/servedPolicy.ts): after a base-model change the stages
 * before serve.policy called the predecessor's server without a word, while training started from
 * the new base. PGlite and MockActivityEnvironment: no Temporal server, no LLM.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { insertCampaign, upsertIteration } from "../../src/db/repos/campaigns.js";
import { upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import { pgliteForTest } from "../helpers/pgliteForTest.js";
import { rawCampaign } from "../helpers/selfEvolution.js";

const config = rawCampaign({
  simUrl: "http://127.0.0.1:1/v1",
  stages: [
    { name: "synthesize.singleTurn", count: 4, batchSize: 4 },
    { name: "verify.rules" },
    { name: "score.perplexity", batchSize: 4 },
    { name: "export.verl", valFraction: 0.1 },
    { name: "train.grpo", trainer: "standin", baseModel: "new-base", grpo: { trainBatchSize: 4, ppoMiniBatchSize: 4, rolloutN: 2 } },
    { name: "train.merge", trainer: "standin" },
    { name: "serve.policy", engine: "simulator" },
  ],
});

async function predecessor(db: Parameters<typeof insertCampaign>[0], id: string, baseModel: string, scheduleId: string) {
  await insertCampaign(db, { id, name: "wk", config: {}, scheduleId, scheduledAt: new Date("2026-11-30T06:00:00Z") });
  await upsertModelVersion(db, { campaignId: id, iteration: 1, kind: "merged", path: `/out/${id}`, baseModel, parentId: null });
  await upsertModelVersion(db, {
    campaignId: id,
    iteration: 1,
    kind: "served",
    baseModel,
    parentId: `${id}:1:merged`,
    url: "http://old-node:8001/v1",
    servedModel: `${id}-iter-1`,
  });
  await upsertIteration(db, { campaignId: id, iteration: 1, status: "completed" });
}

test("the worker logs, once per stage, that a continuing run's policy stages call the configured policy when the predecessor's is of another base model", async (t) => {
  const { db, dir } = await pgliteForTest(t, "continued-policy");
  const logged: string[] = [];
  const acts = createActivities(activityDepsFor(db, dir, (m) => logged.push(m)));
  await predecessor(db.db, "wk-a", "old-base", "wk");
  await insertCampaign(db.db, { id: "wk-b", name: "wk", config, scheduleId: "wk", scheduledAt: new Date("2026-12-07T06:00:00Z"), continuesFrom: "wk-a" });
  const plan = (stage: string) => new MockActivityEnvironment().run(acts.planStage, { campaignId: "wk-b", iteration: 1, stage });
  await plan("verify.rules");
  await plan("score.perplexity");
  await plan("score.perplexity");
  const said = logged.filter((l) => l.startsWith("[policy]"));
  assert.deepEqual(said, [
    "[policy] wk-b iteration 1 score.perplexity: the policy role calls the configured roles.policy, model toolloop-sim-policy at endpoint sim (http://127.0.0.1:1/v1) until this run's own serve.policy: " +
      "wk-a's served policy wk-a-iter-1 (wk-a:1:served) was trained from base model old-base, not the configured baseModel new-base, so this run trains from new-base and does not call it",
  ]);
});

test("the worker logs that a continuing run on the same base model calls its predecessor's served policy", async (t) => {
  const { db, dir } = await pgliteForTest(t, "continued-policy-same");
  const logged: string[] = [];
  const acts = createActivities(activityDepsFor(db, dir, (m) => logged.push(m)));
  await predecessor(db.db, "wk-a", "new-base", "wk");
  await insertCampaign(db.db, { id: "wk-b", name: "wk", config, scheduleId: "wk", scheduledAt: new Date("2026-12-07T06:00:00Z"), continuesFrom: "wk-a" });
  await new MockActivityEnvironment().run(acts.planStage, { campaignId: "wk-b", iteration: 1, stage: "score.perplexity" });
  assert.deepEqual(
    logged.filter((l) => l.startsWith("[policy]")),
    [
      "[policy] wk-b iteration 1 score.perplexity: the policy role calls wk-a's served policy wk-a-iter-1 at http://old-node:8001/v1 (wk-a:1:served; trained from base model new-base, the configured baseModel) until this run's own serve.policy",
    ],
  );
});
