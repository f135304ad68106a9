/**
 * A whole dialogue played against the simulator over HTTP with the protocol's builders, no engine:
 * planner -> user -> assistant -> tool server -> assistant final answer, turn after turn. Answers come
 * in vLLM's chat-completion shape (tool calls with ids and JSON-string arguments, finish_reason
 * tool_calls), the tool server reads back the ids it created, and the user says done at the end.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSimulator } from "../../../src/llm/simulator/server.js";
import { RESULT_REFERENCE } from "../../../src/llm/simulator/dialogue/planner.js";
import { playDialogue, type Ask } from "../../helpers/simDialogue.js";
import { DIALOGUE_TOOLS } from "../../helpers/simDialogueTools.js";

let sim: Awaited<ReturnType<typeof startSimulator>>;
const shapes: { finish: string; toolCalls: number; ids: string[]; argumentTypes: string[]; fingerprint: unknown }[] = [];

before(async () => {
  sim = await startSimulator({ seed: 11, quiet: true, dialogue: { missingParameterRate: 0.3, userChangeOfMindRate: 0.2 } });
});
after(async () => {
  await sim.close();
});

const ask: Ask = async (body) => {
  const res = await fetch(`${sim.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "toolloop-sim", ...body }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-toolloop-simulator"), "1", "the simulator labels itself simulated");
  const json = (await res.json()) as {
    choices: {
      message: { content: string | null; tool_calls: { id: string; type: string; function: { name: string; arguments: unknown } }[] };
      finish_reason: string;
    }[];
    system_fingerprint: unknown;
    usage: { prompt_tokens: number; completion_tokens: number };
  };
  const choice = json.choices[0]!;
  assert.ok(json.usage.prompt_tokens > 0);
  shapes.push({
    finish: choice.finish_reason,
    toolCalls: choice.message.tool_calls.length,
    ids: choice.message.tool_calls.map((c) => c.id),
    argumentTypes: choice.message.tool_calls.map((c) => typeof c.function.arguments),
    fingerprint: json.system_fingerprint,
  });
  return {
    content: choice.message.content,
    ...(choice.message.tool_calls.length > 0
      ? {
          tool_calls: choice.message.tool_calls.map((c) => ({
            id: c.id,
            type: "function" as const,
            function: { name: c.function.name, arguments: String(c.function.arguments) },
          })),
        }
      : {}),
  };
};

test("a whole dialogue over HTTP: planner, user, assistant, tool server, final answers, done", async () => {
  const d = await playDialogue(ask, { tools: DIALOGUE_TOOLS, targetTurns: 8, needs: { single: 0.3, multi: 0.4, parallel: 0.3 }, style: "formal" });
  assert.ok(d.finished, "the user said done");
  assert.ok(d.plan.steps.some((s) => s.need === "multi") && d.plan.steps.some((s) => s.need === "parallel"));
  assert.ok(d.results.length >= d.plan.steps.reduce((n, s) => n + s.calls.length, 0), "every planned call was made");
  assert.ok(
    d.results.every((r) => r.result.ok),
    "no call was refused",
  );

  // vLLM's shape: tool-call answers finish with tool_calls, ids are vLLM-like, arguments are JSON strings.
  const callAnswers = shapes.filter((s) => s.toolCalls > 0);
  assert.ok(callAnswers.length > 0);
  for (const s of callAnswers) {
    assert.equal(s.finish, "tool_calls");
    assert.ok(s.ids.every((id) => /^chatcmpl-tool-[0-9a-f]{32}$/.test(id)));
    assert.ok(s.argumentTypes.every((t) => t === "string"));
  }
  assert.ok(shapes.every((s) => s.fingerprint === "toolloop-simulator"));

  // Parallel steps were served with one assistant message carrying several calls.
  assert.ok(d.messages.some((m) => m.role === "assistant" && (m.tool_calls?.length ?? 0) >= 2));

  // Multi steps: the second call's id came from the first call's result, and the server read it back.
  const chainedSteps = d.plan.steps.filter((s) => s.need === "multi");
  for (const step of chainedSteps) {
    const second = step.calls[1]!;
    const param = Object.keys(second.arguments).find((k) => second.arguments[k] === RESULT_REFERENCE)!;
    const fixed = Object.entries(second.arguments).filter(([k]) => k !== param);
    const i = d.results.findIndex((r) => {
      const args = r.arguments as Record<string, unknown>;
      return r.name === second.name && Object.hasOwn(args, param) && fixed.every(([k, v]) => JSON.stringify(args[k]) === JSON.stringify(v));
    });
    assert.ok(i > 0, `${second.name} was called with ${param}`);
    const id = (d.results[i]!.arguments as Record<string, unknown>)[param];
    assert.ok(
      d.results.slice(0, i).some((r) => r.result.ok && JSON.stringify(r.result.result).includes(JSON.stringify(id))),
      `${param} ${String(id)} came from an earlier result`,
    );
    const read = d.results[i]!.result;
    assert.ok(read.ok && JSON.stringify(read.result).includes(JSON.stringify(id)), "the server reads the id back");
  }

  // Every user turn that asked for something got a final answer in plain words.
  const finals = d.messages.filter((m) => m.role === "assistant" && !m.tool_calls?.length && m.content && !m.content.includes("?"));
  assert.ok(finals.length >= d.plan.steps.length);
});
