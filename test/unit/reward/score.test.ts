import { test } from "node:test";
import assert from "node:assert/strict";
import { rewardConfigSchema } from "../../../src/reward/config.js";
import { createRewardScorer, scoreResponse } from "../../../src/reward/score.js";
import { REWARD_CASES, TOOLS } from "../../reward/cases.js";

const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

for (const c of REWARD_CASES) {
  test(`reward: ${c.name}`, () => {
    const r = scoreResponse(c.config, c.item);
    const e = c.expected;
    const got = `${JSON.stringify(r)}`;
    assert.ok(close(r.score, e.score), `score ${r.score} != ${e.score}: ${got}`);
    assert.ok(close(r.format, e.format), `format: ${got}`);
    assert.ok(close(r.execution, e.execution), `execution: ${got}`);
    assert.ok(close(r.reasoning, e.reasoning), `reasoning: ${got}`);
    assert.equal(r.execution_correct, e.execution_correct, got);
    if (e.reasonIncludes !== undefined) assert.ok(r.reason?.includes(e.reasonIncludes), `reason should mention ${e.reasonIncludes}: ${got}`);
    if (e.execution_correct) assert.equal(r.reason, undefined, got);
  });
}

test("reward config: every field defaults, and bad fields are named", () => {
  const c = rewardConfigSchema.parse({});
  assert.equal(c.kind, "gatedComposite");
  assert.equal(c.matchMode, "strict");
  assert.deepEqual(c.weights, { format: 0.2, execution: 0.6, reasoning: 0.2 });
  const bad = rewardConfigSchema.safeParse({ weights: { format: -1 }, template: "xml", extra: 1 });
  assert.equal(bad.success, false);
  const paths = bad.error!.issues.map((i) => i.path.join("."));
  assert.ok(paths.includes("weights.format") && paths.includes("template"), paths.join(", "));
  assert.equal(rewardConfigSchema.safeParse({ reasoning: { kind: "rules", minChars: 50, maxChars: 10 } }).success, false);
});

test("reward: hostile inputs never throw", () => {
  const score = createRewardScorer(rewardConfigSchema.parse({ partialCredit: "perArgument" }));
  const inputs: unknown[] = [
    { data_source: "toolloop", solution_str: 42, ground_truth: '{"calls": []}' },
    { data_source: "toolloop", solution_str: "<tool_call>", ground_truth: 7 },
    {
      data_source: "toolloop",
      solution_str: '<tool_call>{"name": "__proto__", "arguments": {"__proto__": 1}}</tool_call>',
      ground_truth: '{"calls": [{"name": "__proto__", "arguments": {"__proto__": 1}}]}',
    },
    { data_source: "toolloop", solution_str: "<tool_call>[]</tool_call>", ground_truth: '{"calls": [{"name": "f"}]}', extra_info: "tools" },
    { data_source: "toolloop", solution_str: "x", ground_truth: '{"calls": [{"name": ""}]}', extra_info: { tools: { a: 1 } } },
    { data_source: "toolloop", solution_str: "x", ground_truth: '{"calls": [1]}', extra_info: { tools: "[1]" } },
    {
      data_source: "toolloop",
      solution_str: `<tool_call>${"[".repeat(5000)}</tool_call>`,
      ground_truth: '{"calls": [{"name": "f", "arguments": {}}]}',
      extra_info: { tools: TOOLS },
    },
  ];
  for (const input of inputs) {
    const r = score(input as never);
    assert.equal(typeof r.score, "number");
    assert.ok(Number.isFinite(r.score));
  }
});

test("reward: a scorer reuses its compiled label across a GRPO group and scores each response on its own", () => {
  const score = createRewardScorer(rewardConfigSchema.parse({}));
  const gt = JSON.stringify({ calls: [{ name: "get_weather", arguments: { city: "Paris", days: 3 } }] });
  const right = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}</tool_call>';
  const wrong = '<tool_call>{"name": "get_weather", "arguments": {"city": "Lyon", "days": 3}}</tool_call>';
  const scores = [right, wrong, right, wrong].map(
    (s) => score({ data_source: "toolloop", solution_str: s, ground_truth: gt, extra_info: { tools: TOOLS } }).execution,
  );
  assert.deepEqual(scores, [1, 0, 1, 0]);
});

test("reward: an order id past 2^53 is right only with the label's digits (Hermes and OpenAI templates, ground truth as text)", () => {
  const tools = JSON.stringify([
    {
      type: "function",
      function: {
        name: "cancel_order",
        description: "Cancel an order",
        parameters: { type: "object", properties: { order_id: { type: "integer" } }, required: ["order_id"] },
      },
    },
  ]);
  const groundTruth = '{"calls": [{"name": "cancel_order", "arguments": {"order_id": 12345678901234567890}}]}';
  const item = (solution_str: string) => ({ data_source: "toolloop", solution_str, ground_truth: groundTruth, extra_info: { tools } });
  const hermes = (id: string) => `<tool_call>\n{"name": "cancel_order", "arguments": {"order_id": ${id}}}\n</tool_call>`;
  // Arguments as JSON text, and as an object in the response's JSON.
  const openAiText = (id: string) => JSON.stringify({ tool_calls: [{ function: { name: "cancel_order", arguments: `{"order_id": ${id}}` } }] });
  const openAiObject = (id: string) => `{"tool_calls": [{"function": {"name": "cancel_order", "arguments": {"order_id": ${id}}}}]}`;
  for (const [template, render] of [
    ["hermes", hermes],
    ["openai", openAiText],
    ["openai", openAiObject],
  ] as const) {
    const score = createRewardScorer(rewardConfigSchema.parse({ template, partialCredit: "perArgument" }));
    assert.equal(score(item(render("12345678901234567890"))).execution_correct, true, `${template}: the label's id`);
    for (const wrong of ["12345678901234567891", "12345678901234567000", "12345678901234567890.0"]) {
      const r = score(item(render(wrong)));
      assert.equal(r.execution_correct, false, `${template}: ${wrong}`);
      assert.equal(r.execution, 0, `${template}: ${wrong} gets no argument's credit`);
    }
  }
});
