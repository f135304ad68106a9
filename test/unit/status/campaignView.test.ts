import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { renderCampaignList, renderCampaignView } from "../../../src/cli/statusView.js";
import { campaignListEntry } from "../../../src/status/campaignList.js";
import { campaignView, type DbFacts, type StageFacts, type WorkflowFacts } from "../../../src/status/campaignView.js";
import { rootCause } from "../../../src/status/failureCause.js";
import { historyFacts, type HistoryEventLike } from "../../../src/status/historyFacts.js";

const now = Date.parse("2026-12-02T12:00:00Z");
const at = (msAgo: number) => new Date(now - msAgo).toISOString();

function stage(name: string, over: Partial<StageFacts> = {}): StageFacts {
  return { name, status: "pending", attempts: 0, batchesDone: 0, itemsDone: 0, windowItems: 0, ...over };
}

function dbFacts(stages: StageFacts[], over: Partial<DbFacts> = {}): DbFacts {
  return {
    campaignId: "weekly",
    name: "demo",
    status: "running",
    createdAt: at(3_600_000),
    updatedAt: at(3_600_000),
    iterationsTotal: 3,
    iteration: { n: 2, status: "running", startedAt: at(600_000) },
    stages,
    nowMs: now,
    ...over,
  };
}

const wf = (over: Partial<WorkflowFacts>): WorkflowFacts => ({
  workflowId: "campaign-weekly",
  runId: "r1",
  status: "RUNNING",
  taskQueue: "toolloop-workflows",
  ...over,
});

test("a failed workflow reports the root application failure, never the wrapper", () => {
  const failure = {
    message: "Child Workflow execution failed",
    cause: {
      message: "stage synthesize.singleTurn failed: batch 2: endpoint sim answered 500",
      applicationFailureInfo: { type: "StageFailed", nonRetryable: true },
      cause: null,
    },
  };
  assert.deepEqual(rootCause(failure), { message: "stage synthesize.singleTurn failed: batch 2: endpoint sim answered 500", type: "StageFailed" });
  assert.deepEqual(rootCause({ message: "Activity task failed", cause: { message: "Activity task timed out", timeoutFailureInfo: {} } }), {
    message: "Activity task timed out",
  });
  assert.equal(rootCause(null), undefined);

  const v = campaignView({
    campaignId: "weekly",
    db: dbFacts([stage("synthesize.singleTurn", { status: "failed", error: "batch 2: endpoint sim answered 500", itemsTotal: 40, itemsDone: 20 })], {
      status: "failed",
    }),
    wf: wf({ status: "FAILED", failure: rootCause(failure) }),
  });
  assert.equal(v.state, "failed");
  assert.equal(v.reason, "stage synthesize.singleTurn failed: batch 2: endpoint sim answered 500");
  assert.equal(v.nextCommands[0]?.command, "toolloop campaign start --config <file> --id weekly");
  const text = renderCampaignView(v);
  assert.match(text, /^campaign weekly \(demo\): FAILED, iteration 2\/3$/m);
  assert.match(text, /^ {2}synthesize\.singleTurn {2}20\/40 \(50%\) {2}failed \(attempt 0\)$/m);
  assert.doesNotMatch(text, /Child Workflow execution failed/);
});

