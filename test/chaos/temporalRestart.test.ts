/**
 * Chaos: the Temporal dev server stopped in the middle of synthesis and started again on the same
 * state file and ports. Workers reconnect; the campaign completes with no operator action, exactly
 * the expected samples, and every LLM request recorded.
 */
import { after, before, test } from "node:test";
import { assertChecks, chaosCampaignConfig, createChaosHarness, runChaosCampaign, sleep, type ChaosHarness } from "./harness.js";

const SIM_SEED = 13;
let h: ChaosHarness;

before(async () => {
  h = await createChaosHarness("temporal", { seed: SIM_SEED, latencyMs: 60, maxConcurrency: 8 });
});
after(async () => {
  await h?.close();
});

test("Temporal dev server stopped mid-stage, then started again", { timeout: 300_000 }, async () => {
  let outage = "";
  const run = await runChaosCampaign(h, {
    name: "temporalrestart",
    config: chaosCampaignConfig(h.sim.url),
    simSeed: SIM_SEED,
    timeoutMs: 240_000,
    chaos: async (campaignId) => {
      const atStop = await h.waitForStored(campaignId, 80, 120_000);
      const t0 = Date.now();
      await h.temporal.stop();
      await sleep(8_000);
      await h.temporal.start();
      outage = `stopped at ${atStop} stored, down ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    },
  });
  console.log(`[chaos] temporal: ${outage}`);
  run.checks.unshift({ name: "Temporal restarted mid-stage", ok: outage !== "", detail: outage || "not done" });
  assertChecks("Temporal dev server restart", run);
});
