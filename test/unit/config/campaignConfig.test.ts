import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCampaignConfig, type CampaignConfigInput } from "../../../src/config/campaignConfig.js";

const valid = (): CampaignConfigInput => ({
  name: "unit",
  endpoints: { sim: { baseUrl: "http://127.0.0.1:8000/v1" } },
  roles: { generator: { endpoint: "sim", model: "sim-model" } },
  tools: { sources: [{ kind: "example" }] },
  stages: [{ name: "synthesize.singleTurn", count: 10 }, { name: "verify.rules" }, { name: "export.dataset" }],
});

function issues(input: unknown): string[] {
  const r = parseCampaignConfig(input);
  assert.equal(r.ok, false, "expected the config to be rejected");
  return r.ok ? [] : r.error.issues.map((i) => `${i.path}: ${i.message}`);
}

test("a minimal config parses and gets defaults", () => {
  const r = parseCampaignConfig(valid());
  assert.ok(r.ok);
  assert.equal(r.config.iterations, 1);
  assert.equal(r.config.onStageFailure, "wait");
  const synth = r.config.stages[0];
  assert.equal(synth?.name, "synthesize.singleTurn");
  assert.equal(synth?.batchSize, 200);
  assert.deepEqual(r.config.endpoints.sim?.maxConcurrency, 16);
});

test("a bad batch size names the path: stages[2].batchSize", () => {
  const cfg = valid() as { stages: Record<string, unknown>[] };
  cfg.stages[2] = { name: "export.dataset", batchSize: -3 };
  assert.deepEqual(issues(cfg), ["stages[2].batchSize: expected a positive integer"]);
  cfg.stages[2] = { name: "export.dataset", batchSize: 2.5 };
  assert.deepEqual(issues(cfg), ["stages[2].batchSize: expected a positive integer"]);
  cfg.stages[2] = { name: "export.dataset", batchSize: "10" };
  assert.deepEqual(issues(cfg), ["stages[2].batchSize: expected a positive integer"]);
});

test("unknown stage names are rejected, not ignored", () => {
  const cfg = valid() as { stages: Record<string, unknown>[] };
  cfg.stages.push({ name: "train.grpo" });
  const msgs = issues(cfg);
  assert.equal(msgs.length, 1);
  assert.match(msgs[0] as string, /^stages\[3\](\.name)?: unknown stage name; expected one of "synthesize.singleTurn", "verify.rules", "export.dataset", "evaluate.bfcl", "evaluate.probe"$/);
});

test("unknown fields are rejected with their path", () => {
  const cfg = { ...valid(), stages: [{ name: "verify.rules", batchsize: 10 }] };
  const msgs = issues(cfg);
  assert.equal(msgs.length, 1);
  assert.match(msgs[0] as string, /^stages\[0\]: .*batchsize/);
});

test("a role pointing at an undefined endpoint is rejected", () => {
  const cfg = { ...valid(), roles: { generator: { endpoint: "nope", model: "m" } } };
  assert.deepEqual(issues(cfg), ['roles.generator.endpoint: unknown endpoint "nope"; defined: sim']);
});

test("duplicate stages, empty stage list, bad URL, bad mix are each reported", () => {
  assert.match(issues({ ...valid(), stages: [{ name: "verify.rules" }, { name: "verify.rules" }] })[0] as string, /^stages\[1\]\.name: duplicate stage "verify.rules"/);
  assert.deepEqual(issues({ ...valid(), stages: [] }), ["stages: expected at least one stage"]);
  assert.deepEqual(issues({ ...valid(), endpoints: { sim: { baseUrl: "not a url" } } }), ["endpoints.sim.baseUrl: expected an http(s) URL"]);
  assert.deepEqual(issues({ ...valid(), stages: [{ name: "synthesize.singleTurn", count: 5, mix: { standard: 0, parallel: 0, irrelevance: 0 } }] }), [
    "stages[0].mix: expected at least one proportion above 0",
  ]);
  assert.deepEqual(issues({ ...valid(), stages: [{ name: "synthesize.singleTurn", count: 5, mix: { standard: 1.5 } }] }), [
    "stages[0].mix.standard: expected a number between 0 and 1",
  ]);
});

test("non-object input is rejected at the root", () => {
  assert.equal(issues(null).length, 1);
  assert.match(issues(null)[0] as string, /^\(root\): /);
  assert.match(issues("x")[0] as string, /^\(root\): /);
});
