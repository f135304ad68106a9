/**
 * Rule verification of multi_turn samples: every cut of a well-formed dialogue passes (text and call
 * labels alike); a broken history (a tool message answering no call, an unanswered call, a call to a
 * tool not offered) or a label whose calls break the schema is rejected with the reason.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChatMessage } from "../../../src/domain/types.js";
import { verifyRules } from "../../../src/verification/rules.js";
import { call, multiTurnRows, travelDialogue } from "../../helpers/multiTurnSamples.js";

const rows = multiTurnRows(travelDialogue(), { campaignId: "c" });
const byLast = (pred: (m: ChatMessage) => boolean) => rows.find((r) => pred(r.messages[r.messages.length - 1]!))!;
const verify = (messages: ChatMessage[], tools = rows[0]!.tools) => verifyRules({ kind: "multi_turn", messages, tools });

test("every cut of a well-formed dialogue passes: call labels, parallel call labels and text labels", () => {
  assert.equal(rows.length, 5);
  for (const r of rows) assert.deepEqual(verify(r.messages).reasons, [], `label seq ${(r.metadata as { dialogue: { labelSeq: number } }).dialogue.labelSeq}`);
  const last = rows[rows.length - 1]!;
  assert.equal(last.messages.filter((m) => m.role === "tool").length, 4, "the final cut carries every tool result in its prompt");
});

test("the same call in a later turn is not a repeat; within one turn it is", () => {
  const first = rows[0]!.messages;
  const repeatedLater: ChatMessage[] = [
    ...rows[1]!.messages,
    { role: "user", content: "Search that again, prices change." },
    { role: "assistant", content: null, tool_calls: [call("again", "search_flights", { origin: "SFO", destination: "LIS", departure_date: "2026-05-14" })] },
  ];
  assert.deepEqual(verify(repeatedLater).reasons, []);
  const dup = first[first.length - 1] as Extract<ChatMessage, { role: "assistant" }>;
  const twice: ChatMessage[] = [
    ...first.slice(0, -1),
    { role: "assistant", content: null, tool_calls: [dup.tool_calls![0]!, { ...dup.tool_calls![0]!, id: "x2" }] },
  ];
  assert.match(verify(twice).reasons.join("\n"), /repeats call\[0\] with the same arguments/);
});

test("a tool message must answer a call id of the assistant message before it", () => {
  const r = byLast((m) => m.role === "assistant" && typeof m.content === "string" && m.content.includes("TP238, leaving"));
  const broken = r.messages.map((m) => (m.role === "tool" ? { ...m, tool_call_id: "nobody" } : m));
  const v = verify(broken);
  assert.equal(v.ok, false);
  assert.match(v.reasons.join("\n"), /tool_call_id "nobody" does not answer a pending call/);
  assert.match(v.reasons.join("\n"), /never answered by a tool message/);
});

test("history calls must name offered tools; only the label's arguments are held to the schema", () => {
  const r = rows[rows.length - 1]!;
  const withoutWeather = r.tools.filter((t) => t.name !== "get_current_weather");
  assert.match(verify(r.messages, withoutWeather).reasons.join("\n"), /get_current_weather: tool does not exist/);

  // An earlier call with bad arguments (the server answered with an error, the assistant corrected it) is history.
  const corrected: ChatMessage[] = [
    r.messages[0]!,
    r.messages[1]!,
    { role: "assistant", content: null, tool_calls: [call("bad", "search_flights", { origin: "sfo", destination: "LIS", departure_date: "2026-05-14" })] },
    { role: "tool", tool_call_id: "bad", content: '{"error":"origin must be an IATA code"}' },
    { role: "assistant", content: null, tool_calls: [call("good", "search_flights", { origin: "SFO", destination: "LIS", departure_date: "2026-05-14" })] },
  ];
  assert.deepEqual(verify(corrected).reasons, []);
  // The same bad arguments as the label are rejected.
  const badLabel = verify(corrected.slice(0, 3));
  assert.equal(badLabel.ok, false);
  assert.match(badLabel.reasons.join("\n"), /call\[0\] search_flights: .*origin/);
});

test("single-turn kinds keep their call-count rules; an unknown kind names multi_turn among the expected", () => {
  const textLabel = rows[4]!.messages;
  assert.match(verifyRules({ kind: "standard", messages: textLabel, tools: rows[0]!.tools }).reasons.join("\n"), /exactly one call \(found 4\)/);
  assert.match(
    verifyRules({ kind: "dialogue" as never, messages: textLabel, tools: rows[0]!.tools }).reasons.join("\n"),
    /expected standard, parallel, irrelevance or multi_turn/,
  );
});
