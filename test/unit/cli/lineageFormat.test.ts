/**
 * `toolloop sample lineage`'s text: a sample of one campaign judged, probed and repaired by the next
 * (a weekly run continuing it) names that campaign on every such line; a simulated sample says so;
 * expand.errors' committee votes (kept in the sample's metadata) are shown.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatLineage } from "../../../src/cli/lineage.js";
import type { LineageStep } from "../../../src/db/repos/lineage.js";

const at = new Date(0);
const sample = (id: string, campaignId: string, origin: string, metadata: Record<string, unknown>, parentId: string | null = null) =>
  ({
    id,
    campaignId,
    iteration: 1,
    kind: "standard",
    origin,
    parentId,
    slotKey: null,
    stage: origin === "expanded" ? "expand.errors" : "synthesize.singleTurn",
    messages: [
      { role: "user", content: "weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "c0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
    ],
    tools: [],
    status: "verified",
    verdicts: [{ verifier: "rules", ok: true, reasons: [] }],
    metadata,
    createdAt: at,
    updatedAt: at,
    exactKey: null,
  }) as unknown as LineageStep["sample"];

const empty = { pools: [], exclusions: [], scores: [], probes: [], votes: [], judgements: [] };

test("lineage names the other campaign on every line about it, marks simulated provenance and shows expand.errors' votes", () => {
  const provenance = {
    config: { version: 1, sha256: "a09db2b114ee088a42410a2688" },
    code: { version: "0.1.0", commit: "431a766f621256b1d80ad947" },
    roles: { generator: { model: "toolloop-sim-generator" } },
    simulated: true,
  };
  const expanded = sample("s_new", "week-2", "expanded", {
    provenance,
    committee: {
      votes: [
        { judge: "judge#0", model: "j", verdict: "CORRECT", analysis: "The answer\nmatches." },
        { judge: "judge#1", model: "j" },
      ],
    },
  });
  const seed = sample("s_seed", "week-1", "synthesized", { provenance: { ...provenance, simulated: false } });
  const b = "week-2";
  const chain: LineageStep[] = [
    { sample: expanded, ...empty },
    {
      sample: seed,
      ...empty,
      pools: [{ campaignId: b, iteration: 1, sampleId: "s_seed", reason: "error_seed", weight: 1, details: null, createdAt: at }],
      exclusions: [{ campaignId: b, iteration: 2, sampleId: "s_seed", reason: "budget", details: null, createdAt: at }],
      probes: [
        {
          campaignId: b,
          iteration: 1,
          sampleId: "s_seed",
          model: "p",
          modelVersionId: null,
          match: false,
          prediction: { content: "no" },
          reasons: [],
          createdAt: at,
        },
      ],
      votes: [{ campaignId: b, iteration: 1, sampleId: "s_seed", judge: "judge#0", model: "j", verdict: "PRED_WRONG", analysis: "x", createdAt: at }],
      judgements: [
        { campaignId: b, iteration: 1, sampleId: "s_seed", verdict: "PRED_WRONG", action: "error_seed", votes: 3, resultSampleId: null, createdAt: at },
      ],
    } as unknown as LineageStep,
  ];
  const lines = formatLineage(chain, [{ id: "s_child", campaignId: "week-3", origin: "repaired", stage: "repair.labels", iteration: 1, status: "verified" }]);
  const text = lines.join("\n");
  assert.ok(lines.includes("    campaign: week-2"), text);
  assert.ok(lines.includes("    campaign: week-1"), text);
  assert.ok(
    lines.includes(
      "    provenance: config v1 sha256 a09db2b114ee; code 0.1.0 @431a766f6212; roles generator toolloop-sim-generator; SIMULATED (the LLM simulator answered)",
    ),
    text,
  );
  assert.equal(lines.filter((l) => l.includes("SIMULATED")).length, 1, "the seed's provenance says simulated: false");
  assert.ok(lines.includes("    committee vote judge#0 (j): CORRECT — The answer matches."), text);
  assert.ok(lines.includes("    committee vote judge#1 (j): unreadable"), text);
  assert.ok(lines.includes("    pool of iteration 1 of campaign week-2: error_seed"), text);
  assert.ok(lines.includes("    left out of iteration 2 of campaign week-2's pool: budget"), text);
  assert.ok(
    lines.some((l) => l.startsWith("    probe (iteration 1 of campaign week-2, p): MISMATCH")),
    text,
  );
  assert.ok(
    lines.some((l) => l.startsWith("    judge judge#0 (j, iteration 1 of campaign week-2): PRED_WRONG")),
    text,
  );
  assert.ok(lines.includes("    committee (iteration 1 of campaign week-2): PRED_WRONG of 3 votes -> error_seed"), text);
  assert.ok(lines.includes("  made from it: s_child (repaired by repair.labels in iteration 1 of campaign week-3, verified)"), text);
});

test("a multi-turn sample's user line is the request its label answers (the last user turn), with its place in the dialogue", () => {
  const call = (id: string, name: string, args: string) => ({ id, type: "function", function: { name, arguments: args } });
  const dialogue = {
    ...sample("s_mt", "mt", "synthesized", { dialogue: { id: "mt/1/synthesize.multiTurn/0", labelSeq: 7, userTurn: 2, round: 1, turns: 4 } }),
    kind: "multi_turn",
    stage: "synthesize.multiTurn",
    messages: [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "Please evaluate 2+2." },
      { role: "assistant", content: null, tool_calls: [call("call_2_0", "evaluate_expression", '{"expression":"2+2"}')] },
      { role: "tool", tool_call_id: "call_2_0", content: '{"value":4}' },
      { role: "assistant", content: "It is 4." },
      { role: "user", content: "Now my BMI for 180 cm and 75 kg." },
      { role: "assistant", content: null, tool_calls: [call("call_6_0", "calculate_bmi", '{"height_cm":180,"weight_kg":75}')] },
      { role: "tool", tool_call_id: "call_6_0", content: '{"bmi":23.1}' },
      { role: "assistant", content: "Your BMI is 23.1." },
    ],
  } as unknown as LineageStep["sample"];
  const lines = formatLineage([{ sample: dialogue, ...empty }], []);
  assert.ok(lines.includes("    user (turn 2 of 4): Now my BMI for 180 cm and 75 kg."), lines.join("\n"));
  assert.ok(lines.includes('    label: "Your BMI is 23.1."'), lines.join("\n"));
  assert.ok(!lines.some((l) => l.includes("evaluate 2+2")), lines.join("\n"));
});
