import assert from "node:assert/strict";
import { test } from "node:test";
import type { StageFacts } from "../../../src/status/campaignView.js";
import { campaignView } from "../../../src/status/campaignView.js";
import {
  batchKey,
  batchProgressItems,
  inflightByStage,
  iterationWithInflight,
  refusedBatchNotes,
  withInflight,
  type InflightBatch,
} from "../../../src/status/inflight.js";
import { stageProgress } from "../../../src/status/progressLine.js";

const now = Date.parse("2026-12-02T12:00:00Z");
const batch = (stage: string, batchIndex: number, details: unknown, running = true): InflightBatch => ({ iteration: 1, stage, batchIndex, details, running });

test("every handler's progress shape maps to the batch's settled items", () => {
  // done/total: verify.judges, repair.labels, probe.greedy, scoring, evaluate.bfclFast.
  assert.equal(batchProgressItems("verify.judges", { done: 37, total: 100, votesAsked: 111 }), 37);
  assert.equal(batchProgressItems("repair.labels", { done: 5, total: 50, votesAsked: 0 }), 5);
  assert.equal(batchProgressItems("probe.greedy", { done: 12, total: 40, mismatched: 3 }), 12);
  assert.equal(batchProgressItems("score.perplexity", { done: 9, total: 10, scored: 8, skipped: 1, failed: 0, failures: [] }), 9);
  assert.equal(batchProgressItems("evaluate.bfclFast", { done: 250, total: 900, finished: ["simple"], category: "multiple" }), 250);
  // settled/total: synthesize.singleTurn, synthesize.multiTurn.
  assert.equal(batchProgressItems("synthesize.singleTurn", { settled: 412, total: 800, written: 400, failed: 10, duplicates: 2 }), 412);
  assert.equal(
    batchProgressItems("synthesize.multiTurn", { total: 50, settled: 20, kept: 18, dropped: 1, failed: 1, running: 8, turns: 300, samples: 18 }),
    20,
  );
  // expand.errors: its items are seeds (`done`); settled/total count slots (perSeed a seed).
  assert.equal(batchProgressItems("expand.errors", { seeds: 10, done: 7, settled: 30, total: 40 }), 7);
  assert.equal(batchProgressItems("expand.errors", { seeds: 10, settled: 30, total: 40 }), undefined, "no done: a worker from before it, in slots");
});

test("shapes it does not know count nothing (undefined, not 0): select.nextRound's phase, evaluate.bfcl's per-category done, no details, junk", () => {
  assert.equal(batchProgressItems("select.nextRound", { phase: "selecting", candidates: 5000, selected: 10, excluded: 2 }), undefined);
  // evaluate.bfcl's done/total are the current category's entries: they restart at each category.
  assert.equal(batchProgressItems("evaluate.bfcl", { done: 10, total: 200, finished: [] }), undefined);
  for (const d of [undefined, null, 7, "12", [3], {}, { done: "3" }, { settled: -1 }, { done: Number.NaN }, { done: Infinity }])
    assert.equal(batchProgressItems("verify.judges", d), undefined, JSON.stringify(d));
  // A count past its own total is held at the total; a fraction is floored.
  assert.equal(batchProgressItems("verify.judges", { done: 120, total: 100 }), 100);
  assert.equal(batchProgressItems("verify.judges", { done: 2.7 }), 2);
  // done wins over settled when both are there.
  assert.equal(batchProgressItems("x", { done: 4, settled: 9 }), 4);
});

const stage = (over: Partial<StageFacts> = {}): StageFacts => ({
  name: "synthesize.singleTurn",
  status: "running",
  attempts: 1,
  batchesTotal: 4,
  batchesDone: 1,
  itemsTotal: 3200,
  itemsDone: 800,
  windowItems: 800,
  startedAt: new Date(now - 60_000).toISOString(),
  ...over,
});

test("running batches add to their running stage once; a batch with a stage_batches row is not counted twice", () => {
  const batches = [
    batch("synthesize.singleTurn", 1, { settled: 300, total: 800 }),
    batch("synthesize.singleTurn", 2, { settled: 120, total: 800 }, false),
    // Finished a moment ago: its row (and its 800 items) are already in itemsDone.
    batch("synthesize.singleTurn", 0, { settled: 800, total: 800 }),
    // Listed twice (two reads of one batch): counted once, at its larger count.
    batch("synthesize.singleTurn", 1, { settled: 290, total: 800 }),
    batch("select.nextRound", 0, { phase: "loading" }),
  ];
  const [s, other] = withInflight(
    [stage(), stage({ name: "verify.rules", itemsDone: 0, itemsTotal: 10 })],
    batches,
    new Set([batchKey("synthesize.singleTurn", 0)]),
  );
  assert.equal(s?.itemsDone, 800 + 300 + 120);
  assert.deepEqual(s?.inFlight, { batches: 2, items: 420, running: true });
  assert.equal(s?.batchesDone, 1);
  assert.equal(s?.windowItems, 800, "the window's finished items are untouched");
  assert.equal(other?.inFlight, undefined);
  assert.equal(other?.itemsDone, 0);

  // Only the waiting-to-retry batch: not running on a worker.
  const [waiting] = withInflight([stage()], [batch("synthesize.singleTurn", 2, { settled: 120, total: 800 }, false)], new Set());
  assert.deepEqual(waiting?.inFlight, { batches: 1, items: 120, running: false });
});

