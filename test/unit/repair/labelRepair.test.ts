/** The pure decisions of label repair: verdict -> step, BOTH_CORRECT's perplexity rule, the repaired sample. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import { labelOf } from "../../../src/matching/labelAgreement.js";
import { keepHigherPerplexity, kindOfAnswer, repairedSample, stepFor } from "../../../src/repair/labelRepair.js";

test("each verdict leads to its step", () => {
  assert.equal(stepFor("LABEL_WRONG"), "take_prediction");
  assert.equal(stepFor("BOTH_CORRECT"), "compare_perplexity");
  assert.equal(stepFor("BOTH_WRONG"), "dropped");
  assert.equal(stepFor("PRED_WRONG"), "error_seed");
  assert.equal(stepFor(null), "no_consensus");
});

test("BOTH_CORRECT keeps the higher-perplexity answer; a tie keeps the label", () => {
  assert.equal(keepHigherPerplexity({ label: 3.2, prediction: 1.4 }), "label");
  assert.equal(keepHigherPerplexity({ label: 1.4, prediction: 3.2 }), "prediction");
  assert.equal(keepHigherPerplexity({ label: 2, prediction: 2 }), "label");
  assert.throws(() => keepHigherPerplexity({ label: Number.NaN, prediction: 2 }), /label perplexity must be a number >= 1/);
  // An infinite perplexity (a token the policy gives no probability) is the hardest answer, not an error.
  assert.equal(keepHigherPerplexity({ label: Number.POSITIVE_INFINITY, prediction: 2 }), "label");
  assert.equal(keepHigherPerplexity({ label: 2, prediction: Number.POSITIVE_INFINITY }), "prediction");
  assert.equal(keepHigherPerplexity({ label: Number.POSITIVE_INFINITY, prediction: Number.POSITIVE_INFINITY }), "label");
  assert.throws(() => keepHigherPerplexity({ label: 2, prediction: 0.5 }), /prediction perplexity/);
});

const tools: McpTool[] = [
  {
    name: "get_weather",
    description: "Current weather of a city",
    inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
];
const original = {
  id: "s_original",
  messages: [
    { role: "system", content: "You are a tool agent." },
    { role: "user", content: "Weather in Oslo and Rome?" },
    { role: "assistant", content: null, tool_calls: [{ id: "x", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }] },
  ] satisfies ChatMessage[],
  tools,
};
const callOf = (args: string, id: string) => ({ id, type: "function" as const, function: { name: "get_weather", arguments: args } });

test("a repaired sample: the original prompt, the prediction as label with derived call ids, verified by the rules", () => {
  const prediction = { content: null, tool_calls: [callOf('{"city":"Oslo"}', "chatcmpl-tool-a"), callOf('{"city":"Rome"}', "chatcmpl-tool-b")] };
  const r = repairedSample("camp", original, prediction);
  assert.deepEqual(r.messages.slice(0, 2), original.messages.slice(0, 2));
  assert.equal(r.messages.length, 3);
  const label = labelOf(r.messages)!;
  assert.deepEqual(
    label.tool_calls!.map((c) => c.function),
    prediction.tool_calls.map((c) => c.function),
  );
  assert.ok(label.tool_calls!.every((c) => /^call_[0-9a-f]{24}$/.test(c.id)));
  assert.notEqual(label.tool_calls![0]!.id, label.tool_calls![1]!.id);
  assert.equal(r.kind, "parallel");
  assert.equal(r.status, "verified", r.verdict.reasons.join("; "));
  assert.equal(r.verdict.verifier, "rules");
  // Deterministic: the same repair always makes the same sample, whatever ids the policy used.
  const again = repairedSample("camp", original, { content: null, tool_calls: [callOf('{"city":"Oslo"}', "other-1"), callOf('{"city":"Rome"}', "other-2")] });
  assert.equal(again.id, r.id);
  assert.notEqual(repairedSample("camp2", original, prediction).id, r.id, "ids are per campaign");
});

test("a prediction the rules reject makes a rejected sample, with the reasons", () => {
  const r = repairedSample("camp", original, { content: null, tool_calls: [callOf('{"town":"Oslo"}', "a")] });
  assert.equal(r.status, "rejected");
  assert.equal(r.kind, "standard");
  assert.ok(
    r.verdict.reasons.some((m) => /city|town/.test(m)),
    r.verdict.reasons.join("; "),
  );
  const none = repairedSample("camp", original, { content: "No tool can do this." });
  assert.equal(none.kind, "irrelevance");
  assert.equal(labelOf(none.messages)!.tool_calls, undefined);
  assert.equal(kindOfAnswer({ content: null, tool_calls: [] }), "irrelevance");
});
