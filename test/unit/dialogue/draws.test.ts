/**
 * drawDialogueHeader: a pure function of (seed, iteration, slot); the tools offered are a subset of the
 * library within toolsPerDialogue; the target turns average turns.mean and never leave [1, turns.max].
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { drawDialogueHeader, drawTargetTurns, needShares } from "../../../src/dialogue/draws.js";
import type { McpTool } from "../../../src/domain/types.js";
import { multiTurnStageSchema } from "../../../src/stages/synthesize/multiTurn/spec.js";
import { SeededRandom } from "../../../src/util/random.js";

const library: McpTool[] = Array.from({ length: 10 }, (_, i) => ({
  name: `tool_${i}`,
  description: `tool number ${i}`,
  inputSchema: { type: "object", properties: { x: { type: "string" } } },
}));
const stage = multiTurnStageSchema.parse({ name: "synthesize.multiTurn", dialogues: 100 });

test("the same (seed, iteration, slot) draws the same header; another slot draws another", () => {
  const draw = (slot: number, seed = 7, iteration = 2) => drawDialogueHeader({ campaignId: "c1", iteration, slot, seed, library, stage });
  assert.deepEqual(draw(3), draw(3));
  assert.equal(draw(3).id, "c1/2/synthesize.multiTurn/3");
  const others = [draw(4), draw(3, 8), draw(3, 7, 3)];
  for (const o of others) assert.notEqual(o.seed, draw(3).seed);
  // Across slots the persona, style, tools and targets vary.
  const headers = Array.from({ length: 50 }, (_, slot) => draw(slot));
  assert.ok(new Set(headers.map((h) => h.persona)).size > 3);
  assert.ok(new Set(headers.map((h) => h.style)).size > 3);
  assert.ok(new Set(headers.map((h) => h.tools.map((t) => t.name).join())).size > 40);
  for (const h of headers) {
    assert.ok(stage.personas.includes(h.persona) && stage.styles.includes(h.style));
    assert.ok(h.tools.length >= 3 && h.tools.length <= 6, `${h.tools.length} tools`);
    assert.equal(new Set(h.tools.map((t) => t.name)).size, h.tools.length, "no tool twice");
    for (const t of h.tools) assert.ok(library.includes(t));
  }
});

test("tools per dialogue are capped at the library's size; an empty library is refused", () => {
  const small = library.slice(0, 2);
  const h = drawDialogueHeader({ campaignId: "c", iteration: 1, slot: 0, seed: 1, library: small, stage });
  assert.equal(h.tools.length, 2);
  assert.throws(() => drawDialogueHeader({ campaignId: "c", iteration: 1, slot: 0, seed: 1, library: [], stage }), /tool library is empty/);
});

test("target turns: mean close to turns.mean (7.5) over many draws, never above turns.max (15), never below 1", () => {
  const targets = Array.from({ length: 4000 }, (_, slot) => drawDialogueHeader({ campaignId: "c", iteration: 1, slot, seed: 11, library, stage }).targetTurns);
  const mean = targets.reduce((a, b) => a + b, 0) / targets.length;
  assert.ok(Math.abs(mean - 7.5) < 0.15, `mean ${mean}`);
  assert.ok(Math.max(...targets) <= 15 && Math.min(...targets) >= 1);
  assert.ok(new Set(targets).size >= 8, "spread over many lengths");
  // Other settings: the mean follows the configuration, the cap holds.
  const rng = new SeededRandom(3);
  const short = Array.from({ length: 4000 }, () => drawTargetTurns(rng, { mean: 2, max: 4 }));
  assert.ok(Math.abs(short.reduce((a, b) => a + b, 0) / short.length - 2) < 0.1);
  assert.ok(Math.max(...short) <= 4);
  assert.equal(drawTargetTurns(rng, { mean: 1, max: 1 }), 1);
  assert.ok(Array.from({ length: 100 }, () => drawTargetTurns(rng, { mean: 6, max: 6 })).every((t) => t === 6));
});

test("the planner gets the need proportions as shares", () => {
  assert.deepEqual(needShares({ single: 2, multi: 1, parallel: 1 }), { single: 0.5, multi: 0.25, parallel: 0.25 });
  assert.deepEqual(needShares(stage.needs), { single: 0.5, multi: 0.3, parallel: 0.2 });
});
