/** The pure parts of the operator surface: report paths, memo, details text and the first real error. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApplicationFailure, ChildWorkflowFailure, ActivityFailure, RetryState } from "@temporalio/common";
import { campaignReportPath, iterationReportPath } from "../../../src/output/layout.js";
import type { CampaignStatus, IterationStatus } from "../../../workflows/definitions.js";
import { campaignDetails, campaignMemo, firstRealError, iterationDetails, nextCommands, reportPaths } from "../../../workflows/operatorSurface.js";

test("report paths match src/output/layout.ts (workflows cannot import node:path)", () => {
  for (const dir of ["/data/out/c1", "/data/out/c1/"]) {
    const r = reportPaths(dir, 3);
    assert.equal(r.campaignReport, campaignReportPath("/data/out/c1"));
    assert.equal(r.iterationReport, iterationReportPath("/data/out/c1", 3));
  }
  assert.deepEqual(reportPaths(undefined, 1), {});
});

test("the memo carries config version, hash and output folder; no folder, no report", () => {
  assert.deepEqual(campaignMemo({ campaignId: "c", configVersion: 2, configHash: "ab", outputDir: "/o/c" }), {
    campaignId: "c",
    configVersion: 2,
    configHash: "ab",
    outputDir: "/o/c",
    report: "/o/c/report.html",
  });
  assert.deepEqual(campaignMemo({ campaignId: "c", configVersion: 1, configHash: "ab" }), { campaignId: "c", configVersion: 1, configHash: "ab" });
});

test("next commands name the campaign and fit the state", () => {
  assert.deepEqual(nextCommands("c1", "waiting_for_operator"), [
    "toolloop campaign retry-stage c1",
    "toolloop campaign skip-stage c1",
    'toolloop campaign abort c1 --reason "..."',
  ]);
  assert.ok(nextCommands("c1", "paused").includes("toolloop campaign resume c1"));
  assert.deepEqual(nextCommands("c1", "completed"), ["toolloop campaign status c1"]);
});

const iteration = (over: Partial<IterationStatus> = {}): IterationStatus => ({
  campaignId: "c1",
  iteration: 1,
  state: "waiting_for_operator",
  paused: false,
  currentStage: "verify.rules",
  stages: [
    {
      name: "synthesize.singleTurn",
      state: "succeeded",
      batchesTotal: 4,
      batchesDone: 4,
      itemsTotal: 40,
      itemsDone: 40,
      counts: { written: 40, failed: 0 },
      attempts: 1,
    },
    {
      name: "verify.rules",
      state: "waiting_for_operator",
      batchesTotal: 2,
      batchesDone: 1,
      itemsTotal: 40,
      itemsDone: 25,
      counts: {},
      attempts: 2,
      lastError: "boom",
    },
  ],
  lastError: "verify.rules: boom",
  ...over,
});

test("iteration details: each stage with its counts, the waiting stage and why, the commands", () => {
  const d = iterationDetails(iteration(), "/o/c1");
  assert.match(d, /\*\*synthesize\.singleTurn\*\*: succeeded · batches 4 of 4 · items 40 of 40 · written 40/);
  assert.doesNotMatch(d, /failed 0/, "zero counters are left out");
  assert.match(d, /\*\*verify\.rules\*\*: waiting for operator · batches 1 of 2 · items 25 of 40 · attempt 2/);
  assert.match(d, /\*\*Waiting for an operator\*\*: stage verify\.rules failed: boom/);
  assert.doesNotMatch(d, /Last error/, "the waiting stage's error is said once");
  assert.match(d, /- `toolloop campaign retry-stage c1`/);
  assert.match(d, /\*\*Report\*\*: \/o\/c1\/iter-1\/report\.html/);
});

test("campaign details: state, iteration, stage, error, report and config", () => {
  const status: CampaignStatus = {
    campaignId: "c1",
    name: "weekly",
    state: "aborted",
    paused: false,
    iteration: 1,
    iterationsTotal: 3,
    currentIteration: iteration({ state: "aborted" }),
    completedIterations: [],
    lastError: "aborted by operator: wrong tools",
  };
  const d = campaignDetails(status, { configVersion: 1, configHash: "f".repeat(64), outputDir: "/o/c1" });
  assert.match(d, /^\*\*Campaign c1\*\* \(weekly\): aborted/);
  assert.match(d, /Iteration 1 of 3 · stage verify\.rules/);
  assert.match(d, /\*\*Last error\*\*: aborted by operator: wrong tools/);
  assert.match(d, /\*\*Report\*\*: \/o\/c1\/report\.html \(iteration: \/o\/c1\/iter-1\/report\.html\)/);
  assert.match(d, new RegExp(`\\*\\*Config\\*\\*: version 1, sha256 ${"f".repeat(64)}`));
});

test("the first real error is the innermost application failure, not the wrappers", () => {
  const stage = ApplicationFailure.nonRetryable("stage verify.rules failed: bad schema", "StageFailed");
  const child = new ChildWorkflowFailure("default", { workflowId: "w", runId: "r" }, "iterationWorkflow", RetryState.NON_RETRYABLE_FAILURE, stage);
  assert.deepEqual(firstRealError(child), { message: "stage verify.rules failed: bad schema", type: "StageFailed" });
  const activity = new ActivityFailure(
    "Activity task failed",
    "planStage",
    "1",
    RetryState.NON_RETRYABLE_FAILURE,
    "",
    ApplicationFailure.create({ message: "db down", type: "InfrastructureError" }),
  );
  assert.deepEqual(firstRealError(activity), { message: "db down", type: "InfrastructureError" });
  assert.deepEqual(firstRealError(new Error("plain")), { message: "plain" });
});

test("a stage still marked running when the campaign ended (an abort) is shown as stopped, not running", () => {
  const running = iteration({ state: "running" });
  running.stages[1] = { ...(running.stages[1] as IterationStatus["stages"][number]), state: "running", lastError: undefined };
  const status: CampaignStatus = {
    campaignId: "c1",
    name: "weekly",
    state: "aborted",
    paused: false,
    iteration: 1,
    iterationsTotal: 3,
    currentIteration: running,
    completedIterations: [],
    lastError: "aborted by operator",
  };
  const d = campaignDetails(status, {});
  assert.match(d, /\*\*verify\.rules\*\*: stopped \(aborted\)/);
  assert.doesNotMatch(d, /\*\*verify\.rules\*\*: running/);
  assert.match(campaignDetails({ ...status, state: "running" }, {}), /\*\*verify\.rules\*\*: running/);
});
