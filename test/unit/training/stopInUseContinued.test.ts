/**
 * `model stop` refuses to stop the server a running campaign calls (src/training/servedPolicyJobs.ts),
 * including a scheduled run that continues the campaign and has not served its own yet. A run whose
 * config moved to another base model does not call its predecessor's server (its stages call the
 * configured policy, src/training/servedPolicy.ts stagePolicy): the stop was refused for it all the
 * same. PGlite; the stop itself goes as far as the local launcher (no record of the job here).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { eq } from "drizzle-orm";
import { recordJobIntent, recordJobStatus } from "../../../src/db/repos/clusterJobs.js";
import { campaigns } from "../../../src/db/schema.js";
import { stopServedPolicy, StopServedPolicyError } from "../../../src/training/servedPolicyJobs.js";
import { continuedLineage } from "../../helpers/continuedLineage.js";

async function setUp(t: TestContext, successorBase: string) {
  // wk-a: completed, its iteration-1 server (trained from old-base) still running; wk-b: running,
  // continues wk-a, trains from successorBase, has served nothing yet.
  const { db, dir } = await continuedLineage(t, {
    predecessorBase: "old-base",
    successorBase,
    async beforeServed(h) {
      await h.db.update(campaigns).set({ status: "completed" }).where(eq(campaigns.id, "wk-a"));
      const job = "wk-a-1-serve-policy-a1";
      await recordJobIntent(h.db, { name: job, campaignId: "wk-a", iteration: 1, stage: "serve.policy", attempt: 1, launcher: "local", request: {} });
      await recordJobStatus(h.db, job, { state: "running" });
      return job;
    },
  });
  const stop = () => stopServedPolicy(db.db, { campaignId: "wk-a", launcherConfig: { kind: "local", stateDir: path.join(dir, "jobs") } });
  return { stop };
}

async function refusal(p: Promise<unknown>): Promise<StopServedPolicyError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StopServedPolicyError, String(e));
    return e;
  }
  assert.fail("expected a StopServedPolicyError");
}

test("model stop is refused while a continuing run of the same base model calls the server", async (t) => {
  const { stop } = await setUp(t, "old-base");
  const e = await refusal(stop());
  assert.equal(e.kind, "in-use");
  assert.match(e.message, /campaign wk-b continues from it and calls it until its own serve\.policy/);
});

test("a continuing run trained from another base model does not call the server: model stop goes ahead", async (t) => {
  const { stop } = await setUp(t, "new-base");
  const e = await refusal(stop());
  // Past the in-use check: the local launcher here has no record of the job.
  assert.equal(e.kind, "not-found", e.message);
  assert.match(e.message, /the local launcher here has no record of wk-a-1-serve-policy-a1/);
});
