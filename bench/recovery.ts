/**
 * Recovery after infrastructure failures during synthesis, on the chaos harness (own Temporal dev
 * server, own PostgreSQL, real worker processes, the simulator):
 *
 *   (a) PostgreSQL stopped for --pg-down-s seconds, then started: seconds from "accepting connections
 *       again" to the first sample row created after that moment (samples.created_at);
 *   (b) worker kill -9 with a new worker started at once: seconds from the kill to the first sample
 *       created after it;
 *   (c) work redone per kill: simulator requests received by the killed campaign minus the requests
 *       of the same campaign run without a kill (content is deterministic, so that baseline is exact),
 *       also expressed in slots (divided by the baseline's requests per slot).
 *
 * Targets (the reliability issue): (a) and (b) under 10 s; (c) at most one in-flight batch's
 * unfinished slots per kill (<= batch size). A recovery that needs an operator (the stage shows
 * waiting_for_operator) or none within --give-up-s is reported as such, not as a number.
 *
 *   node dist/bench/recovery.js [--repetitions 3] [--samples 400] [--batch-size 40] [--pg-down-s 10] [--give-up-s 60]
 */
import { parseArgs } from "node:util";
import { and, eq, gte, sql } from "drizzle-orm";
import { samples } from "../src/db/schema.js";
import { chaosCampaignConfig, createChaosHarness, sleep, watchStatus } from "../test/chaos/harness.js";
import type { WorkflowHandle } from "@temporalio/client";

const { values } = parseArgs({
  options: {
    repetitions: { type: "string", default: "3" },
    samples: { type: "string", default: "400" },
    "batch-size": { type: "string", default: "40" },
    "pg-down-s": { type: "string", default: "10" },
    "give-up-s": { type: "string", default: "60" },
  },
});
const repetitions = Number(values.repetitions);
const count = Number(values.samples);
const batchSize = Number(values["batch-size"]);
const pgDownMs = Number(values["pg-down-s"]) * 1000;
const giveUpMs = Number(values["give-up-s"]) * 1000;
const SIM_SEED = 21;

type Outcome = { seconds: number } | { gaveUp: string };

const h = await createChaosHarness("bench-recovery", { seed: SIM_SEED, latencyMs: 60, maxConcurrency: 8 });
let campaignSeq = 0;

function config() {
  const c = chaosCampaignConfig(h.sim.url, count);
  const stage = c.stages?.[0] as { batchSize?: number } | undefined;
  if (stage) stage.batchSize = batchSize;
  return c;
}

async function startCampaign(kind: string): Promise<{ campaignId: string; handle: WorkflowHandle }> {
  const campaignId = `bench-${kind}-${Date.now().toString(36)}-${++campaignSeq}`;
  h.sim.resetStats();
  if (h.liveWorkers().length === 0) h.startWorker();
  return { campaignId, handle: await h.startCampaign(config(), campaignId) };
}

/** Seconds from `since` to the first sample of the campaign created at or after it, or why none came. */
async function firstSampleAfter(campaignId: string, since: Date): Promise<Outcome> {
  const watch = watchStatus(h, campaignId, 250);
  const deadline = Date.now() + giveUpMs;
  try {
    for (;;) {
      if (watch.waiting) return { gaveUp: `waiting_for_operator (${watch.waiting.lastError?.slice(0, 160) ?? "no error text"})` };
      try {
        const rows = await h.db.db
          .select({ first: sql<Date | null>`min(${samples.createdAt})` })
          .from(samples)
          .where(and(eq(samples.campaignId, campaignId), gte(samples.createdAt, since)));
        const first = rows[0]?.first;
        if (first) return { seconds: (new Date(first).getTime() - since.getTime()) / 1000 };
      } catch {
        // PostgreSQL may still be refusing our pool's first reconnects
      }
      if (Date.now() > deadline) return { gaveUp: `no new sample within ${giveUpMs / 1000} s` };
      await sleep(100);
    }
  } finally {
    await watch.stop();
  }
}

async function finish(handle: WorkflowHandle): Promise<boolean> {
  const done = await Promise.race([
    handle.result().then(
      () => true,
      () => false,
    ),
    sleep(giveUpMs * 3).then(() => false),
  ]);
  if (!done) await handle.terminate("recovery bench: gave up on this campaign").catch(() => undefined);
  return done;
}

function summarise(outcomes: Outcome[]) {
  const secs = outcomes.flatMap((o) => ("seconds" in o ? [o.seconds] : [])).sort((a, b) => a - b);
  const gaveUp = outcomes.flatMap((o) => ("gaveUp" in o ? [o.gaveUp] : []));
  const pick = (q: number) => (secs.length ? Number(secs[Math.min(secs.length - 1, Math.floor(q * secs.length))]!.toFixed(2)) : null);
  return {
    runs: outcomes.length,
    measured: secs.length,
    min: secs.length ? Number(secs[0]!.toFixed(2)) : null,
    median: pick(0.5),
    max: secs.length ? Number(secs[secs.length - 1]!.toFixed(2)) : null,
    gaveUp,
  };
}

