/** Consistency classes, agreement counting (duplicates counted), distribution summaries and the two stages' config validation. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCampaignConfig } from "../../../src/config/campaignConfig.js";
import type { McpTool, ToolCall } from "../../../src/domain/types.js";
import { classifyConsistency, consistencyOfAnswers } from "../../../src/scoring/consistency.js";
import { distribution, halfDisagreement, quantile } from "../../../src/scoring/summary.js";
import { scoreConsistencySpec } from "../../../src/stages/score/consistency/spec.js";
import { scorePerplexitySpec } from "../../../src/stages/score/perplexity/spec.js";
import { STAGE_HANDLERS } from "../../../src/stages/handlers.js";
import { STAGE_SPECS } from "../../../src/stages/specs.js";

const thresholds = { easyAtLeast: 0.75, hardAtMost: 0.25 };

describe("classifyConsistency", () => {
  it("puts the thresholds themselves into easy and hard", () => {
    assert.equal(classifyConsistency(1, thresholds), "easy");
    assert.equal(classifyConsistency(0.75, thresholds), "easy");
    assert.equal(classifyConsistency(0.5, thresholds), "medium");
    assert.equal(classifyConsistency(0.25, thresholds), "hard");
    assert.equal(classifyConsistency(0, thresholds), "hard");
  });
  it("refuses thresholds that would make an item both", () => {
    assert.throws(() => classifyConsistency(0.5, { easyAtLeast: 0.5, hardAtMost: 0.5 }), /hardAtMost \(0.5\) must be below easyAtLeast/);
  });
});

const tool: McpTool = { name: "get_weather", description: "w", inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };
const call = (city: string, id = "c"): ToolCall => ({ id, type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city }) } });

describe("consistencyOfAnswers", () => {
  const label = { content: null, tool_calls: [call("Paris")] };
  it("counts the answers the strict matcher accepts", () => {
    const answers = [{ content: null, tool_calls: [call("Paris")] }, { content: null, tool_calls: [call("Lyon")] }, { content: "no call" }, label];
    assert.deepEqual(consistencyOfAnswers(answers, label, [tool], thresholds), { k: 4, agree: 2, consistency: 0.5, class: "medium" });
  });
  it("checks a single call against the label's own tool when several are offered", () => {
    const other: McpTool = { name: "get_time", description: "t", inputSchema: { type: "object", properties: { zone: { type: "string" } } } };
    const r = consistencyOfAnswers([label, { content: null, tool_calls: [call("Lyon")] }], label, [other, tool], thresholds);
    assert.deepEqual([r.agree, r.k], [1, 2]);
  });
  it("counts a duplicated call as a different answer from a single call", () => {
    const twice = { content: null, tool_calls: [call("Paris", "a"), call("Paris", "b")] };
    assert.equal(consistencyOfAnswers([twice, twice], label, [tool], thresholds).class, "hard");
  });
  it("an irrelevance label agrees with answers that make no call", () => {
    const none = { content: "I cannot help with that." };
    assert.deepEqual(consistencyOfAnswers([none, none, none, { content: null, tool_calls: [call("x")] }], none, [tool], thresholds), {
      k: 4,
      agree: 3,
      consistency: 0.75,
      class: "easy",
    });
  });
});

describe("distribution and halfDisagreement", () => {
  it("interpolates quantiles like numpy", () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.ok(Math.abs((quantile([0, 10], 0.1) as number) - 1) < 1e-12);
    assert.equal(quantile([], 0.5), null);
    assert.deepEqual(distribution([3, 1, 2]), { n: 3, mean: 2, p10: 1.2, p50: 2, p90: 2.8 });
    assert.deepEqual(distribution([]), { n: 0, mean: null, p10: null, p50: null, p90: null });
  });
  it("is 0 for the same ranking, 1 for the opposite one, over samples with both scores", () => {
    const a = new Map([
      ["s1", 1],
      ["s2", 2],
      ["s3", 3],
      ["s4", 4],
      ["only-a", 9],
    ]);
    const same = new Map([...a].filter(([id]) => id !== "only-a").map(([id, v]) => [id, v * 10]));
    const opposite = new Map([...same].map(([id, v]) => [id, -v]));
    assert.deepEqual(halfDisagreement(a, same), { n: 4, disagree: 0, rate: 0 });
    assert.deepEqual(halfDisagreement(a, opposite), { n: 4, disagree: 4, rate: 1 });
    assert.deepEqual(halfDisagreement(a, new Map()), { n: 0, disagree: 0, rate: null });
  });
});

function rawConfig(stages: Record<string, unknown>[], policy = true): Record<string, unknown> {
  return {
    name: "score-config",
    endpoints: { sim: { baseUrl: "http://127.0.0.1:9/v1" } },
    roles: { generator: { endpoint: "sim", model: "g" }, ...(policy ? { policy: { endpoint: "sim", model: "p" } } : {}) },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "verify.rules" }, ...stages],
  };
}
function configError(stage: Record<string, unknown>, policy = true): string {
  const r = parseCampaignConfig(rawConfig([stage], policy));
  assert.equal(r.ok, false, `expected ${JSON.stringify(stage)} to be rejected`);
  return r.ok ? "" : r.error.message;
}

describe("config", () => {
  it("registers both stages with their handlers", () => {
    assert.ok(STAGE_SPECS.includes(scorePerplexitySpec) && STAGE_SPECS.includes(scoreConsistencySpec));
    assert.equal(STAGE_HANDLERS["score.perplexity"].name, "score.perplexity");
    assert.equal(STAGE_HANDLERS["score.consistency"].name, "score.consistency");
    assert.deepEqual(scorePerplexitySpec.roles, ["policy"]);
  });
  it("applies the defaults, and the selection follows from and statuses", () => {
    const r = parseCampaignConfig(rawConfig([{ name: "score.perplexity" }, { name: "score.consistency" }]));
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.deepEqual(r.config.stages[1], { name: "score.perplexity", batchSize: 1000, from: "pool", statuses: ["verified"], ownOutput: true });
    assert.deepEqual(r.config.stages[2], {
      name: "score.consistency",
      batchSize: 500,
      from: "pool",
      statuses: ["verified"],
      k: 4,
      temperature: 0.7,
      easyAtLeast: 0.75,
      hardAtMost: 0.25,
    });
    const reads = scorePerplexitySpec.reads;
    assert.equal(reads.kind, "samples");
    if (reads.kind === "samples")
      assert.deepEqual(
        reads.selection({ ...(r.config.stages[1] as Parameters<typeof reads.selection>[0]), from: "iteration", statuses: ["verified", "pending"] }),
        {
          scope: "iteration",
          statuses: ["verified", "pending"],
        },
      );
  });
  it("names the field path of every bad value", () => {
    assert.match(configError({ name: "score.perplexity", from: "everything" }), /stages\[1\]\.from: expected "pool" or "iteration"/);
    assert.match(configError({ name: "score.perplexity", statuses: ["good"] }), /stages\[1\]\.statuses\[0\]: expected one of "pending", "verified"/);
    assert.match(configError({ name: "score.perplexity", statuses: [] }), /stages\[1\]\.statuses: expected at least one status/);
    assert.match(configError({ name: "score.perplexity", ownOutput: "yes" }), /stages\[1\]\.ownOutput: expected true or false/);
    assert.match(configError({ name: "score.perplexity" }, false), /policy/);
    assert.match(configError({ name: "score.consistency", k: 0 }), /stages\[1\]\.k: expected a positive integer/);
    assert.match(configError({ name: "score.consistency", k: 65 }), /stages\[1\]\.k: expected at most 64/);
    assert.match(configError({ name: "score.consistency", temperature: 3 }), /stages\[1\]\.temperature: expected a number between 0 and 2/);
    assert.match(configError({ name: "score.consistency", easyAtLeast: 1.5 }), /stages\[1\]\.easyAtLeast: expected a number between 0 and 1/);
    assert.match(
      configError({ name: "score.consistency", easyAtLeast: 0.5, hardAtMost: 0.6 }),
      /stages\[1\]\.hardAtMost: expected hardAtMost \(0.6\) below easyAtLeast \(0.5\)/,
    );
    assert.match(
      configError({ name: "score.consistency", hardAtMost: 0.75 }),
      /stages\[1\]\.hardAtMost: expected hardAtMost \(0.75\) below easyAtLeast \(0.75\)/,
    );
    assert.match(configError({ name: "score.consistency", samples: 4 }), /stages\[1\]/, "unknown keys are rejected");
  });
});
