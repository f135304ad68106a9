/**
 * The simulated judge (contract A) and error expander (contract B), spoken to in the wire protocol.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { writeQuery, type SimTool } from "../../../src/llm/simulator/queryWriter.js";
import { chatRequestSchema } from "../../../src/llm/simulator/requests.js";
import { scriptChat } from "../../../src/llm/simulator/scripts.js";
import { startSimulator } from "../../../src/llm/simulator/server.js";
import { intentCalls } from "../../../src/llm/simulator/truth.js";
import { SeededRandom } from "../../../src/util/random.js";

const TOOLS: SimTool[] = [
  {
    name: "book_flight",
    description: "Book a flight between two airports.",
    parameters: {
      type: "object",
      properties: {
        origin: { type: "string" },
        destination: { type: "string" },
        cabin: { type: "string", enum: ["economy", "business", "first"] },
        passengers: { type: "integer", minimum: 1, maximum: 9 },
      },
      required: ["origin", "destination", "cabin", "passengers"],
    },
  },
  {
    name: "convert_currency",
    description: "Convert an amount of money between currencies.",
    parameters: {
      type: "object",
      properties: { amount: { type: "number" }, currency: { type: "string", enum: ["USD", "EUR", "JPY"] } },
      required: ["amount", "currency"],
    },
  },
];
const openAi = TOOLS.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } }));

type Call = { name: string; arguments: Record<string, unknown> };
type Answer = { content: string | null; tool_calls: Call[] };

function conversation(seed: number, tools = TOOLS): { messages: { role: string; content: string }[]; truth: Answer } {
  const query = writeQuery(new SeededRandom(seed), { kind: tools.length > 1 ? "parallel" : "standard", tools });
  const messages = [{ role: "user", content: query }];
  const truth = intentCalls(messages, TOOLS).map((c) => ({ name: c.name, arguments: c.args }));
  assert.equal(truth.length, tools.length, query);
  return { messages, truth: { content: null, tool_calls: truth } };
}

function corrupt(a: Answer): Answer {
  const [first, ...rest] = a.tool_calls;
  return {
    content: null,
    tool_calls: [{ name: first!.name, arguments: { ...first!.arguments, cabin: first!.arguments.cabin === "first" ? "economy" : "first" } }, ...rest],
  };
}

function judgeBody(task: "label-judgement" | "label-check", c: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return chatRequestSchema.parse({
    model: "toolloop-sim-judge",
    messages: [
      { role: "system", content: `### task: ${task}\nYou review tool-use training data.` },
      { role: "user", content: "Case:\n```json\n" + JSON.stringify(c, null, 1) + "\n```" },
    ],
    response_format: { type: "json_schema", json_schema: { name: "label_judgement", schema: { type: "object" } } },
    temperature: 0.7,
    ...extra,
  });
}

function verdictOf(body: ReturnType<typeof judgeBody>, judgeErrorRate = 0): { verdict: string; analysis: string } {
  const out = scriptChat(body, 11, 0, undefined, { judgeErrorRate });
  assert.equal(out.role, "judge");
  return JSON.parse(out.content!) as { verdict: string; analysis: string };
}

test("judge at error rate 0: the four verdicts from the intent, with an analysis naming what differs", () => {
  const { messages, truth } = conversation(21);
  const wrong = corrupt(truth);
  const ask = (label: Answer, prediction: Answer) => verdictOf(judgeBody("label-judgement", { tools: openAi, messages, label, prediction }));
  const labelWrong = ask(wrong, truth);
  assert.equal(labelWrong.verdict, "LABEL_WRONG");
  const bad = wrong.tool_calls[0]!.arguments.cabin as string;
  const good = truth.tool_calls[0]!.arguments.cabin as string;
  assert.ok(labelWrong.analysis.includes(`book_flight sets cabin to "${bad}"; the request asks for "${good}"`), labelWrong.analysis);
  assert.equal(ask(truth, wrong).verdict, "PRED_WRONG");
  assert.equal(ask(truth, truth).verdict, "BOTH_CORRECT");
  const noCall = { content: "I can't help with that.", tool_calls: [] };
  const bothWrong = ask(wrong, noCall);
  assert.equal(bothWrong.verdict, "BOTH_WRONG");
  assert.match(bothWrong.analysis, /prediction makes no call; the request needs book_flight, convert_currency/);
  const renamed = { content: null, tool_calls: [{ ...truth.tool_calls[0]!, name: "convert_currency" }, truth.tool_calls[1]!] };
  assert.match(ask(truth, renamed).analysis, /call 1: calls convert_currency where the request needs book_flight/);

  assert.equal(verdictOf(judgeBody("label-check", { tools: openAi, messages, label: truth })).verdict, "CORRECT");
  const check = verdictOf(judgeBody("label-check", { tools: openAi, messages, label: wrong }));
  assert.equal(check.verdict, "INCORRECT");
  assert.match(check.analysis, /cabin/);
});

test("judge at error rate 0.3 errs about 30% of the time; judge models and per-request seeds err independently", () => {
  const { messages, truth } = conversation(22);
  const c = { tools: openAi, messages, label: corrupt(truth), prediction: truth };
  const wrongBy = (model: string) => {
    const errs: boolean[] = [];
    for (let seed = 0; seed < 500; seed++) errs.push(verdictOf(judgeBody("label-judgement", c, { model, seed }), 0.3).verdict !== "LABEL_WRONG");
    return errs;
  };
  const a = wrongBy("toolloop-sim-judge");
  const b = wrongBy("toolloop-sim-judge-2");
  const share = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;
  console.log(`judge error share at rate 0.3: ${share(a).toFixed(3)} (model a), ${share(b).toFixed(3)} (model b)`);
  assert.ok(Math.abs(share(a) - 0.3) < 0.06 && Math.abs(share(b) - 0.3) < 0.06);
  const both = a.filter((x, i) => x && b[i]).length / a.length;
  assert.ok(Math.abs(both - 0.09) < 0.05, `both judges wrong on the same request ${both} (independent: about 0.09)`);
  // Deterministic for the same request body.
  assert.deepEqual(verdictOf(judgeBody("label-judgement", c, { seed: 3 }), 0.3), verdictOf(judgeBody("label-judgement", c, { seed: 3 }), 0.3));
});

function expansionBody(seed: { query: string; calls: Call[] }, variation: Record<string, unknown>) {
  return chatRequestSchema.parse({
    model: "toolloop-sim-generator",
    messages: [
      { role: "system", content: "### task: error-expansion\nWrite a new user request with the same calls in shape." },
      { role: "user", content: "```json\n" + JSON.stringify({ tools: openAi, seed, variation }) + "\n```" },
    ],
    response_format: { type: "json_schema", json_schema: { name: "expansion", schema: { type: "object" } } },
  });
}

test("error expansion keeps the call shape, changes the values and speaks as the persona", () => {
  const { messages, truth } = conversation(23);
  const seed = { query: messages[0]!.content, calls: truth.tool_calls };
  const queries = new Set<string>();
  for (let index = 0; index < 6; index++) {
    const variation = { index, persona: "a retired sea captain", style: "chatty", complexity: index % 2 === 0 ? "richer" : "simpler" };
    const out = scriptChat(expansionBody(seed, variation), 5, 0);
    assert.equal(out.role, "error-expansion");
    const { query } = JSON.parse(out.content!) as { query: string };
    assert.deepEqual(scriptChat(expansionBody(seed, variation), 5, 0), out, "deterministic");
    const calls = intentCalls([{ role: "user", content: query }], TOOLS);
    assert.deepEqual(
      calls.map((c) => c.name),
      ["book_flight", "convert_currency"],
      query,
    );
    assert.notDeepEqual(
      calls.map((c) => c.args),
      truth.tool_calls.map((c) => c.arguments),
      "fresh values",
    );
    assert.match(query, /retired sea captain/);
    queries.add(query);
  }
  assert.equal(queries.size, 6, "each variation is a different request");

  const irrelevant = { query: "Tell me a fun fact about octopuses.", calls: [] };
  const out = scriptChat(expansionBody(irrelevant, { index: 0, persona: "a student", style: "terse", complexity: "same" }), 5, 0);
  const { query } = JSON.parse(out.content!) as { query: string };
  assert.notEqual(query, irrelevant.query);
  assert.deepEqual(intentCalls([{ role: "user", content: query }], TOOLS), []);
});

let sim: Awaited<ReturnType<typeof startSimulator>>;
before(async () => {
  sim = await startSimulator({ seed: 1, quiet: true, judgeErrorRate: 0 });
});
after(async () => {
  await sim?.close();
});

test("over HTTP: a judge answer in the response_format's shape; a bad judgeErrorRate names the option", async () => {
  const { messages, truth } = conversation(24);
  const body = judgeBody("label-judgement", { tools: openAi, messages, label: truth, prediction: corrupt(truth) });
  const res = await fetch(`${sim.url}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json()) as { choices: { message: { content: string } }[] };
  const answer = JSON.parse(json.choices[0]!.message.content) as { verdict: string; analysis: string };
  assert.deepEqual(Object.keys(answer).sort(), ["analysis", "verdict"]);
  assert.equal(answer.verdict, "PRED_WRONG");
  await assert.rejects(startSimulator({ quiet: true, judgeErrorRate: 1.5 }), /simulator judgeErrorRate must be a number between 0 and 1/);
  await assert.rejects(startSimulator({ quiet: true, silentMistakeRate: -1 }), /simulator silentMistakeRate must be a number between 0 and 1/);
});

test("a repair turn appended after the case does not hide it", () => {
  const { messages, truth } = conversation(25);
  const body = judgeBody("label-judgement", { tools: openAi, messages, label: corrupt(truth), prediction: truth });
  const repaired = chatRequestSchema.parse({
    ...body,
    messages: [...body.messages, { role: "assistant", content: "{}" }, { role: "user", content: "Your reply could not be used: verdict: Field required." }],
  });
  assert.equal(verdictOf(repaired).verdict, "LABEL_WRONG");
});

test("judge: a 20-digit id is read from the case and the request with every digit", () => {
  // The judge read its case and the request's values with JSON.parse: 12345678901234567890 and
  // 12345678901234567891 were one double, so a label naming the other order was judged correct.
  const cancel = {
    type: "function",
    function: {
      name: "cancel_order",
      description: "Cancel an order.",
      parameters: { type: "object", properties: { order_id: { type: "integer" } }, required: ["order_id"] },
    },
  };
  const messages = [{ role: "user", content: "Cancel my order. order_id: 12345678901234567891" }];
  const caseText = (id: string) =>
    `{"tools": ${JSON.stringify([cancel])}, "messages": ${JSON.stringify(messages)}, "label": {"content": null, "tool_calls": [{"name": "cancel_order", "arguments": {"order_id": ${id}}}]}}`;
  const ask = (id: string) => {
    const body = chatRequestSchema.parse({
      model: "toolloop-sim-judge",
      messages: [
        { role: "system", content: "### task: label-check\nYou review tool-use training data." },
        { role: "user", content: "Case:\n```json\n" + caseText(id) + "\n```" },
      ],
      response_format: { type: "json_schema", json_schema: { name: "label_judgement", schema: { type: "object" } } },
      temperature: 0.7,
    });
    return verdictOf(body);
  };
  assert.equal(ask("12345678901234567891").verdict, "CORRECT");
  const other = ask("12345678901234567890");
  assert.equal(other.verdict, "INCORRECT");
  assert.match(other.analysis, /cancel_order sets order_id to 12345678901234567890; the request asks for 12345678901234567891/);
});
