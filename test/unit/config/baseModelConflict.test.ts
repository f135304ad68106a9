/**
 * Different baseModels in train.sft and train.grpo of one config: a campaign trains one lineage, so
 * one of them was ignored without a word (train.grpo starts from train.sft's model, and the served
 * policy a continuing run calls followed the first). A new campaign is now refused naming both
 * fields (`campaign validate`, `campaign start`, `schedule create`, a new registration); a campaign
 * registered with such a config before keeps running and can be started again (its frozen config is
 * not refused by this build's schemas, so its steps are not set aside either).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { MockActivityEnvironment } from "@temporalio/testing";
import { createActivities } from "../../../activities/index.js";
import { activityDepsFor } from "../../../src/cli/worker.js";
import { configThisBuildRefuses } from "../../../src/config/campaignConfig.js";
import { freezeCampaignConfig } from "../../../src/config/frozen.js";
import { newCampaignConfigIssues } from "../../../src/config/newCampaignChecks.js";
import { migrateDatabase, openDatabase, type DbHandle } from "../../../src/db/client.js";
import { insertConfigVersion } from "../../../src/db/repos/campaignConfigs.js";
import { getCampaign, insertCampaign } from "../../../src/db/repos/campaigns.js";
import { runCli } from "../../helpers/cli.js";
import { simulatorCampaign } from "../../helpers/configs.js";

const training = (sftBase: string, grpoBase: string) =>
  simulatorCampaign("http://127.0.0.1:1/v1", {
    stages: [
      { name: "synthesize.singleTurn", count: 20, batchSize: 10 },
      { name: "export.verl", sft: true },
      { name: "train.sft", trainer: "standin", baseModel: sftBase },
      { name: "train.grpo", trainer: "standin", baseModel: grpoBase },
    ],
  });

let dir: string;
let h: DbHandle;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-base-models-"));
  h = await openDatabase("pglite:memory");
  await migrateDatabase(h);
});
after(async () => {
  await h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function frozenOf(raw: unknown) {
  const r = freezeCampaignConfig(raw, { configDir: dir });
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  return r;
}

test("different baseModels in train.sft and train.grpo are an issue naming both fields; equal ones are not", () => {
  const issues = newCampaignConfigIssues(frozenOf(training("org/base-a", "org/base-b")).frozen.config);
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.path, "stages[3].baseModel");
  assert.match(issues[0]!.message, /train\.grpo's baseModel "org\/base-b" differs from stages\[2\]\.baseModel \(train\.sft\) "org\/base-a"/);
  assert.match(issues[0]!.message, /set both to the same model/);
  assert.deepEqual(newCampaignConfigIssues(frozenOf(training("org/base-a", "org/base-a")).frozen.config), []);
  // Not a schema rule: a config frozen with it is not a value this build refuses (its steps run).
  const refused = configThisBuildRefuses(frozenOf(training("org/base-a", "org/base-b")).frozen.config);
  assert.deepEqual(refused.rejectedValues, []);
});

test("campaign validate and campaign start refuse a new campaign with both fields named", async () => {
  const file = path.join(dir, "two-bases.json");
  fs.writeFileSync(file, JSON.stringify(training("org/base-a", "org/base-b")));
  const env = { DATABASE_URL: "", TEMPORAL_ADDRESS: "127.0.0.1:1" };
  for (const args of [
    ["campaign", "validate", "--config", file],
    ["campaign", "start", "--config", file, "--skip-endpoint-check"],
    ["schedule", "create", "--config", file],
  ]) {
    const r = await runCli(args, env);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stderr,
      /stages\[3\]\.baseModel: train\.grpo's baseModel "org\/base-b" differs from stages\[2\]\.baseModel \(train\.sft\) "org\/base-a"/,
      args.join(" "),
    );
  }
});

test("a new registration is refused; a campaign registered with such a config before registers again", async () => {
  const logs: string[] = [];
  const activities = createActivities(activityDepsFor(h, dir, (m) => logs.push(m)));
  const register = (campaignId: string, config: unknown) =>
    new MockActivityEnvironment().run(activities.registerCampaign, { campaignId, config, configDir: dir });
  const raw = training("org/base-a", "org/base-b");
  await assert.rejects(register("fresh", raw), (err: unknown) => {
    assert.match(String((err as Error).message), /stages\[3\]\.baseModel: train\.grpo's baseModel "org\/base-b" differs from stages\[2\]\.baseModel/);
    return true;
  });
  assert.equal(await getCampaign(h.db, "fresh"), undefined, "nothing registered");

  // Registered by an earlier build, which froze it: started again, it registers as it was frozen.
  const { frozen, hash } = frozenOf(raw);
  await insertCampaign(h.db, { id: "earlier", name: "test", config: raw });
  await insertConfigVersion(h.db, "earlier", { version: 1, sha256: hash, frozen, appliesFromIteration: 1 });
  await register("earlier", frozen);
  assert.ok(
    logs.some((l) => /campaign earlier: warning: stages\[3\]\.baseModel: /.test(l)),
    logs.join("\n"),
  );
  // A new config version is a config of today: refused as a new campaign's is.
  const changed = training("org/base-a", "org/base-c");
  await assert.rejects(
    new MockActivityEnvironment().run(activities.registerCampaign, { campaignId: "earlier", config: changed, configDir: dir, newConfigVersion: true }),
    /stages\[3\]\.baseModel: train\.grpo's baseModel "org\/base-c"/,
  );
});
