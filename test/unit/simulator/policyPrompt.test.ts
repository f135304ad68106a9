/**
 * The simulated policy asked about a stored dialogue's turn the way probe.greedy and the scoring
 * stages ask it: the prompt as the exports write it (no `### task: dialogue-assistant` line). The
 * simulator must still answer it as the dialogue's assistant answered (a real model reads the same
 * instructions), while the synthesis roles keep answering by their markers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ASSISTANT_INSTRUCTIONS, ASSISTANT_SYSTEM, REFLECT_MARKER } from "../../../src/dialogue/protocol.js";
import type { ChatMessage } from "../../../src/domain/types.js";
import { toOpenAiTool } from "../../../src/domain/types.js";
import { policyPromptOf } from "../../../src/export/trainingMessages.js";
import { compareToLabel, labelOf } from "../../../src/matching/labelAgreement.js";
import { inProcessAsk, playDialogue, scriptedAnswer } from "../../helpers/simDialogue.js";
import { DIALOGUE_TOOLS } from "../../helpers/simDialogueTools.js";

const openAi = DIALOGUE_TOOLS.map(toOpenAiTool);
const NO_FAULTS = { userChangeOfMindRate: 0, missingParameterRate: 0.3, assistantSchemaViolationRate: 0, assistantDisagreementRate: 0 };

function asPolicy(prompt: ChatMessage[]) {
  return scriptedAnswer(0, { model: "toolloop-sim-policy", messages: prompt, tools: openAi, tool_choice: "auto", temperature: 0 });
}

test("a dialogue's cut without the task marker is answered as the dialogue assistant answered it, turn for turn", async () => {
  let cuts = 0;
  let endingInUser = 0;
  for (const seed of [1, 2, 3]) {
    const d = await playDialogue(inProcessAsk(seed, { dialogue: NO_FAULTS }), { tools: DIALOGUE_TOOLS, targetTurns: 6, seed: 0 });
    assert.equal(d.messages[0]?.content, ASSISTANT_SYSTEM);
    for (const [i, m] of d.messages.entries()) {
      if (m.role !== "assistant") continue;
      const sample = d.messages.slice(0, i + 1);
      const prompt = policyPromptOf(sample);
      assert.equal(prompt[0]?.content, ASSISTANT_INSTRUCTIONS, "the probe's system prompt is the export's: instructions, no marker");
      assert.doesNotMatch(JSON.stringify(prompt), /### task/);
      const answer = asPolicy(prompt);
      assert.equal(answer.role, "dialogue-assistant", `cut at ${i}: answered as the dialogue's assistant, not the single-turn tool agent`);
      const message = {
        content: answer.content,
        ...(answer.toolCalls.length > 0
          ? { tool_calls: answer.toolCalls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.arguments } })) }
          : {}),
      };
      const agreement = compareToLabel(message, labelOf(sample)!, DIALOGUE_TOOLS);
      assert.ok(agreement.agrees, `cut at ${i}: the policy agrees with the label (${agreement.reasons.map((r) => r.code).join(", ")})`);
      // The marked (synthesis) request and the unmarked (policy) one make the same calls.
      const marked = asPolicy(sample.slice(0, -1));
      assert.deepEqual(
        marked.toolCalls.map((c) => [c.name, c.arguments]),
        answer.toolCalls.map((c) => [c.name, c.arguments]),
      );
      cuts++;
      if (prompt.at(-1)?.role === "user") endingInUser++;
    }
  }
  assert.ok(cuts >= 6 && endingInUser >= 3, `cuts ending in a user turn are covered (${endingInUser} of ${cuts})`);
});

test("requests that are not a dialogue's policy prompt keep their roles", () => {
  const user: ChatMessage = { role: "user", content: 'Could you get the current weather for a city with city "Oslo"?' };
  // A single-turn prompt (another system prompt, no marker): the single-turn tool agent.
  assert.equal(asPolicy([{ role: "system", content: "You are a helpful assistant." }, user]).role, "tool-agent");
  assert.equal(asPolicy([user]).role, "tool-agent");
  // The synthesis assistant (marked) is the dialogue assistant as before.
  assert.equal(asPolicy([{ role: "system", content: ASSISTANT_SYSTEM }, user]).role, "dialogue-assistant");
  // The instructions under another role's marker are that role's request, not the policy's.
  const other = [{ role: "system" as const, content: `### task: something-else\n${ASSISTANT_INSTRUCTIONS}` }, user];
  assert.equal(asPolicy(other).role, "tool-agent");
  assert.notEqual(asPolicy([{ role: "system", content: `${REFLECT_MARKER}\n${ASSISTANT_INSTRUCTIONS}` }, user]).role, "dialogue-assistant");
  // Without tools the policy prompt is plain text, as before.
  const noTools = scriptedAnswer(0, { messages: [{ role: "system", content: ASSISTANT_INSTRUCTIONS }, user], temperature: 0 });
  assert.equal(noTools.role, "text");
});
