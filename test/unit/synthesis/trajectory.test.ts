/**
 * Whole single-turn trajectories (src/synthesis/trajectory.ts) against a SCRIPTED tool server and
 * tool agent (test/helpers/scriptedToolServer.ts: planted results and steps, not a model): calls
 * executed in order with their history, tool messages tied to their calls, the agent asked with the
 * whole conversation until it answers in text, and the round limit.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ToolCallRequest, ToolExecutor } from "../../../src/dialogue/executor.js";
import { LlmToolServer } from "../../../src/dialogue/llmToolServer.js";
import type { ToolResult } from "../../../src/dialogue/protocol.js";
import type { ChatMessage } from "../../../src/domain/types.js";
import { LlmClient } from "../../../src/llm/client.js";
import { completeTrajectory, storedTrajectory, wholeTrajectory } from "../../../src/synthesis/trajectory.js";
import { EXAMPLE_TOOLS } from "../../../src/tools/examples.js";
import { startScriptedToolServer, type AgentStep, type ScriptedToolServer } from "../../helpers/scriptedToolServer.js";

const tools = EXAMPLE_TOOLS.map((t) => t.tool).filter((t) => ["get_current_weather", "geocode_address"].includes(t.name));
let server: ScriptedToolServer;
/** The next agent steps, in order; a text answer when empty. */
const steps: AgentStep[] = [];

before(async () => {
  server = await startScriptedToolServer({
    result: (c) =>
      c.call.name === "geocode_address"
        ? { ok: true, result: { lat: 48.85, lon: 2.35 } }
        : { ok: true, result: { temperature: 20 + c.history.length, location: (c.call.arguments as { location: string }).location } },
    step: (messages) => steps.shift() ?? { content: `Done after ${messages.filter((m) => m.role === "tool").length} results.` },
  });
});
after(() => server?.close());

const client = (role: string) =>
  new LlmClient({ baseUrl: server.url, model: `scripted-${role}`, role, timeoutMs: 5000, maxRetries: 0, maxConcurrency: 4, backoff: { baseMs: 1, maxMs: 2 } });
const call = (id: string, name: string, args: Record<string, unknown>) => ({
  id,
  type: "function" as const,
  function: { name, arguments: JSON.stringify(args) },
});
const sample = (label: ChatMessage): ChatMessage[] => [
  { role: "system", content: "You are a helpful assistant with tools." },
  { role: "user", content: "Weather in Paris and in Oslo?" },
  label,
];

test("parallel calls run in order with their history; tool messages carry the call ids; the agent's text answer ends it", async () => {
  const before = { cases: server.toolServerCases.length, agent: server.agentRequests.length };
  const messages = sample({
    role: "assistant",
    content: null,
    tool_calls: [call("c1", "get_current_weather", { location: "Paris, France" }), call("c2", "get_current_weather", { location: "Oslo, Norway" })],
  });
  const t = await completeTrajectory({
    sessionId: "s/1",
    messages,
    tools,
    agent: client("generator"),
    executor: new LlmToolServer(client("toolServer")),
    maxRounds: 3,
  });
  assert.equal(t.outcome, "final");
  assert.equal(t.rounds, 1);
  assert.equal(t.calls, 2);
  assert.equal(t.simulatedResults, true);
  assert.match(t.executor, /simulated MCP server \(role toolServer, model scripted-toolServer\)/);
  assert.deepEqual(t.messages, [
    { role: "tool", tool_call_id: "c1", content: JSON.stringify({ temperature: 20, location: "Paris, France" }) },
    { role: "tool", tool_call_id: "c2", content: JSON.stringify({ temperature: 21, location: "Oslo, Norway" }) },
    { role: "assistant", content: "Done after 2 results." },
  ]);
  const cases = server.toolServerCases.slice(before.cases);
  assert.deepEqual(
    cases.map((c) => [c.call.name, c.history.length, c.tool?.function.name]),
    [
      ["get_current_weather", 0, "get_current_weather"],
      ["get_current_weather", 1, "get_current_weather"],
    ],
  );
  const [asked] = server.agentRequests.slice(before.agent);
  assert.deepEqual(
    asked!.map((m) => m.role),
    ["system", "user", "assistant", "tool", "tool"],
    "the agent sees the whole conversation",
  );
  assert.deepEqual(wholeTrajectory(messages, t), [...messages, ...t.messages]);
  assert.deepEqual(storedTrajectory({ trajectory: JSON.parse(JSON.stringify(t)) }), t);
});

