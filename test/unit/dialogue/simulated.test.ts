/**
 * The engine against the toolloop LLM SIMULATOR playing every role (planner, user, assistant, tool
 * server, reflection, negotiation), in process with an in-memory store: whole dialogues come out kept,
 * with the shape the stage writes as samples, and the simulator's scriptable faults (schema
 * violations, disagreements, early stops, tool errors) show up as reflections, negotiations, rejected
 * turns and error results. The answers are simulated, not a model's; this checks the engine and the
 * simulator speak the same protocol end to end.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { cutSamples } from "../../../src/dialogue/cut.js";
import { drawDialogueHeader } from "../../../src/dialogue/draws.js";
import { runDialogue } from "../../../src/dialogue/engine.js";
import { LlmToolServer } from "../../../src/dialogue/llmToolServer.js";
import { MemoryDialogueStore } from "../../../src/dialogue/memoryStore.js";
import { toolMessageContent } from "../../../src/dialogue/protocol.js";
import type { DialogueOutcome, DialogueTurn } from "../../../src/dialogue/types.js";
import type { McpTool } from "../../../src/domain/types.js";
import { LlmClient } from "../../../src/llm/client.js";
import type { DialogueSimOptions } from "../../../src/llm/simulator/dialogue/options.js";
import { startSimulator } from "../../../src/llm/simulator/server.js";
import { toolResultSeries } from "../../../src/reports/html.js";
import { multiTurnStageSchema } from "../../../src/stages/synthesize/multiTurn/spec.js";

const LIBRARY: McpTool[] = [
  {
    name: "get_weather",
    description: "Current weather for a city",
    inputSchema: { type: "object", properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } }, required: ["city"] },
  },
  {
    name: "send_email",
    description: "Send an email to one recipient",
    inputSchema: {
      type: "object",
      properties: { to: { type: "string", format: "email" }, subject: { type: "string" }, body: { type: "string" } },
      required: ["to", "subject"],
    },
  },
  {
    name: "create_event",
    description: "Create a calendar event",
    inputSchema: {
      type: "object",
      properties: { title: { type: "string" }, date: { type: "string", format: "date" }, duration_minutes: { type: "integer", minimum: 1 } },
      required: ["title", "date"],
    },
  },
  {
    name: "convert_currency",
    description: "Convert an amount between currencies",
    inputSchema: {
      type: "object",
      properties: { amount: { type: "number" }, from: { type: "string" }, to: { type: "string" } },
      required: ["amount", "from", "to"],
    },
  },
  {
    name: "search_flights",
    description: "Search flights between two airports on a day",
    inputSchema: {
      type: "object",
      properties: {
        origin: { type: "string" },
        destination: { type: "string" },
        date: { type: "string", format: "date" },
        passengers: { type: "integer", minimum: 1 },
      },
      required: ["origin", "destination", "date"],
    },
  },
  {
    name: "list_files",
    description: "List the files in a folder",
    inputSchema: { type: "object", properties: { path: { type: "string" }, recursive: { type: "boolean" } }, required: ["path"] },
  },
];

async function runMany(
  count: number,
  stageOver: Record<string, unknown>,
  rates: DialogueSimOptions,
): Promise<{ outcome: DialogueOutcome; turns: DialogueTurn[] }[]> {
  const stage = multiTurnStageSchema.parse({ name: "synthesize.multiTurn", dialogues: count, turns: { mean: 3, max: 6 }, ...stageOver });
  // The simulator's dialogue rates are per server: one server per scenario.
  const own = await startSimulator({ seed: 5, latencyMs: 0, maxConcurrency: 64, quiet: true, dialogue: rates });
  try {
    const c = (role: string) => new LlmClient({ baseUrl: own.url, model: "toolloop-sim", role, timeoutMs: 20_000, maxRetries: 0, maxConcurrency: 64 });
    const store = new MemoryDialogueStore();
    return await Promise.all(
      Array.from({ length: count }, async (_, slot) => {
        const header = drawDialogueHeader({ campaignId: "sim", iteration: 1, slot, seed: 99, library: LIBRARY, stage });
        const outcome = await runDialogue({
          header,
          stage,
          roles: { planner: c("planner"), user: c("user"), assistant: c("assistant"), ...(stage.voting.negotiator ? { negotiator: c("judge") } : {}) },
          executor: new LlmToolServer(c("toolServer")),
          store,
          signal: new AbortController().signal,
        });
        return { outcome, turns: store.turns(header.id) };
      }),
    );
  } finally {
    await own.close();
  }
}

const sum = (xs: { outcome: DialogueOutcome }[], f: (o: DialogueOutcome) => number) => xs.reduce((s, x) => s + f(x.outcome), 0);

test("with the simulator's default behaviour, dialogues are kept whole and cut into real message lists", async () => {
  const runs = await runMany(6, {}, {});
  const kept = runs.filter((r) => r.outcome.status === "kept");
  assert.ok(kept.length >= 5, `kept ${kept.length} of 6: ${JSON.stringify(runs.map((r) => [r.outcome.status, r.outcome.dropReason, r.outcome.detail]))}`);
  assert.ok(
    kept.every((r) => r.outcome.finished),
    "the simulated user says done",
  );
  assert.ok(sum(kept, (o) => o.userTurns) / kept.length >= 2, "several user turns per dialogue");
  assert.ok(sum(kept, (o) => o.toolCalls) >= kept.length, "tools were called");
  for (const { turns, outcome } of kept) {
    const cuts = cutSamples(turns);
    assert.equal(cuts.length, outcome.acceptedTurns);
    for (const cut of cuts) {
      assert.equal(cut.messages[0]!.role, "system");
      assert.equal(cut.messages.at(-1)!.role, "assistant");
      // Every tool message answers a call of an earlier assistant message.
      const ids = new Set(cut.messages.flatMap((m) => (m.role === "assistant" ? (m.tool_calls ?? []).map((c) => c.id) : [])));
      for (const m of cut.messages) if (m.role === "tool") assert.ok(ids.has(m.tool_call_id));
    }
  }
});

test("the simulator's faults show up as reflections, negotiations, rejected turns, early stops and tool errors", async () => {
  const runs = await runMany(
    10,
    { toolErrorRate: 0.3, voting: { k: 3, m: 2, temperature: 0.7, negotiator: "judge" }, maxRejectedTurns: 8 },
    { assistantSchemaViolationRate: 0.3, assistantDisagreementRate: 0.5, userEarlyStopRate: 0.3 },
  );
  const reflections = sum(runs, (o) => o.reflections);
  const negotiations = sum(runs, (o) => o.negotiations);
  const toolErrors = sum(runs, (o) => o.toolErrors);
  assert.ok(reflections > 0, "schema violations were reflected on");
  assert.ok(negotiations > 0, "disagreements went to the negotiator");
  assert.ok(toolErrors > 0, "tool errors came back");
  assert.ok(
    runs.some((r) => r.outcome.status === "kept"),
    "some dialogues survive the faults",
  );
  const reviews = runs.flatMap((r) => r.turns.flatMap((t) => (t.kind === "assistant" ? [t.review] : [])));
  assert.ok(
    reviews.some((r) => r.candidates.some((c) => c.reflection && c.reflection.revision && c.reflection.stillInvalid.length === 0)),
    "a revision fixed a violation",
  );
  assert.ok(reviews.some((r) => r.decision === "negotiation"));
});

test("the simulator's tool server, over HTTP, echoes a 20-digit id with every digit into the tool message", async () => {
  // It read the case with JSON.parse: 12345678901234567891 came back as 12345678901234567000, another order.
  const own = await startSimulator({ seed: 5, latencyMs: 0, quiet: true });
  try {
    const server = new LlmToolServer(
      new LlmClient({ baseUrl: own.url, model: "toolloop-sim", role: "toolServer", timeoutMs: 20_000, maxRetries: 0, maxConcurrency: 4 }),
    );
    const tool: McpTool = {
      name: "cancel_order",
      description: "Cancel an order",
      inputSchema: { type: "object", properties: { order_id: { type: "integer" } }, required: ["order_id"] },
    };
    const call = { dialogueId: "d1", callId: "call_1", name: "cancel_order", tool, history: [] };
    const result = await server.execute({ ...call, arguments: { order_id: 12345678901234567891n } }, new AbortController().signal);
    assert.ok(result.ok, JSON.stringify(result));
    assert.match(toolMessageContent(result), /"order_id":12345678901234567891[,}]/);
    // An ordinary id is answered as before, with no exact text.
    const plain = await server.execute({ ...call, arguments: { order_id: 42 } }, new AbortController().signal);
    assert.ok(plain.ok && plain.resultText === undefined && (plain.result as Record<string, unknown>).order_id === 42);
  } finally {
    await own.close();
  }
});

test("each tool result records where it came from: errors fault injection asked for apart from the simulated server's own, every one marked simulated", async () => {
  // The engine injects at toolErrorRate; the simulator fails calls on its own at its toolServerErrorRate.
  const runs = await runMany(8, { toolErrorRate: 0.3 }, { toolServerErrorRate: 0.3 });
  const results = runs.flatMap((r) => r.turns.flatMap((t) => (t.kind === "tool" ? [t.result] : [])));
  assert.ok(results.length > 0, "tools were called");
  assert.ok(
    results.every((r) => r.simulated === true),
    "the toolloop simulator answered every call",
  );
  const errors = (origin: string) => results.filter((r) => !r.ok && r.origin === origin).length;
  assert.ok(errors("injected") > 0, "errors the engine asked for are recorded as injected");
  assert.ok(errors("tool_server") > 0, "errors the server chose itself are recorded as the tool server's");
  assert.ok(
    results.filter((r) => r.ok).every((r) => r.origin === "tool_server"),
    "a result is the server's",
  );
  // The simulator's own errors say which kind they are (its rules, its random faults); an injected one is the engine's.
  const own = results.filter((r) => !r.ok && r.origin === "tool_server");
  assert.ok(
    own.every((r) => r.simulatedCause === "rules" || r.simulatedCause === "fault"),
    JSON.stringify(own.map((r) => r.simulatedCause)),
  );
  assert.ok(
    own.some((r) => r.simulatedCause === "fault"),
    "its random faults are marked so",
  );
  assert.ok(
    results.filter((r) => r.ok || r.origin === "injected").every((r) => r.simulatedCause === undefined),
    "no kind on results and injected errors",
  );
});

test("the simulator's tool server says whether an error of its own came from its rules or its random faults; a real server's answer is never marked", async (t) => {
  // Both read "tool server (SIMULATED)" in reports before: a bad call and a random fault looked alike.
  const own = await startSimulator({ seed: 5, latencyMs: 0, quiet: true, dialogue: { toolServerErrorRate: 1 } });
  t.after(() => own.close());
  const client = (url: string) =>
    new LlmClient({ baseUrl: url, model: "toolloop-sim", role: "toolServer", timeoutMs: 20_000, maxRetries: 0, maxConcurrency: 4 });
  const server = new LlmToolServer(client(own.url));
  const tool = LIBRARY[0]!;
  const call = { dialogueId: "d1", callId: "call_1", name: tool.name, tool, history: [] };
  const signal = new AbortController().signal;
  const fault = await server.execute({ ...call, arguments: { city: "Paris" } }, signal);
  assert.ok(!fault.ok && fault.simulated === true && fault.simulatedCause === "fault", JSON.stringify(fault));
  const badCall = await server.execute({ ...call, arguments: { unit: "celsius" } }, signal);
  assert.ok(!badCall.ok && badCall.error.type === "invalid_call" && badCall.simulatedCause === "rules", JSON.stringify(badCall));
  const unknownTool = await server.execute({ ...call, name: "get_wether", tool: undefined, arguments: { city: "Paris" } }, signal);
  assert.ok(!unknownTool.ok && unknownTool.simulatedCause === "rules", JSON.stringify(unknownTool));
  // An error the engine asked for is the engine's (origin injected): no kind of the simulator's own.
  const asked = await server.execute({ ...call, arguments: { city: "Paris" }, injectError: "timeout" }, signal);
  assert.ok(!asked.ok && asked.error.type === "timeout" && asked.simulatedCause === undefined, JSON.stringify(asked));
  // The kind rides beside the answer, not in it: the tool message is what a server would say.
  assert.equal(toolMessageContent(fault), JSON.stringify({ error: (fault as Extract<typeof fault, { ok: false }>).error }));

  // A real server (no simulator mark) that happens to send the same field: its result is unaffected.
  const realUrl = await realChatServer(t, '{"ok": false, "error": {"type": "unavailable", "message": "down"}}', { toolloop_tool_server_error: "fault" });
  const realResult = await new LlmToolServer(client(realUrl)).execute({ ...call, arguments: { city: "Paris" } }, signal);
  assert.deepEqual(realResult, { ok: false, error: { type: "unavailable", message: "down" } });
});

test("an answer of the simulator's tool server that cannot be read is still marked SIMULATED; a real server's unreadable answer is not", async (t) => {
  // It became "unavailable: tool server" with no mark, as if a real server had sent it.
  const own = await startSimulator({ seed: 5, latencyMs: 0, quiet: true });
  t.after(() => own.close());
  // A token limit too small for any tool_result: the simulator's answer is cut off, not JSON.
  const client = (url: string) =>
    new LlmClient({ baseUrl: url, model: "toolloop-sim", role: "toolServer", timeoutMs: 20_000, maxRetries: 0, maxConcurrency: 4, maxTokens: 3 });
  const tool = LIBRARY[0]!;
  const call = { dialogueId: "d1", callId: "call_1", name: tool.name, tool, history: [], arguments: { city: "Paris" } };
  const signal = new AbortController().signal;
  const cut = await new LlmToolServer(client(own.url)).execute(call, signal);
  assert.ok(!cut.ok && cut.error.type === "unavailable" && cut.simulated === true && cut.simulatedCause === undefined, JSON.stringify(cut));
  assert.equal(toolResultSeries({ result: cut.error.type, origin: "tool_server", simulated: cut.simulated }), "unavailable: tool server (SIMULATED)");

  const realUrl = await realChatServer(t, "<html>Bad gateway</html>");
  const realResult = await new LlmToolServer(client(realUrl)).execute(call, signal);
  assert.ok(!realResult.ok && realResult.error.type === "unavailable" && realResult.simulated === undefined, JSON.stringify(realResult));
});

/** A chat server with no simulator mark (as a real one) that answers every request with `content`, plus `extra` top-level fields; its /v1 URL. */
async function realChatServer(t: TestContext, content: string, extra: Record<string, unknown> = {}): Promise<string> {
  const real = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          id: "chatcmpl-1",
          object: "chat.completion",
          created: 1,
          model: "toolloop-sim",
          choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          ...extra,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => real.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => real.close(() => resolve())));
  return `http://127.0.0.1:${(real.address() as AddressInfo).port}/v1`;
}
