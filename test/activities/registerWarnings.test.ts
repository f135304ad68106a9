/**
 * A campaign started without the CLI (the Temporal UI, a schedule) gets its config's warnings in the
 * worker's log, once per config recorded: here a stage order that reads nothing. PGlite and
 * MockActivityEnvironment: no Temporal server, no LLM.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { pgliteForTest } from "../helpers/pgliteForTest.js";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { rawCampaign } from "../helpers/selfEvolution.js";

test("registering a campaign logs its config's warnings once, naming the campaign", async (t) => {
  const { db, dir } = await pgliteForTest(t, "register-warnings");
  const lines: string[] = [];
  const activities = createActivities(activityDepsFor(db, dir, (m) => lines.push(m)));
  const config = rawCampaign({ simUrl: "http://127.0.0.1:1/v1", stages: [{ name: "verify.rules" }, { name: "synthesize.singleTurn", count: 4 }] });
  const result: { warnings?: string[] } = await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId: "c", config });
  const expected =
    "stages[0] (verify.rules) reads the iteration's samples (synthesize.singleTurn, synthesize.multiTurn, expand.errors or repair.labels make them), but no stage before it makes them in iteration 1, so it has nothing to read there";
  assert.deepEqual(result.warnings, [expected]);
  assert.deepEqual(
    lines.filter((l) => l.startsWith("[config]")),
    [`[config] campaign c: warning: ${expected}`],
  );
  // Registered again with the same config (a restarted campaign): not said again.
  await new MockActivityEnvironment().run(activities.registerCampaign, { campaignId: "c", config });
  assert.equal(lines.filter((l) => l.startsWith("[config]")).length, 1);
});