test("a stage waiting for an operator gives its error and the three exact next commands", () => {
  const stages = [
    stage("synthesize.singleTurn", {
      status: "failed",
      attempts: 1,
      error: "batch 3: HTTP 500 from sim",
      itemsTotal: 4000,
      itemsDone: 1250,
      startedAt: at(60_000),
    }),
    stage("verify.rules"),
  ];
  for (const searchStatus of ["waiting_for_operator", "running", undefined]) {
    // The search attribute says so; when it lags (or older workflows lack it) the failed stage row does.
    const v = campaignView({ campaignId: "weekly", db: dbFacts(stages), wf: wf({ ...(searchStatus ? { searchStatus } : {}), workerPolling: false }) });
    assert.equal(v.state, "waiting_for_operator");
    assert.equal(v.waitingStage, "synthesize.singleTurn");
    assert.equal(v.reason, "stage synthesize.singleTurn failed: batch 3: HTTP 500 from sim");
    assert.deepEqual(
      v.nextCommands.map((c) => c.command),
      ["toolloop campaign retry-stage weekly", "toolloop campaign skip-stage weekly", "toolloop campaign abort weekly"],
    );
    assert.match(v.notes[0] ?? "", /^no worker has polled task queue toolloop-workflows recently/);
    const text = renderCampaignView(v, { uiLink: "http://ui/x" });
    assert.match(text, /^campaign weekly \(demo\): WAITING FOR OPERATOR, iteration 2\/3$/m);
    assert.match(text, /^ {2}synthesize\.singleTurn {2}1,250\/4,000 \(31%\) {2}waiting for operator$/m);
    assert.doesNotMatch(text, /^ +error: /m, "the reason line quotes the stage's error once");
    assert.match(text, /^ {2}verify\.rules {11}pending$/m);
    assert.match(text, /^stage synthesize\.singleTurn waits for an operator; next:$/m);
    assert.match(text, /^ {2}toolloop campaign retry-stage weekly {2}# re-run/m);
    assert.match(text, /^workflow: campaign-weekly RUNNING {2}http:\/\/ui\/x$/m);
  }
});

test("a running stage shows rate and ETA; paused and running get their commands", () => {
  const stages = [stage("synthesize.singleTurn", { status: "running", itemsTotal: 4000, itemsDone: 1250, windowItems: 12_630, startedAt: at(3_600_000) })];
  const v = campaignView({ campaignId: "weekly", db: dbFacts(stages), wf: wf({ searchStatus: "running", workerPolling: true }) });
  assert.equal(v.state, "running");
  assert.deepEqual(v.notes, []);
  assert.match(renderCampaignView(v), /^ {2}synthesize\.singleTurn {2}1,250\/4,000 \(31%\) {2}42\.1 items\/s {2}ETA 1m06s$/m);
  // A skipped stage keeps its error under it (no reason line quotes it).
  const skipped = campaignView({
    campaignId: "weekly",
    db: dbFacts([stage("verify.rules", { status: "skipped", error: "schema store down" }), ...stages]),
    wf: wf({}),
  });
  assert.match(renderCampaignView(skipped), /^ {2}verify\.rules {11}skipped\n {25}error: schema store down$/m);
  const paused = campaignView({ campaignId: "weekly", db: dbFacts(stages), wf: wf({ searchStatus: "paused" }) });
  assert.equal(paused.state, "paused");
  assert.equal(paused.nextCommands[0]?.command, "toolloop campaign resume weekly");
});

test("a running campaign whose abort was asked for suggests following it to its end, not pausing, resuming or handling a stage", () => {
  const stages = [stage("synthesize.singleTurn", { status: "running", itemsTotal: 40, itemsDone: 10, startedAt: at(60_000) })];
  const abortReason = "aborted by operator: wrong endpoint";
  const views = [
    // No worker has run it yet: the abort waits in its history (the case the audit found).
    campaignView({ campaignId: "weekly", wf: wf({ noWorkerYet: true, workerPolling: false, abortReason }) }),
    campaignView({ campaignId: "weekly", db: dbFacts(stages), wf: wf({ searchStatus: "running", workerPolling: true, abortReason }) }),
    campaignView({ campaignId: "weekly", db: dbFacts(stages), wf: wf({ searchStatus: "paused", workerPolling: true, abortReason }) }),
    campaignView({
      campaignId: "weekly",
      db: dbFacts([stage("verify.rules", { status: "failed", error: "x" })]),
      wf: wf({ searchStatus: "waiting_for_operator", workerPolling: true, abortReason }),
    }),
  ];
  for (const v of views) {
    assert.match(v.reason ?? "", /^abort requested /, v.state);
    assert.deepEqual(
      v.nextCommands.map((n) => n.command),
      ["toolloop campaign status weekly --watch"],
      v.state,
    );
  }
  // Without an abort the running one still suggests pause.
  const running = campaignView({ campaignId: "weekly", wf: wf({ noWorkerYet: true, workerPolling: false }) });
  assert.ok(running.nextCommands.some((n) => n.command === "toolloop campaign pause weekly"));
});

test("aborted (Canceled, or the old Completed with state aborted) and terminated say so with the reason", () => {
  const events = [
    { eventId: 5, activityTaskScheduledEventAttributes: { activityType: { name: "registerCampaign" } } },
    { eventId: 7, activityTaskCompletedEventAttributes: { scheduledEventId: 5, result: { payloads: [{ plan: { outputDir: "/data/out/weekly" } }] } } },
    { eventId: 9, workflowExecutionSignaledEventAttributes: { signalName: "abort", input: { payloads: [{ reason: "wrong model" }] } } },
    { eventId: 12, workflowExecutionCompletedEventAttributes: { result: { payloads: [{ state: "aborted" }] } } },
  ];
  const h = historyFacts(events, (p) => p);
  assert.deepEqual(h, { outputDir: "/data/out/weekly", abortReason: "aborted by operator: wrong model", resultState: "aborted" });
  const old = campaignView({ campaignId: "weekly", wf: wf({ status: "COMPLETED", ...h }) });
  assert.equal(old.state, "aborted");
  assert.equal(old.reason, "aborted by operator: wrong model");
  assert.equal(old.outputDir, "/data/out/weekly");

  const canceled = historyFacts([{ workflowExecutionCancelRequestedEventAttributes: { cause: "operator" } }], (p) => p);
  const v = campaignView({ campaignId: "weekly", wf: wf({ status: "CANCELLED", ...canceled }) });
  assert.equal(v.state, "aborted");
  assert.equal(v.reason, "canceled: operator");

  const t = campaignView({
    campaignId: "weekly",
    wf: wf({ status: "TERMINATED", ...historyFacts([{ workflowExecutionTerminatedEventAttributes: { reason: "bad deploy" } }], (p) => p) }),
  });
  assert.equal(t.state, "terminated");
  assert.equal(t.reason, "terminated: bad deploy");
  // An undecodable payload (a codec the CLI lacks) is skipped, not fatal.
  assert.deepEqual(
    historyFacts([{ workflowExecutionSignaledEventAttributes: { signalName: "abort", input: { payloads: [{}] } } }], () => {
      throw new Error("encrypted");
    }),
    { abortReason: "aborted by operator" },
  );
});

test("PostgreSQL alone still tells the state; the list uses the same rules", () => {
  const v = campaignView({
    campaignId: "weekly",
    db: dbFacts([stage("synthesize.singleTurn", { status: "failed", error: "boom" })]),
    notes: ["Temporal down"],
  });
  assert.equal(v.state, "waiting_for_operator");
  assert.deepEqual(v.notes, ["Temporal down"]);
  assert.throws(() => campaignView({ campaignId: "x" }), /needs PostgreSQL or Temporal facts/);

  const row = {
    campaignId: "weekly",
    name: "demo",
    status: "running",
    createdAt: at(10_000),
    updatedAt: "2026-12-02T11:59:50.123Z",
    iteration: 2,
    iterationsTotal: 3,
  };
  const failing = campaignListEntry({ ...row, stage: "synthesize.singleTurn", stageStatus: "failed" }, wf({}));
  assert.equal(failing.state, "waiting_for_operator");
  const failed = campaignListEntry({ ...row, status: "failed" }, wf({ status: "FAILED", failure: { message: "stage x failed: y" } }));
  assert.equal(failed.reason, "stage x failed: y");
  const table = renderCampaignList([failing, failed]);
  assert.match(table, /^CAMPAIGN +NAME +STATE +ITER +STAGE +UPDATED +REASON$/m);
  assert.match(table, /^weekly +demo +waiting_for_operator +2\/3 +synthesize\.singleTurn \(failed\) +2026-12-02 11:59:50Z/m);
  assert.match(table, /failed +2\/3 +- +2026-12-02 11:59:50Z {2}stage x failed: y$/m);
  assert.equal(renderCampaignList([]), "no campaigns");
});

test("a cluster-job stage shows its job, state, steps and headline metrics instead of a rate", () => {
  const job = { name: "tl-weekly-2-train-grpo-a1", state: "running", done: 7, total: 12, metrics: { "critic/score/mean": 0.61, step: 7 } };
  const v = campaignView({
    campaignId: "weekly",
    db: dbFacts([stage("train.grpo", { status: "running", itemsTotal: 1, job })]),
    wf: wf({ searchStatus: "running" }),
  });
  assert.equal(v.stages[0]?.progress, undefined);
  assert.match(renderCampaignView(v), /^ {2}train\.grpo {2}running {2}job tl-weekly-2-train-grpo-a1: running, step 7\/12, critic\/score\/mean 0\.61$/m);
});

test("synthesize.multiTurn shows its dialogues: a progress line in dialogues/s and a line of outcomes", () => {
  const dialogues = { running: 16, kept: 40, dropped: 3, failed: 1, messages: 2_718 };
  const stages = [
    stage("synthesize.multiTurn", { status: "running", itemsTotal: 200, itemsDone: 44, windowItems: 44, startedAt: at(120_000), dialogues }),
    stage("verify.rules"),
  ];
  const view = campaignView({ campaignId: "weekly", db: dbFacts(stages), wf: wf({ searchStatus: "running", workerPolling: true }) });
  const text = renderCampaignView(view);
  assert.match(text, /^ {2}synthesize\.multiTurn {2}44\/200 \(22%\) {2}0\.37 dialogues\/s {2}ETA 7m06s$/m);
  assert.match(text, /^ {24}dialogues: 40 kept, 3 dropped, 1 failed, 16 in progress; 2,718 messages stored$/m);
  // `--json` names the count what the text calls it: messages stored, not turns.
  const json = JSON.parse(JSON.stringify(view)) as { stages: { dialogues?: Record<string, number> }[] };
  assert.deepEqual(json.stages[0]?.dialogues, { running: 16, kept: 40, dropped: 3, failed: 1, messages: 2718 });
  const done = renderCampaignView(
    campaignView({
      campaignId: "weekly",
      db: dbFacts([
        stage("synthesize.multiTurn", {
          status: "succeeded",
          itemsTotal: 60,
          itemsDone: 60,
          startedAt: at(120_000),
          finishedAt: at(0),
          dialogues: { ...dialogues, running: 0, kept: 56 },
        }),
      ]),
      wf: wf({}),
    }),
  );
  assert.match(done, /^ {24}dialogues: 56 kept, 3 dropped, 1 failed; 2,718 messages stored$/m);
  // Aborted mid-stage: the dialogues left running are not in progress any more (a rerun resumes them).
  const aborted = renderCampaignView(
    campaignView({
      campaignId: "weekly",
      db: dbFacts(stages, { status: "aborted" }),
      wf: wf({ status: "CANCELLED", searchStatus: "aborted" }),
    }),
  );
  assert.match(aborted, /^ {2}synthesize\.multiTurn {2}44\/200 \(22%\) {2}stopped$/m);
  assert.match(aborted, /^ {24}dialogues: 40 kept, 3 dropped, 1 failed, 16 left mid-dialogue; 2,718 messages stored$/m);
});

test("synthesize.multiTurn's kept dialogues say how many ended before the user said done, as report build does", () => {
  const dialogues = { running: 0, kept: 12, keptUnfinished: 3, dropped: 2, failed: 0, messages: 340 };
  const view = campaignView({
    campaignId: "weekly",
    db: dbFacts([stage("synthesize.multiTurn", { status: "succeeded", itemsTotal: 14, itemsDone: 14, startedAt: at(120_000), finishedAt: at(0), dialogues })]),
    wf: wf({}),
  });
  assert.match(renderCampaignView(view), /^ {24}dialogues: 12 kept \(3 unfinished\), 2 dropped, 0 failed; 340 messages stored$/m);
  const json = JSON.parse(JSON.stringify(view)) as { stages: { dialogues?: Record<string, number> }[] };
  assert.equal(json.stages[0]?.dialogues?.keptUnfinished, 3);
  // None cut short: nothing added.
  const whole = campaignView({
    campaignId: "weekly",
    db: dbFacts([stage("synthesize.multiTurn", { status: "succeeded", itemsTotal: 14, itemsDone: 14, dialogues: { ...dialogues, keptUnfinished: 0 } })]),
    wf: wf({}),
  });
  assert.match(renderCampaignView(whole), /^ {24}dialogues: 12 kept, 2 dropped, 0 failed; 340 messages stored$/m);
});

test("a stage whose summary warns (synthesize.multiTurn kept no dialogue) shows the warning in the text and in --json", () => {
  const warning = "no dialogue kept, so no multi-turn sample was written: 30 dropped (too_many_rejected_turns 21, no_accepted_turns 9) of 30";
  const view = campaignView({
    campaignId: "weekly",
    db: dbFacts([
      stage("synthesize.multiTurn", {
        status: "succeeded",
        itemsTotal: 30,
        itemsDone: 30,
        startedAt: at(120_000),
        finishedAt: at(0),
        dialogues: { running: 0, kept: 0, dropped: 30, failed: 0, messages: 412 },
        warning,
      }),
      stage("verify.rules", { status: "succeeded" }),
    ]),
    wf: wf({}),
  });
  const text = renderCampaignView(view);
  assert.match(
    text,
    /^ {24}dialogues: 0 kept, 30 dropped, 0 failed; 412 messages stored\n {24}warning: no dialogue kept, so no multi-turn sample was written: 30 dropped \(too_many_rejected_turns 21, no_accepted_turns 9\) of 30$/m,
  );
  assert.equal(text.match(/warning:/g)?.length, 1, "only the stage that warns");
  const json = JSON.parse(JSON.stringify(view)) as { stages: { name: string; warning?: string }[] };
  assert.equal(json.stages.find((s) => s.name === "synthesize.multiTurn")?.warning, warning);
});

test("a stopped stage counts the slots its cancelled batches stored, at most its total; a running one keeps its batches' count", () => {
  const running = (settledSlots: number) =>
    stage("synthesize.singleTurn", { status: "running", itemsTotal: 2000, itemsDone: 500, windowItems: 0, startedAt: at(60_000), settledSlots });
  const aborted = wf({ status: "CANCELLED", abortReason: "aborted by operator: x" });
  assert.equal(campaignView({ campaignId: "weekly", db: dbFacts([running(1280)]), wf: aborted }).stages[0]?.itemsDone, 1280);
  assert.equal(campaignView({ campaignId: "weekly", db: dbFacts([running(2600)]), wf: aborted }).stages[0]?.itemsDone, 2000, "capped at the total");
  assert.equal(campaignView({ campaignId: "weekly", db: dbFacts([running(300)]), wf: aborted }).stages[0]?.itemsDone, 500, "never below its finished batches");
  assert.equal(
    campaignView({ campaignId: "weekly", db: dbFacts([running(1280)]), wf: wf({ status: "RUNNING" }) }).stages[0]?.itemsDone,
    500,
    "running: batches (and heartbeats) count",
  );
  assert.match(
    renderCampaignView(campaignView({ campaignId: "weekly", db: dbFacts([running(1280)]), wf: aborted })),
    /^ {2}synthesize\.singleTurn {2}1,280\/2,000 \(64%\) {2}stopped$/m,
  );
});

test("a failed stage (waiting for an operator, failed or skipped) counts the slots its failed batches stored, at most its total", () => {
  // Its batches failed before finishing: no stage_batches row, but every slot they settled is stored.
  const failed = (status: "failed" | "skipped", settledSlots: number) =>
    stage("synthesize.singleTurn", { status, attempts: 1, itemsTotal: 120, itemsDone: 0, windowItems: 0, startedAt: at(60_000), settledSlots });
  const waitingWf = wf({ status: "RUNNING", searchStatus: "waiting_for_operator" });
  const waiting = campaignView({ campaignId: "weekly", db: dbFacts([failed("failed", 22)]), wf: waitingWf });
  assert.equal(waiting.stages[0]?.itemsDone, 22);
  assert.match(renderCampaignView(waiting), /^ {2}synthesize\.singleTurn {2}22\/120 \(18%\) {2}waiting for operator$/m);
  assert.equal(campaignView({ campaignId: "weekly", db: dbFacts([failed("failed", 500)]), wf: waitingWf }).stages[0]?.itemsDone, 120, "capped at the total");
  assert.equal(campaignView({ campaignId: "weekly", db: dbFacts([failed("skipped", 40)]), wf: wf({ status: "RUNNING" }) }).stages[0]?.itemsDone, 40);
  const ended = campaignView({ campaignId: "weekly", db: dbFacts([failed("failed", 22)], { status: "failed" }), wf: wf({ status: "FAILED" }) });
  assert.equal(ended.stages[0]?.itemsDone, 22);
});

test("a stage still running when the campaign ended shows as stopped, with no rate or ETA, in the view, --json and the list", () => {
  // An abort cancels the batches; the stage row keeps `running` with batches in the rate window.
  const running = stage("synthesize.singleTurn", { status: "running", itemsTotal: 2000, itemsDone: 800, windowItems: 2_820, startedAt: at(600_000) });
  const cases: [Partial<WorkflowFacts>, string][] = [
    [{ status: "CANCELLED", abortReason: "aborted by operator: x" }, "ABORTED"],
    [{ status: "FAILED", failure: { message: "stage verify.rules failed: boom" } }, "FAILED"],
    [{ status: "TERMINATED", terminateReason: "bad deploy" }, "TERMINATED"],
    [{ status: "TIMED_OUT" }, "TIMED OUT"],
  ];
  for (const [facts, word] of cases) {
    const v = campaignView({ campaignId: "weekly", db: dbFacts([running, stage("verify.rules")]), wf: wf(facts) });
    assert.equal(v.stages[0]?.status, "stopped", word);
    assert.equal(v.stages[0]?.progress?.ratePerSec, undefined, word);
    assert.equal(v.stages[0]?.progress?.etaSeconds, undefined, word);
    assert.equal(v.stages[1]?.status, "pending", word);
    assert.equal(v.iterationStatus, "stopped", word);
    const text = renderCampaignView(v);
    assert.match(text, new RegExp(`^campaign weekly \\(demo\\): ${word}, iteration 2/3$`, "m"));
    assert.match(text, /^iteration 2 stages \(stopped\):$/m);
    assert.match(text, /^ {2}synthesize\.singleTurn {2}800\/2,000 \(40%\) {2}stopped$/m, word);
    assert.doesNotMatch(text, /items\/s|ETA/, word);
    const json = JSON.parse(JSON.stringify(v)) as { stages: { status: string; progress: Record<string, unknown> }[] };
    assert.equal(json.stages[0]?.status, "stopped");
    assert.deepEqual(Object.keys(json.stages[0]?.progress ?? {}).sort(), ["done", "fraction", "total"]);
  }
  // Finished stages keep their own words.
  const done = campaignView({
    campaignId: "weekly",
    db: dbFacts([stage("synthesize.singleTurn", { status: "succeeded", itemsTotal: 20, itemsDone: 20 })], { status: "aborted" }),
    wf: wf({ status: "CANCELLED" }),
  });
  assert.equal(done.stages[0]?.status, "succeeded");

  const row = { campaignId: "weekly", name: "demo", status: "running", createdAt: at(10_000), updatedAt: at(5_000), iteration: 1, iterationsTotal: 1 };
  const aborted = campaignListEntry({ ...row, stage: "synthesize.singleTurn", stageStatus: "running" }, wf({ status: "CANCELLED", abortReason: "x" }));
  assert.equal(aborted.state, "aborted");
  assert.equal(aborted.stageStatus, "stopped");
  assert.match(renderCampaignList([aborted]), /^weekly +demo +aborted +1\/1 +synthesize\.singleTurn \(stopped\) /m);
  const live = campaignListEntry({ ...row, stage: "synthesize.singleTurn", stageStatus: "running" }, wf({ searchStatus: "running" }));
  assert.equal(live.stageStatus, "running");
});

test("while paused a running stage keeps a real rate but shows no ETA (nothing new starts until resume)", () => {
  const running = stage("synthesize.singleTurn", { status: "running", itemsTotal: 4000, itemsDone: 1250, windowItems: 12_630, startedAt: at(3_600_000) });
  const v = campaignView({ campaignId: "weekly", db: dbFacts([running]), wf: wf({ searchStatus: "paused" }) });
  assert.equal(v.state, "paused");
  assert.equal(v.stages[0]?.status, "running");
  assert.ok(Math.abs((v.stages[0]?.progress?.ratePerSec as number) - 42.1) < 1e-9);
  assert.equal(v.stages[0]?.progress?.etaSeconds, undefined);
  assert.match(renderCampaignView(v), /^ {2}synthesize\.singleTurn {2}1,250\/4,000 \(31%\) {2}42\.1 items\/s {2}paused$/m);
  // No batch finished in the window: no rate either.
  const idle = campaignView({ campaignId: "weekly", db: dbFacts([{ ...running, windowItems: 0 }]), wf: wf({ searchStatus: "paused" }) });
  assert.match(renderCampaignView(idle), /^ {2}synthesize\.singleTurn {2}1,250\/4,000 \(31%\) {2}-- items\/s {2}paused$/m);
});

test("noWorkerYet: a first run whose workflow task no worker has started; not a run a worker took, nor a continue-as-new successor", () => {
  const started = { eventId: 1, workflowExecutionStartedEventAttributes: {} };
  const scheduled = { eventId: 2, workflowTaskScheduledEventAttributes: {} };
  const signalled = { eventId: 3, workflowExecutionSignaledEventAttributes: { signalName: "pause", input: { payloads: [] } } };
  assert.deepEqual(
    historyFacts([started, scheduled], (p) => p),
    { noWorkerYet: true },
  );
  assert.deepEqual(
    historyFacts([started, scheduled, signalled], (p) => p),
    { noWorkerYet: true },
  );
  // A worker took the first task (even one that failed, or has not completed yet).
  assert.deepEqual(
    historyFacts([started, scheduled, { eventId: 3, workflowTaskStartedEventAttributes: {} }], (p) => p),
    {},
  );
  // The run a continue-as-new started: its worker was there a moment ago.
  assert.deepEqual(
    historyFacts([{ eventId: 1, workflowExecutionStartedEventAttributes: { continuedExecutionRunId: "r1" } }, scheduled], (p) => p),
    {},
  );
});

test("a run waiting for an earlier run's iteration to stop says so (the recorded restart history), until its own iteration starts", () => {
  const file = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    "../../../../test/replay/histories/campaignWorkflow-restart-held-iteration-id-wait.json",
  );
  const events = (JSON.parse(fs.readFileSync(file, "utf8")) as { events: (HistoryEventLike & { eventId: string })[] }).events;
  const startedAt = events.findIndex((e) => e.childWorkflowExecutionStartedEventAttributes);
  assert.ok(startedAt > 0);
  const heldId = "campaign-replay-restart-1796578781452-iter-1";
  const waiting = historyFacts(events.slice(0, startedAt), () => undefined);
  assert.equal(waiting.iterationIdHeld, heldId);
  assert.equal(historyFacts(events, () => undefined).iterationIdHeld, undefined, "its own iteration started");
  // The protobuf shape names the cause by number.
  const numeric = historyFacts([{ startChildWorkflowExecutionFailedEventAttributes: { workflowId: heldId, cause: 1 } }], (p) => p);
  assert.equal(numeric.iterationIdHeld, heldId);
  const view = campaignView({
    campaignId: "weekly",
    db: dbFacts([stage("synthesize.singleTurn", { status: "running", itemsTotal: 40 })]),
    wf: wf({ iterationIdHeld: heldId }),
  });
  assert.equal(view.state, "running");
  assert.match(
    renderCampaignView(view),
    new RegExp(`^note: this run waits for ${heldId}, an iteration left from an earlier run of this campaign \\(terminated or reset\\), to stop`, "m"),
  );
});

