/**
 * Role models that are REASONING models, as vLLM serves them: the LLM simulator answering in each of
 * vLLM's shapes (src/llm/simulator/reasoning.ts: the thought in `reasoning_content` with a reasoning
 * parser; `<think>...</think>` before the content without one; only `</think>` when the template
 * opened the tag). The thoughts are scripted, not a model's. Whatever the shape, no stored label, user
 * turn or tool result carries the thought, the JSON roles (planner, user simulator, tool server,
 * judges, query writer) are read, and label perplexity scores the label as stored.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { cutSamples } from "../../../src/dialogue/cut.js";
import { drawDialogueHeader } from "../../../src/dialogue/draws.js";
import { runDialogue } from "../../../src/dialogue/engine.js";
import { LlmToolServer } from "../../../src/dialogue/llmToolServer.js";
import { MemoryDialogueStore } from "../../../src/dialogue/memoryStore.js";
import type { DialogueOutcome, DialogueTurn } from "../../../src/dialogue/types.js";
import type { ChatMessage, McpTool } from "../../../src/domain/types.js";
import { SINGLE_JUDGE } from "../../../src/judging/committee.js";
import { checkSample } from "../../../src/judging/sampleCheck.js";
import { LlmClient } from "../../../src/llm/client.js";
import { REASONING_STYLES, type ReasoningStyle } from "../../../src/llm/simulator/reasoning.js";
import { startSimulator, type SimulatorHandle } from "../../../src/llm/simulator/server.js";
import { labelPerplexity } from "../../../src/scoring/labelPerplexity.js";
import { multiTurnStageSchema } from "../../../src/stages/synthesize/multiTurn/spec.js";
import { selectToolsForSlot, synthesizeSingleTurn } from "../../../src/synthesis/singleTurn.js";

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
];

/** The simulator's scripted thoughts start with this (reasoning.ts), whichever the answer. */
const THOUGHT = /let me (think about which tools fit|work out the answer)|<\/?think>/;

/** Every text a message carries (content, call arguments). */
function textsOf(m: ChatMessage): string[] {
  const out: string[] = typeof m.content === "string" ? [m.content] : [];
  if (m.role === "assistant") for (const c of m.tool_calls ?? []) out.push(c.function.arguments);
  return out;
}

function assertNoThought(messages: readonly ChatMessage[], where: string): void {
  for (const [i, m] of messages.entries())
    for (const t of textsOf(m))
      assert.doesNotMatch(t, THOUGHT, `${where}: message ${i} (${m.role}) carries the model's thought: ${JSON.stringify(t.slice(0, 200))}`);
}

const sims = new Map<string, SimulatorHandle>();
/** One simulator per style and set of reasoning models (the option is per server). */
async function simFor(style: ReasoningStyle, models?: string[]): Promise<SimulatorHandle> {
  const key = `${style}:${models?.join(",") ?? "*"}`;
  let sim = sims.get(key);
  if (!sim) {
    sim = await startSimulator({ seed: 5, latencyMs: 0, maxConcurrency: 64, quiet: true, reasoning: { style, ...(models ? { models } : {}) } });
    sims.set(key, sim);
  }
  return sim;
}
after(async () => {
  for (const s of sims.values()) await s.close();
});

const client = (sim: SimulatorHandle, role: string, model: string) =>
  new LlmClient({ baseUrl: sim.url, model, role, timeoutMs: 20_000, maxRetries: 0, maxConcurrency: 64 });

async function dialogues(sim: SimulatorHandle, count: number): Promise<{ outcome: DialogueOutcome; turns: DialogueTurn[] }[]> {
  const stage = multiTurnStageSchema.parse({ name: "synthesize.multiTurn", dialogues: count, turns: { mean: 3, max: 5 } });
  // The assistant is "toolloop-sim"; the planner, user and tool server "toolloop-sim-generator".
  const c = (role: string) => client(sim, role, role === "assistant" ? "toolloop-sim" : "toolloop-sim-generator");
  const store = new MemoryDialogueStore();
  return Promise.all(
    Array.from({ length: count }, async (_, slot) => {
      const header = drawDialogueHeader({ campaignId: "reasoning", iteration: 1, slot, seed: 17, library: LIBRARY, stage });
      const outcome = await runDialogue({
        header,
        stage,
        roles: { planner: c("planner"), user: c("user"), assistant: c("assistant") },
        executor: new LlmToolServer(c("toolServer")),
        store,
        signal: new AbortController().signal,
      });
      return { outcome, turns: store.turns(header.id) };
    }),
  );
}

