/**
 * `campaign start`'s endpoint check of a registered run that continues a predecessor of the same base
 * model (a schedule's run started again by hand): its stages before serve.policy call the
 * predecessor's served policy, yet the check tested the configured roles.policy, passing a start
 * whose real server was down (or refusing one for a server it never calls). It now checks what the
 * stages call, by their own rule (stagePolicy); after a base-model change, the configured policy.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkEndpointsForStart } from "../../../src/cli/endpointCheck.js";
import { configForIteration } from "../../../src/db/repos/campaignConfigs.js";
import { continuedLineage } from "../../helpers/continuedLineage.js";

/** The endpoint check's refusal, one line per endpoint. */
async function refusal(p: Parameters<typeof checkEndpointsForStart>[1] & { config: Parameters<typeof checkEndpointsForStart>[0] }): Promise<string[]> {
  const { config, ...opts } = p;
  const err = await checkEndpointsForStart(config, opts).then(
    () => assert.fail("the check passed"),
    (e: unknown) => e as Error,
  );
  return err.message.split("\n").slice(1);
}

test("a same-base continuing run's start checks the predecessor's served policy, not the configured roles.policy", async (t) => {
  const { db } = await continuedLineage(t, { predecessorBase: "org/base", successorBase: "org/base" });
  const config = (await configForIteration(db.db, "wk-b", 1))!.frozen.config;
  const lines = await refusal({ config, campaignId: "wk-b", db: db.db });
  const served = lines.find((l) => l.includes("endpoint served-policy-iter-1"));
  assert.ok(served, lines.join("\n"));
  assert.match(served, /endpoint served-policy-iter-1 \(roles policy\) at http:\/\/old-node:8001\/v1: GET \/models failed/);
  for (const l of lines.filter((x) => x !== served)) assert.doesNotMatch(l, /roles [^)]*\bpolicy\b/, `the configured policy is not checked: ${l}`);
});

test("after a base-model change the start checks the configured roles.policy, which the run calls", async (t) => {
  const { db } = await continuedLineage(t, { predecessorBase: "org/old-base", successorBase: "org/new-base" });
  const config = (await configForIteration(db.db, "wk-b", 1))!.frozen.config;
  const lines = await refusal({ config, campaignId: "wk-b", db: db.db });
  assert.ok(!lines.some((l) => l.includes("served-policy")), lines.join("\n"));
  assert.ok(
    lines.some((l) => /roles [^)]*\bpolicy\b/.test(l)),
    lines.join("\n"),
  );
});
