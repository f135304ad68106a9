/** The SDK's logger in toolloop's processes: the activity-only worker's start warning at DEBUG, everything else as it was. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DefaultLogger, type LogEntry } from "@temporalio/worker";
import { ACTIVITY_ONLY_WORKER_WARNING, SdkLogger } from "../../../src/ops/sdkLogger.js";

test("SdkLogger: the activity-only worker's warning is written at DEBUG, hidden at INFO; other messages keep their level", () => {
  const written: LogEntry[] = [];
  const logger = new SdkLogger(new DefaultLogger("INFO", (e) => written.push(e)));
  // The SDK's worker logs through a wrapper that calls log(level, ...); both paths are covered.
  logger.warn(ACTIVITY_ONLY_WORKER_WARNING, { taskQueue: "q-llm" });
  logger.log("WARN", ACTIVITY_ONLY_WORKER_WARNING, { taskQueue: "q-cluster" });
  logger.warn("Activity heartbeat timed out", { taskQueue: "q-llm" });
  logger.info("Worker state changed", { state: "RUNNING" });
  logger.error(ACTIVITY_ONLY_WORKER_WARNING);
  assert.deepEqual(
    written.map((e) => [e.level, e.message]),
    [
      ["WARN", "Activity heartbeat timed out"],
      ["INFO", "Worker state changed"],
      ["ERROR", ACTIVITY_ONLY_WORKER_WARNING],
    ],
  );

  const debug: LogEntry[] = [];
  new SdkLogger(new DefaultLogger("DEBUG", (e) => debug.push(e))).warn(ACTIVITY_ONLY_WORKER_WARNING, { taskQueue: "q-llm" });
  assert.deepEqual(
    debug.map((e) => [e.level, e.message, e.meta]),
    [["DEBUG", ACTIVITY_ONLY_WORKER_WARNING, { taskQueue: "q-llm" }]],
  );
});
