/**
 * A worker process whose one batch ignores its cancellation (what a batch stuck in the database pool's
 * retries looks like to the SDK), stopped once the batch runs, with a grace of 1 s and a force time
 * of 3 s. Prints `outcome <stopped|gave up> <ms>` when its run ends, then exits as `toolloop worker`
 * does after a forced shutdown (the SDK's native worker is left in use).
 *
 * Usage: node dist/test/helpers/workerStuckShutdown.js <temporal address> <namespace> <queue prefix> <database url> <work dir>
 */
import { NativeConnection } from "@temporalio/worker";
import { Client, Connection } from "@temporalio/client";
import { z } from "zod";
import { activityDepsFor } from "../../src/cli/worker.js";
import { batchSize } from "../../src/config/fields.js";
import { openDatabase } from "../../src/db/client.js";
import { createStageRegistry } from "../../src/framework/registry.js";
import type { StageHandler } from "../../src/framework/stage.js";
import { defineStage } from "../../src/framework/stageSpec.js";
import { STAGE_HANDLERS } from "../../src/stages/handlers.js";
import { STAGE_SPECS } from "../../src/stages/specs.js";
import { taskQueues } from "../../src/taskQueues.js";
import { campaignWorkflowId } from "../../workflows/definitions.js";
import { createWorkers, runWorkers } from "../../workers/createWorkers.js";
import { simulatorCampaign } from "./configs.js";

const [address, namespace, queuePrefix, databaseUrl, workDir] = process.argv.slice(2);
if (!address || !namespace || !queuePrefix || !databaseUrl || !workDir) {
  console.error("usage: workerStuckShutdown.js <temporal address> <namespace> <queue prefix> <database url> <work dir>");
  process.exit(2);
}

let started!: () => void;
const batchStarted = new Promise<void>((resolve) => (started = resolve));
const stuckSpec = defineStage({
  name: "test.stuck",
  title: "a batch that ignores cancellation (test fixture)",
  latency: "default",
  batchTimeoutMinutes: 5,
  roles: [],
  reads: { kind: "slots", items: () => 1, describe: "one slot" },
  writes: "nothing",
  schema: z.strictObject({ name: z.literal("test.stuck"), batchSize: batchSize(1) }),
});
const stuckHandler: StageHandler<{ name: "test.stuck"; batchSize: number }> = {
  name: "test.stuck",
  async plan() {
    return { batches: 1, items: 1 };
  },
  async runBatch() {
    started();
    await new Promise<never>(() => setInterval(() => undefined, 60_000));
    return { items: 1 };
  },
};

const db = await openDatabase(databaseUrl);
const connection = await NativeConnection.connect({ address });
const client = new Client({ connection: await Connection.connect({ address }), namespace });
const workers = await createWorkers({
  connection,
  namespace,
  queuePrefix,
  roles: ["workflows", "default"],
  activityDeps: {
    ...activityDepsFor(db, workDir, () => undefined),
    stages: createStageRegistry([...STAGE_SPECS, stuckSpec], { ...STAGE_HANDLERS, "test.stuck": stuckHandler }),
  },
  shutdownGraceTime: "1 second",
  shutdownForceTime: "3 seconds",
});
const run = runWorkers(workers);
const campaignId = `${queuePrefix}-stuck`;
// The stage never calls an LLM: the endpoint is never asked.
const handle = await client.workflow.start("campaignWorkflow", {
  workflowId: campaignWorkflowId(campaignId),
  taskQueue: taskQueues(queuePrefix).workflows,
  args: [{ campaignId, config: simulatorCampaign("http://127.0.0.1:9/v1", { stages: [{ name: "test.stuck" }] }) }],
});
await batchStarted;
const stopAt = Date.now();
for (const w of workers) w.shutdown();
const outcome = await run.then(
  () => "stopped",
  () => "gave up",
);
console.log(`outcome ${outcome} ${Date.now() - stopAt}`);
await handle.terminate("test done").catch(() => undefined);
process.exit(0);
