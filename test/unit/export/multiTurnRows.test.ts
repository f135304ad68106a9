/**
 * The pure pieces the stages after synthesis use, on multi-turn sample rows (test/helpers/
 * multiTurnSamples.ts): the exact-duplicate key (every user turn and the label), the next round's
 * near-duplicate removal (over all user turns, siblings of one dialogue exempt), a repair keeping the
 * kind, the strict OpenAI row (tool_calls and tool messages), and verl's row (Hermes-rendered history,
 * ground truth = the label's calls).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { exactDuplicateKey } from "../../../src/dedupe/exactKey.js";
import type { ChatMessage } from "../../../src/domain/types.js";
import { strictLineProblems, toStrictLine } from "../../../src/export/openaiStrict.js";
import { repairedSample } from "../../../src/repair/labelRepair.js";
import { selectNextRound, type Candidate } from "../../../src/selection/nextRound.js";
import { prepareSample } from "../../../src/training/verl/rows.js";
import { multiTurnRows, travelDialogue } from "../../helpers/multiTurnSamples.js";

const rows = multiTurnRows(travelDialogue(0), { campaignId: "c" });
const final = rows[rows.length - 1]!;
const dialogueOf = (r: (typeof rows)[number]) => (r.metadata as { dialogue: { id: string } }).dialogue.id;

test("the exact key counts every user turn and the label; formatting does not count", () => {
  const keys = new Set(rows.map((r) => exactDuplicateKey(r)));
  assert.equal(keys.size, rows.length, "each cut of a dialogue is its own sample");
  const reformatted = final.messages.map((m) => (m.role === "user" ? { ...m, content: `  ${m.content.toUpperCase()}  ` } : m));
  assert.equal(exactDuplicateKey({ kind: "multi_turn", messages: reformatted, tools: [] }), exactDuplicateKey(final));
  const earlierTurnChanged = final.messages.map((m, i) => (i === 5 ? { role: "user" as const, content: "No, do not book it yet." } : m));
  assert.notEqual(exactDuplicateKey({ kind: "multi_turn", messages: earlierTurnChanged, tools: final.tools }), exactDuplicateKey(final));
  const labelChanged: ChatMessage[] = [...final.messages.slice(0, -1), { role: "assistant", content: "Done." }];
  assert.notEqual(exactDuplicateKey({ kind: "multi_turn", messages: labelChanged, tools: final.tools }), exactDuplicateKey(final));
});

test("next-round near-duplicates compare all user turns; cuts of one dialogue are not each other's near-duplicates", () => {
  const candidates = (script: ReturnType<typeof travelDialogue>, campaignId: string): Candidate[] =>
    multiTurnRows(script, { campaignId }).map((r) => ({ id: r.id as string, messages: r.messages, tools: r.tools, dialogueId: dialogueOf(r) }));
  const a = candidates(travelDialogue(0), "c");
  // Another dialogue asking the same things (one word differs): its cuts are near-duplicates of the first's.
  const b = candidates(travelDialogue(1, "Lisboa"), "c");
  const r = selectNextRound({
    iteration: 1,
    seed: 3,
    budget: 100,
    mix: { seed: 1 },
    sources: { seed: { candidates: [...a, ...b] } },
    weights: { hard: 1, easy: 1 },
    nearDuplicate: { threshold: 0.5 },
  });
  const kept = new Set(r.members.map((m) => m.sampleId));
  const keptDialogues = new Set([...a, ...b].filter((c) => kept.has(c.id)).map((c) => c.dialogueId));
  const near = r.exclusions.filter((e) => e.reason === "near_duplicate");
  assert.ok(near.length > 0, "the other dialogue's cuts are near-duplicates");
  for (const e of near) {
    const excluded = [...a, ...b].find((c) => c.id === e.sampleId)!;
    const keptAs = [...a, ...b].find((c) => c.id === e.details.keptSampleId)!;
    assert.notEqual(excluded.dialogueId, keptAs.dialogueId, "never excluded as a near-duplicate of its own dialogue");
  }
  // Siblings with identical user turns (a call, then the answer after its result) are both kept.
  const first = a.slice(0, 2);
  const siblings = selectNextRound({
    iteration: 1,
    seed: 3,
    budget: 10,
    mix: { seed: 1 },
    sources: { seed: { candidates: first } },
    weights: { hard: 1, easy: 1 },
    nearDuplicate: { threshold: 0.5 },
  });
  assert.equal(siblings.members.length, 2);
  assert.ok(keptDialogues.size >= 1);
  // Without the dialogue id (single-turn candidates), identical user turns are near-duplicates as before.
  const anonymous = selectNextRound({
    iteration: 1,
    seed: 3,
    budget: 10,
    mix: { seed: 1 },
    sources: { seed: { candidates: first.map(({ dialogueId: _d, ...c }) => c) } },
    weights: { hard: 1, easy: 1 },
    nearDuplicate: { threshold: 0.5 },
  });
  assert.equal(anonymous.members.length, 1);
  assert.equal(anonymous.exclusions[0]?.reason, "near_duplicate");
});

test("a repaired multi_turn label stays multi_turn with the whole dialogue as its prompt", () => {
  const seed = rows[0]!;
  const r = repairedSample(
    "c",
    { id: seed.id as string, kind: "multi_turn", messages: seed.messages, tools: seed.tools },
    {
      content: null,
      tool_calls: [
        { id: "x", type: "function", function: { name: "search_flights", arguments: '{"origin":"SFO","destination":"LIS","departure_date":"2026-05-15"}' } },
      ],
    },
  );
  assert.equal(r.kind, "multi_turn");
  assert.deepEqual(r.messages.slice(0, -1), seed.messages.slice(0, -1));
  assert.equal(r.status, "verified", r.verdict.reasons.join("; "));
  // A text repair of a later turn: still multi_turn, prompt with every tool result.
  const t = repairedSample("c", { id: final.id as string, kind: "multi_turn", messages: final.messages, tools: final.tools }, { content: "All done." });
  assert.equal(t.kind, "multi_turn");
  assert.equal(t.messages.filter((m) => m.role === "tool").length, 4);
  assert.equal(repairedSample("c", { id: "s", messages: seed.messages.slice(0, 3), tools: seed.tools }, { content: "No." }).kind, "irrelevance");
});

test("the strict OpenAI row keeps assistant tool_calls and tool messages with their tool_call_id", () => {
  const line = toStrictLine(final.messages, final.tools);
  assert.deepEqual(strictLineProblems(line), []);
  assert.deepEqual(
    line.messages.map((m) => m.role),
    ["system", "user", "assistant", "tool", "assistant", "user", "assistant", "user", "assistant", "tool", "tool", "tool", "assistant"],
  );
  const tools = line.messages.filter((m) => m.role === "tool");
  assert.deepEqual(
    tools.map((m) => (m as { tool_call_id: string }).tool_call_id),
    ["d0_c1", "d0_c2", "d0_c3", "d0_c4"],
  );
  const parallel = line.messages[8] as { tool_calls?: unknown[]; content?: string };
  assert.equal(parallel.tool_calls?.length, 3);
  assert.equal("content" in parallel, false, "an assistant turn without text carries no content key");
});

test("verl: earlier calls and tool results rendered as Hermes blocks, ground truth = the label's calls", () => {
  const parallelCut = rows.find((r) => (r.messages[r.messages.length - 1] as { tool_calls?: unknown[] }).tool_calls?.length === 3)!;
  const p = prepareSample({ id: "s1", messages: parallelCut.messages, tools: parallelCut.tools });
  assert.ok(p.ok, p.ok ? "" : p.reason);
  if (!p.ok) return;
  const roles = p.sample.prompt.map((m) => m.role);
  assert.deepEqual(roles, ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user"]);
  assert.ok(p.sample.prompt.every((m) => typeof m.content === "string"));
  assert.match(p.sample.prompt[0]!.content, /<tools>[\s\S]*"search_flights"/);
  assert.match(p.sample.prompt[2]!.content, /^<tool_call>\n\{"name": "search_flights", "arguments": \{"origin": "SFO"/);
  assert.match(p.sample.prompt[3]!.content, /^<tool_response>\n\{"flights":.*\n<\/tool_response>$/);
  const truth = JSON.parse(p.sample.groundTruth) as { calls: { name: string; arguments: Record<string, unknown> }[] };
  assert.deepEqual(
    truth.calls.map((c) => c.name),
    ["book_flight", "get_current_weather", "convert_currency"],
  );
  assert.deepEqual(truth.calls[2]!.arguments, { amount: 500, from_currency: "USD", to_currency: "EUR" });
  assert.equal(p.sample.messages, parallelCut.messages, "sft.jsonl keeps the real messages");
  // sft.parquet: the real turns, tool results as the prompt shows them (Hermes user turns), the label turn last.
  assert.deepEqual(
    p.sample.sftMessages.map((m) => m.role),
    ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user", "assistant"],
  );
  assert.equal(p.sample.sftMessages[0]!.content, p.sample.prompt[0]!.content, "the same tools block as the prompt");
  assert.match(p.sample.sftMessages[8]!.content, /<tool_call>[\s\S]*"book_flight"[\s\S]*"convert_currency"/);

  // Consecutive tool results share one user turn; a text label's ground truth has no calls.
  const f = prepareSample({ id: "s2", messages: final.messages, tools: final.tools });
  assert.ok(f.ok);
  if (!f.ok) return;
  const responses = f.sample.prompt.filter((m) => m.content.startsWith("<tool_response>"));
  assert.equal(responses.length, 2);
  assert.equal(responses[1]!.content.match(/<tool_response>/g)?.length, 3);
  assert.deepEqual(JSON.parse(f.sample.groundTruth), { calls: [] });

  // "none" leaves tool results as stored (role tool).
  const n = prepareSample({ id: "s3", messages: final.messages, tools: final.tools }, "none");
  assert.ok(n.ok && n.sample.prompt.filter((m) => m.role === "tool").length === 4);
});

test("verl SFT rows: a run of tool results is one user turn, so each message renders alone as in the whole conversation", () => {
  // verl 0.9.1's MultiTurnSFTDataset applies the chat template to every message alone and asserts the
  // concatenation equals the whole conversation's rendering. Hermes/Qwen templates open one
  // `<|im_start|>user` for a run of role "tool" messages: the three results of a parallel turn,
  // rendered one by one, became three user turns and stopped the SFT job with an AssertionError.
  const f = prepareSample({ id: "s4", messages: final.messages, tools: final.tools });
  assert.ok(f.ok, f.ok ? "" : f.reason);
  if (!f.ok) return;
  const sft = f.sample.sftMessages;
  assert.deepEqual(
    sft.filter((m) => m.role === "tool"),
    [],
    "no role tool message is left for the template to merge",
  );
  const parallelResults = sft.filter(
    (m) => m.role === "user" && m.content.startsWith("<tool_response>") && (m.content.match(/<tool_response>/g)?.length ?? 0) === 3,
  );
  assert.equal(parallelResults.length, 1, "the parallel turn's three results share one user turn");
  assert.match(
    parallelResults[0]!.content,
    /^<tool_response>\n[^\n]*\n<\/tool_response>\n<tool_response>\n[^\n]*\n<\/tool_response>\n<tool_response>\n[^\n]*\n<\/tool_response>$/,
  );
  // The SFT conversation is the RL prompt plus the label turn: SFT and GRPO train on the same context.
  // Only the label turn is trained: earlier assistant turns carry weight 0, other roles none.
  assert.deepEqual(
    sft.slice(0, -1).map(({ role, content }) => ({ role, content })),
    f.sample.prompt,
  );
  assert.deepEqual(
    sft.slice(0, -1).map((m) => m.weight),
    f.sample.prompt.map((m) => (m.role === "assistant" ? 0 : null)),
  );
  assert.deepEqual(sft.at(-1), { role: "assistant", content: (final.messages.at(-1) as { content: string }).content, weight: 1 });

  // "none" (a custom dataset class renders the turns itself) keeps them as stored.
  const n = prepareSample({ id: "s5", messages: final.messages, tools: final.tools }, "none");
  assert.ok(n.ok);
  if (n.ok) assert.equal(n.sample.sftMessages.filter((m) => m.role === "tool").length, 4);
});
