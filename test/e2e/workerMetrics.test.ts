/**
 * A real worker process with `--metrics-address` runs a small campaign on the LLM simulator; one
 * scrape of its /metrics shows toolloop's counters moved (LLM requests per role and endpoint,
 * samples written, verdicts, batches) and the Temporal SDK's runtime metrics beside them. Then
 * `campaign start` refuses a config whose role asks for a model the endpoint does not serve; a
 * taken metrics port and an unknown campaign id get one-line errors with the right exit codes.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { squatPort } from "../helpers/portSquatter.js";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/testEnv.js";

const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let worker: ChildProcess | undefined;
let workerLog = "";

before(async () => {
  env = await createTestEnv("metrics");
  sim = await startSimulator({ seed: 5, latencyMs: 5, maxConcurrency: 8, quiet: true });
});

after(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) {
    const exited = new Promise((resolve) => worker?.once("exit", resolve));
    worker.kill("SIGTERM");
    await exited;
  }
  await sim?.close();
  await env?.close();
});

const cliEnv = () => ({ ...process.env, TEMPORAL_ADDRESS: env.temporalAddress, DATABASE_URL: env.databaseUrl, TOOLLOOP_QUEUE_PREFIX: env.queuePrefix });

/** Runs the CLI without blocking this process (the simulator it must reach lives here). */
function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** The value of one sample line (`name{labels} value`) whose labels include all of `labels`; summed over matches. */
function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    found = true;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  assert.ok(found, `no ${name} sample with ${JSON.stringify(labels)}`);
  return sum;
}

test("the worker's /metrics serves toolloop's counters and the Temporal SDK's runtime metrics after a campaign", async () => {
  worker = spawn(process.execPath, [cliPath, "worker", "--base-dir", env.workDir, "--metrics-address", "127.0.0.1:0"], {
    env: cliEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  worker.stdout?.on("data", (d) => (workerLog += d));
  worker.stderr?.on("data", (d) => (workerLog += d));
  const metricsUrl = await waitFor(
    "the worker to print its metrics URL",
    async () => {
      if (worker?.exitCode !== null) throw new Error(`worker exited: ${workerLog.slice(-2000)}`);
      return /Prometheus metrics at (http:\/\/\S+)/.exec(workerLog)?.[1];
    },
    60_000,
  );

  const campaignId = `metrics-${Date.now().toString(36)}`;
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config: simulatorCampaign(sim.url, { count: 12, batchSize: 6 }), campaignId }],
  });
  const result = await handle.result();
  assert.equal(result.state, "completed");

  const response = await fetch(metricsUrl);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
  const text = await response.text();
  // Every series of the campaign's work carries its id (several campaigns share a worker).
  const campaign = campaignId;
  const ok = sampleValue(text, "toolloop_llm_requests_total", { campaign, role: "generator", endpoint: "sim", outcome: "ok", simulated: "true" });
  assert.ok(ok >= 12, `generator requests ok: ${ok}`);
  assert.equal(ok, sampleValue(text, "toolloop_llm_requests_total", { role: "generator", endpoint: "sim", outcome: "ok", simulated: "true" }));
  assert.ok(sampleValue(text, "toolloop_llm_request_duration_seconds_count", { campaign, role: "generator", endpoint: "sim" }) >= 12);
  assert.ok(sampleValue(text, "toolloop_llm_tokens_total", { campaign, role: "generator", direction: "completion" }) > 0);
  assert.ok(sampleValue(text, "toolloop_samples_written_total", { campaign, origin: "synthesized" }) >= 1);
  assert.ok(sampleValue(text, "toolloop_verification_verdicts_total", { campaign, verifier: "rules", verdict: "pass" }) >= 1);
  assert.equal(
    sampleValue(text, "toolloop_verification_verdicts_total", { campaign, verifier: "rules" }),
    sampleValue(text, "toolloop_samples_written_total", { campaign }),
    "one rule verdict per written sample",
  );
  assert.equal(sampleValue(text, "toolloop_stage_batches_total", { campaign, stage: "synthesize.singleTurn", outcome: "done" }), 2);
  // The SDK's runtime metrics, from its own exporter, in the same exposition.
  assert.match(text, /^temporal_\w+/m);
  assert.match(text, /^temporal_workflow_completed_total\{/m);
  assert.match(text, /^temporal_activity_execution_latency_seconds_bucket\{/m);
  // Process metrics under our prefix.
  assert.match(text, /^toolloop_process_cpu_seconds_total /m);
  // Every metric family is declared once: the two expositions share no name.
  const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
  assert.equal(new Set(types.map((l) => l.split(" ")[2])).size, types.length);
});

test("campaign start refuses a model the endpoint does not serve, naming role and endpoint; --skip-endpoint-check starts anyway", async () => {
  const config = simulatorCampaign(sim.url, { count: 4, batchSize: 4 });
  config.roles = { generator: { endpoint: "sim", model: "no-such-model" } };
  const file = path.join(env.workDir, "wrong-model.json");
  writeFileSync(file, JSON.stringify(config));
  const id = `wrong-model-${Date.now().toString(36)}`;
  const refused = await runCli(["campaign", "start", "--config", file, "--id", id]);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `^error: endpoint check failed \\(rerun with --skip-endpoint-check to start anyway\\):\\n  endpoint sim \\(${sim.url.replace(/[/.]/g, "\\$&")}\\) does not serve model "no-such-model" for role generator \\(roles\\.generator\\.model; used by synthesize\\.singleTurn\\); it serves: "toolloop-sim", `,
    ),
  );
  assert.doesNotMatch(refused.stdout, /started campaign/);

  const skipped = await runCli(["campaign", "start", "--config", file, "--id", id, "--skip-endpoint-check"]);
  assert.equal(skipped.status, 0, skipped.stderr);
  assert.match(skipped.stdout, new RegExp(`started campaign ${id}`));
  await env.client.workflow.getHandle(campaignWorkflowId(id)).terminate("test done");

  // The same config with the served model passes the check, which says what it found.
  config.roles = { generator: { endpoint: "sim", model: "toolloop-sim-generator" } };
  writeFileSync(file, JSON.stringify(config));
  const good = await runCli(["campaign", "start", "--config", file, "--id", `${id}-ok`]);
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /endpoint sim \(http:\/\/127\.0\.0\.1:\d+\/v1\): serves toolloop-sim-generator for generator\n/);
  await env.client.workflow.getHandle(campaignWorkflowId(`${id}-ok`)).terminate("test done");
});

test("a metrics address already in use stops the worker's start with what to do, exit 1; model list of an unknown campaign says so, exit 2", async () => {
  const squatter = await squatPort();
  try {
    const taken = await runCli(["worker", "--base-dir", env.workDir, "--metrics-address", `127.0.0.1:${squatter.port}`]);
    assert.equal(taken.status, 1, taken.stderr);
    assert.match(
      taken.stderr,
      new RegExp(
        `^error: cannot listen for metrics on 127\\.0\\.0\\.1:${squatter.port}: address in use; choose another --metrics-address \\(or TOOLLOOP_METRICS_ADDRESS\\), or stop what listens there\\n$`,
      ),
    );
  } finally {
    await squatter.close();
  }
  const unknown = await runCli(["model", "list", "no-such-campaign"]);
  assert.equal(unknown.status, 2, unknown.stderr);
  assert.match(unknown.stderr, /^error: no campaign "no-such-campaign" in PostgreSQL; check the id/);
});
