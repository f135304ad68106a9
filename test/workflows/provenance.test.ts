/**
 * Provenance where data leaves, against the real dev server and PostgreSQL with the LLM simulator:
 * exported rows and manifests name models, endpoints, seed, config hash and version, code version
 * and `simulated: true`; no key material appears anywhere in the outputs or the stored rows; the
 * strict format writes only OpenAI's fine-tuning fields. Everything lands under campaignOutputDir.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import { campaignConfigs, datasetExports, llmRequests, samples, trainingDatasets } from "../../src/db/schema.js";
import { STRICT_ROW_SCHEMA } from "../../src/export/openaiStrict.js";
import { createAjv } from "../../src/jsonSchema/ajv.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { campaignOutputDir, iterationOutputDir } from "../../src/output/layout.js";
import { codeVersion } from "../../src/provenance/codeVersion.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { simulatorCampaign } from "../helpers/configs.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

const KEY_VAR = "TOOLLOOP_TEST_PROVENANCE_API_KEY";
const PLANTED_KEY = `sk-planted-${randomUUID()}`;

let env: TestEnv;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let workers: Awaited<ReturnType<TestEnv["startWorkers"]>>;

before(async () => {
  // The workers read the key from here; the simulator accepts any key.
  process.env[KEY_VAR] = PLANTED_KEY;
  env = await createTestEnv("prov");
  sim = await startSimulator({ seed: 5, latencyMs: 2, maxConcurrency: 16, quiet: true });
  workers = await env.startWorkers();
});

after(async () => {
  await workers?.stop();
  await sim?.close();
  await env?.close();
  delete process.env[KEY_VAR];
});

async function runCampaign(campaignId: string, exportStage: Record<string, unknown>, extraStages: Record<string, unknown>[] = []): Promise<void> {
  const base = simulatorCampaign(sim.url, { count: 20, batchSize: 10 });
  const config = {
    ...base,
    endpoints: { sim: { ...base.endpoints.sim, apiKeyEnv: KEY_VAR } },
    stages: [...(base.stages as { name: string }[]).filter((s) => s.name !== "export.dataset"), exportStage, ...extraStages],
  };
  const handle = await env.client.workflow.start("campaignWorkflow", {
    workflowId: campaignWorkflowId(campaignId),
    taskQueue: taskQueues(env.queuePrefix).workflows,
    args: [{ config, campaignId }],
  });
  const result = await handle.result();
  assert.equal(result.state, "completed");
}

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

test("exported rows and manifests carry provenance (models, endpoints, seed, config hash, code version, simulated) and no key material", async () => {
  const campaignId = `prov-${Date.now().toString(36)}`;
  await runCampaign(campaignId, { name: "export.dataset" }, [{ name: "export.verl", valFraction: 0.2, sft: true }]);

  const campaignDir = campaignOutputDir(env.workDir, ".toolloop/output", campaignId);
  const iterDir = iterationOutputDir(env.workDir, ".toolloop/output", campaignId, 1);
  for (const f of ["dataset.jsonl", "dataset.manifest.json", "verl/manifest.json", "verl/train.parquet", "verl/sft.jsonl"])
    assert.ok(fs.existsSync(path.join(iterDir, f)), `${f} is in the iteration's folder under campaignOutputDir`);

  const [stored] = await env.db.db.select().from(campaignConfigs).where(eq(campaignConfigs.campaignId, campaignId));
  assert.ok(stored);
  const code = codeVersion();
  const generator = { model: "toolloop-sim", endpoint: "sim", baseUrl: sim.url };

  const lines = fs
    .readFileSync(path.join(iterDir, "dataset.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { metadata: { provenance: Record<string, unknown> } });
  assert.ok(lines.length > 0);
  for (const line of lines) {
    assert.deepEqual(line.metadata.provenance, {
      campaignId,
      seed: 7,
      config: { sha256: stored.sha256, version: 1 },
      code: { version: code.version, commit: code.commit },
      iteration: 1,
      stage: "synthesize.singleTurn",
      roles: { generator },
      simulated: true,
    });
  }
  if (fs.existsSync(path.join(process.cwd(), ".git"))) assert.match(code.commit ?? "", /^[0-9a-f]{40}$/, "a checkout records its commit");

  const manifest = JSON.parse(fs.readFileSync(path.join(iterDir, "dataset.manifest.json"), "utf8")) as { meta: { provenance: Record<string, unknown> } };
  assert.deepEqual(manifest.meta.provenance, {
    campaignId,
    seed: 7,
    config: { sha256: stored.sha256, version: 1 },
    code: { version: code.version, commit: code.commit },
    iteration: 1,
    roles: { generator },
    simulatedRoles: { generator: true },
    simulated: true,
  });
  const verl = JSON.parse(fs.readFileSync(path.join(iterDir, "verl", "manifest.json"), "utf8")) as { provenance: Record<string, unknown> };
  assert.equal(verl.provenance.simulated, true);
  assert.deepEqual(verl.provenance.simulatedRoles, { generator: true });
  assert.deepEqual(verl.provenance.roles, { generator });
  assert.equal(verl.provenance.configHash, stored.sha256);
  assert.equal(verl.provenance.campaignSeed, 7);
  assert.deepEqual(verl.provenance.code, { version: code.version, commit: code.commit });

  // The ledger marks every answered request as the simulator's.
  const ledger = await env.db.db
    .select({ status: llmRequests.status, simulated: llmRequests.simulated, n: sql<number>`count(*)::int` })
    .from(llmRequests)
    .where(eq(llmRequests.campaignId, campaignId))
    .groupBy(llmRequests.status, llmRequests.simulated);
  assert.ok(ledger.length > 0);
  for (const r of ledger) if (r.status === "ok") assert.equal(r.simulated, true, "every answered request is marked simulated");

  // No key, and not even the key variable's name, in any output file or stored row.
  const outputs = filesUnder(campaignDir);
  assert.ok(outputs.length >= 5);
  for (const f of outputs) {
    const bytes = fs.readFileSync(f);
    for (const secret of [PLANTED_KEY, KEY_VAR])
      assert.ok(!bytes.includes(secret), `${path.relative(campaignDir, f)} contains ${secret === KEY_VAR ? "the key variable's name" : "the API key"}`);
  }
  const storedText = JSON.stringify([
    await env.db.db.select({ m: samples.metadata }).from(samples).where(eq(samples.campaignId, campaignId)),
    await env.db.db.select().from(datasetExports).where(eq(datasetExports.campaignId, campaignId)),
    await env.db.db.select().from(trainingDatasets).where(eq(trainingDatasets.campaignId, campaignId)),
  ]);
  assert.ok(!storedText.includes(PLANTED_KEY));
});

test("format openai-strict writes rows with exactly OpenAI's fine-tuning keys, each valid against the row schema; provenance in the manifest", async () => {
  const campaignId = `prov-strict-${Date.now().toString(36)}`;
  await runCampaign(campaignId, { name: "export.dataset", format: "openai-strict" });
  const iterDir = iterationOutputDir(env.workDir, ".toolloop/output", campaignId, 1);
  const manifest = JSON.parse(fs.readFileSync(path.join(iterDir, "dataset.manifest.json"), "utf8")) as {
    format: string;
    rows: number;
    meta: { provenance: { simulated: boolean } };
  };
  assert.equal(manifest.format, "openai-chat-strict/v1");
  assert.equal(manifest.meta.provenance.simulated, true);
  const validate = createAjv().compile(STRICT_ROW_SCHEMA);
  const lines = fs.readFileSync(path.join(iterDir, "dataset.jsonl"), "utf8").trim().split("\n");
  assert.equal(lines.length, manifest.rows);
  assert.ok(lines.length > 0);
  for (const text of lines) {
    const row = JSON.parse(text) as Record<string, unknown>;
    assert.ok(validate(row), JSON.stringify(validate.errors));
    assert.deepEqual(Object.keys(row).sort(), ["messages", "tools"]);
  }
});
