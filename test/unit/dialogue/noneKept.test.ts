import assert from "node:assert/strict";
import { test } from "node:test";
import { noDialogueKeptWarning } from "../../../src/dialogue/noneKept.js";
import type { DialogueOutcome } from "../../../src/dialogue/types.js";
import { summarizeDialogues } from "../../../src/stages/synthesize/multiTurn/summary.js";

const outcome = (o: Partial<DialogueOutcome>): DialogueOutcome => ({
  status: "dropped",
  finished: false,
  userTurns: 1,
  acceptedTurns: 0,
  rejectedTurns: 3,
  reflections: 0,
  negotiations: 0,
  toolCalls: 0,
  toolErrors: 0,
  ...o,
});

test("no dialogue kept: the warning says so, with the drop reasons by count (most first) and the failures", () => {
  const outcomes = [
    ...Array.from({ length: 20 }, () => outcome({ dropReason: "too_many_rejected_turns" })),
    ...Array.from({ length: 9 }, () => outcome({ dropReason: "no_accepted_turns" })),
    outcome({ dropReason: "bad_plan" }),
  ];
  const s = summarizeDialogues(outcomes, []);
  assert.equal(
    noDialogueKeptWarning({ ...s.dialogues, dropReasons: s.dropReasons }),
    "no dialogue kept, so no multi-turn sample was written: 30 dropped (too_many_rejected_turns 20, no_accepted_turns 9, bad_plan 1) of 30",
  );
  assert.equal(
    noDialogueKeptWarning({ kept: 0, dropped: 2, failed: 1, dropReasons: { unfinished: 2 } }),
    "no dialogue kept, so no multi-turn sample was written: 2 dropped (unfinished 2), 1 failed (an LLM request refused for good) of 3",
  );
  assert.match(noDialogueKeptWarning({ kept: 0, dropped: 0, failed: 4, dropReasons: {} })!, /: 4 failed \(an LLM request refused for good\) of 4$/);
});

test("no warning when a dialogue was kept or none has ended", () => {
  assert.equal(noDialogueKeptWarning({ kept: 1, dropped: 29, failed: 0, dropReasons: { too_many_rejected_turns: 29 } }), undefined);
  assert.equal(noDialogueKeptWarning({ kept: 0, dropped: 0, failed: 0, dropReasons: {} }), undefined);
});
