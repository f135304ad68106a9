/**
 * Chaos: LLM faults, and kill -9 of the worker process several times during synthesis. The campaign
 * must complete with no operator action, with exactly the expected samples, and every LLM request
 * the simulator received must be recorded in llm_requests (and nothing else).
 */
import { after, before, test } from "node:test";
import { assertChecks, chaosCampaignConfig, createChaosHarness, runChaosCampaign, RECOVERABLE_FAULTS_30, type ChaosHarness } from "./harness.js";

const SIM_SEED = 11;
let h: ChaosHarness;

before(async () => {
  h = await createChaosHarness("kill", { seed: SIM_SEED, latencyMs: 60, maxConcurrency: 8 });
});
after(async () => {
  await h?.close();
});

test("30% LLM faults: completes with the expected samples and every request recorded", { timeout: 240_000 }, async () => {
  h.sim.setFaults(RECOVERABLE_FAULTS_30);
  const run = await runChaosCampaign(h, { name: "faults", config: chaosCampaignConfig(h.sim.url), simSeed: SIM_SEED, timeoutMs: 180_000, chaos: async () => undefined });
  h.sim.setFaults({});
  assertChecks("30% LLM faults", run);
});

test("kill -9 of the worker 4 times during synthesis, with 30% LLM faults", { timeout: 360_000 }, async () => {
  h.sim.setFaults(RECOVERABLE_FAULTS_30);
  const kills: string[] = [];
  const run = await runChaosCampaign(h, {
    name: "kill9",
    config: chaosCampaignConfig(h.sim.url),
    simSeed: SIM_SEED,
    timeoutMs: 300_000,
    chaos: async (campaignId) => {
      // Kill once synthesis has moved on since the last restart: each kill hits running batches.
      for (const threshold of [40, 120, 200, 280]) {
        const stored = await h.waitForStored(campaignId, threshold, 120_000);
        const victims = h.liveWorkers();
        await Promise.all(victims.map((w) => w.kill9()));
        h.startWorker();
        kills.push(`${victims.map((w) => w.pid).join("+")} at ${stored} stored`);
      }
    },
  });
  h.sim.setFaults({});
  console.log(`[chaos] killed: ${kills.join("; ")}`);
  run.checks.unshift({ name: "killed 4 times mid-stage", ok: kills.length === 4, detail: kills.join("; ") || "none" });
  assertChecks("kill -9 x4 + 30% LLM faults", run);
});
