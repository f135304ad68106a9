/**
 * Chaos: LLM faults, and kill -9 of the worker process several times during synthesis. The campaign
 * must complete with no operator action, with exactly the expected samples, and every LLM request
 * the simulator received must be recorded in llm_requests (and nothing else).
 */
import { after, before, test } from "node:test";
import { campaignWorkflowId, iterationWorkflowId } from "../../workflows/definitions.js";
import { assertChecks, chaosCampaignConfig, createChaosHarness, runChaosCampaign, sleep, RECOVERABLE_FAULTS_30, type ChaosHarness } from "./harness.js";

const SIM_SEED = 11;
/** The simulator's latency outside the slowed-down stretch of the kill-in-a-row test. */
const SIM_LATENCY_MS = 60;
let h: ChaosHarness;

before(async () => {
  h = await createChaosHarness("kill", { seed: SIM_SEED, latencyMs: SIM_LATENCY_MS, maxConcurrency: 8 });
});
after(async () => {
  await h?.close();
});

test("30% LLM faults: completes with the expected samples and every request recorded", { timeout: 240_000 }, async () => {
  h.sim.setFaults(RECOVERABLE_FAULTS_30);
  const run = await runChaosCampaign(h, {
    name: "faults",
    config: chaosCampaignConfig(h.sim.url, 200),
    simSeed: SIM_SEED,
    timeoutMs: 180_000,
    chaos: async () => undefined,
  });
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

test("kill -9 three times in a row, each once the retried batches run again", { timeout: 300_000 }, async () => {
  // The case: each crash costs the running batches an attempt, so the same batches lose
  // three attempts in a row. Infrastructure failures must not count against the batch's attempts.
  const kills: string[] = [];
  // Slow enough that a batch of 40 takes seconds (2 requests per slot, 8 at a time), so each kill
  // lands inside the retried batches rather than after they finished.
  h.sim.setLatency(400);
  const run = await runChaosCampaign(h, {
    name: "kill9rapid",
    config: chaosCampaignConfig(h.sim.url),
    simSeed: SIM_SEED,
    timeoutMs: 240_000,
    chaos: async (campaignId) => {
      await h.waitForStored(campaignId, 40, 120_000);
      const iterationHandle = h.client.workflow.getHandle(iterationWorkflowId(campaignWorkflowId(campaignId), 1));
      const batchAttempts = async () =>
        ((await iterationHandle.describe()).raw.pendingActivities ?? [])
          .filter((a) => a.activityType?.name === "runStageBatch")
          .map((a) => ({ attempt: a.attempt ?? 0, started: String(a.state) === "2" || String(a.state) === "PENDING_ACTIVITY_STATE_STARTED" }));
      for (let k = 1; k <= 3; k++) {
        // Kill once a batch runs its attempt k (so the same batch loses attempts 1, 2 and 3). Not
        // "every batch": a retried batch finishes fast (its settled slots are skipped) and its lane
        // may already run a fresh batch on attempt 1.
        const deadline = Date.now() + 90_000;
        let inFlight = await batchAttempts().catch(() => []);
        while (!inFlight.some((a) => a.attempt === k && a.started)) {
          if (Date.now() > deadline) throw new Error(`batches never all reached attempt ${k}: ${JSON.stringify(inFlight)}`);
          await sleep(200);
          inFlight = await batchAttempts().catch(() => []);
        }
        await sleep(500);
        const victims = h.liveWorkers();
        await Promise.all(victims.map((w) => w.kill9()));
        const stored = await h.countStored(campaignId);
        kills.push(`${victims.map((w) => w.pid).join("+")} at ${stored} stored, batches in flight on attempts ${inFlight.map((a) => a.attempt).join(",")}`);
        h.startWorker();
      }
      // The three kills have landed in the retried batches: the rest of the 400 samples need not run
      // at 400 ms a request (about 30 s), only to complete as the checks below require.
      h.sim.setLatency(SIM_LATENCY_MS);
    },
  });
  h.sim.setLatency(SIM_LATENCY_MS);
  console.log(`[chaos] killed: ${kills.join("; ")}`);
  run.checks.unshift({ name: "killed 3 times in a row", ok: kills.length === 3, detail: kills.join("; ") || "none" });
  assertChecks("kill -9 x3 in a row", run);
});
