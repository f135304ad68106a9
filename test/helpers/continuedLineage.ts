/**
 * A schedule's two runs on PGlite, for the tests of what a continuing run calls before it serves its
 * own policy: wk-a, whose iteration-1 policy (trained from `predecessorBase`) is served at
 * http://old-node:8001/v1, and wk-b, registered to continue wk-a with a config that trains from
 * `successorBase`, having served nothing yet.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import { freezeCampaignConfig } from "../../src/config/frozen.js";
import { migrateDatabase, openDatabase, type DbHandle } from "../../src/db/client.js";
import { insertConfigVersion } from "../../src/db/repos/campaignConfigs.js";
import { insertCampaign, upsertIteration } from "../../src/db/repos/campaigns.js";
import { upsertModelVersion } from "../../src/db/repos/modelVersions.js";
import { rawCampaign } from "./selfEvolution.js";

export async function continuedLineage(
  t: TestContext,
  p: {
    predecessorBase: string;
    successorBase: string;
    /** Runs between wk-a's rows and its served policy's (a test records the serving job there): its result names the job. */
    beforeServed?: (db: DbHandle) => Promise<string | undefined>;
  },
): Promise<{ db: DbHandle; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolloop-continued-lineage-"));
  const db = await openDatabase("pglite:memory");
  t.after(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await migrateDatabase(db);
  await insertCampaign(db.db, { id: "wk-a", name: "wk", config: {}, scheduleId: "wk", scheduledAt: new Date("2026-11-30T06:00:00Z") });
  await upsertModelVersion(db.db, { campaignId: "wk-a", iteration: 1, kind: "merged", path: "/out/wk-a", baseModel: p.predecessorBase, parentId: null });
  const jobName = await p.beforeServed?.(db);
  await upsertModelVersion(db.db, {
    campaignId: "wk-a",
    iteration: 1,
    kind: "served",
    baseModel: p.predecessorBase,
    parentId: "wk-a:1:merged",
    url: "http://old-node:8001/v1",
    servedModel: "wk-a-iter-1",
    ...(jobName ? { jobName } : {}),
  });
  await upsertIteration(db.db, { campaignId: "wk-a", iteration: 1, status: "completed" });
  const raw = rawCampaign({
    simUrl: "http://127.0.0.1:1/v1",
    stages: [
      { name: "synthesize.singleTurn", count: 4, batchSize: 4 },
      { name: "score.perplexity", batchSize: 4 },
      { name: "export.verl", valFraction: 0.1 },
      { name: "train.grpo", trainer: "standin", baseModel: p.successorBase, grpo: { trainBatchSize: 4, ppoMiniBatchSize: 4, rolloutN: 2 } },
      { name: "train.merge", trainer: "standin" },
      { name: "serve.policy", engine: "simulator" },
    ],
  });
  const frozen = freezeCampaignConfig(raw, { configDir: dir });
  assert.ok(frozen.ok);
  await insertCampaign(db.db, { id: "wk-b", name: "wk", config: raw, scheduleId: "wk", scheduledAt: new Date("2026-12-07T06:00:00Z"), continuesFrom: "wk-a" });
  await insertConfigVersion(db.db, "wk-b", { version: 1, sha256: frozen.hash, frozen: frozen.frozen, appliesFromIteration: 1 });
  return { db, dir };
}
