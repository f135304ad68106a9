/**
 * The restart a waiting stage makes of the loop's own policy server is bounded: at most AUTO_RESTARTS
 * restarts of one served version in all (counted from cluster_jobs, so a new worker does not start
 * over), one try per AUTO_RESTART_SPACING_MS, and none unless the served URL is the silent one. PGlite.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { pgliteForTest } from "../../helpers/pgliteForTest.js";
import { recordJobIntent } from "../../../src/db/repos/clusterJobs.js";
import { stageJobName } from "../../../src/training/jobNames.js";
import { RESTART_JOB_STAGE } from "../../../src/training/servedPolicyRestart.js";
import {
  AUTO_RESTART_SPACING_MS,
  AUTO_RESTARTS,
  restartsOf,
  revivalNote,
  revivalReadyTimeoutMs,
  ServedPolicyRevival,
} from "../../../src/training/servedPolicyRevival.js";

test("a served version restarted AUTO_RESTARTS times is not restarted again by itself; tries are spaced and only for its own URL", async (t) => {
  const { db } = await pgliteForTest(t, "revival");
  const served = { campaignId: "c", iteration: 2, url: "http://127.0.0.1:7/v1" };
  const job = (stage: string, attempt: number) => ({
    name: stageJobName("c", 2, stage, attempt),
    campaignId: "c",
    iteration: 2,
    stage: "serve.policy",
    attempt,
    launcher: "local",
    request: {},
  });
  await recordJobIntent(db.db, job("serve.policy", 1));
  for (let a = 2; a < 2 + AUTO_RESTARTS; a++) await recordJobIntent(db.db, job(RESTART_JOB_STAGE, a));
  // Another iteration's restart does not count for this one.
  await recordJobIntent(db.db, { ...job(RESTART_JOB_STAGE, 9), iteration: 1, name: stageJobName("c", 1, RESTART_JOB_STAGE, 9) });
  assert.equal(await restartsOf(db.db, served), AUTO_RESTARTS);

  let now = 1_000_000;
  const revival = new ServedPolicyRevival(db.db, served, { readyTimeoutMs: 1000, now: () => now });
  assert.equal(await revival.onSilent(["http://127.0.0.1:8/v1"]), undefined, "another endpoint silent: nothing tried");
  const declined = await revival.onSilent([served.url]);
  assert.equal(declined?.kind, "declined");
  assert.equal(declined?.kind === "declined" && declined.why, "limit");
  assert.equal(
    revivalNote(served, declined!),
    `the policy server of c iteration 2 was restarted ${AUTO_RESTARTS} times already and does not answer: not restarted again by itself (\`toolloop model list c\` shows its jobs; decide: \`toolloop model restart c --iteration 2\`, \`toolloop campaign retry-stage\` or \`toolloop campaign skip-stage\`)`,
  );
  now += AUTO_RESTART_SPACING_MS - 1;
  assert.equal(await revival.onSilent([served.url]), undefined, "not due yet");
  now += 1;
  assert.equal((await revival.onSilent([served.url]))?.kind, "declined", "due again");
});

test("a restarted server's wait for readiness is the served stage's readyTimeoutMinutes (0: a day)", () => {
  assert.equal(revivalReadyTimeoutMs(5), 5 * 60_000);
  assert.equal(revivalReadyTimeoutMs(0), 24 * 60 * 60_000);
  assert.equal(revivalReadyTimeoutMs(undefined), 60 * 60_000);
});
