/**
 * Contract C on the simulator side: one ChatML + Hermes rendering behind /tokenize and the chat
 * endpoint, vLLM's template switches, and /tokenize served without the engine's latency or queue.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSimulator } from "../../../src/llm/simulator/server.js";
import { renderChatPrompt, tokenPieces } from "../../../src/llm/simulator/tokenizer.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let sim: Awaited<ReturnType<typeof startSimulator>>;
const root = () => sim.url.replace(/\/v1$/, "");
async function post(path: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(root() + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Json };
}

const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather for a city.",
    parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
  },
};
const prompt = [
  { role: "system", content: "You can call tools." },
  { role: "user", content: 'Could you get the current weather for a city with city "Paris" and days = 3?' },
];
const label = {
  role: "assistant",
  content: null,
  tool_calls: [{ id: "call-1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris","days":3}' } }],
};

before(async () => {
  sim = await startSimulator({ seed: 1, quiet: true, maxConcurrency: 1 });
});
after(async () => {
  await sim?.close();
});

test("rendering: Hermes tool calls in assistant turns, tool results grouped in one user turn, tools in the system turn", () => {
  const text = renderChatPrompt(
    [
      ...prompt,
      label,
      { role: "tool", tool_call_id: "call-1", content: '{"temp": 21}' },
      { role: "tool", tool_call_id: "call-2", content: '{"temp": 19}' },
      { role: "assistant", content: "It is 21 degrees." },
    ],
    [WEATHER],
    { addGenerationPrompt: false },
  );
  assert.ok(text.startsWith("<|im_start|>system\nYou can call tools.\n\n# Tools\n"), text);
  assert.ok(text.includes(`<tools>\n{"type": "function", "function": {"name": "get_weather", `), text);
  assert.ok(
    text.includes('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call><|im_end|>\n'),
    text,
  );
  assert.ok(
    text.includes('<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response>\n<tool_response>\n{"temp": 19}\n</tool_response><|im_end|>\n'),
    text,
  );
  assert.ok(text.endsWith("<|im_start|>assistant\nIt is 21 degrees.<|im_end|>\n"), text);
  const open = renderChatPrompt(prompt, [], {});
  assert.ok(open.endsWith("<|im_start|>assistant\n"));
  assert.ok(open.startsWith("<|im_start|>system\nYou can call tools.<|im_end|>\n"));
  const pieces = tokenPieces(text);
  assert.equal(pieces.join(""), text);
  assert.ok(pieces.includes("<|im_start|>") && pieces.includes("<tool_call>") && pieces.includes("</tool_response>"));
});

test("/tokenize: the label span is exactly the assistant turn; chat prompt_logprobs cover the same tokens", async () => {
  const withLabel = await post("/tokenize", {
    model: "toolloop-sim",
    messages: [...prompt, label],
    tools: [WEATHER],
    add_generation_prompt: false,
    return_token_strs: true,
  });
  const promptOnly = await post("/tokenize", { model: "toolloop-sim", messages: prompt, tools: [WEATHER], return_token_strs: true });
  assert.equal(withLabel.status, 200);
  const full = withLabel.json.tokens as number[];
  const head = promptOnly.json.tokens as number[];
  assert.deepEqual(full.slice(0, head.length), head, "the prompt's tokens are a prefix of the labelled conversation's");
  const span = (withLabel.json.token_strs as string[]).slice(head.length).join("");
  assert.equal(span, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call><|im_end|>\n');

  const chat = await post("/v1/chat/completions", {
    model: "toolloop-sim",
    messages: [...prompt, label],
    tools: [WEATHER],
    max_tokens: 1,
    temperature: 0,
    prompt_logprobs: 0,
    add_generation_prompt: false,
  });
  assert.equal(chat.status, 200, JSON.stringify(chat.json));
  const pl = chat.json.prompt_logprobs as (Json | null)[];
  assert.equal(pl.length, full.length);
  assert.equal(chat.json.usage.prompt_tokens, withLabel.json.count);
  assert.equal(pl[0], null);
  pl.slice(1).forEach((entry, i) => {
    const keys = Object.keys(entry!);
    assert.deepEqual(keys, [String(full[i + 1])], `entry ${i + 1} holds the prompt token only`);
    assert.equal(entry![keys[0]!].decoded_token, withLabel.json.token_strs[i + 1]);
  });
});

test("template switches: continue_final_message leaves the last turn open; both switches on is vLLM's 400", async () => {
  const open = await post("/tokenize", {
    model: "toolloop-sim",
    messages: [...prompt, label],
    tools: [WEATHER],
    add_generation_prompt: false,
    continue_final_message: true,
    return_token_strs: true,
  });
  const closed = await post("/tokenize", { model: "toolloop-sim", messages: [...prompt, label], tools: [WEATHER], add_generation_prompt: false });
  assert.equal(open.json.count, closed.json.count - 2);
  assert.equal(open.json.token_strs.at(-1), "</tool_call>");
  for (const path of ["/tokenize", "/v1/chat/completions"]) {
    const both = await post(path, { model: "toolloop-sim", messages: prompt, add_generation_prompt: true, continue_final_message: true });
    assert.equal(both.status, 400);
    assert.match(both.json.message, /Cannot set both `continue_final_message` and `add_generation_prompt` to True/);
  }
});

test("/tokenize and GET /v1/models skip the simulated latency and the engine queue", async () => {
  sim.setLatency(600);
  try {
    const busy = post("/v1/chat/completions", { model: "toolloop-sim", messages: prompt });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    const tok = await post("/tokenize", { model: "toolloop-sim", messages: prompt });
    const models = await fetch(`${sim.url}/models`);
    const quick = Date.now() - t0;
    assert.equal(tok.status, 200);
    assert.equal(models.status, 200);
    assert.ok(quick < 300, `/tokenize and /v1/models took ${quick} ms while the only engine slot was busy for 600 ms`);
    assert.equal((await busy).status, 200);
  } finally {
    sim.setLatency(0);
  }
});
