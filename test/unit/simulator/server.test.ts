/**
 * The simulator's vLLM-shaped surface, determinism, capacity queueing, fault injection and shutdown.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSimulator } from "../../../src/llm/simulator/server.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let sim: Awaited<ReturnType<typeof startSimulator>>;
const root = () => sim.url.replace(/\/v1$/, "");

async function post(path: string, body: unknown, base = root()): Promise<{ status: number; json: Json; headers: Headers; text: string }> {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // Malformed bodies are what some tests look for.
  }
  return { status: res.status, json, headers: res.headers, text };
}

const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather for a city.",
    parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
  },
};
const STOCK = {
  type: "function",
  function: {
    name: "get_stock_price",
    description: "Get the latest price of a stock.",
    parameters: { type: "object", properties: { symbol: { type: "string" } }, required: ["symbol"] },
  },
};
const chatWithTools = {
  model: "toolloop-sim",
  messages: [
    { role: "system", content: "You can call tools." },
    {
      role: "user",
      content: 'Could you get the current weather for a city with city "Paris" and days = 3? Also, get the latest price of a stock with symbol "NVDA".',
    },
  ],
  tools: [WEATHER, STOCK],
  tool_choice: "auto",
};

before(async () => {
  sim = await startSimulator({ seed: 1, quiet: true, maxConcurrency: 8 });
});
after(async () => {
  await sim?.close();
});

test("chat with tools: vLLM shape with tool_calls, usage and the simulator's marks", async () => {
  const r = await post("/v1/chat/completions", chatWithTools);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("x-toolloop-simulator"), "1");
  const j = r.json;
  assert.equal(j.object, "chat.completion");
  assert.equal(j.model, "toolloop-sim");
  assert.equal(j.system_fingerprint, "toolloop-simulator");
  assert.match(j.id, /^chatcmpl-/);
  assert.equal(typeof j.created, "number");
  const choice = j.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.role, "assistant");
  assert.equal(choice.message.content, null);
  const calls = choice.message.tool_calls as Json[];
  assert.equal(calls.length, 2);
  for (const c of calls) {
    assert.match(c.id, /^chatcmpl-tool-[0-9a-f]{32}$/);
    assert.equal(c.type, "function");
    assert.equal(typeof c.function.arguments, "string");
  }
  assert.deepEqual(
    calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
    [
      ["get_weather", { city: "Paris", days: 3 }],
      ["get_stock_price", { symbol: "NVDA" }],
    ],
  );
  assert.ok(j.usage.prompt_tokens > 0 && j.usage.completion_tokens > 0);
  assert.equal(j.usage.total_tokens, j.usage.prompt_tokens + j.usage.completion_tokens);
  assert.equal(j.prompt_logprobs, null);
});

test("chat with tools: max_tokens ending generation inside the calls gives vLLM's shape (no tool_calls, the cut text, finish length)", async () => {
  const full = (await post("/v1/chat/completions", chatWithTools)).json;
  const needed = full.usage.completion_tokens as number;
  // Enough tokens: the calls as before.
  const enough = (await post("/v1/chat/completions", { ...chatWithTools, max_tokens: needed })).json;
  assert.equal(enough.choices[0].finish_reason, "tool_calls");
  assert.equal(enough.choices[0].message.tool_calls.length, 2);
  // Cut inside the second call: the hermes parser cannot read the block, so everything is content.
  const cut = (await post("/v1/chat/completions", { ...chatWithTools, max_tokens: needed - 5 })).json;
  const choice = cut.choices[0];
  assert.equal(choice.finish_reason, "length");
  assert.deepEqual(choice.message.tool_calls, []);
  assert.match(
    choice.message.content,
    /^<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Paris", "days": 3\}\}\n<\/tool_call>\n<tool_call>\n\{"name": "get_stock_price"/,
  );
  assert.ok(!choice.message.content.endsWith("</tool_call>"), "the second call is cut");
  assert.ok(cut.usage.completion_tokens <= needed - 5, `completion_tokens ${cut.usage.completion_tokens} within max_tokens ${needed - 5}`);
  // Cut inside the first call: still no call.
  const early = (await post("/v1/chat/completions", { ...chatWithTools, max_tokens: 4 })).json;
  assert.equal(early.choices[0].finish_reason, "length");
  assert.deepEqual(early.choices[0].message.tool_calls, []);
  assert.ok(early.usage.completion_tokens <= 4);
});

test("reasoning models: each of vLLM's shapes (parser, inline, opened by the template), for the models named; the answer and calls unchanged", async () => {
  const plain = (await post("/v1/chat/completions", chatWithTools)).json.choices[0];
  const jsonAsk = {
    model: "toolloop-sim-judge",
    messages: [{ role: "user", content: "Give an object." }],
    response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object", properties: { a: { type: "string" } }, required: ["a"] } } },
  };
  const plainJson = (await post("/v1/chat/completions", jsonAsk)).json.choices[0].message.content as string;
  for (const style of ["parser", "inline", "inlineOpened"] as const) {
    const own = await startSimulator({ seed: 1, quiet: true, reasoning: { style, models: ["toolloop-sim"] } });
    try {
      const r = (await post("/v1/chat/completions", chatWithTools, own.url.replace(/\/v1$/, ""))).json;
      const m = r.choices[0].message;
      assert.equal(r.choices[0].finish_reason, "tool_calls", style);
      assert.deepEqual(m.tool_calls, plain.message.tool_calls, `${style}: the same calls`);
      assert.ok(r.usage.completion_tokens > 0);
      const thought =
        /^Okay, let me think about which tools fit the request\. I should call get_weather with \{"city": "Paris", "days": 3\}, then call get_stock_price/;
      if (style === "parser") {
        assert.equal(m.content, null, "only calls: no content");
        assert.match(m.reasoning_content, thought);
        assert.equal(m.reasoning, m.reasoning_content);
      } else {
        assert.equal(m.reasoning_content, null);
        assert.equal(m.reasoning, undefined);
        const [before, after] = (m.content as string).split("</think>");
        assert.match(before!, style === "inline" ? /^<think>\n/ : /^Okay/);
        assert.match(before!.replace(/^<think>\n/, ""), thought);
        assert.equal(after, "\n\n", "nothing after the thought but the calls");
      }
      // A model not named answers without reasoning.
      const other = (await post("/v1/chat/completions", jsonAsk, own.url.replace(/\/v1$/, ""))).json.choices[0].message;
      assert.deepEqual([other.content, other.reasoning_content], [plainJson, null]);
      // Cut off while thinking: no answer, no calls.
      const cut = (await post("/v1/chat/completions", { ...chatWithTools, max_tokens: 3 }, own.url.replace(/\/v1$/, ""))).json;
      assert.equal(cut.choices[0].finish_reason, "length");
      assert.deepEqual(cut.choices[0].message.tool_calls, []);
      assert.ok(cut.usage.completion_tokens <= 3);
      if (style === "parser") assert.equal(cut.choices[0].message.content, null);
      else assert.doesNotMatch(cut.choices[0].message.content as string, /<\/think>/);
    } finally {
      await own.close();
    }
  }
  await assert.rejects(
    startSimulator({ quiet: true, reasoning: { style: "r1" as "parser" } }),
    /simulator reasoning\.style must be one of parser, inline, inlineOpened/,
  );
  await assert.rejects(startSimulator({ quiet: true, reasoning: { style: "parser", models: [] } }), /simulator reasoning\.models must be a non-empty list/);
});

test("chat: tool_choice none declines in text, required forces a call, plain chat answers in text", async () => {
  const off = await post("/v1/chat/completions", { ...chatWithTools, messages: [{ role: "user", content: "Write a haiku about snow." }] });
  assert.equal(off.json.choices[0].finish_reason, "stop");
  assert.deepEqual(off.json.choices[0].message.tool_calls, []);
  assert.ok((off.json.choices[0].message.content as string).length > 0);
  const forced = await post("/v1/chat/completions", {
    ...chatWithTools,
    messages: [{ role: "user", content: "Write a haiku about snow." }],
    tool_choice: "required",
  });
  assert.equal(forced.json.choices[0].message.tool_calls.length, 1);
  const named = await post("/v1/chat/completions", { ...chatWithTools, tool_choice: { type: "function", function: { name: "get_stock_price" } } });
  assert.deepEqual(
    named.json.choices[0].message.tool_calls.map((c: Json) => c.function.name),
    ["get_stock_price"],
  );
  const none = await post("/v1/chat/completions", { ...chatWithTools, tool_choice: "none" });
  assert.deepEqual(none.json.choices[0].message.tool_calls, []);
  const plain = await post("/v1/chat/completions", { messages: [{ role: "user", content: "hello" }], logprobs: true, top_logprobs: 2 });
  assert.equal(typeof plain.json.choices[0].message.content, "string");
  const lp = plain.json.choices[0].logprobs.content as Json[];
  assert.ok(lp.length > 0 && lp[0]!.top_logprobs.length === 2 && typeof lp[0]!.logprob === "number" && Array.isArray(lp[0]!.bytes));
});

test("chat: response_format json_schema of an unscripted role yields an object satisfying the schema", async () => {
  const schema = {
    type: "object",
    properties: {
      verdict: { type: "string", enum: ["PRED_WRONG", "LABEL_WRONG", "BOTH_CORRECT", "BOTH_WRONG"] },
      confidence: { type: "number", minimum: 0, maximum: 1 },
      reasons: { type: "array", items: { type: "string" } },
    },
    required: ["verdict", "confidence", "reasons"],
    additionalProperties: false,
  };
  const r = await post("/v1/chat/completions", {
    messages: [{ role: "user", content: "Judge this." }],
    response_format: { type: "json_schema", json_schema: { name: "judgement", schema, strict: true } },
  });
  const v = JSON.parse(r.json.choices[0].message.content as string) as Json;
  assert.ok(schema.properties.verdict.enum.includes(v.verdict));
  assert.ok(v.confidence >= 0 && v.confidence <= 1);
  assert.ok(Array.isArray(v.reasons));
});

test("an integer a double cannot hold in a request keeps its digits in what the simulator echoes (calls, JSON answers, rendered prompts)", async () => {
  // The body was read with JSON.parse: 12345678901234567891 came back as 12345678901234567000.
  const BIG = "12345678901234567891";
  const tool = `{"type": "function", "function": {"name": "cancel_order", "description": "Cancel an order", "parameters": {"type": "object", "properties": {"order_id": {"type": "integer", "enum": [${BIG}]}}, "required": ["order_id"]}}}`;
  const hasBig = (text: string) => text.includes(BIG) && !text.includes("12345678901234567000");
  // The simulated assistant's call takes the only value the schema allows.
  const call = await post(
    "/v1/chat/completions",
    `{"model": "toolloop-sim", "messages": [{"role": "user", "content": "Cancel my order."}], "tools": [${tool}], "tool_choice": "required"}`,
  );
  assert.equal(call.status, 200, call.text);
  const args = call.json.choices[0].message.tool_calls[0].function.arguments as string;
  assert.ok(hasBig(args), args);
  // A JSON answer to a schema whose const is the integer.
  const answer = await post(
    "/v1/chat/completions",
    `{"messages": [{"role": "user", "content": "Which order?"}], "response_format": {"type": "json_schema", "json_schema": {"name": "order", "schema": {"type": "object", "properties": {"id": {"const": ${BIG}}}, "required": ["id"]}}}}`,
  );
  assert.equal(answer.status, 200, answer.text);
  assert.ok(hasBig(answer.json.choices[0].message.content as string), answer.json.choices[0].message.content as string);
  // The chat template renders the tools and a call's arguments (given as an object, as the template takes them) with every digit.
  const tokens = await post(
    "/tokenize",
    `{"model": "toolloop-sim", "return_token_strs": true, "tools": [${tool}], "messages": [{"role": "user", "content": "Cancel it."}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "cancel_order", "arguments": {"order_id": ${BIG}}}}]}, {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "done"}]}]}`,
  );
  assert.equal(tokens.status, 200, tokens.text);
  const rendered = (tokens.json.token_strs as string[]).join("");
  assert.equal(rendered.split(BIG).length - 1, 2, rendered);
  assert.ok(hasBig(rendered));
  // The request's own parameters are read as before, as numbers: a seed past 2^53 is refused as too big, not as a bigint.
  const seeded = await post("/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "seed": ${BIG}}`);
  assert.equal(seeded.status, 400, seeded.text);
  assert.match(seeded.json.message as string, /seed: Too big: expected int to be <=9007199254740991/);
});

test("determinism: the same request gives the same content and calls regardless of key order", async () => {
  const reordered = {
    tool_choice: "auto",
    tools: [WEATHER, STOCK].map((t) => ({
      function: { parameters: t.function.parameters, description: t.function.description, name: t.function.name },
      type: "function",
    })),
    messages: chatWithTools.messages.map((m) => ({ content: m.content, role: m.role })),
    model: "toolloop-sim",
  };
  const [a, b] = await Promise.all([post("/v1/chat/completions", chatWithTools), post("/v1/chat/completions", reordered)]);
  assert.deepEqual(b.json.choices[0].message, a.json.choices[0].message);
  const other = await startSimulator({ seed: 2, quiet: true });
  try {
    const c = await post(
      "/v1/chat/completions",
      { ...chatWithTools, messages: [{ role: "user", content: "tell me something" }] },
      other.url.replace(/\/v1$/, ""),
    );
    const d = await post("/v1/chat/completions", { ...chatWithTools, messages: [{ role: "user", content: "tell me something" }] });
    assert.equal(typeof c.json.choices[0].message.content, "string");
    assert.equal(typeof d.json.choices[0].message.content, "string");
  } finally {
    await other.close();
  }
});

test("completions: prompt_logprobs first null then dicts by token id; echo and logprobs", async () => {
  const r = await post("/v1/completions", {
    model: "toolloop-sim",
    prompt: "The capital of France is Paris.",
    max_tokens: 1,
    prompt_logprobs: 0,
    echo: true,
    logprobs: 1,
  });
  assert.equal(r.status, 200);
  const j = r.json;
  assert.equal(j.object, "text_completion");
  const c = j.choices[0];
  assert.ok((c.text as string).startsWith("The capital of France is Paris."));
  assert.equal(c.finish_reason, "length");
  const pl = c.prompt_logprobs as (Json | null)[];
  const tok = await post("/tokenize", { model: "toolloop-sim", prompt: "The capital of France is Paris." });
  assert.equal(pl.length, tok.json.count);
  assert.equal(pl[0], null);
  for (let i = 1; i < pl.length; i++) {
    const entry = pl[i]!;
    const actual = entry[String(tok.json.tokens[i])] as Json;
    assert.ok(actual, `position ${i} holds the actual token`);
    assert.ok(actual.logprob <= 0 && Number.isInteger(actual.rank) && actual.rank >= 1 && typeof actual.decoded_token === "string");
  }
  assert.equal(pl.slice(1).map((e) => (Object.values(e!).find((x: Json) => x.decoded_token !== undefined) as Json).decoded_token).length, pl.length - 1);
  assert.equal(c.logprobs.token_logprobs[0], null);
  assert.equal(j.usage.prompt_tokens, tok.json.count);
});

test("/tokenize, /v1/embeddings and /v1/models", async () => {
  const t = await post("/tokenize", { model: "toolloop-sim", prompt: "Hello, world!" });
  assert.deepEqual(Object.keys(t.json).sort(), ["count", "max_model_len", "token_strs", "tokens"]);
  assert.equal(t.json.count, 4);
  assert.equal(t.json.tokens.length, 4);
  assert.equal(t.json.max_model_len, 32768);

  const e = await post("/v1/embeddings", { model: "toolloop-sim", input: ["weather in Paris", "weather in Paris", "stock price of NVDA"] });
  const vecs = (e.json.data as Json[]).map((d) => d.embedding as number[]);
  assert.equal(e.json.object, "list");
  assert.equal(vecs[0]!.length, 384);
  assert.deepEqual(vecs[0], vecs[1]);
  const norm = Math.sqrt(vecs[2]!.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-9);
  const small = await post("/v1/embeddings", { input: "weather in Paris", dimensions: 16 });
  assert.equal(small.json.data[0].embedding.length, 16);

  const m = await fetch(`${sim.url}/models`);
  const mj = (await m.json()) as Json;
  assert.equal(mj.object, "list");
  const card = (mj.data as Json[]).find((d) => d.id === "toolloop-sim")!;
  assert.equal(card.object, "model");
  assert.equal(card.owned_by, "vllm");
  assert.equal(card.max_model_len, 32768);
});

test("errors: vLLM error JSON naming the field; unknown model 404; bad JSON 400; unknown route 404", async () => {
  const missing = await post("/v1/chat/completions", { model: "toolloop-sim" });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.object, "error");
  assert.equal(missing.json.type, "BadRequestError");
  assert.equal(missing.json.code, 400);
  assert.equal(missing.json.param, null);
  assert.match(missing.json.message as string, /messages: Field required/);
  const badTool = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], tools: [{ type: "function", function: { name: 3 } }] });
  assert.match(badTool.json.message as string, /tools\.0\.function\.name/);
  const unknown = await post("/v1/chat/completions", { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.type, "NotFoundError");
  assert.match(unknown.json.message as string, /gpt-4o/);
  const garbage = await post("/v1/chat/completions", "{not json");
  assert.equal(garbage.status, 400);
  assert.match(garbage.json.message as string, /JSON/);
  const stream = await post("/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], stream: true });
  assert.equal(stream.status, 400);
  const route = await post("/v1/nope", {});
  assert.equal(route.status, 404);
});

test("capacity: with maxConcurrency c, 3c requests at 100 ms each run c at a time", async () => {
  const cap = 4;
  const s = await startSimulator({ seed: 3, quiet: true, maxConcurrency: cap, latencyMs: 100 });
  try {
    const t0 = Date.now();
    const all = await Promise.all(
      Array.from({ length: 3 * cap }, (_, i) => post("/v1/chat/completions", { messages: [{ role: "user", content: `hi ${i}` }] }, s.url.replace(/\/v1$/, ""))),
    );
    const elapsed = Date.now() - t0;
    assert.ok(all.every((r) => r.status === 200));
    const st = s.stats();
    assert.equal(st.maxInFlight, cap);
    assert.equal(st.requests, 3 * cap);
    assert.equal(st.completed, 3 * cap);
    assert.equal(st.byPath["/v1/chat/completions"], 3 * cap);
    assert.ok(elapsed >= 290 && elapsed < 1500, `three rounds of 100 ms took ${elapsed} ms`);
  } finally {
    await s.close();
  }
});

test("faults: each kind is observable and counted; setFaults replaces the rates", async () => {
  const s = await startSimulator({ seed: 4, quiet: true });
  const base = s.url.replace(/\/v1$/, "");
  try {
    s.setFaults({ rate429: 1 });
    const r429 = await post("/v1/chat/completions", chatWithTools, base);
    assert.equal(r429.status, 429);
    assert.equal(r429.headers.get("retry-after"), "1");
    assert.equal(r429.json.object, "error");

    s.setFaults({ rate500: 1 });
    const r500 = await post("/v1/chat/completions", chatWithTools, base);
    assert.equal(r500.status, 500);
    assert.equal(r500.json.type, "InternalServerError");

    s.setFaults({ rateMalformedJson: 1 });
    const bad = await post("/v1/chat/completions", chatWithTools, base);
    assert.equal(bad.status, 200);
    assert.throws(() => JSON.parse(bad.text));

    // As vLLM's hermes tool parser answers a generation cut inside a call: no tool_calls, the raw text as content.
    s.setFaults({ rateTruncatedToolCalls: 1 });
    const cut = await post("/v1/chat/completions", chatWithTools, base);
    assert.equal(cut.json.choices[0].finish_reason, "length");
    assert.deepEqual(cut.json.choices[0].message.tool_calls, []);
    assert.match(cut.json.choices[0].message.content as string, /^<tool_call>\n\{"name": "get_weather", "arguments": \{/);
    assert.doesNotMatch(cut.json.choices[0].message.content as string, /<\/tool_call>/);

    s.setFaults({ rateHang: 1 });
    await assert.rejects(
      fetch(base + "/v1/chat/completions", { method: "POST", body: JSON.stringify(chatWithTools), signal: AbortSignal.timeout(200) }),
      /abort|timeout/i,
    );

    s.setFaults({});
    const ok = await post("/v1/chat/completions", chatWithTools, base);
    assert.equal(ok.status, 200);
    assert.deepEqual(s.stats().faultsInjected, { "429": 1, "500": 1, malformedJson: 1, truncatedToolCalls: 1, hang: 1 });
    assert.throws(() => s.setFaults({ rate500: 2 }), /rate500/);
  } finally {
    await s.close();
  }
});

test("faults come from their own stream: content under faults equals content without", async () => {
  const s = await startSimulator({ seed: 1, quiet: true, faults: { rate500: 0.5 } });
  try {
    let got: Json | undefined;
    for (let i = 0; i < 20 && !got; i++) {
      const r = await post("/v1/chat/completions", chatWithTools, s.url.replace(/\/v1$/, ""));
      if (r.status === 200) got = r.json;
    }
    const clean = await post("/v1/chat/completions", chatWithTools);
    assert.deepEqual(got?.choices[0].message, clean.json.choices[0].message);
  } finally {
    await s.close();
  }
});

test("close() ends hung and queued requests and resolves", async () => {
  const s = await startSimulator({ seed: 6, quiet: true, maxConcurrency: 1, latencyMs: 5_000, faults: { rateHang: 0 } });
  const base = s.url.replace(/\/v1$/, "");
  s.setFaults({ rateHang: 1 });
  const hung = fetch(base + "/v1/chat/completions", { method: "POST", body: JSON.stringify(chatWithTools) });
  await new Promise((r) => setTimeout(r, 50));
  s.setFaults({});
  const slow = fetch(base + "/v1/chat/completions", { method: "POST", body: JSON.stringify(chatWithTools) });
  const queued = fetch(base + "/v1/chat/completions", { method: "POST", body: JSON.stringify(chatWithTools) });
  await new Promise((r) => setTimeout(r, 50));
  const settled = Promise.allSettled([hung, slow, queued]);
  const t0 = Date.now();
  await s.close();
  assert.ok(Date.now() - t0 < 2_000, "close does not wait for latency or hung requests");
  assert.deepEqual(
    (await settled).map((r) => r.status),
    ["rejected", "rejected", "rejected"],
  );
});

test("X-Request-Id: every received id is recorded, faulted requests included, and served over HTTP", async () => {
  const s = await startSimulator({ seed: 8, quiet: true });
  const base = s.url.replace(/\/v1$/, "");
  const sendWithId = (id: string | undefined, signal?: AbortSignal) =>
    fetch(base + "/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", ...(id === undefined ? {} : { "x-request-id": id }) },
      body: JSON.stringify(chatWithTools),
      ...(signal ? { signal } : {}),
    });
  try {
    assert.equal((await sendWithId("req-ok-1")).status, 200);
    assert.equal((await sendWithId("req-ok-1")).status, 200); // a client reusing an id: one entry, two counted
    assert.equal((await sendWithId(undefined)).status, 200);
    s.setFaults({ rate500: 1 });
    assert.equal((await sendWithId("req-500")).status, 500);
    s.setFaults({ rate429: 1 });
    assert.equal((await sendWithId("req-429")).status, 429);
    s.setFaults({ rateHang: 1 });
    await assert.rejects(sendWithId("req-hang", AbortSignal.timeout(200)), /abort|timeout/i);
    s.setFaults({});

    assert.deepEqual([...s.receivedRequestIds()].sort(), ["req-429", "req-500", "req-hang", "req-ok-1"]);
    assert.equal(s.stats().requestsWithId, 5);
    assert.equal(s.stats().requests, 6);

    const res = await fetch(base + "/toolloop/received-request-ids");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-toolloop-simulator"), "1");
    const body = (await res.json()) as { count: number; requestsWithId: number; ids: string[] };
    assert.deepEqual({ ...body, ids: body.ids.sort() }, { count: 4, requestsWithId: 5, ids: ["req-429", "req-500", "req-hang", "req-ok-1"] });

    s.resetStats();
    assert.equal(s.receivedRequestIds().size, 0);
    assert.equal(s.stats().requestsWithId, 0);
  } finally {
    await s.close();
  }
});
