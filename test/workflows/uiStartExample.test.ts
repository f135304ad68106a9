/**
 * The Temporal UI "Start Workflow" example of docs/operations.md runs as given: the form values
 * (examples/ui-start.json, which the doc reproduces verbatim) are started through the client
 * exactly as the UI sends them (workflow type, task queue, workflow id, input as written, no CLI
 * freezing) against the LLM simulator at the example's endpoint, with workers on the example's task
 * queue, and the campaign completes with verified samples and an exported dataset.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { WorkflowNotFoundError } from "@temporalio/client";
import { NativeConnection } from "@temporalio/worker";
import { and, eq, sql } from "drizzle-orm";
import pg from "pg";
import { activityDepsFor } from "../../src/cli/worker.js";
import { migrateDatabase, openDatabase, type DbHandle } from "../../src/db/client.js";
import { samples } from "../../src/db/schema.js";
import { startSimulator } from "../../src/llm/simulator/server.js";
import { queuePrefixOf } from "../../src/taskQueues.js";
import { createWorkers } from "../../workers/createWorkers.js";
import { createTestEnv, type TestEnv } from "../helpers/testEnv.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const EXAMPLE_FILE = path.join(REPO_ROOT, "examples", "ui-start.json");
const DOC_FILE = path.join(REPO_ROOT, "docs", "operations.md");

interface UiStartExample {
  workflowType: string;
  taskQueue: string;
  workflowId: string;
  input: { campaignId: string; config: { endpoints: Record<string, { baseUrl: string }> } };
}
const example = JSON.parse(fs.readFileSync(EXAMPLE_FILE, "utf8")) as UiStartExample;

let env: TestEnv;
let stopSim: (() => Promise<void>) | undefined;
// The example's campaign id is fixed, so each run gets its own database (a rerun against the same
// server would otherwise find the campaign registered with the previous run's folders).
const dbName = `ui_start_${process.pid}`;
let db: DbHandle | undefined;

async function adminQuery(text: string): Promise<void> {
  const admin = new pg.Client({ connectionString: env.databaseUrl });
  await admin.connect();
  try {
    await admin.query(text);
  } finally {
    await admin.end();
  }
}

before(async () => {
  env = await createTestEnv("ui-start");
  await adminQuery(`DROP DATABASE IF EXISTS ${dbName}`);
  await adminQuery(`CREATE DATABASE ${dbName}`);
  const url = new URL(env.databaseUrl);
  url.pathname = `/${dbName}`;
  db = await openDatabase(url.toString());
  await migrateDatabase(db);
  // The example's endpoint, as written: a simulator on that port (one already there is used as is,
  // if it is a toolloop simulator serving the example's models).
  const baseUrl = new URL(Object.values(example.input.config.endpoints)[0]?.baseUrl ?? "");
  try {
    const sim = await startSimulator({ host: baseUrl.hostname, port: Number(baseUrl.port), quiet: true, seed: 11 });
    stopSim = () => sim.close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    const models = await fetch(`${baseUrl.origin}${baseUrl.pathname}/models`).then((r) => r.text());
    assert.match(models, /toolloop-sim-generator/, `port ${baseUrl.port} is taken by something that is not a toolloop simulator`);
  }
});

after(async () => {
  await stopSim?.();
  await db?.close();
  if (env) await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
  await env?.close();
});

test("docs/operations.md shows exactly the example's form values", () => {
  const doc = fs.readFileSync(DOC_FILE, "utf8");
  assert.ok(doc.includes(`Workflow Type: \`${example.workflowType}\``), "doc names the workflow type");
  assert.ok(doc.includes(`Task Queue: \`${example.taskQueue}\``), "doc names the task queue");
  assert.ok(doc.includes(`Workflow ID: \`${example.workflowId}\``), "doc names the workflow id");
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)\n```/g)].map((m) => m[1] ?? "");
  assert.ok(
    blocks.some((b) => {
      try {
        return JSON.stringify(JSON.parse(b)) === JSON.stringify(example.input);
      } catch {
        return false;
      }
    }),
    "doc has the example's input JSON verbatim",
  );
});

test("the UI start example's input runs as given and completes against the simulator", async () => {
  // A previous run of this file against the same server may have left the id open.
  try {
    await env.client.workflow.getHandle(example.workflowId).terminate("ui start example test: fresh run");
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  const connection = await NativeConnection.connect({ address: env.temporalAddress });
  const workers = await createWorkers({
    connection,
    namespace: env.namespace,
    queuePrefix: queuePrefixOf(example.taskQueue),
    activityDeps: { ...activityDepsFor(db as DbHandle, env.workDir, () => undefined), heartbeatIntervalMs: 1000, temporalClient: async () => env.client },
  });
  const running = workers.map((w) => w.run());
  try {
    const handle = await env.client.workflow.start(example.workflowType, {
      taskQueue: example.taskQueue,
      workflowId: example.workflowId,
      args: [example.input],
    });
    const result = (await handle.result()) as { campaignId: string; state: string; iterations: unknown[] };
    assert.equal(result.campaignId, example.input.campaignId);
    assert.equal(result.state, "completed");
    assert.equal(result.iterations.length, 1);

    const [row] = await (db as DbHandle).db
      .select({ n: sql<number>`count(*)::int` })
      .from(samples)
      .where(and(eq(samples.campaignId, example.input.campaignId), eq(samples.status, "verified")));
    assert.ok((row?.n ?? 0) > 0, "verified samples were written");
    const dataset = path.join(env.workDir, "output");
    const files = fs.readdirSync(dataset, { recursive: true }).map(String);
    assert.ok(
      files.some((f) => f.endsWith("dataset.jsonl")),
      `dataset.jsonl under ${dataset} (have ${files.join(", ")})`,
    );
  } finally {
    for (const w of workers) if (w.getState() === "RUNNING") w.shutdown();
    await Promise.allSettled(running);
    await connection.close();
  }
});
