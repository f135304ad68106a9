/**
 * Silent mistakes (contract D) and the truth channel (contract E): a wrong argument value that is
 * schema-valid passes rule verification, and only the truth says the label is wrong.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import { writeQuery } from "../../../src/llm/simulator/queryWriter.js";
import { chatRequestSchema } from "../../../src/llm/simulator/requests.js";
import { scriptChat } from "../../../src/llm/simulator/scripts.js";
import { labelErrorRate, labelIsWrong, simToolOf, simulatedIntent } from "../../../src/llm/simulator/truth.js";
import { SeededRandom } from "../../../src/util/random.js";
import { verifyRules } from "../../../src/verification/rules.js";

const TOOLS: McpTool[] = [
  {
    name: "book_flight",
    description: "Book a flight between two airports.",
    inputSchema: {
      type: "object",
      properties: {
        origin: { type: "string" },
        destination: { type: "string" },
        date: { type: "string", format: "date" },
        cabin: { type: "string", enum: ["economy", "business", "first"] },
        passengers: { type: "integer", minimum: 1, maximum: 9 },
        refundable: { type: "boolean" },
      },
      required: ["origin", "destination", "date", "cabin", "passengers"],
      additionalProperties: false,
    },
  },
  {
    name: "convert_currency",
    description: "Convert an amount of money between currencies.",
    inputSchema: {
      type: "object",
      properties: { amount: { type: "number", minimum: 0 }, currency: { type: "string", enum: ["USD", "EUR", "JPY"] } },
      required: ["amount", "currency"],
      additionalProperties: false,
    },
  },
];
const openAi = TOOLS.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.inputSchema } }));

function samples(silentMistakeRate: number, n = 200) {
  return Array.from({ length: n }, (_, i) => {
    const picked = i % 2 === 0 ? [TOOLS[i % 4 === 0 ? 0 : 1]!] : TOOLS;
    const query = writeQuery(new SeededRandom(500 + i), { kind: picked.length === 1 ? "standard" : "parallel", tools: picked.map(simToolOf) });
    const body = chatRequestSchema.parse({ model: "toolloop-sim-generator", messages: [{ role: "user", content: query }], tools: openAi, tool_choice: "auto" });
    const out = scriptChat(body, 7, 0, undefined, { silentMistakeRate });
    const messages: ChatMessage[] = [
      { role: "user", content: query },
      {
        role: "assistant",
        content: out.content,
        tool_calls: out.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
      },
    ];
    return { kind: picked.length === 1 ? ("standard" as const) : ("parallel" as const), messages, tools: TOOLS, out };
  });
}

test("silent mistakes pass rule verification, and the truth channel flags exactly them", () => {
  const made = samples(0.4);
  const silent = made.filter((s) => s.out.mistake === "wrong_value");
  assert.ok(silent.length > 50 && silent.length < 110, `about 40% of 200 answers carry a silent mistake (${silent.length})`);
  for (const s of made) {
    const verdict = verifyRules(s);
    assert.ok(verdict.ok, `rules accept ${JSON.stringify(s.messages[1])}: ${verdict.reasons.join("; ")}`);
    assert.equal(labelIsWrong(s), s.out.mistake === "wrong_value", `truth for ${JSON.stringify(s.out.toolCalls)} vs ${JSON.stringify(simulatedIntent(s))}`);
  }
  const rate = labelErrorRate(made);
  assert.equal(rate.wrong, silent.length);
  assert.equal(rate.total, 200);
  console.log(`silent mistakes: ${silent.length}/200, truth label error rate ${rate.rate.toFixed(3)}`);
});

test("silent mistakes come from their own stream: every other answer is unchanged, and rate 0 changes nothing", () => {
  const clean = samples(0);
  const noisy = samples(0.4);
  assert.equal(labelErrorRate(clean).wrong, 0);
  clean.forEach((c, i) => {
    if (noisy[i]!.out.mistake !== "wrong_value") assert.deepEqual(noisy[i]!.out, c.out);
    else {
      assert.deepEqual(
        noisy[i]!.out.toolCalls.map((t) => t.name),
        c.out.toolCalls.map((t) => t.name),
        "same calls, one value changed",
      );
      assert.notDeepEqual(noisy[i]!.out.toolCalls, c.out.toolCalls);
    }
  });
});