test("a further call the agent makes after a result is executed too, then the final answer", async () => {
  steps.push({ calls: [{ name: "get_current_weather", arguments: { location: "48.85,2.35" } }] });
  const messages = sample({ role: "assistant", content: null, tool_calls: [call("g1", "geocode_address", { address: "1 Rue de Rivoli, Paris" })] });
  const t = await completeTrajectory({
    sessionId: "s/2",
    messages,
    tools,
    agent: client("generator"),
    executor: new LlmToolServer(client("toolServer")),
    maxRounds: 3,
  });
  assert.equal(t.outcome, "final");
  assert.deepEqual(
    t.messages.map((m) => m.role),
    ["tool", "assistant", "tool", "assistant"],
  );
  const second = t.messages[1]!;
  assert.ok(second.role === "assistant" && second.tool_calls?.length === 1);
  const third = t.messages[2]!;
  assert.ok(third.role === "tool" && third.tool_call_id === second.tool_calls[0]!.id, "the tool message answers the agent's call");
  assert.equal(third.content, JSON.stringify({ temperature: 21, location: "48.85,2.35" }), "the second call saw the first in its history");
  assert.deepEqual(t.messages[3], { role: "assistant", content: "Done after 2 results." });
  assert.equal(t.rounds, 2);
  assert.equal(t.calls, 2);
});

test("maxRounds stops an agent that keeps calling: the trajectory ends on a tool result and is not whole", async () => {
  steps.push(
    { calls: [{ name: "get_current_weather", arguments: { location: "Rome, Italy" } }] },
    { calls: [{ name: "get_current_weather", arguments: { location: "Rome, Italy" } }] },
  );
  const messages = sample({ role: "assistant", content: null, tool_calls: [call("c1", "get_current_weather", { location: "Paris, France" })] });
  const t = await completeTrajectory({
    sessionId: "s/3",
    messages,
    tools,
    agent: client("generator"),
    executor: new LlmToolServer(client("toolServer")),
    maxRounds: 1,
  });
  assert.equal(t.outcome, "maxRounds");
  assert.equal(t.rounds, 1);
  assert.deepEqual(
    t.messages.map((m) => m.role),
    ["tool", "assistant", "tool"],
  );
  assert.equal(wholeTrajectory(messages, t), undefined);
  steps.length = 0;
});

test('an answer cut off at max_tokens (finish_reason "length") is no final answer: the trajectory is cutOff and not whole', async () => {
  steps.push({ content: "The weather in Paris is 20 degrees and in", finishReason: "length" });
  const messages = sample({ role: "assistant", content: null, tool_calls: [call("c1", "get_current_weather", { location: "Paris, France" })] });
  const t = await completeTrajectory({
    sessionId: "s/cut",
    messages,
    tools,
    agent: client("generator"),
    executor: new LlmToolServer(client("toolServer")),
    maxRounds: 3,
  });
  assert.equal(t.outcome, "cutOff");
  assert.deepEqual(
    t.messages.map((m) => m.role),
    ["tool"],
    "the cut-off step is left out",
  );
  assert.equal(wholeTrajectory(messages, t), undefined);
  assert.equal(storedTrajectory({ trajectory: t })?.outcome, "cutOff");
  steps.length = 0;
});

test("a text label is already whole: nothing is executed or asked", async () => {
  const before = { cases: server.toolServerCases.length, agent: server.agentRequests.length };
  const t = await completeTrajectory({
    sessionId: "s/4",
    messages: sample({ role: "assistant", content: "No tool can do that." }),
    tools,
    agent: client("generator"),
    executor: new LlmToolServer(client("toolServer")),
    maxRounds: 2,
  });
  assert.deepEqual([t.outcome, t.messages, t.rounds, t.calls], ["final", [], 0, 0]);
  assert.equal(server.toolServerCases.length, before.cases);
  assert.equal(server.agentRequests.length, before.agent);
  await assert.rejects(
    completeTrajectory({
      sessionId: "s/5",
      messages: [{ role: "user", content: "hi" }],
      tools,
      agent: client("g"),
      executor: new LlmToolServer(client("t")),
      maxRounds: 2,
    }),
    /s\/5 does not end with an assistant turn/,
  );
});

test("a later call's history shows the tool server what the agent saw of a result, never our detail", async () => {
  // The trajectory handed the executor each result as it came, `detail` included: why the engine made a
  // result (an unreadable answer's endpoint, model and parse error) reached the next tool server prompt.
  const seen: ToolCallRequest[] = [];
  const executor: ToolExecutor = {
    describe: "test executor",
    idempotent: true,
    simulated: true,
    execute(c) {
      seen.push(c);
      return Promise.resolve<ToolResult>({ ok: false, error: { type: "unavailable", message: "Try again later." }, detail: "endpoint 10.0.0.7 said 502" });
    },
  };
  const messages = sample({
    role: "assistant",
    content: null,
    tool_calls: [call("c1", "get_current_weather", { location: "Paris, France" }), call("c2", "get_current_weather", { location: "Oslo, Norway" })],
  });
  const t = await completeTrajectory({ sessionId: "s/detail", messages, tools, agent: client("generator"), executor, maxRounds: 3 });
  assert.equal(t.outcome, "final");
  assert.deepEqual(seen[1]!.history, [
    {
      name: "get_current_weather",
      arguments: { location: "Paris, France" },
      result: { ok: false, error: { type: "unavailable", message: "Try again later." } },
    },
  ]);
});
