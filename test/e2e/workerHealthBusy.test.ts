/**
 * The image's HEALTHCHECK and a worker too busy to poll: an `--roles llm` worker whose every activity
 * slot runs a long batch stops polling its queue, so Temporal's poller record of it ages while it works
 * (the HEALTHCHECK reported such a worker unhealthy 90 s into its batches). Its status file
 * (src/ops/workerStatusFile.ts) shows every slot busy and a recent server round trip, and the
 * HEALTHCHECK's busy verdict accepts it; the file is gone once the worker exits.
 * Needs TEMPORAL_ADDRESS and DATABASE_URL (the suite's services).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { NativeConnection, type Worker } from "@temporalio/worker";
import { activityDepsFor } from "../../src/cli/worker.js";
import { startSimulator, type SimulatorHandle } from "../../src/llm/simulator/server.js";
import { busyWorkerVerdict, readWorkerStatuses, workerStatusFile } from "../../src/ops/workerStatusFile.js";
import { taskQueues } from "../../src/taskQueues.js";
import { createWorkers } from "../../workers/createWorkers.js";
import { CLI_MAIN, cliEnvOf, runCli } from "../helpers/cli.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

const skip = !process.env.TEMPORAL_ADDRESS || !process.env.DATABASE_URL ? "needs TEMPORAL_ADDRESS and DATABASE_URL (scripts/test.sh starts them)" : false;

let env: TestEnv;
let sim: SimulatorHandle;
let statusDir: string;
let llmWorker: ChildProcess | undefined;
let others: { workers: Worker[]; running: Promise<void>[]; nc: NativeConnection } | undefined;

before(async () => {
  if (skip) return;
  env = await createTestEnv("worker-health-busy");
  statusDir = path.join(env.workDir, "worker-status");
  // Slow answers: one batch keeps the single llm slot busy for a minute.
  sim = await startSimulator({ port: 0, latencyMs: 1500, seed: 5 });
  // Workflows and the other activity queues in this process; the llm queue in the CLI worker below.
  const nc = await NativeConnection.connect({ address: env.temporalAddress });
  const workers = await createWorkers({
    connection: nc,
    namespace: env.namespace,
    queuePrefix: env.queuePrefix,
    roles: ["workflows", "default", "cluster"],
    activityDeps: { ...activityDepsFor(env.db, env.workDir, () => undefined), temporalClient: async () => env.client },
  });
  others = { workers, running: workers.map((w) => w.run()), nc };
});

after(async () => {
  if (skip) return;
  if (llmWorker && llmWorker.exitCode === null) {
    const exited = new Promise((r) => llmWorker?.once("exit", r));
    llmWorker.kill("SIGKILL");
    await exited;
  }
  if (others) {
    for (const w of others.workers) if (w.getState() === "RUNNING") w.shutdown();
    await Promise.allSettled(others.running);
    await others.nc.close();
  }
  await sim?.close();
  await env?.close();
});

test("an llm worker with every slot busy does not poll, and its status file makes the HEALTHCHECK accept it", { skip }, async () => {
  llmWorker = spawn(process.execPath, [CLI_MAIN, "worker", "--roles", "llm", "--llm-concurrency", "1", "--base-dir", env.workDir], {
    env: { ...process.env, ...cliEnvOf(env), TOOLLOOP_WORKER_STATUS_DIR: statusDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  llmWorker.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  llmWorker.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const pid = llmWorker.pid as number;
  const queues = taskQueues(env.queuePrefix);
  await waitFor("the llm worker's status file", async () => fs.existsSync(workerStatusFile(statusDir, pid)), 60_000);

  // One request at a time: the single batch takes about a minute.
  const config = simulatorCampaign(sim.url, { count: 20, batchSize: 20 });
  config.endpoints = { sim: { baseUrl: sim.url, maxConcurrency: 1, timeoutMs: 10_000, maxRetries: 1 } };
  const configFile = path.join(env.workDir, "busy.campaign.json");
  fs.writeFileSync(configFile, JSON.stringify(config));
  const campaignId = `busy-${process.pid}`;
  const started = await runCli(["campaign", "start", "--config", configFile, "--id", campaignId], cliEnvOf(env));
  assert.equal(started.status, 0, started.stderr);
  try {
    const busy = () => readWorkerStatuses(statusDir).find((r) => r.pid === pid && r.queues.some((q) => q.taskQueue === queues.llm && q.running === 1));
    await waitFor("the llm worker running a batch in its only slot", async () => busy(), 60_000);

    // Temporal's record of this worker on the llm queue ages: it does not poll while its slot is taken.
    const identity = `${pid}@${os.hostname()}`;
    const lastPollAgeS = async () => {
      const res = await env.client.workflowService.describeTaskQueue({
        namespace: env.namespace,
        taskQueue: { name: queues.llm, kind: 1 },
        taskQueueType: 2,
      });
      const poller = (res.pollers ?? []).find((p) => p.identity === identity);
      return poller ? (Date.now() - Number(poller.lastAccessTime?.seconds ?? 0) * 1000) / 1000 : undefined;
    };
    const age = await waitFor("no poll from the busy worker for 8 s", async () => ((await lastPollAgeS()) ?? 0) >= 8 && (await lastPollAgeS()), 60_000, 1000);
    assert.ok(busy(), `still busy after ${age} s without a poll:\n${out}`);

    // What the HEALTHCHECK decides from the files (with an 8 s threshold standing in for its 90 s).
    const verdict = busyWorkerVerdict({
      records: readWorkerStatuses(statusDir),
      hostname: os.hostname(),
      queues: Object.values(queues),
      now: Date.now(),
      maxAgeMs: 20_000,
    });
    assert.equal(verdict?.healthy, true, JSON.stringify(verdict));
    assert.match(
      verdict?.detail ?? "",
      new RegExp(`^${pid}@.* runs activities in every slot \\(${queues.llm} 1/1\\), so it does not poll; server answered \\d+ s ago$`),
    );
  } finally {
    await env.client.workflow
      .getHandle(`campaign-${campaignId}`)
      .terminate("test over")
      .catch(() => undefined);
  }
  const exited = new Promise<number | null>((r) => llmWorker?.once("exit", (code) => r(code)));
  llmWorker.kill("SIGTERM");
  await exited;
  assert.equal(fs.existsSync(workerStatusFile(statusDir, pid)), false, "the status file is removed when the worker exits");
});
