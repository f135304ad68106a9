/**
 * Synthesis throughput through Temporal against the simulator with latency L and concurrency cap C.
 * Prints achieved requests/s divided by the endpoint's capacity C/L, and Temporal history events per
 * 1,000 samples. Target (issue #2): ratio >= 0.9 and <= 50 events per 1,000 samples at C=32,
 * L=200 ms, 5,000 samples.
 *
 *   node dist/bench/synthesisThroughput.js [--samples 5000] [--latency-ms 200] [--concurrency 32] [--client-concurrency 64] [--batch-size 250]
 *
 * Uses TEMPORAL_ADDRESS / DATABASE_URL when set, else starts private servers.
 */
import { parseArgs } from "node:util";
import { startSimulator } from "../src/llm/simulator/server.js";
import { taskQueues } from "../src/taskQueues.js";
import { campaignWorkflowId, iterationWorkflowId } from "../workflows/definitions.js";
import { createTestEnv } from "../test/helpers/testEnv.js";

const { values } = parseArgs({
  options: {
    samples: { type: "string", default: "5000" },
    "latency-ms": { type: "string", default: "200" },
    concurrency: { type: "string", default: "32" },
    // Requests the client keeps open; above C so the server's queue never runs dry between a
    // response and the next request (as one configures a client in front of a vLLM server).
    "client-concurrency": { type: "string" },
    "batch-size": { type: "string", default: "250" },
    "batches-in-parallel": { type: "string", default: "4" },
  },
});
const samples = Number(values.samples);
const latencyMs = Number(values["latency-ms"]);
const cap = Number(values.concurrency);
const batchSize = Number(values["batch-size"]);
const clientConcurrency = Number(values["client-concurrency"] ?? 2 * cap);

const env = await createTestEnv("bench");
const sim = await startSimulator({ seed: 1, latencyMs, maxConcurrency: cap, quiet: true });
const workers = await env.startWorkers({ heartbeatIntervalMs: 5000 });
try {
  const campaignId = `bench-${Date.now().toString(36)}`;
  const config = {
    name: "bench",
    seed: 1,
    endpoints: { sim: { baseUrl: sim.url, maxConcurrency: clientConcurrency, timeoutMs: 60_000, maxRetries: 3 } },
    roles: { generator: { endpoint: "sim", model: "toolloop-sim" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "synthesize.singleTurn", count: samples, batchSize }],
    concurrency: { batchesInParallel: Number(values["batches-in-parallel"]) },
  };
  const wfId = campaignWorkflowId(campaignId);
  const started = Date.now();
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: wfId,
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  const progress = setInterval(() => process.stderr.write(`\r${sim.stats().completed} requests done`), 1000);
  await handle.result();
  clearInterval(progress);
  const wall = (Date.now() - started) / 1000;
  const st = sim.stats();
  const active = ((st.lastResponseAt ?? 0) - (st.firstRequestAt ?? 0)) / 1000;
  const rps = st.completed / active;
  const capacity = cap / (latencyMs / 1000);
  let events = 0;
  for (const id of [wfId, iterationWorkflowId(wfId, 1)]) {
    const h = await env.client.workflow.getHandle(id).fetchHistory();
    events += h.events?.length ?? 0;
  }
  const perThousand = events / (samples / 1000);
  console.log("");
  console.log(
    `samples=${samples} C=${cap} (client keeps ${clientConcurrency} open) L=${latencyMs}ms batchSize=${batchSize} requests=${st.completed} maxInFlight=${st.maxInFlight}`,
  );
  console.log(`wall ${wall.toFixed(1)} s (campaign start to result), endpoint busy ${active.toFixed(1)} s`);
  console.log(`achieved ${rps.toFixed(1)} req/s; capacity C/L = ${capacity.toFixed(1)} req/s; ratio = ${(rps / capacity).toFixed(3)} (target >= 0.9)`);
  console.log(`history events: ${events} (campaign + iteration) = ${perThousand.toFixed(1)} per 1,000 samples (target <= 50)`);
} finally {
  await workers.stop();
  await sim.close();
  await env.close();
}
