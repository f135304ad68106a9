/**
 * Agreement-based prompt logprobs (contract C): a label the simulated policy would produce scores a
 * low perplexity, a corrupted one a high perplexity, measured the way score.perplexity measures it
 * (span from /tokenize with and without the label, logprobs from chat prompt_logprobs).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSimulator } from "../../../src/llm/simulator/server.js";
import { AGREE_LOGPROB, DISAGREE_LOGPROB } from "../../../src/llm/simulator/promptLogprobs.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Sim = Awaited<ReturnType<typeof startSimulator>>;

async function post(sim: Sim, path: string, body: unknown): Promise<Json> {
  const base = path === "/tokenize" ? sim.url.replace(/\/v1$/, "") : sim.url.replace(/\/v1$/, "") + "/v1";
  const res = await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json()) as Json;
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

const TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Get the current weather for a city.",
      parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
    },
  },
  {
    type: "function",
    function: {
      name: "get_stock_price",
      description: "Get the latest price of a stock.",
      parameters: { type: "object", properties: { symbol: { type: "string" } }, required: ["symbol"] },
    },
  },
];
const PROMPT = [
  { role: "system", content: "You can call tools." },
  {
    role: "user",
    content: 'Could you get the current weather for a city with city "Paris" and days = 3? Also, get the latest price of a stock with symbol "NVDA".',
  },
];
const MODEL = "toolloop-sim-policy";

/** What the policy answers greedily to the prompt. */
async function policyAnswer(sim: Sim): Promise<Json> {
  const r = await post(sim, "/chat/completions", { model: MODEL, messages: PROMPT, tools: TOOLS, temperature: 0 });
  const m = r.choices[0].message as Json;
  return { role: "assistant", content: m.content, tool_calls: m.tool_calls };
}

/** Label perplexity as score.perplexity computes it, plus the span's logprobs and the logprobs before it. */
async function labelPpl(sim: Sim, label: Json): Promise<{ ppl: number; span: number[]; before: number[] }> {
  const full = await post(sim, "/tokenize", { model: MODEL, messages: [...PROMPT, label], tools: TOOLS, add_generation_prompt: false });
  const head = await post(sim, "/tokenize", { model: MODEL, messages: PROMPT, tools: TOOLS, add_generation_prompt: true });
  assert.deepEqual((full.tokens as number[]).slice(0, head.count), head.tokens);
  const chat = await post(sim, "/chat/completions", {
    model: MODEL,
    messages: [...PROMPT, label],
    tools: TOOLS,
    max_tokens: 1,
    temperature: 0,
    prompt_logprobs: 0,
    add_generation_prompt: false,
  });
  const lps = (chat.prompt_logprobs as (Json | null)[]).map((e, i) => (e === null ? null : (e[String(full.tokens[i])].logprob as number)));
  assert.equal(lps.length, full.count);
  const span = lps.slice(head.count) as number[];
  const mean = span.reduce((a, b) => a + b, 0) / span.length;
  return { ppl: Math.exp(-mean), span, before: lps.slice(1, head.count) as number[] };
}

function withCall(label: Json, i: number, edit: (name: string, args: Json) => [string, Json]): Json {
  const calls = (label.tool_calls as Json[]).map((c, j) => {
    if (j !== i) return c;
    const [name, args] = edit(c.function.name, JSON.parse(c.function.arguments));
    return { ...c, function: { name, arguments: JSON.stringify(args) } };
  });
  return { ...label, tool_calls: calls };
}

let clean: Sim;
let sloppy: Sim;
before(async () => {
  clean = await startSimulator({ seed: 3, quiet: true });
  sloppy = await startSimulator({ seed: 3, quiet: true, mistakeRate: 1 });
});
after(async () => {
  await clean?.close();
  await sloppy?.close();
});

test("a label the policy would produce has a lower perplexity than a corrupted one", async () => {
  const own = await policyAnswer(clean);
  assert.equal(own.tool_calls.length, 2);
  const agreeing = await labelPpl(clean, own);
  const wrongValue = await labelPpl(
    clean,
    withCall(own, 0, (n, a) => [n, { ...a, city: "Tokyo" }]),
  );
  const wrongTool = await labelPpl(
    clean,
    withCall(own, 1, (_n, a) => ["get_weather", { city: String(a.symbol) }]),
  );
  console.log(`label PPL: policy's own ${agreeing.ppl.toFixed(3)}, wrong value ${wrongValue.ppl.toFixed(3)}, wrong tool ${wrongTool.ppl.toFixed(3)}`);
  for (const lp of agreeing.span) assert.ok(lp <= AGREE_LOGPROB.max && lp >= AGREE_LOGPROB.min, `agreeing token logprob ${lp}`);
  assert.ok(agreeing.ppl < 1.25);
  assert.ok(wrongValue.ppl > agreeing.ppl + 0.05, `${wrongValue.ppl} vs ${agreeing.ppl}`);
  assert.ok(wrongTool.ppl > wrongValue.ppl, "more disagreeing tokens, higher perplexity");
  const low = wrongValue.span.filter((lp) => lp <= DISAGREE_LOGPROB.max);
  assert.ok(low.length >= 1 && low.length <= 3, `only the changed value's tokens are unlikely (${low.length})`);
  // Outside the final turn the logprobs do not depend on the label.
  assert.deepEqual(wrongValue.before, agreeing.before);
});

test("agreement is with the policy, not with the truth: a policy that errs prefers its own mistake", async () => {
  const mistaken = await policyAnswer(sloppy);
  const truth = await policyAnswer(clean);
  assert.notDeepEqual(
    mistaken.tool_calls.map((c: Json) => c.function),
    truth.tool_calls.map((c: Json) => c.function),
  );
  const own = await labelPpl(sloppy, mistaken);
  const right = await labelPpl(sloppy, truth);
  assert.ok(own.ppl < right.ppl, `own mistaken answer ${own.ppl} vs the right label ${right.ppl}`);
});
