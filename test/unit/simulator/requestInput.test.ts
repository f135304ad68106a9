/**
 * Bad request bodies get vLLM's 400 error JSON naming the field, never a 500: bodies nested deeper
 * than the simulator walks (tool schemas, message content, tool-call arguments) and /tokenize bodies
 * of either form.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { MAX_TOOL_JSON_DEPTH } from "../../../src/jsonSchema/keywords.js";
import { MAX_REQUEST_JSON_DEPTH } from "../../../src/llm/simulator/requests.js";
import { startSimulator } from "../../../src/llm/simulator/server.js";

let sim: Awaited<ReturnType<typeof startSimulator>>;
const root = () => sim.url.replace(/\/v1$/, "");

before(async () => {
  sim = await startSimulator({ seed: 1, quiet: true, port: 0 });
});
after(async () => {
  await sim.close();
});

/** Posts raw JSON text: deep values are built as text, as a hostile client sends them (JSON.stringify would overflow). */
async function post(path: string, text: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(root() + path, { method: "POST", headers: { "content-type": "application/json" }, body: text });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A 400 in vLLM's error shape whose message is `Invalid request: <message>`. */
function assertBadRequest(r: { status: number; json: Record<string, unknown> }, message: string, what: string): void {
  assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.json).slice(0, 300)}`);
  assert.deepEqual(r.json, { object: "error", message: `Invalid request: ${message}`, type: "BadRequestError", param: null, code: 400 }, what);
}

/** `{"a": ... {}}` with `levels` objects, as text. */
const objects = (levels: number) => '{"a":'.repeat(levels - 1) + "{}" + "}".repeat(levels - 1);
/** `[[...]]` with `levels` arrays, as text. */
const arrays = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

const USER = '{"role":"user","content":"What is the weather in Paris?"}';
const WEATHER_PARAMS = '{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}';
const tool = (parameters: string) => `{"type":"function","function":{"name":"get_weather","parameters":${parameters}}}`;
const chat = (fields: string, messages = `[${USER}]`) => `{"model":"toolloop-sim-policy","messages":${messages}${fields}}`;
const callTurn = (args: string) =>
  `{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":${args}}}]}`;

test("tool schemas nested past the tool loader's bound: 400 naming tools.N.function.parameters (chat and /tokenize)", async () => {
  const deep = `,"tools":[${tool(WEATHER_PARAMS)},${tool(objects(20_000))}]`;
  const message = `tools.1.function.parameters: nests deeper than ${MAX_TOOL_JSON_DEPTH} levels`;
  assertBadRequest(await post("/v1/chat/completions", chat(deep)), message, "chat");
  assertBadRequest(await post("/tokenize", chat(deep)), message, "tokenize");
  const schema = `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${objects(MAX_TOOL_JSON_DEPTH + 1)}}}`;
  assertBadRequest(
    await post("/v1/chat/completions", chat(schema)),
    `response_format.json_schema.schema: nests deeper than ${MAX_TOOL_JSON_DEPTH} levels`,
    "response_format",
  );
  // At the bound it is served.
  const atBound = await post("/v1/chat/completions", chat(`,"tools":[${tool(objects(MAX_TOOL_JSON_DEPTH))}]`));
  assert.equal(atBound.status, 200, JSON.stringify(atBound.json).slice(0, 300));
});

test("message content, tool-call arguments and unknown fields nested too deep: 400 naming the field", async () => {
  const tooDeep = `nested too deep (a request body may nest at most ${MAX_REQUEST_JSON_DEPTH} levels)`;
  assertBadRequest(await post("/v1/chat/completions", chat("", `[{"role":"user","content":${arrays(200_000)}}]`)), `messages.0.content: ${tooDeep}`, "content");
  assertBadRequest(await post("/tokenize", chat("", `[{"role":"user","content":${arrays(200_000)}}]`)), `messages.0.content: ${tooDeep}`, "tokenize content");
  assertBadRequest(
    await post("/v1/chat/completions", chat(`,"tools":[${tool(WEATHER_PARAMS)}]`, `[${USER},${callTurn(JSON.stringify(objects(20_000)))}]`)),
    `messages.1.tool_calls.0.function.arguments: JSON nested deeper than ${MAX_REQUEST_JSON_DEPTH} levels`,
    "arguments as JSON text",
  );
  assertBadRequest(
    await post("/v1/chat/completions", chat(`,"tools":[${tool(WEATHER_PARAMS)}]`, `[${USER},${callTurn(objects(20_000))}]`)),
    `messages.1.tool_calls.0.function.arguments: ${tooDeep}`,
    "arguments as an object",
  );
  assertBadRequest(await post("/v1/completions", `{"model":"toolloop-sim","prompt":"hi","extra":${arrays(20_000)}}`), `extra: ${tooDeep}`, "completions");
  assertBadRequest(await post("/v1/embeddings", `{"model":"toolloop-sim","input":"hi","extra":${objects(20_000)}}`), `extra: ${tooDeep}`, "embeddings");
  // Just inside the bound (the body, messages and the message take 3 levels) it is served.
  const inside = await post("/v1/chat/completions", chat("", `[{"role":"user","content":${arrays(MAX_REQUEST_JSON_DEPTH - 3)}}]`));
  assert.equal(inside.status, 200, JSON.stringify(inside.json).slice(0, 300));
  const args = await post(
    "/v1/chat/completions",
    chat(`,"tools":[${tool(WEATHER_PARAMS)}]`, `[${USER},${callTurn(JSON.stringify(objects(MAX_REQUEST_JSON_DEPTH)))}]`),
  );
  assert.equal(args.status, 200, JSON.stringify(args.json).slice(0, 300));
});

test("/tokenize: the form the body's keys ask for names the field", async () => {
  assertBadRequest(await post("/tokenize", "{}"), "prompt or messages: Field required (prompt: a string to tokenize; messages: a chat)", "{}");
  assertBadRequest(
    await post("/tokenize", '{"model":"toolloop-sim-policy","messages":5}'),
    "messages: Invalid input: expected array, received number",
    "messages",
  );
  assertBadRequest(await post("/tokenize", '{"prompt":5}'), "prompt: Invalid input: expected string, received number", "prompt");
  assertBadRequest(
    await post("/tokenize", '{"messages":[{"role":"robot"}]}'),
    'messages.0.role: Invalid option: expected one of "system"|"user"|"assistant"|"tool"|"developer"|"function"',
    "role",
  );
  const ok = await post("/tokenize", '{"prompt":"hello world"}');
  assert.equal(ok.status, 200);
  assert.equal(typeof ok.json.count, "number");
});
