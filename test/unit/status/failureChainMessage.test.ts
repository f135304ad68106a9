import assert from "node:assert/strict";
import { test } from "node:test";
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState } from "@temporalio/common";
import { failureChainMessage } from "../../../src/status/failureCause.js";

test("a cluster-job stage's failure reads as the job's error, without the child workflow's wrapper", () => {
  const job = ApplicationFailure.nonRetryable("local job tl-d1-train-sft-a1 failed (exit 1): exited with code 1", "ClusterJobFailed");
  const child = new ChildWorkflowFailure("default", { workflowId: "w", runId: "r" }, "stageJobWorkflow", RetryState.NON_RETRYABLE_FAILURE, job);
  assert.equal(failureChainMessage(child), "local job tl-d1-train-sft-a1 failed (exit 1): exited with code 1");
});

test("an activity's failure reads as its application failure; a wrapper repeating its cause is said once", () => {
  const cause = ApplicationFailure.create({ message: "db down", type: "InfrastructureError" });
  const activity = new ActivityFailure("Activity task failed", "runStageBatch", "1", RetryState.MAXIMUM_ATTEMPTS_REACHED, "", cause);
  assert.equal(failureChainMessage(activity), "db down");
  const repeating = new Error("batch 3: db down (after 5 attempts)", { cause: new Error("db down") });
  assert.equal(failureChainMessage(repeating), "batch 3: db down (after 5 attempts)");
  const chained = new Error("stage export failed", { cause: new Error("disk full") });
  assert.equal(failureChainMessage(chained), "stage export failed: disk full");
});

test("something that is not an error still says what it is", () => {
  assert.equal(failureChainMessage("boom"), "boom");
  assert.equal(failureChainMessage(new Error("Activity task failed")), "Error: Activity task failed");
});
