/**
 * What a dialogue is drawn from before any model is asked: its persona and style, the tools offered
 * (a subset of the library), and the number of user turns it aims at. A pure function of (seed,
 * iteration, slot), so a retried or resumed slot draws the same dialogue.
 *
 * The target turns follow 1 + Binomial(max - 1, p) with p = (mean - 1) / (max - 1): its mean is
 * exactly `turns.mean`, it never leaves [1, turns.max], and it needs no clipping that would shift the
 * mean (InfTool: 7-8 turns on average, up to 15).
 */
import type { McpTool } from "../domain/types.js";
import type { MultiTurnStage } from "../stages/synthesize/multiTurn/spec.js";
import { seedFrom } from "../util/ids.js";
import { SeededRandom } from "../util/random.js";
import { PLAN_NEEDS, type PlanNeed } from "./protocol.js";
import type { DialogueHeader } from "./types.js";

export function dialogueId(campaignId: string, iteration: number, slot: number): string {
  return `${campaignId}/${iteration}/synthesize.multiTurn/${slot}`;
}

/** A target number of user turns in [1, max] whose mean over many draws is `mean`. */
export function drawTargetTurns(rng: SeededRandom, turns: { mean: number; max: number }): number {
  if (!(turns.mean >= 1 && turns.mean <= turns.max)) throw new Error(`turns: expected 1 <= mean <= max (got mean ${turns.mean}, max ${turns.max})`);
  if (turns.max === 1) return 1;
  const p = (turns.mean - 1) / (turns.max - 1);
  let n = 1;
  for (let i = 0; i < turns.max - 1; i++) if (rng.chance(p)) n++;
  return n;
}

export function drawDialogueHeader(p: {
  campaignId: string;
  iteration: number;
  slot: number;
  seed: number;
  library: McpTool[];
  stage: MultiTurnStage;
}): DialogueHeader {
  if (p.library.length === 0) throw new Error("drawDialogueHeader: the tool library is empty; a dialogue needs at least one tool");
  const { stage } = p;
  const seed = seedFrom("dialogue", p.seed, p.iteration, p.slot);
  const rng = new SeededRandom(seed);
  const persona = rng.pick(stage.personas);
  const style = rng.pick(stage.styles);
  const max = Math.min(stage.toolsPerDialogue.max, p.library.length);
  const min = Math.min(stage.toolsPerDialogue.min, max);
  const tools = rng.shuffle(p.library).slice(0, rng.int(min, max));
  const targetTurns = drawTargetTurns(rng, stage.turns);
  return {
    id: dialogueId(p.campaignId, p.iteration, p.slot),
    campaignId: p.campaignId,
    iteration: p.iteration,
    slot: p.slot,
    persona,
    style,
    tools,
    targetTurns,
    seed,
  };
}

/** The stage's need proportions as shares summing to 1, as the planner is given them. */
export function needShares(needs: MultiTurnStage["needs"]): Record<PlanNeed, number> {
  const total = PLAN_NEEDS.reduce((s, n) => s + needs[n], 0);
  if (!(total > 0)) throw new Error("needs: expected at least one proportion above 0");
  return Object.fromEntries(PLAN_NEEDS.map((n) => [n, needs[n] / total])) as Record<PlanNeed, number>;
}
