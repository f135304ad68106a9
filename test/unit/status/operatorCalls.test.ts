import assert from "node:assert/strict";
import { test } from "node:test";
import type { WorkflowFacts } from "../../../src/status/campaignView.js";
import { noAnswerFromWorker, operatorCallRefusal } from "../../../src/status/operatorCalls.js";

const facts = (over: Partial<WorkflowFacts>): WorkflowFacts => ({
  workflowId: "campaign-weekly",
  runId: "r1",
  status: "RUNNING",
  taskQueue: "toolloop-workflows",
  ...over,
});

test("retry/skip-stage: refused when no worker has run the campaign or none polls its queue; left to the worker otherwise", () => {
  const never = operatorCallRefusal("retry-stage", "weekly", facts({ noWorkerYet: true, workerPolling: false }));
  assert.ok(
    never?.startsWith(
      "retry-stage: no stage of campaign weekly waits for an operator: no worker has run this campaign yet (no worker has polled task queue toolloop-workflows recently)",
    ),
    never,
  );
  assert.ok(never?.endsWith('temporal workflow terminate --workflow-id campaign-weekly --reason "<why>"'), never);

  assert.equal(
    operatorCallRefusal("skip-stage", "weekly", facts({ workerPolling: false })),
    "skip-stage needs a running worker to answer it: no worker has polled task queue toolloop-workflows recently; start one (`toolloop worker`), the stage waits for the operator until then",
  );
  // A worker polled lately, or the server did not say: the query is tried.
  assert.equal(operatorCallRefusal("skip-stage", "weekly", facts({ workerPolling: true })), undefined);
  assert.equal(operatorCallRefusal("skip-stage", "weekly", facts({})), undefined);
  // A closed campaign is reported as ended elsewhere (campaignEndedError).
  assert.equal(operatorCallRefusal("skip-stage", "weekly", facts({ status: "COMPLETED", workerPolling: false })), undefined);

  assert.match(
    noAnswerFromWorker("retry-stage", facts({})),
    /^retry-stage: no worker answered the campaign's status query; it needs a running worker on task queue toolloop-workflows /,
  );
});