for (const style of REASONING_STYLES) {
  test(`${style}: an assistant that reasons: its dialogues are kept and no sample's message carries its thought`, async () => {
    const runs = await dialogues(await simFor(style, ["toolloop-sim"]), 4);
    const kept = runs.filter((r) => r.outcome.status === "kept");
    assert.ok(kept.length >= 3, `kept ${kept.length} of 4: ${JSON.stringify(runs.map((r) => [r.outcome.dropReason, r.outcome.detail]))}`);
    let callingLabels = 0;
    for (const { turns } of kept) {
      for (const cut of cutSamples(turns)) {
        assertNoThought(cut.messages, `dialogue cut at seq ${cut.labelSeq}`);
        const label = cut.messages.at(-1)!;
        if (label.role === "assistant" && (label.tool_calls?.length ?? 0) > 0) {
          callingLabels++;
          // A turn that only calls tools says nothing: no content, as vLLM's parser returns it.
          assert.equal(label.content, null, `seq ${cut.labelSeq}: a calling label has no content`);
        }
      }
    }
    assert.ok(callingLabels > 0, "some labels call tools");
  });

  test(`${style}: every role reasons: the planner's, user simulator's and tool server's JSON is read and no stored turn carries a thought`, async () => {
    const runs = await dialogues(await simFor(style), 4);
    const kept = runs.filter((r) => r.outcome.status === "kept");
    assert.ok(kept.length >= 3, `kept ${kept.length} of 4: ${JSON.stringify(runs.map((r) => [r.outcome.dropReason, r.outcome.detail]))}`);
    for (const { turns } of runs) {
      assertNoThought(
        turns.map((t) => t.message),
        "stored dialogue",
      );
      // `detail` is the engine's note on a tool server answer it could not read.
      for (const t of turns) if (t.kind === "tool") assert.equal(t.result.detail, undefined, `seq ${t.seq}: the tool server's answer was read`);
    }
  });

  test(`${style}: a judge that reasons gives a verdict (its JSON is read, not an unreadable vote)`, async () => {
    // Only the judge's model reasons: the dialogue it judges is made as without reasoning.
    const sim = await simFor(style, ["toolloop-sim-judge"]);
    const [run] = await dialogues(sim, 1);
    const cut = cutSamples(run!.turns).at(-1)!;
    const judged = await checkSample({
      committee: SINGLE_JUDGE,
      clientFor: (role) => client(sim, role, "toolloop-sim-judge"),
      sample: { id: "s", messages: cut.messages, tools: LIBRARY },
      before: [],
      signal: new AbortController().signal,
    });
    assert.equal(judged.verdict, "CORRECT", `votes: ${JSON.stringify(judged.votes)}`);
    assert.doesNotMatch(judged.votes[0]!.analysis, THOUGHT);
  });

  test(`${style}: single-turn synthesis with a generator that reasons: the query is read, the label has no thought, and label perplexity scores the label as stored`, async () => {
    const sim = await simFor(style);
    const generator = client(sim, "generator", "toolloop-sim");
    for (const kind of ["standard", "irrelevance"] as const) {
      const picked = selectToolsForSlot(LIBRARY, { kind, seed: 3, iteration: 1, slotIndex: 0, toolsPerSample: 3, maxParallelCalls: 2 });
      const sample = await synthesizeSingleTurn({ kind, ...picked, generator });
      assertNoThought(sample.messages, `${kind} sample`);
      const label = sample.messages[2] as Extract<ChatMessage, { role: "assistant" }>;
      if (kind === "standard") {
        assert.equal(label.tool_calls?.length, 1);
        assert.equal(label.content, null);
      } else assert.ok(typeof label.content === "string" && label.content.length > 0);

      // The policy that scores it reasons too: its scoring requests carry the label exactly as stored.
      const seen: Record<string, unknown>[] = [];
      const own = await startSimulator({ seed: 5, quiet: true, reasoning: { style }, onRequestBody: (_path, body) => seen.push(JSON.parse(body)) });
      try {
        const ppl = await labelPerplexity(client(own, "policy", "toolloop-sim-policy"), { messages: sample.messages, tools: sample.tools });
        assert.ok(Number.isFinite(ppl.perplexity) && ppl.tokens > 0);
        const scored = seen.filter((b) => Array.isArray(b.messages) && (b.messages as ChatMessage[]).at(-1)?.role === "assistant");
        assert.ok(scored.length >= 2, "the label was tokenized and scored");
        for (const b of scored) assert.deepEqual((b.messages as ChatMessage[]).at(-1), label, "the label as stored is what is scored");
      } finally {
        await own.close();
      }
    }
  });
}
