/**
 * Multi-turn sample rows as synthesize.multiTurn writes them (src/stages/synthesize/multiTurn/handler.ts sampleRows), built
 * from hand-written dialogues over the example tools, so the stages after synthesis can be tested
 * without waiting for the synthesis stage: kind multi_turn, origin synthesized, stage
 * synthesize.multiTurn, slotKey `${dialogueId}#${labelSeq}`, messages = the dialogue cut at an
 * accepted assistant turn (system, user, assistant tool_calls, tool results, assistant text, user,
 * ...), the label always the last message, metadata.dialogue = { id, labelSeq, userTurn, round, turns }.
 */
import type { DbHandle } from "../../src/db/client.js";
import { insertSamples, type NewSample } from "../../src/db/repos/samples.js";
import type { ChatMessage, McpTool, SampleStatus, ToolCall } from "../../src/domain/types.js";
import { EXAMPLE_TOOLS } from "../../src/tools/examples.js";
import { sampleId } from "../../src/util/ids.js";

export const MULTI_TURN_STAGE = "synthesize.multiTurn";

const toolNamed = (name: string): McpTool => {
  const t = EXAMPLE_TOOLS.find((e) => e.tool.name === name)?.tool;
  if (!t) throw new Error(`no example tool ${name}`);
  return t;
};

export function call(id: string, name: string, args: Record<string, unknown>): ToolCall {
  return { id, type: "function", function: { name, arguments: JSON.stringify(args) } };
}

type Assistant = Extract<ChatMessage, { role: "assistant" }>;

/** One step of a hand-written dialogue: a message, and for an assistant message where it sits (user turn, round). */
export interface DialogueScript {
  /** Distinguishes dialogues of one campaign (the slot). */
  slot: number;
  tools: McpTool[];
  messages: ChatMessage[];
}

/**
 * A travel dialogue, 3 user turns: a flight search (call, result, text answer), then the assistant
 * asks for a missing parameter (text), the user gives it, a parallel weather + currency turn (two
 * calls, two results, final text). Accepted assistant turns: every one (the cut makes one sample each).
 */
export function travelDialogue(slot = 0, city = "Lisbon"): DialogueScript {
  const tools = ["search_flights", "book_flight", "get_current_weather", "convert_currency", "search_hotels"].map(toolNamed);
  const p = `d${slot}`;
  const messages: ChatMessage[] = [
    { role: "system", content: "You are a helpful travel assistant. Use the tools when they help; ask for missing details." },
    { role: "user", content: `Can you find me flights from SFO to LIS on 2026-05-14? I want to spend a week in ${city}.` },
    { role: "assistant", content: null, tool_calls: [call(`${p}_c1`, "search_flights", { origin: "SFO", destination: "LIS", departure_date: "2026-05-14" })] },
    {
      role: "tool",
      tool_call_id: `${p}_c1`,
      content: JSON.stringify({ flights: [{ flight_id: "TP238", departs: "2026-05-14T18:05", price_usd: 812, stops: 0 }] }),
    },
    { role: "assistant", content: "I found a direct TAP flight, TP238, leaving at 18:05 for 812 USD. Shall I book it?" },
    { role: "user", content: "Yes please, book it for me." },
    { role: "assistant", content: "Happy to. What is the passenger's full name and email address as they should appear on the ticket?" },
    { role: "user", content: `Maria Santos, maria.santos@example.com. Also what's the weather like in ${city} now, and how much is 500 USD in euros?` },
    {
      role: "assistant",
      content: null,
      tool_calls: [
        call(`${p}_c2`, "book_flight", { flight_id: "TP238", passenger: { full_name: "Maria Santos", email: "maria.santos@example.com" } }),
        call(`${p}_c3`, "get_current_weather", { location: `${city}, Portugal`, unit: "celsius" }),
        call(`${p}_c4`, "convert_currency", { amount: 500, from_currency: "USD", to_currency: "EUR" }),
      ],
    },
    { role: "tool", tool_call_id: `${p}_c2`, content: JSON.stringify({ booking_id: "BK-77120", status: "confirmed" }) },
    { role: "tool", tool_call_id: `${p}_c3`, content: JSON.stringify({ temperature: 19, condition: "sunny", humidity: 61 }) },
    { role: "tool", tool_call_id: `${p}_c4`, content: JSON.stringify({ amount: 461.35, currency: "EUR", rate: 0.9227 }) },
    {
      role: "assistant",
      content: `Booked: TP238, booking BK-77120. ${city} is sunny at 19°C right now, and 500 USD is about 461.35 EUR.`,
    },
  ];
  return { slot, tools, messages };
}

/** Where each assistant message sits: its 1-based user turn and its round within that turn. */
function positions(messages: readonly ChatMessage[]): Map<number, { userTurn: number; round: number }> {
  const out = new Map<number, { userTurn: number; round: number }>();
  let userTurn = 0;
  let round = 0;
  messages.forEach((m, i) => {
    if (m.role === "user") {
      userTurn++;
      round = 0;
    } else if (m.role === "assistant") out.set(i, { userTurn, round: round++ });
  });
  return out;
}

export interface MultiTurnRowOptions {
  campaignId: string;
  iteration?: number;
  status?: SampleStatus;
  /** Replace the label of the cut at this seq (tests that need a broken or a different label). */
  labelOverride?: (labelSeq: number, label: Assistant) => Assistant;
  /** Only the cuts whose label seq passes (default: every assistant turn). */
  keep?: (labelSeq: number) => boolean;
}

/** The dialogue's samples: one per assistant turn, messages up to and including it. */
export function multiTurnRows(script: DialogueScript, o: MultiTurnRowOptions): NewSample[] {
  const iteration = o.iteration ?? 1;
  const dialogueId = `${o.campaignId}/${iteration}/${MULTI_TURN_STAGE}/${script.slot}`;
  const userTurns = script.messages.filter((m) => m.role === "user").length;
  const rows: NewSample[] = [];
  for (const [labelSeq, where] of positions(script.messages)) {
    if (o.keep && !o.keep(labelSeq)) continue;
    const label = script.messages[labelSeq] as Assistant;
    const messages = [...script.messages.slice(0, labelSeq), o.labelOverride ? o.labelOverride(labelSeq, label) : label];
    rows.push({
      id: sampleId(o.campaignId, { messages, tools: script.tools }),
      campaignId: o.campaignId,
      iteration,
      kind: "multi_turn",
      origin: "synthesized",
      stage: MULTI_TURN_STAGE,
      slotKey: `${dialogueId}#${labelSeq}`,
      messages,
      tools: script.tools,
      status: o.status ?? "pending",
      verdicts: [],
      metadata: {
        dialogue: { id: dialogueId, labelSeq, userTurn: where.userTurn, round: where.round, turns: userTurns },
        provenance: { simulated: false, roles: {} },
      },
    });
  }
  return rows;
}

/** Builds and inserts the rows; returns them (ids set). */
export async function insertMultiTurnSamples(db: DbHandle, scripts: DialogueScript[], o: MultiTurnRowOptions): Promise<NewSample[]> {
  const rows = scripts.flatMap((s) => multiTurnRows(s, o));
  await insertSamples(db.db, rows);
  return rows;
}
