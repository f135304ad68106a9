/**
 * `campaign status` of a scheduled run that continues another says which policy its stages before
 * serve.policy call while the predecessor decides it, and why (src/db/repos/campaignStatus.ts,
 * src/training/servedPolicy.ts): after a base-model change they call the configured roles.policy,
 * not the old lineage's server, and nothing said so. PGlite.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { renderCampaignView } from "../../../src/cli/statusView.js";
import { upsertIteration } from "../../../src/db/repos/campaigns.js";
import { readCampaignFacts } from "../../../src/db/repos/campaignStatus.js";
import { upsertModelVersion } from "../../../src/db/repos/modelVersions.js";
import { campaignView } from "../../../src/status/campaignView.js";
import { continuedLineage } from "../../helpers/continuedLineage.js";

async function continuing(t: TestContext, predecessorBase: string) {
  const { db } = await continuedLineage(t, { predecessorBase, successorBase: "new-base" });
  await upsertIteration(db.db, { campaignId: "wk-b", iteration: 1, status: "running" });
  return db;
}

const statusText = async (db: Awaited<ReturnType<typeof continuing>>) => {
  const facts = await readCampaignFacts(db.db, "wk-b");
  assert.ok(facts);
  const view = campaignView({ campaignId: "wk-b", db: facts });
  return { view, text: renderCampaignView(view) };
};

test("status of a run whose config moved to another base model says its stages call the configured policy, and why", async (t) => {
  const db = await continuing(t, "old-base");
  const { view, text } = await statusText(db);
  const expected =
    "policy: the policy role calls the configured roles.policy, model toolloop-sim-policy at endpoint sim (http://127.0.0.1:1/v1) until this run's own serve.policy: " +
    "wk-a's served policy wk-a-iter-1 (wk-a:1:served) was trained from base model old-base, not the configured baseModel new-base, so this run trains from new-base and does not call it";
  assert.ok(text.split("\n").includes(expected), text);
  assert.equal(`policy: ${view.continuedPolicy}`, expected, "--json carries it too");
  // Once the run serves its own, its stages call that: nothing to say.
  await upsertModelVersion(db.db, {
    campaignId: "wk-b",
    iteration: 1,
    kind: "served",
    baseModel: "new-base",
    url: "http://new:8000/v1",
    servedModel: "wk-b-iter-1",
  });
  await upsertIteration(db.db, { campaignId: "wk-b", iteration: 2, status: "running" });
  assert.doesNotMatch((await statusText(db)).text, /^policy:/m);
});

test("status of a run on the same base model says its stages call the predecessor's served policy", async (t) => {
  const db = await continuing(t, "new-base");
  const { text } = await statusText(db);
  assert.ok(
    text
      .split("\n")
      .includes(
        "policy: the policy role calls wk-a's served policy wk-a-iter-1 at http://old-node:8001/v1 (wk-a:1:served; trained from base model new-base, the configured baseModel) until this run's own serve.policy",
      ),
    text,
  );
});
