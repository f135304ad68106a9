import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import { parseCampaignConfig, type CampaignConfigInput } from "../../../src/config/campaignConfig.js";

type Stage = { name: string; runIn?: string; sft?: boolean };
const demo = JSON.parse(fs.readFileSync(new URL("../../../../examples/demo.campaign.json", import.meta.url), "utf8")) as Omit<CampaignConfigInput, "stages"> & {
  stages: Stage[];
  iterations: number;
};
const named = (name: string) => demo.stages.find((s) => s.name === name)!;

function warnings(stages: unknown[], iterations = demo.iterations): string[] {
  const r = parseCampaignConfig({ ...demo, iterations, stages });
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  return r.warnings;
}

test("the shipped examples' stage orders draw no stage-order warning", () => {
  for (const file of ["demo.campaign.json", "multi-turn.json", "compose-simulator.campaign.json"]) {
    const raw: unknown = JSON.parse(fs.readFileSync(new URL(`../../../../examples/${file}`, import.meta.url), "utf8"));
    const r = parseCampaignConfig(raw);
    assert.ok(r.ok, file);
    assert.deepEqual(r.warnings, [], file);
  }
});

test("a stage reading the iteration's samples before any stage makes them is told it reads nothing", () => {
  assert.deepEqual(warnings([{ name: "verify.rules" }, named("synthesize.singleTurn")], 1), [
    "stages[0] (verify.rules) reads the iteration's samples (synthesize.singleTurn, synthesize.multiTurn, expand.errors or repair.labels make them), " +
      "but no stage before it makes them in iteration 1, so it has nothing to read there",
  ]);
});

test("runIn decides the iterations a stage is missing its input in", () => {
  // Synthesis runs in iteration 1 only; a verify.rules left to every iteration reads nothing after it.
  const verifyEvery = demo.stages.map((s) => (s.name === "verify.rules" ? { name: "verify.rules" } : s));
  assert.deepEqual(warnings(verifyEvery), [
    "stages[1] (verify.rules) reads the iteration's samples (synthesize.singleTurn, synthesize.multiTurn, expand.errors or repair.labels make them), " +
      "but no stage before it makes them in iterations 2 to 3, so it has nothing to read there",
  ]);
  // The same config run for one iteration: nothing is missing.
  assert.deepEqual(warnings(verifyEvery, 1), []);
  const exportFirst = demo.stages.map((s) => (s.name === "export.verl" ? { ...s, runIn: "first" } : s));
  assert.deepEqual(warnings(exportFirst, 2), [
    'stages[6] (train.sft) reads the iteration\'s SFT set (export.verl with "sft": true), but no stage before it makes it in iteration 2, so it fails there',
    "stages[7] (train.grpo) reads the iteration's verl dataset (export.verl), but no stage before it makes it in iteration 2, so it fails there",
  ]);
});

test("a training chain missing a link is told it fails in every iteration", () => {
  const noSft = demo.stages.map((s) => (s.name === "export.verl" ? { ...s, sft: false } : s));
  assert.deepEqual(warnings(noSft), [
    'stages[6] (train.sft) reads the iteration\'s SFT set (export.verl with "sft": true), but no stage before it makes it in any iteration, so it always fails',
  ]);
  const noGrpo = demo.stages.filter((s) => s.name !== "train.grpo");
  assert.deepEqual(warnings(noGrpo), [
    "stages[7] (train.merge) reads the iteration's GRPO checkpoint (train.grpo), but no stage before it makes it in any iteration, so it always fails",
  ]);
  const serveBeforeMerge = demo.stages.filter((s) => s.name !== "serve.policy");
  serveBeforeMerge.splice(serveBeforeMerge.indexOf(named("train.merge")), 0, named("serve.policy"));
  assert.deepEqual(warnings(serveBeforeMerge), [
    "stages[8] (serve.policy) reads the iteration's merged policy (train.merge), but no stage before it makes it in any iteration, so it always fails",
  ]);
});

test("the self-evolution stages are checked in their order: pool, probe, repair, expansion", () => {
  // probe.greedy before the pool reads nothing, but it still counts as the maker of repair.labels' input.
  const order = ["synthesize.singleTurn", "probe.greedy", "select.nextRound", "expand.errors", "repair.labels"].map(named);
  assert.deepEqual(warnings(order, 1), [
    "stages[1] (probe.greedy) reads the iteration's training pool (select.nextRound makes it), but no stage before it makes it in iteration 1, so it has nothing to read there",
    "stages[3] (expand.errors) reads the iteration's error seeds (repair.labels), but no stage before it makes them in iteration 1, so it has nothing to read there",
  ]);
  const noProbe = ["synthesize.singleTurn", "select.nextRound", "repair.labels", "expand.errors"].map(named);
  assert.deepEqual(warnings(noProbe, 1), [
    "stages[2] (repair.labels) reads the probe's mismatches (probe.greedy), but no stage before it makes them in iteration 1, so it has nothing to read there",
  ]);
});
