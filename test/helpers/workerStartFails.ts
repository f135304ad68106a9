/**
 * A worker process whose start fails after its workflow worker was created: the llm activity
 * worker's options are refused (maxConcurrentActivities 0, which `toolloop worker` itself refuses
 * before connecting). Prints the error, closes its connection and returns: the test checks that
 * the process then exits by itself, as nothing of the failed start may hold it open.
 *
 * Usage: node dist/test/helpers/workerStartFails.js <temporal address> <namespace> <queue prefix>
 */
import { tmpdir } from "node:os";
import { NativeConnection } from "@temporalio/worker";
import { activityDepsFor } from "../../src/cli/worker.js";
import type { DbHandle } from "../../src/db/client.js";
import { createWorkers } from "../../workers/createWorkers.js";

const [address, namespace, queuePrefix] = process.argv.slice(2);
if (!address || !namespace || !queuePrefix) {
  console.error("usage: workerStartFails.js <temporal address> <namespace> <queue prefix>");
  process.exit(2);
}
const connection = await NativeConnection.connect({ address });
try {
  // The activities never run: no database is needed.
  const activityDeps = activityDepsFor({} as DbHandle, tmpdir(), () => undefined);
  await createWorkers({ connection, namespace, queuePrefix, roles: ["workflows", "llm"], activityDeps, maxConcurrentActivities: 0 });
  console.log("started (unexpected)");
} catch (err) {
  console.log(`start failed: ${(err as Error).message}`);
} finally {
  await connection.close();
}
