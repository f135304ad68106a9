/**
 * Crash: a real worker process is killed with SIGKILL during synthesis and a new one started. The
 * campaign completes and the stored samples are exactly the expected set, by id: none missing, none
 * twice. The expected ids are computed independently by running the same synthesis directly.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import { parseCampaignConfig } from "../../src/config/campaignConfig.js";
import { samples } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { expectedSingleTurnSampleIds } from "../helpers/expectedSampleIds.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
const procs: ChildProcess[] = [];

function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, [cliPath, "worker", "--base-dir", env.workDir], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.temporalAddress, DATABASE_URL: env.databaseUrl, TOOLLOOP_QUEUE_PREFIX: env.queuePrefix },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (d) => (log += d));
  child.stderr?.on("data", (d) => (log += d));
  child.on("exit", (code, signal) => {
    if (code && code !== 0) console.error(`worker exited ${code} ${signal ?? ""}\n${log.slice(-2000)}`);
  });
  procs.push(child);
  return child;
}

before(async () => {
  env = await createTestEnv("crash");
  sim = await startSimulator({ seed: 11, latencyMs: 25, maxConcurrency: 8, quiet: true });
});

after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
  await sim?.close();
  await env?.close();
});

test("kill -9 of the worker during synthesis: the campaign completes with exactly the expected samples", async () => {
  const campaignId = `crash-${Date.now().toString(36)}`;
  const count = 240;
  const raw = simulatorCampaign(sim.url, { count, batchSize: 40, concurrency: { batchesInParallel: 2 } });
  const first = startWorkerProcess();
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: raw, campaignId }],
  });
  const countStored = async () =>
    Number(
      (
        await env.db.db
          .select({ n: sql<number>`count(*)::int` })
          .from(samples)
          .where(eq(samples.campaignId, campaignId))
      )[0]?.n ?? 0,
    );
  const atKill = await waitFor(
    "synthesis to be under way",
    async () => {
      const n = await countStored();
      return n >= 50 ? n : undefined;
    },
    120_000,
    50,
  );
  first.kill("SIGKILL");
  await new Promise((r) => first.once("exit", r));
  assert.ok(atKill < count, `killed mid-synthesis (${atKill}/${count} stored)`);

  startWorkerProcess();
  const result = await handle.result();
  assert.equal(result.state, "completed");

  const stored = await env.db.db.select({ id: samples.id, slotKey: samples.slotKey }).from(samples).where(eq(samples.campaignId, campaignId));
  // Expected set, computed without Temporal: the same slots synthesized directly against the same simulator.
  const parsed = parseCampaignConfig(raw);
  assert.ok(parsed.ok);
  const expected = await expectedSingleTurnSampleIds(env.db.db, parsed.config, campaignId);
  const ids = stored.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, "no sample stored twice");
  assert.equal(new Set(stored.map((r) => r.slotKey)).size, count, "every slot once");
  const missing = [...expected].filter((id) => !ids.includes(id));
  const unexpected = ids.filter((id) => !expected.has(id));
  assert.deepEqual({ missing, unexpected }, { missing: [], unexpected: [] });
  assert.equal(ids.length, count);
});