test("an ended campaign whose policy server runs names the stop command; a running one does not", () => {
  const policyServers = [{ iteration: 3, job: "tl-weekly-ab12-i3-serve-policy-a1", url: "http://node7:8000/v1" }];
  const done = campaignView({
    campaignId: "weekly",
    db: dbFacts([], { status: "completed", policyServers }),
    wf: wf({ status: "COMPLETED", resultState: "completed" }),
  });
  assert.deepEqual(done.nextCommands, [
    {
      command: "toolloop model stop weekly",
      what: "stop its policy server (iteration 3 at http://node7:8000/v1; kept running as the campaign's product) when nothing calls it any more",
    },
  ]);
  const aborted = campaignView({ campaignId: "weekly", db: dbFacts([], { status: "aborted", policyServers }), wf: wf({ status: "CANCELLED" }) });
  assert.match(aborted.nextCommands.at(-1)?.what ?? "", /left running when it was aborted/);
  // An aborted campaign runs again like a failed one (the README's "a failed (or aborted) run is run again with the status's next step").
  assert.deepEqual(
    aborted.nextCommands.map((c) => c.command),
    ["toolloop campaign start --config <file> --id weekly", "toolloop model stop weekly"],
  );
  const failed = campaignView({ campaignId: "weekly", db: dbFacts([], { status: "failed", policyServers }), wf: wf({ status: "FAILED" }) });
  assert.deepEqual(
    failed.nextCommands.map((c) => c.command),
    ["toolloop campaign start --config <file> --id weekly", "toolloop model stop weekly"],
  );
  const running = campaignView({ campaignId: "weekly", db: dbFacts([], { policyServers }), wf: wf({ searchStatus: "running" }) });
  assert.ok(!running.nextCommands.some((c) => c.command.includes("model stop")), "a running campaign calls its server");
  assert.match(renderCampaignView(done), /next:\n {2}toolloop model stop weekly {2}# stop its policy server/);
});

test("no workflow: a campaign PostgreSQL records as running or paused that Temporal answered it has no workflow for ends as no_workflow; a completed one keeps its state with a note", () => {
  const missing = { namespace: "default", workflowId: "campaign-weekly" };
  for (const status of ["running", "paused", "waiting_for_operator"]) {
    const v = campaignView({
      campaignId: "weekly",
      db: dbFacts([stage("synthesize.singleTurn", { status: "running", itemsTotal: 40 })], { status }),
      workflowMissing: missing,
    });
    assert.equal(v.state, "no_workflow");
    assert.match(
      v.reason ?? "",
      new RegExp(`^PostgreSQL records the campaign as ${status}, but Temporal \\(namespace default\\) has no workflow campaign-weekly: nothing runs it`),
    );
    assert.deepEqual(
      v.nextCommands.map((c) => c.command),
      ["toolloop campaign start --config <file> --id weekly"],
    );
    assert.equal(v.stages[0]?.status, "stopped", "no rate or ETA for a stage nothing runs");
    assert.match(renderCampaignView(v), /^campaign weekly \(demo\): NO WORKFLOW, iteration 2\/3/);
  }
  const done = campaignView({ campaignId: "weekly", db: dbFacts([], { status: "completed" }), workflowMissing: missing });
  assert.equal(done.state, "completed");
  assert.ok(done.notes.some((n) => /has no workflow campaign-weekly: its history may have passed the retention period/.test(n)));
  // Temporal not asked (unreachable): PostgreSQL's word stands.
  assert.equal(campaignView({ campaignId: "weekly", db: dbFacts([]) }).state, "running");
});

test("a succeeded cluster-job stage shows as done (1/1, 100%) even when PostgreSQL has no job row for it; a running one keeps its count", () => {
  // A job stage is planned as one item and runs no batch activity, so no batch row counts that item.
  const merge = stage("train.merge", { status: "succeeded", batchesTotal: 1, itemsTotal: 1, itemsDone: 0, startedAt: at(90_000), finishedAt: at(30_000) });
  const v = campaignView({
    campaignId: "weekly",
    db: dbFacts([merge, stage("serve.policy", { status: "running", batchesTotal: 1, itemsTotal: 1, startedAt: at(20_000) })]),
    wf: wf({ searchStatus: "running" }),
  });
  assert.equal(v.stages[0]?.itemsDone, 1);
  assert.equal(v.stages[0]?.progress?.fraction, 1);
  assert.equal(v.stages[1]?.itemsDone, 0);
  const text = renderCampaignView(v);
  assert.match(text, /^ {2}train\.merge {3}1\/1 \(100%\) {2}succeeded in 1m00s$/m);
  assert.match(text, /^ {2}serve\.policy {2}0\/1 \(0%\) /m);
});

test("a scheduled campaign's status names its schedule, the time it was scheduled for and the campaign it continues from", () => {
  const schedule = { scheduleId: "weekly", scheduledAt: "2026-12-07T06:00:00.000Z", continuesFrom: "weekly-20261130T060000Z" };
  const v = campaignView({ campaignId: "weekly-20261207T060000Z", db: dbFacts([stage("export.verl", { status: "running" })], { schedule }), wf: wf({}) });
  assert.deepEqual(v.schedule, schedule);
  assert.match(
    renderCampaignView(v),
    /^schedule: weekly, run scheduled for 2026-12-07T06:00:00\.000Z; continues from weekly-20261130T060000Z \(its policy and pool\)$/m,
  );
  const first = campaignView({
    campaignId: "weekly-20261130T060000Z",
    db: dbFacts([], { schedule: { scheduleId: "weekly", scheduledAt: "2026-11-30T06:00:00.000Z" } }),
  });
  assert.match(renderCampaignView(first), /^schedule: weekly, run scheduled for 2026-11-30T06:00:00\.000Z; started from scratch/m);
  // A campaign started by hand has no schedule line.
  const plain = campaignView({ campaignId: "weekly", db: dbFacts([]) });
  assert.equal(plain.schedule, undefined);
  assert.doesNotMatch(renderCampaignView(plain), /^schedule:/m);
});

test("a campaign whose newest policy server ended by itself says so, with the launcher's word and the restart command (first while a stage waits)", () => {
  const policyServerDown = {
    iteration: 2,
    job: "tl-weekly-ab12-i2-serve-policy-a1",
    launcher: "local",
    state: "failed",
    exitCode: 137,
    message: "exited with code 137 (ended by SIGKILL, e.g. kill -9 or the OOM killer)",
    url: "http://127.0.0.1:18511/v1",
  };
  const waiting = campaignView({
    campaignId: "weekly",
    db: dbFacts([stage("score.perplexity", { status: "failed", attempts: 1, error: "endpoint served-policy-iter-2 … is unavailable" })], {
      status: "waiting_for_operator",
      policyServerDown,
    }),
    wf: wf({ searchStatus: "waiting_for_operator", searchStage: "score.perplexity" }),
  });
  assert.ok(
    waiting.notes.includes(
      "the policy server of iteration 2 (http://127.0.0.1:18511/v1) is not running: its local launcher says job tl-weekly-ab12-i2-serve-policy-a1 failed (exited with code 137 (ended by SIGKILL, e.g. kill -9 or the OOM killer)); stages that call the policy role fail until `toolloop model restart weekly --iteration 2` brings it back",
    ),
    waiting.notes.join("\n"),
  );
  assert.deepEqual(waiting.nextCommands[0], {
    command: "toolloop model restart weekly --iteration 2",
    what: "bring back the policy server of iteration 2 (it ended by itself: failed (exited with code 137 (ended by SIGKILL, e.g. kill -9 or the OOM killer))), same URL and model name; then `toolloop campaign retry-stage weekly` if a stage waits on it",
  });
  assert.ok(waiting.nextCommands.some((c) => c.command === "toolloop campaign retry-stage weekly"));
  // An exit code the message does not carry is shown; a completed campaign lists it after its own commands.
  const done = campaignView({
    campaignId: "weekly",
    db: dbFacts([], { status: "completed", policyServerDown: { ...policyServerDown, state: "lost", exitCode: 9, message: "gone" } }),
    wf: wf({ status: "COMPLETED", resultState: "completed" }),
  });
  assert.match(done.notes.join("\n"), /job tl-weekly-ab12-i2-serve-policy-a1 lost \(exit 9: gone\)/);
  assert.equal(done.nextCommands.at(-1)?.command, "toolloop model restart weekly --iteration 2");
  const fine = campaignView({ campaignId: "weekly", db: dbFacts([]), wf: wf({ searchStatus: "running" }) });
  assert.ok(!fine.nextCommands.some((c) => c.command.includes("model restart")));
  assert.ok(!fine.notes.some((n) => n.includes("not running")));
});

test("a stage that planned no item (a late iteration with no mismatch to judge, no error seed to expand) says it had nothing to do", () => {
  const stages = [
    stage("probe.greedy", { status: "succeeded", itemsTotal: 7, itemsDone: 7, batchesTotal: 1, batchesDone: 1, startedAt: at(5000), finishedAt: at(4000) }),
    stage("repair.labels", { status: "succeeded", itemsTotal: 0, batchesTotal: 0, startedAt: at(4000), finishedAt: at(3900) }),
    stage("expand.errors", { status: "succeeded", itemsTotal: 0, batchesTotal: 0, startedAt: at(3900), finishedAt: at(3800) }),
    stage("train.merge", { status: "succeeded", startedAt: at(3900), finishedAt: at(3800) }),
  ];
  const text = renderCampaignView(campaignView({ campaignId: "weekly", db: dbFacts(stages), wf: wf({}) }));
  assert.match(text, /^ {2}repair\.labels {2}succeeded: nothing to do \(no item planned\)$/m);
  assert.match(text, /^ {2}expand\.errors {2}succeeded: nothing to do \(no item planned\)$/m);
  assert.match(text, /^ {2}probe\.greedy {3}7\/7 \(100%\)/m);
  assert.match(text, /^ {2}train\.merge {4}succeeded$/m, "a stage without a plan of items keeps its plain line");
});

test("a running server job says how long it has been starting, and a quiet training job how long it has been quiet, against the deadlines that stop them", () => {
  const serving = stage("serve.policy", {
    status: "running",
    attempts: 1,
    job: {
      name: "tl-weekly-ab12-i2-serve-policy-a1",
      state: "running",
      watch: { completion: "ready", runningSince: at(12 * 60_000), advancedAt: at(12 * 60_000), readyTimeoutMs: 60 * 60_000 },
    },
  });
  const training = (quietMs: number, stallTimeoutMs?: number) =>
    stage("train.grpo", {
      status: "running",
      attempts: 1,
      job: {
        name: "tl-weekly-ab12-i2-train-grpo-a1",
        state: "running",
        done: 7,
        total: 20,
        watch: { completion: "exit", runningSince: at(90 * 60_000), advancedAt: at(quietMs), ...(stallTimeoutMs ? { stallTimeoutMs } : {}) },
      },
    });
  const lines = (s: StageFacts) => renderCampaignView(campaignView({ campaignId: "weekly", db: dbFacts([s]) }));
  assert.match(
    lines(serving),
    /serve\.policy +running +job tl-weekly-ab12-i2-serve-policy-a1: running\n +not serving yet after 12 minutes \(cancelled at 60 minutes: readyTimeoutMinutes\)/,
  );
  assert.match(
    lines(training(47 * 60_000, 240 * 60_000)),
    /step 7\/20\n +no new step or output for 47 minutes \(cancelled as hung at 240 minutes: stallTimeoutMinutes\)/,
  );
  assert.doesNotMatch(lines(training(2 * 60_000, 240 * 60_000)), /no new step/, "a step two minutes ago is normal");
  assert.match(lines(training(47 * 60_000)), /no new step or output for 47 minutes$/m, "no deadline (a config frozen before it): said without one");
  // Just started: seconds, not "0 minutes".
  const justStarted = { ...serving, job: { ...serving.job!, watch: { ...serving.job!.watch!, runningSince: at(40_000), readyTimeoutMs: 60_000 } } };
  assert.match(lines(justStarted), /not serving yet after 40 s \(cancelled at 60 s: readyTimeoutMinutes\)/);
  // Not running: nothing to say.
  const ended = { ...serving, status: "failed" as const, job: { ...serving.job!, state: "cancelled" } };
  assert.doesNotMatch(lines(ended), /not serving yet/);
});

test("a running stage whose batches Temporal holds with none started on a worker (their worker was killed) says so, with no rate or ETA; one running batch is progress as usual", () => {
  const held = stage("synthesize.singleTurn", {
    status: "running",
    itemsTotal: 300,
    itemsDone: 24,
    windowItems: 24,
    startedAt: at(15_000),
    inFlight: { batches: 2, items: 24, running: false },
  });
  const v = campaignView({ campaignId: "n1", db: dbFacts([held]), wf: wf({ searchStatus: "running", workerPolling: true }) });
  assert.equal(v.state, "running");
  assert.equal(v.stages[0]?.progress?.etaSeconds, undefined);
  assert.equal(v.stages[0]?.progress?.ratePerSec, undefined);
  assert.deepEqual(v.notes, [
    "no batch of synthesize.singleTurn runs on a worker now: its 2 batches wait to be run again (their worker stopped heartbeating, or an attempt failed and waits out its backoff); it goes on once a worker takes them (is one running? `toolloop worker`)",
  ]);
  assert.match(renderCampaignView(v), /^ {2}synthesize\.singleTurn {2}24\/300 \(8%\) {2}-- items\/s {2}ETA --$/m);
  const runningOne = campaignView({
    campaignId: "n1",
    db: dbFacts([{ ...held, inFlight: { batches: 2, items: 24, running: true } }]),
    wf: wf({ searchStatus: "running", workerPolling: true }),
  });
  assert.deepEqual(runningOne.notes, []);
  assert.ok((runningOne.stages[0]?.progress?.ratePerSec ?? 0) > 0);
});

test("a queued cluster job shows the launcher's explanation of why it waits; a bare scheduler reason adds no line", () => {
  const held =
    "PENDING (PartitionConfig): it asks partition gpu for 4 nodes now, but the cluster can add nodes (MaxNodeCount 64 above its 2): it starts if enough join the partition";
  const view = (message: string) =>
    renderCampaignView(
      campaignView({
        campaignId: "weekly",
        db: dbFacts([stage("train.grpo", { status: "running", itemsTotal: 1, job: { name: "tl-weekly-2-train-grpo-a1", state: "pending", message } })]),
        wf: wf({ searchStatus: "running" }),
      }),
    );
  const text = view(held);
  assert.match(text, /^ {2}train\.grpo {2}running {2}job tl-weekly-2-train-grpo-a1: pending$/m);
  assert.ok(text.includes(`  queued: ${held}\n`), text);
  assert.doesNotMatch(view("PENDING (Priority)"), /queued:/);
});
