import assert from "node:assert/strict";
import { test } from "node:test";
import { ASSISTANT_SYSTEM } from "../../../src/dialogue/protocol.js";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import { toDatasetLine } from "../../../src/export/dataset.js";
import { policyPromptOf, withoutTaskMarkers } from "../../../src/export/trainingMessages.js";
import { promptOf } from "../../../src/matching/labelAgreement.js";
import { prepareSample } from "../../../src/training/verl/rows.js";

const tool: McpTool = {
  name: "get_weather",
  description: "Weather.",
  inputSchema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
};
const dialogue: ChatMessage[] = [
  { role: "system", content: ASSISTANT_SYSTEM },
  { role: "user", content: "Weather in Paris?" },
  { role: "assistant", content: null, tool_calls: [{ id: "call_2_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
];

test("exports drop the multi-turn assistant's task marker line and keep the rest of the system prompt", () => {
  assert.match(ASSISTANT_SYSTEM, /^### task: dialogue-assistant\n/);
  const cleaned = withoutTaskMarkers(dialogue);
  assert.equal(cleaned[0]?.content, ASSISTANT_SYSTEM.replace(/^### task: dialogue-assistant\n/, ""));
  assert.deepEqual(cleaned.slice(1), dialogue.slice(1));
  assert.equal(dialogue[0]?.content, ASSISTANT_SYSTEM, "the stored messages are not changed");
  const plain: ChatMessage[] = [{ role: "system", content: "You are a helpful assistant." }, ...dialogue.slice(1)];
  assert.equal(withoutTaskMarkers(plain), plain, "no marker: the same list");

  const line = toDatasetLine({ id: "s1", kind: "multi_turn", messages: dialogue, tools: [tool], status: "verified", metadata: {} });
  assert.doesNotMatch(JSON.stringify(line.messages), /### task/);
  const verl = prepareSample({ id: "s1", messages: dialogue, tools: [tool] });
  assert.ok(verl.ok);
  assert.doesNotMatch(JSON.stringify(verl), /### task/);
});

test("malformed messages pass through to the exporters' own checks", () => {
  const bad = [null, { role: "system", content: 3 }] as unknown as ChatMessage[];
  assert.equal(withoutTaskMarkers(bad), bad);
  assert.equal(prepareSample({ id: "x", messages: bad, tools: [] }).ok, false);
});

test("the prompt the policy is probed and scored on is the export's prompt: no task marker, the stored messages untouched", () => {
  const stored = structuredClone(dialogue);
  const prompt = policyPromptOf(dialogue);
  assert.deepEqual(prompt, [{ role: "system", content: ASSISTANT_SYSTEM.replace(/^### task: dialogue-assistant\n/, "") }, dialogue[1]]);
  assert.doesNotMatch(JSON.stringify(prompt), /### task/);
  assert.deepEqual(dialogue, stored, "the stored messages (which the sample id hashes) are not changed");
  // The same messages export.dataset writes before its label turn, and export.verl's prompt before its tools block.
  const line = toDatasetLine({ id: "s1", kind: "multi_turn", messages: dialogue, tools: [tool], status: "verified", metadata: {} });
  assert.deepEqual(line.messages.slice(0, -1), prompt);
  const verl = prepareSample({ id: "s1", messages: dialogue, tools: [tool] }, "none");
  assert.ok(verl.ok);
  assert.deepEqual(verl.sample.messages.slice(0, -1), prompt, "export.verl's messages before the label");
  assert.equal(verl.sample.prompt[0]?.content, prompt[0]?.content);
  // A sample without a marker is asked exactly as before.
  const plain: ChatMessage[] = [{ role: "system", content: "You are a helpful assistant." }, ...dialogue.slice(1)];
  assert.deepEqual(policyPromptOf(plain), promptOf(plain));
});
