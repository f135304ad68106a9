/**
 * The self-evolving loop, three iterations end to end on the local launcher with the stand-in
 * trainer (SIMULATED training) and the LLM simulator as generator, judges and policy: seed synthesis
 * in iteration 1, then select -> export -> train -> serve -> evaluate -> score -> probe -> repair ->
 * expand in every iteration. The simulator's generator writes some labels with a wrong value that
 * rule verification cannot see; the truth channel (test-only: no stage reads it) measures how many
 * wrong labels each pool holds, and the test prints the figures. Everything else is real: the dev
 * server, PostgreSQL, the worker, the local launcher, the served OpenAI-compatible policy endpoints.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { loopFigures, poolSamples } from "../../src/db/repos/loopReport.js";
import { sampleLineage } from "../../src/db/repos/lineage.js";
import { judgeVotes, labelJudgements, poolMembers, samples as samplesTable, sampleScores } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { labelErrorRate, labelIsWrong } from "../../src/llm/simulator/truth.js";
import { stopServedPolicies } from "../../src/training/servedPolicyJobs.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { selfEvolvingLoopConfig } from "../helpers/loopCampaign.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
const started: string[] = [];

before(async () => {
  env = await createTestEnv("selfevolve");
  // Generator, judges and the untrained policy. Wrong labels that pass the rules: silentMistakeRate.
  sim = await startSimulator({ seed: 31, latencyMs: 1, maxConcurrency: 32, mistakeRate: 0.15, silentMistakeRate: 0.15, judgeErrorRate: 0.1, quiet: true });
  workers = await env.startWorkers();
});
after(async () => {
  const launcher = { kind: "local" as const, stateDir: path.join(env.workDir, "local-jobs") };
  for (const id of started) await stopServedPolicies(env.db.db, id, launcher, () => undefined).catch(() => undefined);
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

function loopConfig() {
  return selfEvolvingLoopConfig({
    simUrl: sim.url,
    workDir: env.workDir,
    sizes: {
      iterations: 3,
      count: 240,
      synthBatch: 80,
      verifyBatch: 240,
      seedBudget: 100,
      budget: 120,
      standin: { stepSeconds: "0.02", mistakeRate: 0.15, serveSeed: 3 },
      bfclCategories: ["simple", "multiple", "parallel"],
      bfclLimit: 20,
      scoreBatch: 60,
      consistencyK: 3,
      repairBatch: 30,
      perSeed: 2,
    },
  });
}

test(
  "three iterations of the loop: repairs and expansions flow into the next pools, and the pools' label error rate falls",
  { timeout: 900_000 },
  async (t) => {
    const id = `evolve-${Date.now().toString(36)}`;
    started.push(id);
    const handle = await env.client.workflow.start("campaignWorkflow", {
      workflowId: campaignWorkflowId(id),
      taskQueue: taskQueues(env.queuePrefix).workflows,
      args: [{ config: loopConfig(), campaignId: id }],
    });
    const result = await handle.result();
    assert.equal(result.state, "completed", JSON.stringify(result));
    const db = env.db.db;

    const rates: number[] = [];
    for (const it of [1, 2, 3]) {
      const f = await loopFigures(db, id, it);
      const errors = labelErrorRate(await poolSamples(db, id, it));
      rates.push(errors.rate);
      t.diagnostic(
        `iteration ${it}: pool ${JSON.stringify(f.pool)}, label errors ${errors.wrong}/${errors.total} (${(100 * errors.rate).toFixed(1)}%), probe ${JSON.stringify(f.probe)}, verdicts ${JSON.stringify(f.verdicts)}, actions ${JSON.stringify(f.actions)}, made ${JSON.stringify(f.made)}`,
      );
    }

    // Iteration 1 trains on seeds; the seeds carry wrong labels the rules let through.
    const f1 = await loopFigures(db, id, 1);
    assert.deepEqual(Object.keys(f1.pool), ["seed"]);
    assert.ok(rates[0]! > 0.03, `the seed pool holds wrong labels (${rates[0]})`);
    // The probe found mismatches, the judges repaired labels and made error seeds, EDDE expanded them.
    assert.ok((f1.actions.repaired ?? 0) > 0, "iteration 1 repaired labels");
    assert.ok((f1.actions.error_seed ?? 0) > 0, "iteration 1 found policy errors");
    assert.ok((f1.made["expanded verified"] ?? 0) > 0, "iteration 1 expanded its error seeds");
    // Those flow into iteration 2's pool with their reasons; the labels the judges replaced do not come back.
    const f2 = await loopFigures(db, id, 2);
    for (const reason of ["repaired", "error_seed", "expanded", "high_ppl"])
      assert.ok((f2.pool[reason] ?? 0) > 0, `iteration 2's pool has ${reason} samples: ${JSON.stringify(f2.pool)}`);
    const retired = await db
      .select({ sampleId: labelJudgements.sampleId })
      .from(labelJudgements)
      .where(and(eq(labelJudgements.campaignId, id), eq(labelJudgements.iteration, 1), eq(labelJudgements.action, "repaired")));
    const pool2 = new Set(
      (
        await db
          .select()
          .from(poolMembers)
          .where(and(eq(poolMembers.campaignId, id), eq(poolMembers.iteration, 2)))
      ).map((m) => m.sampleId),
    );
    for (const r of retired) assert.ok(!pool2.has(r.sampleId), "a label the judges replaced is not in the next pool");
    // Repair works: the label error rate falls after the first round of repairs. One iteration's rate
    // moves by a few points by chance at ~100 samples a pool (unused seeds and new expansions carry
    // the base error rate: 9.0% -> 11.6% -> 0.0% was seen once), so the trend is what is checked.
    assert.ok((rates[1]! + rates[2]!) / 2 < rates[0]!, `label error rate falls after repair: ${rates.map((r) => r.toFixed(3)).join(" -> ")}`);
    assert.ok(rates[2]! <= rates[0]! / 2, `and stays down: ${rates.map((r) => r.toFixed(3)).join(" -> ")}`);

    // Every repaired sample's label is right by the simulator's truth far more often than not (judges err at 10%, 2 of 3 needed).
    const repaired = await db
      .select()
      .from(samplesTable)
      .where(and(eq(samplesTable.campaignId, id), eq(samplesTable.origin, "repaired")));
    const repairedRight = repaired.filter((s) => !labelIsWrong(s)).length;
    t.diagnostic(`repaired samples: ${repaired.length}, right by the simulator's truth: ${repairedRight}`);
    assert.ok(repairedRight >= 0.8 * repaired.length);

    // Scores were written under each iteration's served policy; every vote is stored.
    const scores = await db.select().from(sampleScores).where(eq(sampleScores.campaignId, id));
    for (const it of [1, 2, 3]) {
      const mine = scores.filter((s) => s.iteration === it);
      assert.ok(
        mine.some((s) => s.metric === "label_ppl") && mine.some((s) => s.metric === "consistency"),
        `iteration ${it} has label_ppl and consistency scores`,
      );
      assert.ok(
        mine.every((s) => s.model === `${id}-iter-${it}`),
        `iteration ${it} scored under the policy it served (${[...new Set(mine.map((s) => s.model))].join(", ")})`,
      );
    }
    const judged = await db.select().from(labelJudgements).where(eq(labelJudgements.campaignId, id));
    const votes = await db.select().from(judgeVotes).where(eq(judgeVotes.campaignId, id));
    assert.equal(votes.length, judged.length * 3, "three votes per judged mismatch");

    // Lineage: an expansion made in iteration 2 or later from a seed goes back to a synthesized seed.
    const expanded = (
      await db
        .select()
        .from(samplesTable)
        .where(and(eq(samplesTable.campaignId, id), eq(samplesTable.origin, "expanded")))
    ).sort((a, b) => b.iteration - a.iteration)[0];
    assert.ok(expanded, "expansions exist");
    const chain = await sampleLineage(db, expanded.id);
    assert.ok(chain.length >= 2);
    assert.equal(chain.at(-1)!.sample.origin, "synthesized", "the chain ends at a seed");
    assert.ok(chain.at(-1)!.judgements.some((j) => j.action === "error_seed" || j.action === "repaired") || chain.some((s) => s.judgements.length > 0));
  },
);
