/**
 * The campaign's registration (MockActivityEnvironment, real PostgreSQL) with the inputs a start from
 * the Temporal UI can give: a campaign id that is not one path segment (it names the output folder:
 * `../../x` wrote the campaign's outputs outside output.dir), a workflow id used as the id, and an
 * input that is the config itself instead of `{campaignId, config}`. Each is refused before anything
 * is registered, naming the field; a plain id still registers.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { eq } from "drizzle-orm";
import { createActivities } from "../../activities/index.js";
import { activityDepsFor } from "../../src/cli/worker.js";
import { campaignIdProblem, missingConfigProblem } from "../../src/config/campaignIdRule.js";
import { campaigns } from "../../src/db/schema.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let activities: ReturnType<typeof createActivities>;

before(async () => {
  env = await createTestEnv("register-input");
  activities = createActivities(activityDepsFor(env.db, env.workDir, () => undefined));
});

after(async () => {
  await env?.close();
});

const config = (outputDir: string) => ({ ...simulatorCampaign("http://127.0.0.1:9/v1"), output: { dir: outputDir } });

async function refused(input: Record<string, unknown>, message: RegExp): Promise<void> {
  await assert.rejects(new MockActivityEnvironment().run(activities.registerCampaign, input as never), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, "InvalidCampaignConfig");
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, message);
    return true;
  });
}

test("a new campaign id that is not one plain path segment is refused at registration, naming where it came from", async () => {
  const out = path.join(env.workDir, "nested", "output");
  const escape = `../../escape-${Date.now().toString(36)}`;
  await refused({ campaignId: escape, config: config(out) }, /^campaignId: "\.\.\/\.\.\/escape-\w+" cannot be a campaign id: expected letters/);
  await refused({ campaignId: `has space ${Date.now()}`, config: config(out) }, /^campaignId: "has space \d+" cannot be a campaign id/);
  // No campaignId in the input or the config: the workflow id would be the id.
  await refused(
    { workflowId: `ui run/../other-${Date.now()}`, config: config(out) },
    /^workflow id \(the campaign id when neither .*add "campaignId" to the input\): "ui run\/\.\.\/other-\d+" cannot be a campaign id/,
  );
  const rows = await env.db.db.select().from(campaigns).where(eq(campaigns.id, escape));
  assert.equal(rows.length, 0, "nothing registered");
  assert.equal(fs.existsSync(path.resolve(out, escape)), false);

  // A plain id registers, from the input or from the workflow id.
  const ok = `plain-${Date.now().toString(36)}`;
  const register = (input: Record<string, unknown>) =>
    new MockActivityEnvironment().run(activities.registerCampaign, input as never) as Promise<Awaited<ReturnType<typeof activities.registerCampaign>>>;
  assert.equal((await register({ campaignId: ok, config: config(out) })).plan?.campaignId, ok);
  assert.equal((await register({ workflowId: `wf-${ok}`, config: config(out) })).plan?.campaignId, `wf-${ok}`);
});

test("a workflow input without `config` (the config given as the whole input) is refused with the input's shape", async () => {
  await refused(
    { campaignId: `noconfig-${Date.now().toString(36)}` },
    /^config: missing from the workflow input; campaignWorkflow's input is \{"campaignId": "<id>", "config": \{/,
  );
  await refused({ workflowId: "campaign-pasted", config: undefined }, /^config: missing/);
});

test("the id rule: plain segments up to 128 characters", () => {
  for (const id of ["a", "weekly-20261207T060000Z", "demo.v2_1", `${"n".repeat(63)}-20261207-020617`, "x".repeat(128)])
    assert.equal(campaignIdProblem(id, "id"), undefined, id);
  for (const id of ["", ".", "..", "../x", "a/b", "-a", ".hidden", "a b", "x".repeat(129), "a\\b", "ü"])
    assert.ok(campaignIdProblem(id, "id"), JSON.stringify(id));
  assert.match(campaignIdProblem(42, "campaignId") ?? "", /^campaignId: 42 cannot be a campaign id/);
  assert.equal(missingConfigProblem({ name: "x" }), undefined);
  assert.ok(missingConfigProblem(null));
});
