/**
 * Weekly retraining with a Temporal Schedule, on the real dev server, PostgreSQL and a worker: a
 * schedule with a short interval (15 s instead of a week) runs two campaigns one after the other
 * (overlap SKIP); the second is a campaign of its own (path-safe id from the scheduled time, another
 * seed) whose first iteration trains from the first one's registered policy and selects from its
 * pool. Training is the stand-in trainer (SIMULATED) and the policy is served by the LLM simulator.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { and, asc, eq, inArray } from "drizzle-orm";
import { sampleLineage } from "../../src/db/repos/lineage.js";
import { listModelVersions } from "../../src/db/repos/modelVersions.js";
import { campaignConfigs, campaigns, poolMembers, samples } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { stopServedPolicies } from "../../src/training/servedPolicyJobs.js";
import type { FrozenCampaignConfig } from "../../src/config/frozen.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { standinTrainingStages } from "../helpers/standinTraining.js";
import { cliEnvOf, runCli } from "../helpers/cli.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";
import { trainVenvPython } from "../helpers/trainVenv.js";

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;
const scheduleId = `wk-${Date.now().toString(36)}`;

const cli = (args: string[]) => runCli(args, cliEnvOf(env));

before(async () => {
  env = await createTestEnv("weekly");
  sim = await startSimulator({ seed: 5, latencyMs: 1, maxConcurrency: 32, mistakeRate: 0.1, quiet: true });
  workers = await env.startWorkers();
});
after(async () => {
  await cli(["schedule", "delete", scheduleId]);
  const launcher = { kind: "local" as const, stateDir: path.join(env.workDir, "local-jobs") };
  const rows = await env.db.db.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.scheduleId, scheduleId));
  for (const r of rows) await stopServedPolicies(env.db.db, r.id, launcher, () => undefined).catch(() => undefined);
  await workers?.stop();
  await sim?.close();
  await env?.close();
});

function weeklyConfig() {
  const stages = [
    { name: "synthesize.singleTurn", runIn: "first", count: 48, batchSize: 48, mix: { standard: 0.7, parallel: 0.3, irrelevance: 0 } },
    { name: "verify.rules", runIn: "first", batchSize: 48 },
    {
      name: "select.nextRound",
      seedBudget: 24,
      budget: 30,
      mix: { high_ppl: 0.5, repaired: 0, error_seed: 0, expanded: 0, unused_seed: 0.5 },
      decontaminate: { enabled: false },
    },
    { name: "export.verl", from: "pool", valFraction: 0.1 },
    ...standinTrainingStages({ stepSeconds: "0.01", mistakeRate: 0.1, serveSeed: 3 }).filter((s) => s.name !== "train.sft"),
    { name: "score.perplexity", batchSize: 50 },
  ];
  return simulatorCampaign(sim.url, {
    name: "weekly-retrain",
    seed: 11,
    iterations: 1,
    roles: {
      generator: { endpoint: "sim", model: "toolloop-sim-generator", temperature: 0.7 },
      policy: { endpoint: "sim", model: "toolloop-sim-policy", temperature: 0 },
    },
    stages: stages as never,
    cluster: { launcher: { kind: "local", stateDir: path.join(env.workDir, "local-jobs") }, python: trainVenvPython() },
    schedules: [{ id: scheduleId, spec: { intervals: [{ every: "15s" }] }, catchupWindow: "10s", note: "weekly retraining, every 15 s for the test" }],
  } as never);
}

test(
  "a schedule runs two campaigns; the second continues from the first one's registered policy and pool, with its own seed and id",
  { timeout: 240_000 },
  async (t) => {
    const file = path.join(env.workDir, "weekly.campaign.json");
    writeFileSync(file, JSON.stringify(weeklyConfig(), null, 2));
    const created = await cli(["schedule", "create", "--config", file]);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`^created schedule ${scheduleId} `, "m"));

    const db = env.db.db;
    const ofSchedule = () => db.select().from(campaigns).where(eq(campaigns.scheduleId, scheduleId)).orderBy(asc(campaigns.scheduledAt));
    // The second run starts only once the first has finished (overlap skip): then no third is wanted.
    await waitFor("the schedule's second campaign", async () => (await ofSchedule()).length >= 2, 180_000, 500);
    const paused = await cli(["schedule", "pause", scheduleId, "--note", "two runs are enough"]);
    assert.equal(paused.status, 0, paused.stderr);
    const [first, second] = await waitFor(
      "both campaigns to finish",
      async () => {
        const rows = await ofSchedule();
        return rows.slice(0, 2).every((r) => r.status !== "running") ? rows : undefined;
      },
      120_000,
      500,
    );
    assert.ok(first && second);
    assert.equal(first.status, "completed");
    assert.equal(second.status, "completed");
    t.diagnostic(`campaigns: ${first.id} (scheduled ${first.scheduledAt?.toISOString()}), ${second.id} (scheduled ${second.scheduledAt?.toISOString()})`);

    // Ids: the schedule and the scheduled time, nothing that breaks a path.
    for (const c of [first, second]) {
      assert.match(c.id, new RegExp(`^${scheduleId}-\\d{8}T\\d{6}Z$`));
      assert.equal(c.id, `${scheduleId}-${c.scheduledAt!.toISOString().slice(0, 19).replace(/[-:]/g, "")}Z`);
    }
    assert.notEqual(first.id, second.id);
    // The workflow id is the schedule's prefix plus the time as Temporal appends it; the campaign row records it.
    for (const c of [first, second]) {
      assert.equal(c.workflowId, `campaign-${scheduleId}-${c.scheduledAt!.toISOString().replace(".000Z", "Z")}`);
      // The row says completed one workflow task before the workflow closes: its result is the proof.
      await env.client.workflow.getHandle(c.workflowId!).result();
      assert.equal((await env.client.workflow.getHandle(c.workflowId!).describe()).status.name, "COMPLETED");
    }
    assert.ok(second.scheduledAt!.getTime() > first.scheduledAt!.getTime());

    // Seeds: derived from the scheduled time, so different; both differ from the config's own.
    const seedOf = async (id: string) => {
      const rows = await db.select().from(campaignConfigs).where(eq(campaignConfigs.campaignId, id));
      return (rows[0]!.frozen as FrozenCampaignConfig).config.seed;
    };
    const [seed1, seed2] = [await seedOf(first.id), await seedOf(second.id)];
    t.diagnostic(`seeds: ${seed1}, ${seed2}`);
    assert.notEqual(seed1, seed2);
    assert.ok(seed1 !== 11 && seed2 !== 11);

    // The first started from scratch; the second records it as its predecessor.
    assert.equal(first.continuesFrom, null);
    assert.equal(second.continuesFrom, first.id);
    // And campaign status and list say so: which schedule, the time it was scheduled for, what it continues from.
    const status2 = await cli(["campaign", "status", second.id]);
    assert.equal(status2.status, 0, status2.stderr);
    assert.match(
      status2.stdout,
      new RegExp(
        `^schedule: ${scheduleId}, run scheduled for ${second.scheduledAt!.toISOString()}; continues from ${first.id}, up to its iteration 1 \\(its policy and pool\\)$`,
        "m",
      ),
    );
    const status1 = await cli(["campaign", "status", first.id]);
    assert.match(status1.stdout, new RegExp(`^schedule: ${scheduleId}, run scheduled for \\S+; started from scratch`, "m"));
    const json2 = JSON.parse((await cli(["campaign", "status", second.id, "--json"])).stdout) as { schedule?: unknown };
    assert.deepEqual(json2.schedule, { scheduleId, scheduledAt: second.scheduledAt!.toISOString(), continuesFrom: first.id });
    const listed = JSON.parse((await cli(["campaign", "list", "--json"])).stdout) as { campaigns: { campaignId: string; schedule?: unknown }[] };
    assert.deepEqual(listed.campaigns.find((c) => c.campaignId === second.id)?.schedule, json2.schedule);
    assert.deepEqual(listed.campaigns.find((c) => c.campaignId === first.id)?.schedule, { scheduleId, scheduledAt: first.scheduledAt!.toISOString() });

    // Policy: the second's training starts from the first's merged (registered) policy.
    const v1 = await listModelVersions(db, first.id);
    const v2 = await listModelVersions(db, second.id);
    const merged1 = v1.find((v) => v.kind === "merged");
    assert.ok(merged1, `the first campaign registered a policy: ${v1.map((v) => v.id).join(", ")}`);
    const checkpoint2 = v2.find((v) => v.kind === "checkpoint" && v.iteration === 1);
    assert.ok(checkpoint2, `the second campaign trained: ${v2.map((v) => v.id).join(", ")}`);
    assert.equal(checkpoint2.parentId, merged1.id, "iteration 1 of the second campaign trains from the first one's merged policy");
    const checkpoint1 = v1.find((v) => v.kind === "checkpoint")!;
    assert.equal(checkpoint1.parentId, null, "the first trains from the base model");
    assert.ok(
      v2.some((v) => v.kind === "served"),
      "the second serves its own policy",
    );

    // Pool: the second's iteration 1 is a later round built on the first's pool (high_ppl from it) plus its own new seeds.
    const pool2 = await db
      .select({ sampleId: poolMembers.sampleId, reason: poolMembers.reason, campaignId: samples.campaignId })
      .from(poolMembers)
      .innerJoin(samples, eq(samples.id, poolMembers.sampleId))
      .where(and(eq(poolMembers.campaignId, second.id), eq(poolMembers.iteration, 1)));
    const reasons = new Map<string, number>();
    for (const m of pool2)
      reasons.set(
        `${m.reason}@${m.campaignId === first.id ? "first" : "second"}`,
        (reasons.get(`${m.reason}@${m.campaignId === first.id ? "first" : "second"}`) ?? 0) + 1,
      );
    t.diagnostic(`second campaign's pool: ${JSON.stringify(Object.fromEntries(reasons))}`);
    assert.ok((reasons.get("high_ppl@first") ?? 0) > 0, "the second pool takes high-perplexity samples of the first pool");
    assert.ok((reasons.get("unused_seed@second") ?? 0) > 0, "and the week's new seeds");
    assert.equal(reasons.get("seed@second") ?? 0, 0, "it is not a first round");
    const pool1Ids = new Set((await db.select({ id: poolMembers.sampleId }).from(poolMembers).where(eq(poolMembers.campaignId, first.id))).map((r) => r.id));
    for (const m of pool2.filter((p) => p.campaignId === first.id)) assert.ok(pool1Ids.has(m.sampleId), "carried samples come from the first pool");

    // The week's new data differs: another seed, other synthesized requests.
    const synthesized = async (id: string) =>
      new Set(
        (
          await db
            .select({ messages: samples.messages })
            .from(samples)
            .where(and(eq(samples.campaignId, id), eq(samples.origin, "synthesized")))
        ).map((r) => JSON.stringify(r.messages)),
      );
    const [data1, data2] = [await synthesized(first.id), await synthesized(second.id)];
    assert.ok(
      [...data2].some((m) => !data1.has(m)),
      "the second synthesized data the first did not",
    );

    // Carried samples were trained on (exported) and scored again under the second's policy; lineage spans both.
    const carried = pool2.find((p) => p.campaignId === first.id)!;
    const chain = await sampleLineage(db, carried.sampleId);
    const pools = chain[0]!.pools.map((p) => p.campaignId);
    assert.ok(pools.includes(first.id) && pools.includes(second.id), `lineage shows both pools: ${JSON.stringify(pools)}`);
    const lineage = await cli(["sample", "lineage", carried.sampleId]);
    assert.equal(lineage.status, 0, lineage.stderr);
    assert.ok(lineage.stdout.includes(second.id), lineage.stdout);

    const described = await cli(["schedule", "describe", scheduleId]);
    assert.equal(described.status, 0, described.stderr);
    assert.match(described.stdout, new RegExp(`^schedule ${scheduleId}: PAUSED \\(note: two runs are enough\\)$`, "m"));
    assert.match(described.stdout, /overlap SKIP, catch-up window 10s, pause on failure yes/);
    const both = await db
      .select({ id: campaigns.id })
      .from(campaigns)
      .where(inArray(campaigns.id, [first.id, second.id]));
    assert.equal(both.length, 2);
  },
);