test("never above the stage's total; not for stages that are not running; not for multi-turn (its dialogues count them)", () => {
  const [clamped] = withInflight([stage({ itemsDone: 3000 })], [batch("synthesize.singleTurn", 3, { settled: 700, total: 800 })], new Set());
  assert.equal(clamped?.itemsDone, 3200);
  assert.equal(clamped?.inFlight?.items, 200);
  const [over] = withInflight([stage({ itemsDone: 3300 })], [batch("synthesize.singleTurn", 3, { settled: 700 })], new Set());
  assert.equal(over?.itemsDone, 3300, "a stage already past its total (resumed with another plan) takes nothing");
  for (const status of ["failed", "succeeded", "skipped", "pending"] as const) {
    const [s] = withInflight([stage({ status })], [batch("synthesize.singleTurn", 1, { settled: 300 })], new Set());
    assert.equal(s?.itemsDone, 800, status);
  }
  const mt = stage({ name: "synthesize.multiTurn", itemsDone: 35, dialogues: { running: 8, kept: 30, dropped: 3, failed: 2, messages: 400 } });
  const [m] = withInflight(
    [mt],
    [batch("synthesize.multiTurn", 0, { total: 50, settled: 35, kept: 30, dropped: 3, failed: 2, running: 8, turns: 400, samples: 30 })],
    new Set(),
  );
  assert.equal(m?.itemsDone, 35);
  // A stage without a total (none recorded) takes them as they are.
  const [noTotal] = withInflight([stage({ itemsTotal: undefined })], [batch("synthesize.singleTurn", 1, { settled: 300 })], new Set());
  assert.equal(noTotal?.itemsDone, 1100);
});

test("per stage: batch and item counts, only known shapes", () => {
  const m = inflightByStage([
    batch("a", 0, { done: 1 }),
    batch("a", 1, { done: 2 }, false),
    batch("b", 0, { phase: "x" }),
    batch("c", 0, { settled: 5 }, false),
  ]);
  assert.deepEqual(Object.fromEntries(m), { a: { batches: 2, items: 3, running: true }, c: { batches: 1, items: 5, running: false } });
});

test("start --wait: the workflow's running stage gets its running batches' items, clamped; other stages as they were", () => {
  const stages = [
    { name: "synthesize.singleTurn", state: "succeeded", itemsDone: 800, itemsTotal: 800 },
    { name: "verify.judges", state: "running", itemsDone: 100, itemsTotal: 300 },
    { name: "export.dataset", state: "pending", itemsDone: 0, itemsTotal: 0 },
  ];
  const out = iterationWithInflight(stages, [batch("verify.judges", 1, { done: 60, total: 100 }), batch("verify.judges", 2, { done: 250, total: 300 })]);
  assert.deepEqual(
    out.map((s) => s.itemsDone),
    [800, 300, 0],
  );
  assert.equal(iterationWithInflight(stages, [batch("verify.judges", 1, { done: 60, total: 100 })])[1]?.itemsDone, 160);
  assert.equal(stages[1]?.itemsDone, 100, "the input is not changed");
});

