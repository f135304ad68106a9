/**
 * Chaos: PostgreSQL stopped for ~12 s in the middle of synthesis, then started again on the same
 * port. Workers must ride it out (no crash), and the campaign must complete with no operator action,
 * exactly the expected samples, and every LLM request recorded.
 */
import { after, before, test } from "node:test";
import { assertChecks, chaosCampaignConfig, createChaosHarness, runChaosCampaign, sleep, type ChaosHarness } from "./harness.js";

const SIM_SEED = 12;
let h: ChaosHarness;

before(async () => {
  h = await createChaosHarness("pg", { seed: SIM_SEED, latencyMs: 60, maxConcurrency: 8 });
});
after(async () => {
  await h?.close();
});

test("PostgreSQL stopped for 12 s mid-stage, then started again", { timeout: 300_000 }, async () => {
  let outage = "";
  const run = await runChaosCampaign(h, {
    name: "pgrestart",
    config: chaosCampaignConfig(h.sim.url),
    simSeed: SIM_SEED,
    timeoutMs: 240_000,
    chaos: async (campaignId) => {
      const atStop = await h.waitForStored(campaignId, 80, 120_000);
      const t0 = Date.now();
      await h.postgres.stop();
      await sleep(12_000);
      await h.postgres.start();
      outage = `stopped at ${atStop} stored, down ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    },
  });
  console.log(`[chaos] postgres: ${outage}`);
  run.checks.unshift({ name: "PostgreSQL restarted mid-stage", ok: outage !== "", detail: outage || "not done" });
  assertChecks("PostgreSQL restart", run);
});
