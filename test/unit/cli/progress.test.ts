import assert from "node:assert/strict";
import { test } from "node:test";
import { changedEntries, renderStatus } from "../../../src/cli/progress.js";
import type { CampaignStatus } from "../../../workflows/definitions.js";

test("status shows a cluster job under its stage: name, state, steps and headline metrics", () => {
  const status = {
    campaignId: "c",
    name: "demo",
    state: "running",
    paused: false,
    iteration: 1,
    iterationsTotal: 2,
    completedIterations: [],
    currentIteration: {
      iteration: 1,
      state: "running",
      stages: [
        {
          name: "train.grpo",
          state: "running",
          itemsDone: 7,
          itemsTotal: 12,
          counts: {},
          job: { name: "tl-c-1-train-grpo-a1", state: "running", done: 7, total: 12, metrics: { "critic/score/mean": 0.61, step: 7 } },
        },
      ],
    },
  } as unknown as CampaignStatus;
  const out = renderStatus(status);
  assert.match(out, /train\.grpo\s+running\s+\[#+-+\]\s+58% 7\/12/);
  assert.match(out, /\n {6}job tl-c-1-train-grpo-a1: running, step 7\/12, critic\/score\/mean 0\.61$/m);
});

test("before the workflow has registered its config, status says so instead of an empty name and iteration 1/0", () => {
  const status = {
    campaignId: "c",
    name: "",
    state: "running",
    paused: false,
    iteration: 1,
    iterationsTotal: 0,
    completedIterations: [],
  } as unknown as CampaignStatus;
  assert.equal(renderStatus(status), "campaign c: running, registering its config");
  assert.equal(renderStatus({ ...status, name: "demo", iterationsTotal: 3 }), "campaign c (demo): running, iteration 1/3");
});

test("following a campaign that waits for an operator prints the next commands; a stage with nothing left to do shows as done", () => {
  const stage = (name: string, state: string, done: number, total: number, counts: Record<string, number> = {}) => ({
    name,
    state,
    itemsDone: done,
    itemsTotal: total,
    counts,
  });
  const status = {
    campaignId: "mt-1",
    name: "demo",
    state: "running",
    paused: false,
    iteration: 1,
    iterationsTotal: 1,
    completedIterations: [],
    currentIteration: {
      iteration: 1,
      state: "waiting_for_operator",
      stages: [stage("synthesize.singleTurn", "succeeded", 0, 0, { written: 200 }), stage("verify.rules", "waiting_for_operator", 0, 200)],
    },
  } as unknown as CampaignStatus;
  const out = renderStatus(status);
  assert.match(out, /synthesize\.singleTurn\s+succeeded\s+\[#{24}\] 100% nothing left to do written=200/);
  assert.match(
    out,
    /\nwaiting for an operator; next \(from another terminal; this one keeps following until the campaign ends\):\n {2}toolloop campaign retry-stage mt-1 +# re-run/,
  );
  assert.match(out, /\n {2}toolloop campaign skip-stage mt-1 /);
  assert.match(out, /\n {2}toolloop campaign abort mt-1 /);
  const paused = renderStatus({ ...status, paused: true, currentIteration: { ...status.currentIteration!, state: "running" } });
  assert.match(paused, /\npaused; next .*\n {2}toolloop campaign resume mt-1 /);
  assert.doesNotMatch(renderStatus({ ...status, currentIteration: { ...status.currentIteration!, state: "running" } }), /next \(from another terminal/);
});

test("a succeeded single-job stage (train.merge, serve.policy) shows as done, 1/1 at 100%, not 0% 0/1", () => {
  // What the iteration workflow reports for a cluster-job stage: planned as one item (its job), and
  // the finished job counts its batch, not its item.
  const jobStage = (name: string, state: string, job?: object) => ({
    name,
    state,
    batchesTotal: 1,
    batchesDone: state === "succeeded" ? 1 : 0,
    itemsDone: 0,
    itemsTotal: 1,
    counts: state === "succeeded" ? { reusedJob: 0 } : {},
    attempts: 1,
    ...(job ? { job } : {}),
  });
  const status = {
    campaignId: "c",
    name: "demo",
    state: "running",
    paused: false,
    iteration: 1,
    iterationsTotal: 1,
    completedIterations: [],
    currentIteration: {
      iteration: 1,
      state: "running",
      stages: [
        jobStage("train.merge", "succeeded", { name: "tl-c-1-train-merge-a1", state: "completed" }),
        jobStage("serve.policy", "succeeded"),
        jobStage("evaluate.bfclFast", "running"),
      ],
    },
  } as unknown as CampaignStatus;
  const out = renderStatus(status);
  assert.match(out, /train\.merge\s+succeeded\s+\[#{24}\] 100% 1\/1 reusedJob=0\n {6}job tl-c-1-train-merge-a1: completed/);
  assert.match(out, /serve\.policy\s+succeeded\s+\[#{24}\] 100% 1\/1 reusedJob=0/);
  assert.doesNotMatch(out, /succeeded\s+\[-+\]\s+0% 0\/1/);
  // A stage still running keeps its real count.
  assert.match(out, /evaluate\.bfclFast\s+running\s+\[-{24}\]\s+0% 0\/1/);
});

test("what a log gets of each refresh: only the entries that changed, a stage with its job line whole, each done: line once", () => {
  const view = (lines: string[]) => lines.join("\n");
  const first = view([
    "campaign c (demo): running, iteration 2/3",
    "iteration 2: running (workflow campaign-c-iter-2)",
    "  synthesize.singleTurn    running               [#####-------------------]  20% 80/400 ok=80",
    "  train.sft                pending                                               0/1 ",
    "  done: iteration 1 completed, samples written {}",
  ]);
  const second = view([
    "campaign c (demo): running, iteration 2/3",
    "iteration 2: running (workflow campaign-c-iter-2)",
    "  synthesize.singleTurn    succeeded             [########################] 100% 400/400 ok=400",
    "  train.sft                running               [------------------------]   0% 0/1 \n      job tl-c-2-train-sft: running, step 3/10",
    "  done: iteration 1 completed, samples written {}",
  ]);
  assert.equal(changedEntries("", first), first, "the first view prints whole");
  assert.equal(
    changedEntries(first, second),
    view([
      "  synthesize.singleTurn    succeeded             [########################] 100% 400/400 ok=400",
      "  train.sft                running               [------------------------]   0% 0/1 ",
      "      job tl-c-2-train-sft: running, step 3/10",
    ]),
  );
  // Only the job's step moved: the stage line comes with it, so the job line names its stage.
  const third = second.replace("step 3/10", "step 4/10");
  assert.equal(
    changedEntries(second, third),
    "  train.sft                running               [------------------------]   0% 0/1 \n      job tl-c-2-train-sft: running, step 4/10",
  );
  assert.equal(changedEntries(third, third), "");
});

test("a stage's fractional figures (BFCL scores, match rates) print rounded, not as 17-digit floats", () => {
  const status = {
    campaignId: "c",
    name: "demo",
    state: "running",
    paused: false,
    iteration: 1,
    iterationsTotal: 2,
    completedIterations: [],
    currentIteration: {
      iteration: 1,
      state: "running",
      stages: [
        {
          name: "evaluate.bfcl",
          state: "succeeded",
          itemsDone: 20,
          itemsTotal: 20,
          counts: { correct: 9, categories: 4, limitPerCategory: 5, overall: 0.08444444444444443, nonLive: 0.2533333333333333, live: 0 },
        },
        { name: "probe.greedy", state: "succeeded", itemsDone: 180, itemsTotal: 180, counts: { matched: 169, matchRate: 0.9388888888888889 } },
      ],
    },
  } as unknown as CampaignStatus;
  const out = renderStatus(status);
  assert.match(out, /correct=9 categories=4 limitPerCategory=5 overall=0\.08444 nonLive=0\.2533 live=0$/m);
  assert.match(out, /matched=169 matchRate=0\.9389$/m);
});

test("a done: line says its counts are the samples the iteration wrote, not what it trained on", () => {
  // The demo's iteration 3 read "samples {"verified":4}" while it exported and trained on a pool of 121.
  const status = {
    campaignId: "c",
    name: "demo",
    state: "running",
    iteration: 3,
    iterationsTotal: 3,
    completedIterations: [{ iteration: 2, state: "completed", samples: { verified: 4 } }],
  } as unknown as CampaignStatus;
  assert.match(renderStatus(status), /^ {2}done: iteration 2 completed, samples written \{"verified":4\}$/m);
});