test("rate: a young stage counts its running batches' items over its age; an older one its batch completions in the window", () => {
  // One batch of 800 running for 40 s, 412 settled: 10.3 items/s, ETA for the 388 left.
  const young = stageProgress({ done: 412, total: 800, windowItems: 0, nowMs: now, startedAtMs: now - 40_000, sinceStart: { items: 412, live: true } });
  assert.equal(young.ratePerSec, 10.3);
  assert.ok(Math.abs((young.etaSeconds as number) - 388 / 10.3) < 1e-9);
  // Without the running batches (before this change): no rate at all.
  assert.equal(stageProgress({ done: 0, total: 800, windowItems: 0, nowMs: now, startedAtMs: now - 40_000 }).ratePerSec, undefined);

  // An hour-old stage with batches finishing in the window: completions over the window as before;
  // the running batches' items (settled partly before the window) do not inflate it, but count as done.
  const old = stageProgress({ done: 2600, total: 4000, windowItems: 600, nowMs: now, startedAtMs: now - 3_600_000, sinceStart: { items: 2600, live: true } });
  assert.equal(old.ratePerSec, 2);
  assert.equal(old.etaSeconds, 700);

  // An old stage of large batches none of which finished in the window, one running on a worker: the run's average.
  const slow = stageProgress({ done: 900, total: 1000, windowItems: 0, nowMs: now, startedAtMs: now - 900_000, sinceStart: { items: 900, live: true } });
  assert.equal(slow.ratePerSec, 1);
  assert.equal(slow.etaSeconds, 100);
  // ... but not when no batch runs on a worker (a stalled stage does not pretend).
  const stalled = stageProgress({ done: 900, total: 1000, windowItems: 0, nowMs: now, startedAtMs: now - 900_000, sinceStart: { items: 900, live: false } });
  assert.equal(stalled.ratePerSec, undefined);
  assert.equal(stalled.etaSeconds, undefined);
});

test("the view: in-flight items in done and in the rate on a first run only; a retried stage's rate stays its completions", () => {
  const db = (s: StageFacts) => ({
    campaignId: "c",
    name: "n",
    status: "running",
    createdAt: new Date(now - 120_000).toISOString(),
    updatedAt: new Date(now).toISOString(),
    iteration: { n: 1, status: "running", startedAt: new Date(now - 120_000).toISOString() },
    stages: [s],
    nowMs: now,
  });
  const wf = { workflowId: "campaign-c", runId: "r", status: "RUNNING", taskQueue: "q" };
  const facts = stage({ batchesDone: 0, itemsTotal: 800, itemsDone: 0, windowItems: 0, startedAt: new Date(now - 40_000).toISOString() });
  const [running] = withInflight([facts], [batch("synthesize.singleTurn", 0, { settled: 412, total: 800 })], new Set());
  const v = campaignView({ campaignId: "c", db: db(running as StageFacts), wf });
  assert.deepEqual(v.stages[0]?.progress, { done: 412, total: 800, fraction: 0.515, ratePerSec: 10.3, etaSeconds: 388 / 10.3 });
  assert.deepEqual(v.stages[0]?.inFlight, { batches: 1, items: 412, running: true });

  const retried = campaignView({ campaignId: "c", db: db({ ...(running as StageFacts), attempts: 2 }), wf });
  assert.equal(retried.stages[0]?.progress?.done, 412);
  assert.equal(retried.stages[0]?.progress?.ratePerSec, undefined, "items an earlier run settled are not a rate");
});

test("evaluate.bfcl's batch progress is its settled entries over the batch's categories, not the current category's done", () => {
  // Batch of simple (400 entries, finished) and multiple (200, 50 done): 450 of the batch's 600.
  assert.equal(batchProgressItems("evaluate.bfcl", { finished: ["simple"], category: "multiple", done: 50, total: 200, settled: 450 }), 450);
  // A heartbeat of a worker from before it sent `settled` still says nothing.
  assert.equal(batchProgressItems("evaluate.bfcl", { finished: ["simple"], category: "multiple", done: 50, total: 200 }), undefined);
});

test("batches an older worker refused (a rolling deploy) are a note per stage, with the latest refusal; other failures are not", () => {
  const refused = (batchIndex: number, attempt: number, stage = "test.newStage"): InflightBatch => ({
    ...batch(stage, batchIndex, undefined, false),
    lastFailure: { attempt, type: "StageNotOnThisWorker", message: `stage "${stage}" is not known to this worker (worker 7@old-${attempt})` },
  });
  const failedOnce: InflightBatch = { ...batch("verify.rules", 0, undefined), lastFailure: { attempt: 2, type: "LlmError:server", message: "HTTP 500" } };
  assert.deepEqual(refusedBatchNotes([refused(0, 3), refused(1, 5), failedOnce, batch("synthesize.singleTurn", 0, { settled: 1 })], "StageNotOnThisWorker"), [
    'test.newStage: 2 batches refused by an older worker (without the stage, a field of its config or a value it accepts), retried for another (attempt 5): stage "test.newStage" is not known to this worker (worker 7@old-5)',
  ]);
  assert.deepEqual(refusedBatchNotes([refused(3, 2, "score.perplexity")], "StageNotOnThisWorker"), [
    'score.perplexity: batch 4 refused by an older worker (without the stage, a field of its config or a value it accepts), retried for another (attempt 2): stage "score.perplexity" is not known to this worker (worker 7@old-2)',
  ]);
  assert.deepEqual(refusedBatchNotes([failedOnce], "StageNotOnThisWorker"), []);
});
