/**
 * The multi-turn roles' scriptable faults happen at their configured rates, each from its own
 * stream; the assistant is deterministic at temperature 0 whatever the seed, and its samples disagree
 * only at temperature > 0; bad rates are refused naming the option (and the CLI flag).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { createAjv } from "../../../src/jsonSchema/ajv.js";
import type { ChatMessage } from "../../../src/domain/types.js";
import { toOpenAiTool } from "../../../src/domain/types.js";
import {
  ASSISTANT_SYSTEM,
  dialoguePlanSchema,
  PLAN_RESPONSE_FORMAT,
  planMessages,
  TOOL_RESULT_RESPONSE_FORMAT,
  toolResultSchema,
  toolServerMessages,
} from "../../../src/dialogue/protocol.js";
import { dialogueRateFlag, normaliseDialogueOptions, type DialogueSimOptions } from "../../../src/llm/simulator/dialogue/options.js";
import { startSimulator } from "../../../src/llm/simulator/server.js";
import { scriptedAnswer } from "../../helpers/simDialogue.js";
import { DIALOGUE_TOOLS } from "../../helpers/simDialogueTools.js";

const openAi = DIALOGUE_TOOLS.map(toOpenAiTool);
const N = 400;

function within(observed: number, rate: number, what: string) {
  // Four binomial standard deviations (and at least 0.03): a bound that flakes about never.
  const tolerance = Math.max(0.03, 4 * Math.sqrt((rate * (1 - rate)) / N));
  assert.ok(Math.abs(observed - rate) <= tolerance, `${what}: observed ${observed.toFixed(3)}, configured ${rate}`);
}

function turn(i: number): ChatMessage[] {
  const cities = ["Oslo", "Lima", "Paris", "Tokyo"];
  return [
    { role: "system", content: ASSISTANT_SYSTEM },
    {
      role: "user",
      content: `Could you get the current weather for a city with city "${cities[i % 4]}" and days = ${1 + (i % 7)}? Also, create an order for a product with product id "P-${i}" and quantity 2.`,
    },
  ];
}

function assistantAt(i: number, dialogue: DialogueSimOptions, extra: Record<string, unknown>) {
  return scriptedAnswer(i, { messages: turn(i), tools: openAi, tool_choice: "auto", ...extra }, { dialogue });
}

test("assistant schema violations at their rate, each one breaking the tool's schema", () => {
  const ajv = createAjv();
  let violations = 0;
  for (let i = 0; i < N; i++) {
    const a = assistantAt(i, { assistantSchemaViolationRate: 0.3 }, { temperature: 0 });
    const broken = a.toolCalls.some((c) => {
      const tool = DIALOGUE_TOOLS.find((t) => t.name === c.name);
      return !tool || !ajv.validate(tool.inputSchema, JSON.parse(c.arguments));
    });
    assert.equal(broken, a.fault !== undefined, `answer ${i}: a fault is exactly a broken call (${a.fault ?? "none"})`);
    if (broken) violations++;
  }
  within(violations / N, 0.3, "schema violations");
});

test("temperature 0: every seed gives the same answer; temperature > 0: samples disagree at the configured rate", () => {
  const rates = { assistantDisagreementRate: 0.25 };
  const base = assistantAt(0, rates, { temperature: 0, seed: 1 });
  for (let seed = 2; seed < 40; seed++) {
    const a = scriptedAnswer(0, { messages: turn(0), tools: openAi, tool_choice: "auto", temperature: 0, seed }, { dialogue: rates });
    assert.deepEqual(
      a.toolCalls.map((c) => [c.name, c.arguments]),
      base.toolCalls.map((c) => [c.name, c.arguments]),
    );
  }
  const truth = base.toolCalls.map((c) => [c.name, c.arguments]);
  let disagree = 0;
  for (let seed = 0; seed < N; seed++) {
    const a = scriptedAnswer(0, { messages: turn(0), tools: openAi, tool_choice: "auto", temperature: 0.7, seed }, { dialogue: rates });
    if (JSON.stringify(a.toolCalls.map((c) => [c.name, c.arguments])) !== JSON.stringify(truth)) disagree++;
  }
  within(disagree / N, 0.25, "disagreements at temperature 0.7");
  const none = scriptedAnswer(
    0,
    { messages: turn(0), tools: openAi, tool_choice: "auto", temperature: 0.7, seed: 3 },
    { dialogue: { assistantDisagreementRate: 0 } },
  );
  assert.deepEqual(
    none.toolCalls.map((c) => [c.name, c.arguments]),
    truth,
  );
});

test("tool server errors of its own at their rate, beyond the engine's fail", () => {
  let errors = 0;
  for (let i = 0; i < N; i++) {
    const tool = DIALOGUE_TOOLS[0]!;
    const a = scriptedAnswer(
      0,
      {
        messages: toolServerMessages({ tool, call: { name: tool.name, arguments: { city: `C${i}` } }, history: [] }),
        response_format: { type: "json_schema", json_schema: TOOL_RESULT_RESPONSE_FORMAT },
      },
      { dialogue: { toolServerErrorRate: 0.2 } },
    );
    const r = toolResultSchema.parse(JSON.parse(a.content!));
    if (!r.ok) {
      assert.ok(["rate_limited", "unavailable", "timeout", "permission_denied", "not_found"].includes(r.error.type));
      errors++;
    }
  }
  within(errors / N, 0.2, "tool server errors");
});

test("planner bad plans at their rate: an unknown tool or no steps", () => {
  let bad = 0;
  for (let i = 0; i < N; i++) {
    const a = scriptedAnswer(
      i,
      {
        messages: planMessages({ tools: DIALOGUE_TOOLS, targetTurns: 4, needs: { single: 1, multi: 0, parallel: 0 } }),
        response_format: { type: "json_schema", json_schema: PLAN_RESPONSE_FORMAT },
      },
      { dialogue: { plannerBadPlanRate: 0.15 } },
    );
    const parsed = dialoguePlanSchema.safeParse(JSON.parse(a.content!));
    const unusable = !parsed.success || parsed.data.steps.some((s) => s.calls.some((c) => !DIALOGUE_TOOLS.some((t) => t.name === c.name)));
    assert.equal(unusable, a.fault === "bad_plan");
    if (unusable) bad++;
  }
  within(bad / N, 0.15, "bad plans");
});

test("rates are validated: the option and the CLI flag are named", async () => {
  assert.throws(() => normaliseDialogueOptions({ userEarlyStopRate: 1.5 }), /dialogue\.userEarlyStopRate must be a number between 0 and 1 \(got 1\.5\)/);
  await assert.rejects(startSimulator({ dialogue: { toolServerErrorRate: -0.1 } }), /dialogue\.toolServerErrorRate/);
  assert.equal(dialogueRateFlag("assistantSchemaViolationRate"), "--dialogue-assistant-schema-violation-rate");
  const cli = spawnSync(process.execPath, ["dist/src/llm/simulator/main.js", "--port", "0", "--dialogue-user-early-stop-rate", "2"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /--dialogue-user-early-stop-rate must be a number between 0 and 1 \(got "2"\)/);
});
