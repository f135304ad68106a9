/**
 * The simulated user across whole dialogues (played in process with the protocol's builders): it
 * follows its plan step by step with every value in its words, leaves a required value out when told
 * to and supplies it when asked, changes its mind now and then, stops early when told to, and says
 * done when the plan is served or the turns run out. Its wording follows the style.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { userTurnMessages, userTurnSchema, USER_TURN_RESPONSE_FORMAT, type DialoguePlan } from "../../../src/dialogue/protocol.js";
import { literal } from "../../../src/llm/simulator/text.js";
import { RESULT_REFERENCE } from "../../../src/llm/simulator/dialogue/planner.js";
import { inProcessAsk, playDialogue, scriptedAnswer } from "../../helpers/simDialogue.js";
import { DIALOGUE_TOOLS } from "../../helpers/simDialogueTools.js";

const NO_FAULTS = { userChangeOfMindRate: 0, missingParameterRate: 0 };

test("the user asks for every plan step in order, with every value, and says done when served", async () => {
  for (const seed of [1, 2, 3]) {
    const d = await playDialogue(inProcessAsk(seed, { dialogue: NO_FAULTS }), { tools: DIALOGUE_TOOLS, targetTurns: 8 });
    assert.ok(d.finished, "the user said done");
    const requests = d.userTurns.filter((u) => u.action === "request");
    assert.deepEqual(
      requests.map((u) => u.step),
      d.plan.steps.map((_, i) => i),
    );
    assert.equal(d.userTurns.at(-1)!.action, "done");
    for (const u of requests)
      for (const call of d.plan.steps[u.step]!.calls)
        for (const v of Object.values(call.arguments))
          if (v !== RESULT_REFERENCE) assert.ok(u.message.includes(literal(v)), `${u.message} carries ${literal(v)}`);
    // The assistant served every call of the plan (with the result-derived id for chained calls).
    const made = d.results.map((r) => r.name);
    assert.deepEqual(
      made,
      d.plan.steps.flatMap((s) => s.calls.map((c) => c.name)),
    );
    assert.ok(
      d.results.every((r) => r.result.ok),
      "no call was refused",
    );
  }
});

test("a left-out required value: the assistant asks, the user clarifies, the call carries the value", async () => {
  const d = await playDialogue(inProcessAsk(5, { dialogue: { missingParameterRate: 1, userChangeOfMindRate: 0 } }), { tools: DIALOGUE_TOOLS, targetTurns: 5 });
  const clarifies = d.userTurns.filter((u) => u.action === "clarify");
  assert.ok(clarifies.length >= 1, "the user clarified");
  assert.ok(d.finished);
  for (const c of clarifies) {
    const i = d.messages.findIndex((m) => m.role === "user" && m.content === c.message);
    const question = d.messages[i - 1]!;
    assert.equal(question.role, "assistant");
    assert.match(question.content ?? "", /\?/, "the assistant asked first");
    const next = d.messages[i + 1]!;
    assert.ok(next.role === "assistant" && next.tool_calls && next.tool_calls.length > 0, "after the clarification the assistant calls");
  }
  // Every call the plan asked for was made with the plan's values.
  for (const step of d.plan.steps)
    for (const call of step.calls) {
      const fixed = Object.fromEntries(Object.entries(call.arguments).filter(([, v]) => v !== RESULT_REFERENCE));
      assert.ok(
        d.results.some(
          (r) =>
            r.name === call.name && Object.entries(fixed).every(([k, v]) => JSON.stringify((r.arguments as Record<string, unknown>)[k]) === JSON.stringify(v)),
        ),
        `${call.name} ${JSON.stringify(fixed)} was called`,
      );
    }
});

test("without the tools in its case the user never leaves a value out (it cannot know what is required)", async () => {
  const d = await playDialogue(inProcessAsk(5, { dialogue: { missingParameterRate: 1, userChangeOfMindRate: 0 } }), {
    tools: DIALOGUE_TOOLS,
    targetTurns: 5,
    userGetsTools: false,
  });
  assert.equal(d.userTurns.filter((u) => u.action === "clarify").length, 0);
  assert.ok(d.finished);
});

test("changes of mind: an earlier step asked again with one value changed, and the assistant redoes it", async () => {
  const d = await playDialogue(inProcessAsk(7, { dialogue: { userChangeOfMindRate: 1, missingParameterRate: 0 } }), { tools: DIALOGUE_TOOLS, targetTurns: 6 });
  const changes = d.userTurns.filter((u) => u.action === "change");
  assert.ok(changes.length >= 1);
  for (const c of changes) {
    assert.match(c.message, /changed my mind|on second thought|on reflection|correction/i);
    const asked = d.userTurns.findIndex((u) => u === c);
    assert.ok(
      d.userTurns.slice(0, asked).some((u) => u.action === "request" && u.step === c.step),
      "a change is about a step asked before",
    );
  }
  assert.ok(new Set(changes.map((c) => c.step)).size === changes.length, "each step changes at most once");
  assert.ok(d.finished, "the plan is still served to the end");
});

test("early stop and turns running out: done before the plan is served", async () => {
  const early = await playDialogue(inProcessAsk(2, { dialogue: { userEarlyStopRate: 1, ...NO_FAULTS } }), { tools: DIALOGUE_TOOLS, targetTurns: 10 });
  const asked = early.userTurns.filter((u) => u.action === "request").length;
  assert.ok(asked >= 1 && asked < early.plan.steps.length, `stopped after ${asked} of ${early.plan.steps.length} steps`);
  assert.equal(early.userTurns.at(-1)!.action, "done");

  const plan: DialoguePlan = {
    scenario: "x",
    targetTurns: 3,
    steps: [0, 1, 2, 3].map((i) => ({ need: "single" as const, intent: "get the weather", calls: [{ name: "get_weather", arguments: { city: `City${i}` } }] })),
  };
  const at = (turn: number, maxTurns: number) =>
    userTurnSchema.parse(
      JSON.parse(
        scriptedAnswer(0, {
          messages: userTurnMessages({ plan, persona: "p", style: "terse", transcript: [], turn, maxTurns }),
          response_format: { type: "json_schema", json_schema: USER_TURN_RESPONSE_FORMAT },
        }).content!,
      ),
    );
  assert.equal(at(3, 3).action, "done", "no turns left");
  assert.equal(at(0, 3).action, "request");
});

test("wording follows the style and the user is deterministic for a request", async () => {
  const plan: DialoguePlan = {
    scenario: "x",
    targetTurns: 2,
    steps: [{ need: "single", intent: "get the weather", calls: [{ name: "get_weather", arguments: { city: "Oslo" } }] }],
  };
  const say = (style: string, seed = 0) =>
    scriptedAnswer(
      seed,
      {
        messages: userTurnMessages({ plan, persona: "a nurse finishing a night shift", style, transcript: [], turn: 0, maxTurns: 5, tools: DIALOGUE_TOOLS }),
        response_format: { type: "json_schema", json_schema: USER_TURN_RESPONSE_FORMAT },
      },
      { dialogue: NO_FAULTS },
    ).content!;
  assert.equal(say("formal"), say("formal"));
  const styles = ["terse", "chatty", "formal", "casual", "precise", "uncertain, thinks aloud"];
  const texts = new Set<string>();
  for (const style of styles) for (let seed = 0; seed < 4; seed++) texts.add(JSON.parse(say(style, seed)).message as string);
  assert.ok(texts.size >= 12, `varied wording (${texts.size} distinct)`);
  for (const t of texts) assert.ok(t.includes('"Oslo"'), t);
});

test("a transcript without steps: the user infers them (next step after a served one, the same after a question)", () => {
  const plan: DialoguePlan = {
    scenario: "x",
    targetTurns: 3,
    steps: ["Oslo", "Lima", "Paris"].map((city) => ({
      need: "single" as const,
      intent: "get the weather",
      calls: [{ name: "get_weather", arguments: { city } }],
    })),
  };
  const next = (transcript: { role: "user" | "assistant"; content: string }[]) =>
    userTurnSchema.parse(
      JSON.parse(
        scriptedAnswer(
          0,
          {
            messages: userTurnMessages({
              plan,
              persona: "p",
              style: "terse",
              transcript,
              turn: transcript.filter((v) => v.role === "user").length,
              maxTurns: 9,
            }),
            response_format: { type: "json_schema", json_schema: USER_TURN_RESPONSE_FORMAT },
          },
          { dialogue: NO_FAULTS },
        ).content!,
      ),
    );
  const served = [
    { role: "user" as const, content: 'Get the weather with city "Oslo".' },
    { role: "assistant" as const, content: "It is cold in Oslo." },
  ];
  assert.deepEqual([next(served).action, next(served).step], ["request", 1]);
  const asked = [
    { role: "user" as const, content: "Get the weather." },
    { role: "assistant" as const, content: "Which city?" },
  ];
  const clarify = next(asked);
  assert.deepEqual([clarify.action, clarify.step], ["clarify", 0]);
  assert.match(clarify.message, /city "Oslo"/);
});
