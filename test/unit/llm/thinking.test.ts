/**
 * A reasoning model's thought is never part of a role's answer: stripLeadingThought on every shape
 * vLLM returns without a reasoning parser, and LlmClient.chat on vLLM's response bodies (a scripted
 * server: planted bodies, not a model) with and without a parser: the content without the thought,
 * the reasoning fields never read into it, the tool calls kept, and every cut counted.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { z } from "zod";
import { LlmClient, LlmError } from "../../../src/llm/client.js";
import { stripLeadingThought } from "../../../src/llm/thinking.js";
import { metricsRegistry } from "../../../src/metrics/toolloopMetrics.js";
import { chatCompletion, startScriptedChatServer, type ScriptedChatServer, type ScriptedHttpReply } from "../../helpers/scriptedChatServer.js";

test("a leading <think> block is cut, with the whitespace after it; the answer stays as it was", () => {
  assert.deepEqual(stripLeadingThought("<think>\nThe user wants Paris.\n</think>\n\nIt is 21 degrees in Paris."), {
    content: "It is 21 degrees in Paris.",
    stripped: "closed",
  });
  assert.deepEqual(stripLeadingThought("\n  <think>x</think>answer\n"), { content: "answer\n", stripped: "closed" }, "whitespace before the tag");
  assert.deepEqual(stripLeadingThought("<think></think>\n\nanswer"), { content: "answer", stripped: "closed" }, "an empty thought");
});

test("only the closing tag (the chat template opened the thought in the prompt): everything up to it is the thought", () => {
  assert.deepEqual(stripLeadingThought("The user wants Paris.\n</think>\n\nIt is 21 degrees."), { content: "It is 21 degrees.", stripped: "closed" });
  assert.deepEqual(stripLeadingThought("</think>answer"), { content: "answer", stripped: "closed" });
});

test("no thought: the content is returned unchanged, tags later in the answer included", () => {
  for (const c of ["It is 21 degrees.", "", "   ", '{"verdict":"CORRECT"}', "Use <think> and </think> to mark a thought.", "Say <think>hi</think> back"])
    assert.deepEqual(stripLeadingThought(c), { content: c }, JSON.stringify(c));
  assert.deepEqual(stripLeadingThought(null), { content: null });
});

test("a thought holding braces and JSON (a draft of the answer) does not reach the answer: the JSON after it parses", () => {
  const content =
    '<think>\nI could answer {"verdict": "INCORRECT"} but no: {"verdict": "CORRECT", "analysis": "draft"} fits.\n</think>\n\n{"verdict":"CORRECT","analysis":"ok"}';
  const r = stripLeadingThought(content);
  assert.equal(r.stripped, "closed");
  assert.deepEqual(JSON.parse(r.content!), { verdict: "CORRECT", analysis: "ok" });
  const opened = stripLeadingThought('{"a": 1} is a draft.\n</think>\n{"a": 2}');
  assert.deepEqual(JSON.parse(opened.content!), { a: 2 });
});

test("a content that is only a thought (the model only called tools, or was cut off while thinking) becomes null", () => {
  assert.deepEqual(stripLeadingThought('<think>\nI will call get_weather with {"city": "Paris"}.\n</think>\n\n'), { content: null, stripped: "closed" });
  assert.deepEqual(stripLeadingThought("I will call it.\n</think>\n"), { content: null, stripped: "closed" });
  assert.deepEqual(stripLeadingThought('<think>\nStill thinking about {"city"'), { content: null, stripped: "unclosed" });
});

let server: ScriptedChatServer;
let reply: () => ScriptedHttpReply;
before(async () => {
  server = await startScriptedChatServer("thinking", () => reply());
});
after(async () => {
  await server?.close();
});

const call = { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } };
const newClient = (role = "generator") =>
  new LlmClient({
    baseUrl: server.url,
    model: "qwen3",
    role,
    timeoutMs: 5000,
    maxRetries: 0,
    maxConcurrency: 4,
    tenant: "thinking-test",
    endpointName: "vllm-qwen3",
  });
const ask = (c: LlmClient) => c.chat({ messages: [{ role: "user", content: "weather in Paris?" }] });

async function strippedCount(role: string): Promise<number> {
  const metric = (await metricsRegistry.getMetricsAsJSON()).find((m) => m.name === "toolloop_llm_thoughts_stripped_total");
  const values = (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
  return values
    .filter((v) => v.labels.campaign === "thinking-test" && v.labels.role === role && v.labels.endpoint === "vllm-qwen3")
    .reduce((a, v) => a + v.value, 0);
}

test("without a reasoning parser: a thought plus tool calls is an answer with the calls and no content, counted", async () => {
  const c = newClient("assistant");
  const before = await strippedCount("assistant");
  reply = () =>
    chatCompletion({ id: "1", model: "qwen3", message: { content: '<think>\nCall get_weather with {"city": "Paris"}.\n</think>\n\n', tool_calls: [call] } });
  const r = await ask(c);
  assert.deepEqual(r.message, { content: null, tool_calls: [call] });
  assert.equal(r.thought, "stripped");
  reply = () => chatCompletion({ id: "2", model: "qwen3", message: { content: "Paris it is.\n</think>\n\nIt is 21 degrees." } });
  const text = await ask(c);
  assert.deepEqual(text.message, { content: "It is 21 degrees." });
  assert.equal(c.thoughtsStripped, 2);
  assert.equal((await strippedCount("assistant")) - before, 2, "counted in toolloop_llm_thoughts_stripped_total");
  reply = () => chatCompletion({ id: "3", model: "qwen3", message: { content: "It is 21 degrees." } });
  const plain = await ask(c);
  assert.equal(plain.thought, undefined);
  assert.equal(c.thoughtsStripped, 2, "an answer without a thought is not counted");
});

test("with a reasoning parser: reasoning_content or reasoning is never read into the content; the calls are kept", async () => {
  const c = newClient("planner");
  const thought = 'The user wants {"city": "Paris"}.';
  for (const field of ["reasoning_content", "reasoning"]) {
    reply = () => chatCompletion({ id: "4", model: "qwen3", message: { [field]: thought, content: null, tool_calls: [call] } });
    const calls = await ask(c);
    assert.deepEqual(calls.message, { content: null, tool_calls: [call] }, field);
    assert.equal(calls.thought, "separate");
    reply = () => chatCompletion({ id: "5", model: "qwen3", message: { reasoning: thought, reasoning_content: thought, content: "It is 21 degrees." } });
    assert.deepEqual((await ask(c)).message, { content: "It is 21 degrees." });
  }
  assert.equal(c.thoughtsStripped, 0, "nothing was cut from a content");
  assert.equal(await strippedCount("planner"), 0);
});

test("structured(): a JSON answer after a thought is read; a reply that is all thought says so, and that it was cut off", async () => {
  const c = newClient("judge");
  const schema = z.object({ verdict: z.string() });
  const format = { name: "verdict", schema: { type: "object" } };
  reply = () => chatCompletion({ id: "6", model: "qwen3", message: { content: '<think>\n{"verdict": "draft"}\n</think>\n\n{"verdict": "CORRECT"}' } });
  assert.deepEqual(await c.structured({ messages: [{ role: "user", content: "judge" }], responseFormat: format }, schema), { verdict: "CORRECT" });
  for (const message of [{ content: '<think>\nStill weighing {"verdict"' }, { reasoning: "Still weighing", content: null }]) {
    reply = () => chatCompletion({ id: "7", model: "qwen3", message, finishReason: "length" });
    const err = await c.structured({ messages: [{ role: "user", content: "judge" }], responseFormat: format, maxTokens: 64 }, schema, { maxRepairs: 0 }).then(
      () => assert.fail("expected an error"),
      (e: unknown) => e as LlmError,
    );
    assert.ok(err instanceof LlmError && err.kind === "bad_response");
    assert.match(err.message, /cut off at max_tokens 64 .*\(the reply held only the model's reasoning, no answer after it\)/);
  }
});
