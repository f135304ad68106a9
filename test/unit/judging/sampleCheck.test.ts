/**
 * verify.judges' pure logic: the case a judge reads (label = the last message, prompt = everything
 * before it) and how the committee's verdict becomes the sample's `judges` verdict and status.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SAMPLE_CHECK_MARKER } from "../../../src/dialogue/protocol.js";
import type { ChatMessage } from "../../../src/domain/types.js";
import { parseCaseMessage } from "../../../src/judging/protocol.js";
import { decideSample, NoLabelError, sampleCheckAnswerSchema, sampleCheckCase } from "../../../src/judging/sampleCheck.js";
import { EXAMPLE_TOOLS } from "../../../src/tools/examples.js";

const tools = EXAMPLE_TOOLS.slice(0, 2).map((t) => t.tool);
const call = { id: "c1", type: "function" as const, function: { name: tools[0]!.name, arguments: '{"location":"Oslo"}' } };

test("the case: the last message is the label (arguments decoded), every message before it the prompt, tool messages included", () => {
  const messages: ChatMessage[] = [
    { role: "system", content: "sys" },
    { role: "user", content: "weather in Oslo?" },
    { role: "assistant", content: null, tool_calls: [call] },
    { role: "tool", tool_call_id: "c1", content: '{"temperature":3}' },
    { role: "assistant", content: "It is 3 degrees in Oslo." },
  ];
  const [system, user] = sampleCheckCase({ id: "s", messages, tools });
  assert.ok(system!.role === "system" && system!.content.startsWith(SAMPLE_CHECK_MARKER));
  const c = parseCaseMessage(user!.content as string)!;
  assert.deepEqual(c.messages, messages.slice(0, -1));
  assert.deepEqual(c.label, { content: "It is 3 degrees in Oslo.", tool_calls: [] });
  assert.equal((c.tools as unknown[]).length, 2);
  const callLabel = parseCaseMessage(sampleCheckCase({ id: "s", messages: messages.slice(0, 3), tools })[1]!.content as string)!;
  assert.deepEqual(callLabel.label, { content: null, tool_calls: [{ name: tools[0]!.name, arguments: { location: "Oslo" } }] });
});

test("a sample whose last message is not an assistant turn has no label to judge", () => {
  assert.throws(
    () => sampleCheckCase({ id: "s1", messages: [{ role: "user", content: "hi" }], tools }),
    (e: unknown) => e instanceof NoLabelError && /sample s1: the last message is a user message/.test(e.message),
  );
  assert.throws(() => sampleCheckCase({ id: "s2", messages: [], tools }), NoLabelError);
});

test("answers: CORRECT / INCORRECT with an analysis, nothing else", () => {
  assert.ok(sampleCheckAnswerSchema.safeParse({ verdict: "CORRECT", analysis: "ok" }).success);
  assert.ok(!sampleCheckAnswerSchema.safeParse({ verdict: "BOTH_CORRECT", analysis: "ok" }).success);
  assert.ok(!sampleCheckAnswerSchema.safeParse({ verdict: "INCORRECT" }).success);
});

test("decision: INCORRECT rejects, CORRECT keeps unless another verifier failed, no consensus follows noConsensus", () => {
  const base = { consensus: 2, committeeSize: 3, otherVerdicts: [{ verifier: "rules", ok: true, reasons: [] }] };
  const correct = decideSample({ ...base, verdict: "CORRECT", counts: { CORRECT: 3 }, noConsensus: "reject" });
  assert.deepEqual(correct, { verdict: { verifier: "judges", ok: true, reasons: [] }, status: "verified" });
  const wrong = decideSample({ ...base, verdict: "INCORRECT", counts: { CORRECT: 1, INCORRECT: 2 }, noConsensus: "keep" });
  assert.equal(wrong.status, "rejected");
  assert.deepEqual(wrong.verdict.reasons, ["judged INCORRECT: 1 CORRECT, 2 INCORRECT of 3 votes (consensus 2)"]);
  const undecided = { ...base, verdict: null, counts: { CORRECT: 1, INCORRECT: 1 } };
  assert.equal(decideSample({ ...undecided, noConsensus: "keep" }).status, "verified");
  assert.equal(decideSample({ ...undecided, noConsensus: "reject" }).status, "rejected");
  const rulesFailed = decideSample({
    ...base,
    otherVerdicts: [{ verifier: "rules", ok: false, reasons: ["bad"] }],
    verdict: "CORRECT",
    counts: { CORRECT: 2 },
    noConsensus: "keep",
  });
  assert.equal(rulesFailed.status, "rejected", "a failed rules verdict still rejects");
  const rerun = decideSample({
    ...base,
    otherVerdicts: [{ verifier: "judges", ok: false, reasons: ["old"] }],
    verdict: "CORRECT",
    counts: { CORRECT: 2 },
    noConsensus: "keep",
  });
  assert.equal(rerun.status, "verified", "the stage's own earlier verdict is replaced, not counted");
});
