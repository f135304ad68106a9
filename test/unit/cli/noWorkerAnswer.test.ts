import assert from "node:assert/strict";
import { test } from "node:test";
import { ServiceError } from "@temporalio/client";
import { isNoWorkerAnswer } from "../../../src/cli/errors.js";

/** What @grpc/grpc-js rejects with: an Error with code, details and metadata. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

test("a query no worker answered: DEADLINE_EXCEEDED, or FAILED_PRECONDITION 'no poller seen', bare or wrapped by the SDK", () => {
  const noPoller = grpcError(9, "no poller seen for task queue recently, worker may be down");
  assert.equal(isNoWorkerAnswer(noPoller), true);
  assert.equal(isNoWorkerAnswer(new ServiceError("Failed to query Workflow", { cause: noPoller })), true);
  assert.equal(isNoWorkerAnswer(new ServiceError("Failed to query Workflow", { cause: grpcError(4, "context deadline exceeded") })), true);
  // Other preconditions and errors are not this.
  assert.equal(isNoWorkerAnswer(grpcError(9, "workflow execution already completed")), false);
  assert.equal(isNoWorkerAnswer(grpcError(14, "connection refused")), false);
  assert.equal(isNoWorkerAnswer(new Error("no poller seen")), false);
});
