/**
 * Regression guard: what the scripted roles answer must not move when options that default to off are
 * added. The digest was taken from the simulator before silentMistakeRate, judges, expansion and
 * agreement-based prompt logprobs existed; any change to existing answers changes it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { chatRequestSchema } from "../../../src/llm/simulator/requests.js";
import { scriptChat } from "../../../src/llm/simulator/scripts.js";
import { writeQuery, type SimTool } from "../../../src/llm/simulator/queryWriter.js";
import { sha256Hex } from "../../../src/util/ids.js";
import { SeededRandom } from "../../../src/util/random.js";
import { buildUserQueryPrompt, USER_QUERY_SYSTEM_PROMPT } from "../../../src/synthesis/prompts.js";

const TOOLS: SimTool[] = [
  {
    name: "get_weather",
    description: "Get the current weather for a city.",
    parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
  },
  {
    name: "get_stock_price",
    description: "Get the latest price of a stock.",
    parameters: { type: "object", properties: { symbol: { type: "string" }, exchange: { type: "string", enum: ["NYSE", "NASDAQ"] } }, required: ["symbol"] },
  },
  {
    name: "book_hotel",
    description: "Book a hotel room in a city.",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string" },
        start_date: { type: "string", format: "date" },
        guests: { type: "integer", minimum: 1, maximum: 6 },
        breakfast: { type: "boolean" },
      },
      required: ["city", "start_date", "guests"],
    },
  },
];
const openAi = TOOLS.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } }));

/** Every answer of a fixed corpus, in order. */
function corpusAnswers(): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < 60; i++) {
    const rng = new SeededRandom(1000 + i);
    const picked = i % 3 === 0 ? [TOOLS[i % TOOLS.length]!] : [TOOLS[i % TOOLS.length]!, TOOLS[(i + 1) % TOOLS.length]!];
    const query = writeQuery(rng, { kind: picked.length === 1 ? "standard" : "parallel", tools: picked });
    const body = chatRequestSchema.parse({ model: "toolloop-sim", messages: [{ role: "user", content: query }], tools: openAi, temperature: 0 });
    for (const rate of [0, 0.3, 1]) {
      out.push(scriptChat(body, i, rate));
      out.push(scriptChat(body, i, rate, (tool) => (tool === "get_weather" ? 0.2 : 1)));
    }
  }
  const writer = chatRequestSchema.parse({
    messages: [
      { role: "system", content: USER_QUERY_SYSTEM_PROMPT },
      {
        role: "user",
        content: buildUserQueryPrompt(
          "parallel",
          [TOOLS[0]!, TOOLS[2]!].map((t) => ({ name: t.name, description: t.description, inputSchema: t.parameters as never })),
          [],
        ),
      },
    ],
  });
  out.push(scriptChat(writer, 3, 0.5));
  out.push(
    scriptChat(
      chatRequestSchema.parse({
        messages: [{ role: "user", content: "hi" }],
        response_format: {
          type: "json_schema",
          json_schema: { name: "x", schema: { type: "object", properties: { verdict: { type: "string", enum: ["A", "B"] } }, required: ["verdict"] } },
        },
      }),
      2,
      0,
    ),
  );
  out.push(scriptChat(chatRequestSchema.parse({ messages: [{ role: "user", content: "Tell me a joke." }] }), 2, 0));
  return out;
}

test("existing answers are byte-identical to the simulator's before the self-evolution options", () => {
  const digest = sha256Hex(JSON.stringify(corpusAnswers()));
  assert.equal(digest, "f03ff8272960366da35ba85f71e770fdc76e67518e82a10fd87f3ef23fd18875");
});
