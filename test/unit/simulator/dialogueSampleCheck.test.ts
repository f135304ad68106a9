/**
 * The simulated sample checker (verify.judges): CORRECT for a label that does what the conversation
 * asks, INCORRECT for a planted wrong one, for single-turn samples (judge.ts's label check) and for
 * multi-turn samples cut from a played dialogue (the last message is the label, compared with the
 * truthful reading of the prompt); judgeErrorRate turns verdicts wrong.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChatMessage } from "../../../src/domain/types.js";
import { ASSISTANT_SYSTEM, SAMPLE_CHECK_MARKER, sampleCheckMessages } from "../../../src/dialogue/protocol.js";
import { checkAnswerSchema, CHECK_RESPONSE_FORMAT, judgedAnswer } from "../../../src/judging/protocol.js";
import { inProcessAsk, playDialogue, scriptedAnswer } from "../../helpers/simDialogue.js";
import { DIALOGUE_TOOLS } from "../../helpers/simDialogueTools.js";

type Assistant = Extract<ChatMessage, { role: "assistant" }>;

function check(prompt: ChatMessage[], label: Assistant, judgeErrorRate = 0) {
  const messages = sampleCheckMessages({ tools: DIALOGUE_TOOLS, prompt, label: judgedAnswer(label) });
  assert.match(messages[0]!.content as string, new RegExp(SAMPLE_CHECK_MARKER));
  const a = scriptedAnswer(0, { messages, response_format: { type: "json_schema", json_schema: CHECK_RESPONSE_FORMAT } }, { judgeErrorRate });
  assert.equal(a.role, "dialogue-sample-check");
  return checkAnswerSchema.parse(JSON.parse(a.content!));
}

const call = (name: string, args: Record<string, unknown>, id = "c0") => ({
  id,
  type: "function" as const,
  function: { name, arguments: JSON.stringify(args) },
});

test("single-turn samples: the label the query asks for is CORRECT, a planted wrong value INCORRECT", () => {
  const prompt: ChatMessage[] = [{ role: "user", content: 'Could you get the current weather for a city with city "Oslo" and days = 3?' }];
  assert.equal(check(prompt, { role: "assistant", content: null, tool_calls: [call("get_weather", { city: "Oslo", days: 3 })] }).verdict, "CORRECT");
  const wrong = check(prompt, { role: "assistant", content: null, tool_calls: [call("get_weather", { city: "Oslo", days: 4 })] });
  assert.equal(wrong.verdict, "INCORRECT");
  assert.match(wrong.analysis, /days/);
});

test("multi-turn samples: every turn of a faultless dialogue is CORRECT; planted wrong labels are INCORRECT", async () => {
  const d = await playDialogue(inProcessAsk(2, { dialogue: { missingParameterRate: 0.5, userChangeOfMindRate: 0 } }), {
    tools: DIALOGUE_TOOLS,
    targetTurns: 6,
  });
  let textLabels = 0;
  let chained = 0;
  for (let i = 0; i < d.messages.length; i++) {
    const label = d.messages[i]!;
    if (label.role !== "assistant") continue;
    const prompt = d.messages.slice(0, i);
    const verdict = check(prompt, label);
    assert.equal(verdict.verdict, "CORRECT", `turn ${i}: ${verdict.analysis}`);
    if (!label.tool_calls?.length) {
      textLabels++;
      // Text where the conversation needs text; a call there is wrong.
      const planted = check(prompt, { role: "assistant", content: null, tool_calls: [call("get_weather", { city: "Oslo" })] });
      assert.equal(planted.verdict, "INCORRECT");
      continue;
    }
    // One argument value changed: wrong.
    const [first, ...rest] = label.tool_calls;
    const args = JSON.parse(first!.function.arguments) as Record<string, unknown>;
    const key = Object.keys(args)[0]!;
    const changed = { ...args, [key]: typeof args[key] === "number" ? (args[key] as number) + 1 : `${String(args[key])}-other` };
    const planted = check(prompt, { role: "assistant", content: null, tool_calls: [call(first!.function.name, changed, first!.id), ...rest] });
    assert.equal(planted.verdict, "INCORRECT", `planted ${JSON.stringify(changed)}`);
    if (prompt.at(-1)!.role === "tool") chained++;
    // A question instead of the calls the conversation makes possible: wrong.
    assert.equal(check(prompt, { role: "assistant", content: "Which one do you mean?" }).verdict, "INCORRECT");
  }
  assert.ok(textLabels >= 2, "final answers (and questions) were checked");
  assert.ok(chained >= 1, "a call that takes an id from a previous result was checked");
});

test("a dialogue's first turn: asking for a left-out required value is CORRECT, inventing it INCORRECT", () => {
  const prompt: ChatMessage[] = [
    { role: "system", content: ASSISTANT_SYSTEM },
    { role: "user", content: 'Please create an order for a product with product id "ORD-1042".' },
  ];
  assert.equal(check(prompt, { role: "assistant", content: "To create an order for a product I need the quantity. Could you tell me it?" }).verdict, "CORRECT");
  const invented = check(prompt, { role: "assistant", content: null, tool_calls: [call("create_order", { product_id: "ORD-1042", quantity: 1 })] });
  assert.equal(invented.verdict, "INCORRECT");
  assert.match(invented.analysis, /question for the missing values/);
});

test("judgeErrorRate: a judge that always errs flips every verdict", () => {
  const prompt: ChatMessage[] = [
    { role: "system", content: "x" },
    { role: "user", content: 'Could you get the current weather for a city with city "Oslo"?' },
    { role: "assistant", content: null, tool_calls: [call("get_weather", { city: "Oslo" })] },
    { role: "tool", tool_call_id: "c0", content: '{"city": "Oslo", "temperature_c": 4}' },
  ];
  const final: Assistant = { role: "assistant", content: "It is 4 degrees in Oslo." };
  assert.equal(check(prompt, final).verdict, "CORRECT");
  assert.equal(check(prompt, final, 1).verdict, "INCORRECT");
});
