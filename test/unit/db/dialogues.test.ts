/** PostgresDialogueStore on PGlite: open creates or returns a dialogue, and every write is idempotent. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { migrateDatabase, openDatabase } from "../../../src/db/client.js";
import { dialogueOutcomes, dialogueProgress, dialogueTurnsOf, PostgresDialogueStore, toolExecutionsOf } from "../../../src/db/repos/dialogues.js";
import type { DialoguePlan } from "../../../src/dialogue/protocol.js";
import type { DialogueHeader, DialogueOutcome, DialogueTurn } from "../../../src/dialogue/types.js";

const tool = { name: "get_weather", description: "Weather", inputSchema: { type: "object" as const, properties: { city: { type: "string" } } } };
const header: DialogueHeader = {
  id: "c/1/synthesize.multiTurn/0",
  campaignId: "c",
  iteration: 1,
  slot: 0,
  persona: "a traveller",
  style: "terse",
  tools: [tool],
  targetTurns: 3,
  seed: 2 ** 40 + 7,
};
const plan: DialoguePlan = {
  scenario: "a trip",
  steps: [{ need: "single", intent: "weather in Paris", calls: [{ name: "get_weather", arguments: { city: "Paris" } }] }],
  targetTurns: 3,
};
const turns: DialogueTurn[] = [
  { seq: 0, kind: "system", message: { role: "system", content: "sys" } },
  {
    seq: 1,
    kind: "user",
    message: { role: "user", content: "Weather in Paris?" },
    user: { message: "Weather in Paris?", action: "request", step: 0 },
    userTurn: 1,
  },
  {
    seq: 2,
    kind: "assistant",
    message: {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
    },
    review: { candidates: [], votes: { groups: [3], agreeRequired: 2 }, decision: "vote", chosen: 0 },
    userTurn: 1,
    round: 0,
    accepted: true,
  },
  {
    seq: 3,
    kind: "tool",
    message: { role: "tool", tool_call_id: "call_1", content: '{"temp":21}' },
    result: { ok: true, result: { temp: 21 } },
    callName: "get_weather",
  },
];
const outcome: DialogueOutcome = {
  status: "kept",
  userTurns: 1,
  acceptedTurns: 1,
  rejectedTurns: 0,
  toolCalls: 1,
  toolErrors: 0,
  reflections: 0,
  negotiations: 0,
  finished: true,
};

test("PostgresDialogueStore: open, turns, calls and outcome survive replays unchanged", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const store = new PostgresDialogueStore(h.db);
    assert.deepEqual(await store.open(header), { header, plan: null, turns: [], outcome: null }, "a new dialogue has nothing stored");
    await store.savePlan(header.id, plan);
    await store.savePlan(header.id, { ...plan, scenario: "another" });
    // Turns arrive out of order once (a replayed batch), and twice each: stored once, read in seq order.
    const appended: boolean[] = [];
    for (const t of [turns[1], turns[0], ...turns, turns[3]] as DialogueTurn[]) appended.push(await store.appendTurn(header.id, t));
    assert.deepEqual(appended, [true, true, false, false, ...turns.slice(2).map(() => true), false], "appendTurn says whether it stored the turn");
    assert.equal(
      await store.appendTurn(header.id, { ...(turns[1] as DialogueTurn), message: { role: "user", content: "changed" } } as DialogueTurn),
      false,
      "a seq stored by another attempt is not stored again, and the caller is told",
    );

    const first = await store.callStarted({ dialogueId: header.id, callId: "call_1", name: "get_weather", arguments: { city: "Paris" } });
    assert.deepEqual(first, { dialogueId: header.id, callId: "call_1", name: "get_weather", arguments: { city: "Paris" }, status: "started", existed: false });
    assert.deepEqual(await store.callDone(header.id, "call_1", { ok: true, result: { temp: 21 } }), { ok: true, result: { temp: 21 } });
    assert.deepEqual(
      await store.callDone(header.id, "call_1", { ok: true, result: { temp: 99 } }),
      { ok: true, result: { temp: 21 } },
      "callDone returns the recorded result, not the caller's",
    );
    await assert.rejects(store.callDone(header.id, "call_9", { ok: true, result: 1 }), /call call_9 was never started/);
    const again = await store.callStarted({ dialogueId: header.id, callId: "call_1", name: "get_weather", arguments: { city: "Rome" } });
    assert.deepEqual(again.result, { ok: true, result: { temp: 21 } }, "a resumed call gets the first recorded result");
    assert.equal(again.status, "done");
    assert.equal(again.existed, true);
    assert.deepEqual(again.arguments, { city: "Paris" }, "the first recorded arguments stay");

    const reopened = await store.open({ ...header, persona: "someone else", tools: [], targetTurns: header.targetTurns + 1 });
    assert.deepEqual(reopened.header, header, "the header the dialogue was created with stays (a redrawn one is not taken)");
    assert.deepEqual(reopened.plan, plan, "the first plan stays");
    assert.deepEqual(reopened.turns, turns, "turns in seq order, each once, as first written");
    assert.equal(reopened.outcome, null);
    assert.deepEqual(await dialogueProgress(h.db, "c", 1), { running: 1, kept: 0, keptUnfinished: 0, dropped: 0, failed: 0, settledSince: 0, messages: 4 });

    await store.finish(header.id, outcome);
    await store.finish(header.id, { ...outcome, status: "dropped", dropReason: "unfinished" });
    assert.deepEqual((await store.open(header)).outcome, outcome, "the first outcome stays");
    const next = { ...(turns[1] as DialogueTurn), seq: turns.length } as DialogueTurn;
    assert.equal(await store.appendTurn(header.id, next), false, "an ended dialogue takes no more turns");
    assert.equal((await store.open(header)).turns.length, turns.length);
    assert.deepEqual([...(await dialogueOutcomes(h.db, [header.id, "c/1/synthesize.multiTurn/9"]))], [[header.id, outcome]]);
    assert.deepEqual(await dialogueProgress(h.db, "c", 1, new Date(Date.now() - 60_000)), {
      running: 0,
      kept: 1,
      keptUnfinished: 0,
      dropped: 0,
      failed: 0,
      settledSince: 1,
      messages: 4,
    });
    assert.deepEqual(await dialogueTurnsOf(h.db, header.id), turns);
    assert.equal((await toolExecutionsOf(h.db, [header.id])).length, 1);
  } finally {
    await h.close();
  }
});

test("dialogueProgress counts the kept dialogues that ended before the user said done, as the report does", async () => {
  const h = await openDatabase("pglite:memory");
  try {
    await migrateDatabase(h);
    const store = new PostgresDialogueStore(h.db);
    const ended: [string, DialogueOutcome][] = [
      ["0", outcome],
      ["1", { ...outcome, finished: false, unfinished: "turns_max" }],
      ["2", { ...outcome, finished: false, unfinished: "context_length" }],
      // Dropped for being unfinished (keepUnfinished off): not among the kept.
      ["3", { ...outcome, status: "dropped", dropReason: "unfinished", finished: false, unfinished: "turns_max" }],
    ];
    for (const [n, o] of ended) {
      const h2 = { ...header, id: `c/1/synthesize.multiTurn/${n}` };
      await store.open(h2);
      await store.finish(h2.id, o);
    }
    const progress = await dialogueProgress(h.db, "c", 1);
    assert.deepEqual([progress.kept, progress.keptUnfinished, progress.dropped], [3, 2, 1]);
  } finally {
    await h.close();
  }
});
