/**
 * The in-memory DialogueStore keeps the interface's promises: idempotent writes (first value wins), no
 * gaps in seqs, call records that say whether they existed, and crashes injected after a chosen write.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryDialogueStore, SimulatedCrash } from "../../../src/dialogue/memoryStore.js";
import type { DialogueHeader, DialogueOutcome } from "../../../src/dialogue/types.js";

const header: DialogueHeader = {
  id: "c/1/synthesize.multiTurn/0",
  campaignId: "c",
  iteration: 1,
  slot: 0,
  persona: "p",
  style: "s",
  tools: [],
  targetTurns: 3,
  seed: 1,
};
const system = (content: string) => ({ seq: 0, kind: "system" as const, message: { role: "system" as const, content } });
const outcome: DialogueOutcome = {
  status: "kept",
  userTurns: 1,
  acceptedTurns: 1,
  rejectedTurns: 0,
  toolCalls: 0,
  toolErrors: 0,
  reflections: 0,
  negotiations: 0,
  finished: true,
};

test("writes are idempotent and a seq gap is refused", async () => {
  const store = new MemoryDialogueStore();
  assert.deepEqual(await store.open(header), { header, plan: null, turns: [], outcome: null });
  assert.deepEqual((await store.open({ ...header, persona: "someone else", tools: [] })).header, header, "the header it was created with stays");
  assert.equal(await store.appendTurn(header.id, system("first")), true);
  assert.equal(await store.appendTurn(header.id, system("second")), false, "the seq was stored already");
  assert.deepEqual(store.turns(header.id), [system("first")]);
  await assert.rejects(store.appendTurn(header.id, { ...system("x"), seq: 2 }), /seq 2 leaves a gap after 1 stored turns/);
  await store.finish(header.id, outcome);
  await store.finish(header.id, { ...outcome, status: "dropped" });
  assert.deepEqual((await store.open(header)).outcome, outcome, "the first outcome wins; open returns it");
  assert.equal(await store.appendTurn(header.id, { ...system("after"), seq: 1 }), false, "an ended dialogue takes no more turns");
  assert.equal(store.turns(header.id).length, 1);
  await assert.rejects(store.appendTurn("nope", system("x")), /never opened/);
});

test("call records: existed says whether an earlier attempt made it; done keeps the first result and returns it", async () => {
  const store = new MemoryDialogueStore();
  await store.open(header);
  const rec = { dialogueId: header.id, callId: "call_2_0", name: "t", arguments: { a: 1 } };
  assert.deepEqual(await store.callStarted(rec), { ...rec, status: "started", existed: false });
  assert.deepEqual(await store.callStarted(rec), { ...rec, status: "started", existed: true });
  assert.deepEqual(await store.callDone(header.id, "call_2_0", { ok: true, result: 1 }), { ok: true, result: 1 });
  assert.deepEqual(await store.callDone(header.id, "call_2_0", { ok: true, result: 2 }), { ok: true, result: 1 }, "the recorded result, not the caller's");
  assert.deepEqual(await store.callStarted(rec), { ...rec, status: "done", result: { ok: true, result: 1 }, existed: true });
  await assert.rejects(store.callDone(header.id, "call_9_0", { ok: true, result: 1 }), /never started/);
});

test("crashAfter throws once, right after the chosen write succeeded", async () => {
  const store = new MemoryDialogueStore();
  await store.open(header);
  store.crashAfter("appendTurn", 1);
  await assert.rejects(store.appendTurn(header.id, system("a")), (e) => e instanceof SimulatedCrash && e.write === "appendTurn" && e.count === 1);
  assert.equal(store.turns(header.id).length, 1, "the write happened");
  await store.appendTurn(header.id, { ...system("b"), seq: 1 });
  assert.equal(store.writeCount("appendTurn"), 2);
  assert.throws(() => store.crashAfter("finish", 0), /positive count/);
});
