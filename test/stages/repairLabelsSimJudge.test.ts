/**
 * repair.labels with the LLM simulator as the judge (it decides from the intent the simulated user
 * query was written from) and the simulator's policy as the prober.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { labelJudgements, samples } from "../../src/db/schema.js";
import { createRoleClient } from "../../src/llm/client.js";
import { compareToLabel, labelOf } from "../../src/matching/labelAgreement.js";
import { probeGreedyHandler } from "../../src/stages/probe/greedy/handler.js";
import { repairLabelsHandler } from "../../src/stages/repair/labels/handler.js";
import type { StageConfigOf } from "../../src/stages/specs.js";
import { startStageResources, type StageResources } from "../helpers/stageResources.js";
import { campaignConfig, planAndRun, seedPool, stageContext, storeSeeds, withWrongLocation } from "../helpers/selfEvolution.js";

let res: StageResources;
before(async () => {
  res = await startStageResources("repair-sim-judge", 17);
});
after(async () => res?.close());

test("probe then repair with the simulated judge: planted wrong labels are repaired to what the user asked", { timeout: 180_000 }, async () => {
  const db = res.db.db;
  const campaignId = `repair-sim-${Date.now().toString(36)}`;
  const config = campaignConfig({
    simUrl: res.sim.url,
    stages: [{ name: "probe.greedy" }, { name: "repair.labels", committee: { members: [{ role: "judge", samples: 3 }], consensus: 2 } }],
  });
  const generator = createRoleClient(config, "generator");
  const good = await seedPool(db, generator, campaignId, 4, { store: false });
  const planted = good.map((s) => withWrongLocation(campaignId, s));
  await storeSeeds(db, campaignId, planted);

  await planAndRun(db, stageContext<StageConfigOf<"probe.greedy">>(db, res.workDir, campaignId, config, "probe.greedy"), probeGreedyHandler);
  const ctx = stageContext<StageConfigOf<"repair.labels">>(db, res.workDir, campaignId, config, "repair.labels");
  const batches = await planAndRun(db, ctx, repairLabelsHandler);
  const summary = (await repairLabelsHandler.finalize!(ctx, batches)) as { verdicts: Record<string, number>; actions: Record<string, number> };
  console.log(`simulated judge on ${planted.length} planted wrong labels: ${JSON.stringify(summary)}`);

  const rows = await db.select().from(labelJudgements).where(eq(labelJudgements.campaignId, campaignId));
  assert.equal(rows.length, planted.length, "every planted label was a mismatch and was judged");
  const repaired = rows.filter((r) => r.action === "repaired");
  assert.ok(repaired.length > planted.length / 2, "most planted wrong labels are repaired (the simulated judge may err at its configured rate)");
  for (const r of repaired) {
    const [s] = await db.select().from(samples).where(eq(samples.id, r.resultSampleId!));
    const original = good[planted.findIndex((p) => p.id === r.sampleId)]!;
    assert.ok(compareToLabel(labelOf(s!.messages)!, labelOf(original.messages)!, s!.tools).agrees, "the repaired label is the one the user asked for");
    // Provenance: the judges and the probed policy (both the simulator here) made the new label.
    const provenance = s!.metadata.provenance as { stage: string; roles: Record<string, { model: string }>; simulated: boolean; seed: number };
    assert.equal(provenance.stage, "repair.labels");
    assert.deepEqual(Object.keys(provenance.roles), ["judge", "policy"]);
    assert.equal(provenance.simulated, true);
  }
});