try {
  // Baseline: the same campaign, no failure; its request count is what a kill must not exceed by much.
  const base = await startCampaign("baseline");
  const baselineOk = await finish(base.handle);
  const baselineRequests = h.sim.stats().byPath["/v1/chat/completions"] ?? 0;
  const requestsPerSlot = baselineRequests / count;
  console.error(
    `baseline: ${baselineOk ? "completed" : "did not complete"}, ${baselineRequests} chat requests for ${count} slots (${requestsPerSlot.toFixed(2)} per slot)`,
  );

  const pgOutcomes: Outcome[] = [];
  for (let rep = 1; rep <= repetitions; rep++) {
    const { campaignId, handle } = await startCampaign("pg");
    await h.waitForStored(campaignId, Math.min(count - 1, 2 * batchSize), 120_000);
    await h.postgres.stop();
    await sleep(pgDownMs);
    await h.postgres.start();
    const restarted = new Date();
    const outcome = await firstSampleAfter(campaignId, restarted);
    pgOutcomes.push(outcome);
    console.error(`pg restart ${rep}: ${"seconds" in outcome ? `${outcome.seconds.toFixed(2)} s to the first new sample` : outcome.gaveUp}`);
    await ("seconds" in outcome
      ? finish(handle)
      : handle.terminate("recovery bench: needs an operator").then(
          () => false,
          () => false,
        ));
  }

  const killOutcomes: Outcome[] = [];
  const redone: { requests: number; slots: number }[] = [];
  for (let rep = 1; rep <= repetitions; rep++) {
    const { campaignId, handle } = await startCampaign("kill");
    await h.waitForStored(campaignId, Math.min(count - 1, 2 * batchSize), 120_000);
    const victims = h.liveWorkers();
    const killedAt = new Date();
    await Promise.all(victims.map((w) => w.kill9()));
    h.startWorker();
    const outcome = await firstSampleAfter(campaignId, killedAt);
    killOutcomes.push(outcome);
    const completed =
      "seconds" in outcome
        ? await finish(handle)
        : await handle.terminate("recovery bench: needs an operator").then(
            () => false,
            () => false,
          );
    if (completed) {
      const requests = (h.sim.stats().byPath["/v1/chat/completions"] ?? 0) - baselineRequests;
      redone.push({ requests, slots: requests / requestsPerSlot });
    }
    const redoneText = completed
      ? `${redone.at(-1)!.requests} requests redone (~${redone.at(-1)!.slots.toFixed(1)} slots)`
      : "work redone not measured (campaign did not complete)";
    console.error(`kill -9 ${rep}: ${"seconds" in outcome ? `${outcome.seconds.toFixed(2)} s to the first new sample` : outcome.gaveUp}; ${redoneText}`);
  }

  const pg = summarise(pgOutcomes);
  const kill = summarise(killOutcomes);
  const slots = redone.map((r) => r.slots).sort((a, b) => a - b);
  const line = (name: string, s: ReturnType<typeof summarise>) =>
    `${name}: min ${s.min ?? "-"} s, median ${s.median ?? "-"} s, max ${s.max ?? "-"} s over ${s.measured}/${s.runs} runs${s.gaveUp.length ? `; no recovery in ${s.gaveUp.length}: ${s.gaveUp.join("; ")}` : ""} (target < 10 s)`;
  console.log(`samples=${count} batchSize=${batchSize} batchesInParallel=2 pgDown=${pgDownMs / 1000}s repetitions=${repetitions}`);
  console.log(line("(a) PostgreSQL restart -> first new sample", pg));
  console.log(line("(b) worker kill -9 -> first new sample", kill));
  console.log(
    `(c) work redone per kill: ${slots.length ? `min ${slots[0]!.toFixed(1)}, median ${slots[Math.floor(slots.length / 2)]!.toFixed(1)}, max ${slots[slots.length - 1]!.toFixed(1)} slots` : "not measured"} (target <= ${batchSize}, one batch's unfinished slots)`,
  );
  console.log(
    JSON.stringify({
      samples: count,
      batchSize,
      pgDownSeconds: pgDownMs / 1000,
      baselineChatRequests: baselineRequests,
      pgRestartToFirstSampleSeconds: pg,
      killToFirstSampleSeconds: kill,
      redonePerKill: { requests: redone.map((r) => r.requests), slots: redone.map((r) => Number(r.slots.toFixed(1))) },
      workerCrashes: h.crashes.length,
    }),
  );
} finally {
  await h.close();
}
