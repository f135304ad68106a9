/**
 * The simulated planner (DIALOGUE_PLAN_MARKER): from the case's tools, target number of user turns
 * and step-need proportions, a plan whose steps use only those tools with schema-valid values
 * (schemaValues.ts). Needs are apportioned to the proportions (largest remainder) and shuffled, seeded
 * by the case, and tools are visited in a seeded rotation. A "multi" step is two calls where the
 * second takes an id from the first's result: that argument's plan value is RESULT_REFERENCE, which
 * the simulated user turns into "using the <param> from that result" (a plan without a tool taking a
 * required id has single steps instead). Steps: about 0.8 per target turn, leaving room for
 * clarifications and changes of mind.
 */
import { stringifyJsonExact } from "../../../util/exactJson.js";
import { PLAN_NEEDS, type DialoguePlan, type PlanNeed, type PlanStep } from "../../../dialogue/protocol.js";
import type { SeededRandom } from "../../../util/random.js";
import type { SimTool } from "../queryWriter.js";
import { objectForSchema, schemaType } from "../schemaValues.js";
import { asImperative, firstSentence, identifierWords, joinList } from "../text.js";
import { isObject, propertiesOf, requiredOf, simToolsOf } from "./cases.js";
import type { DialogueSimOptions } from "./options.js";
import { dialogueRng } from "./streams.js";

/** The plan value of an argument the assistant must take from the previous call's result. */
export const RESULT_REFERENCE = "<from the result of the previous call>";

export interface PlanCase {
  tools: SimTool[];
  targetTurns: number;
  needs: Record<PlanNeed, number>;
}

export function parsePlanCase(c: Record<string, unknown>): PlanCase | undefined {
  const tools = simToolsOf(c.tools);
  if (tools.length === 0) return undefined;
  const target = typeof c.targetTurns === "number" && Number.isFinite(c.targetTurns) ? Math.max(1, Math.round(c.targetTurns)) : 7;
  const raw = isObject(c.needs) ? c.needs : {};
  const needs = Object.fromEntries(PLAN_NEEDS.map((n) => [n, typeof raw[n] === "number" && raw[n] > 0 ? raw[n] : 0])) as Record<PlanNeed, number>;
  if (PLAN_NEEDS.every((n) => needs[n] === 0)) needs.single = 1;
  return { tools, targetTurns: target, needs };
}

/** Steps for a target: each step takes about 1.25 user turns with clarifications and changes of mind. */
export function stepsFor(targetTurns: number): number {
  return Math.max(1, Math.min(targetTurns, Math.round(targetTurns / 1.25)));
}

/** Counts per need in the requested proportions (largest remainder), summing to n. */
export function apportion(n: number, needs: Record<PlanNeed, number>): Record<PlanNeed, number> {
  const total = PLAN_NEEDS.reduce((a, k) => a + needs[k], 0);
  const exact = PLAN_NEEDS.map((k) => (n * needs[k]) / total);
  const counts = exact.map(Math.floor);
  const order = PLAN_NEEDS.map((_, i) => i).sort((a, b) => exact[b]! - counts[b]! - (exact[a]! - counts[a]!) || a - b);
  for (let left = n - counts.reduce((a, b) => a + b, 0), j = 0; left > 0; left--, j++) counts[order[j % order.length]!]!++;
  return Object.fromEntries(PLAN_NEEDS.map((k, i) => [k, counts[i]!])) as Record<PlanNeed, number>;
}

function intentOf(tool: SimTool): string {
  return asImperative(firstSentence(tool.description)) || identifierWords(tool.name).join(" ");
}

function argsFor(rng: SeededRandom, tool: SimTool): Record<string, unknown> {
  return objectForSchema(rng, tool.parameters, tool.parameters, { optionalRate: 0.3 });
}

/** A required id parameter (a plain string, no enum/format/pattern) that a previous result's id can fill. */
export function resultParamOf(tool: SimTool): string | undefined {
  const props = propertiesOf(tool);
  return requiredOf(tool).find((p) => {
    const s = props[p] ?? {};
    const plain = schemaType(s) === "string" && s.enum === undefined && s.const === undefined && s.format === undefined && s.pattern === undefined;
    return plain && identifierWords(p).includes("id");
  });
}

function singular(w: string): string {
  return w.length > 3 && w.endsWith("s") && !w.endsWith("ss") ? w.slice(0, -1) : w;
}

/** Tools are taken in a seeded rotation, so a plan visits many of them before repeating one. */
class ToolRotation {
  private queue: SimTool[] = [];
  constructor(
    private readonly rng: SeededRandom,
    private readonly tools: SimTool[],
  ) {}
  next(): SimTool {
    if (this.queue.length === 0) this.queue = this.rng.shuffle(this.tools);
    return this.queue.shift()!;
  }
}

function singleStep(rng: SeededRandom, tools: ToolRotation): PlanStep {
  const tool = tools.next();
  return { need: "single", intent: intentOf(tool), calls: [{ name: tool.name, arguments: argsFor(rng, tool) }] };
}

function parallelStep(rng: SeededRandom, all: SimTool[], tools: ToolRotation): PlanStep {
  const n = Math.min(rng.int(2, 3), Math.max(2, all.length));
  const picked = Array.from({ length: n }, () => tools.next());
  const seen = new Set<string>();
  const calls = picked.map((tool) => {
    let args = argsFor(rng, tool);
    // The same tool twice must differ in its values, or the two calls would be one.
    for (let i = 0; i < 8 && seen.has(tool.name + stringifyJsonExact(args)); i++) args = argsFor(rng, tool);
    seen.add(tool.name + stringifyJsonExact(args));
    return { name: tool.name, arguments: args };
  });
  return { need: "parallel", intent: joinList([...new Set(picked.map(intentOf))]), calls };
}

/**
 * Two calls, the second taking an id from the first's result: the second has a required id
 * parameter; the first is preferably a tool whose name shares that id's noun (`create_order` before
 * `get_order_status(order_id)`, `search_products` before `create_order(product_id)`).
 */
function multiStep(rng: SeededRandom, tools: SimTool[]): PlanStep | undefined {
  const seconds = tools.filter((t) => resultParamOf(t) !== undefined);
  if (seconds.length === 0) return undefined;
  const second = rng.pick(seconds);
  const param = resultParamOf(second)!;
  const nouns = new Set(
    identifierWords(param)
      .filter((w) => w !== "id")
      .map(singular),
  );
  const others = tools.filter((t) => t !== second);
  const producers = others.filter((t) => identifierWords(t.name).some((w) => nouns.has(singular(w))));
  const first = producers.length > 0 ? rng.pick(producers) : others.length > 0 ? rng.pick(others) : second;
  return {
    need: "multi",
    intent: `${intentOf(first)}, then ${intentOf(second)} using its result`,
    calls: [
      { name: first.name, arguments: argsFor(rng, first) },
      { name: second.name, arguments: { ...argsFor(rng, second), [param]: RESULT_REFERENCE } },
    ],
  };
}

export function writePlan(rng: SeededRandom, c: PlanCase): DialoguePlan {
  const n = stepsFor(c.targetTurns);
  const counts = apportion(n, c.needs);
  const needs = rng.shuffle(PLAN_NEEDS.flatMap((k) => Array.from({ length: counts[k] }, () => k)));
  const rotation = new ToolRotation(rng, c.tools);
  const steps = needs.map((need) => {
    if (need === "multi") return multiStep(rng, c.tools) ?? singleStep(rng, rotation);
    if (need === "parallel") return parallelStep(rng, c.tools, rotation);
    return singleStep(rng, rotation);
  });
  const intents = [...new Set(steps.map((s) => s.intent))].slice(0, 3);
  const scenario = `Someone who needs to ${joinList(intents)}${steps.length > 3 ? ", among other things" : ""}.`;
  return { scenario, steps, targetTurns: c.targetTurns };
}

/** A plan the engine cannot use: a step calling a tool that is not offered, or no steps at all. */
function badPlan(rng: SeededRandom, plan: DialoguePlan): unknown {
  if (rng.chance(0.5)) return { ...plan, steps: [] };
  const [first, ...rest] = plan.steps;
  const call = first!.calls[0]!;
  return { ...plan, steps: [{ ...first!, calls: [{ ...call, name: `${call.name}_v2` }, ...first!.calls.slice(1)] }, ...rest] };
}

/** The planner's answer: the plan, or (at plannerBadPlanRate, its own stream) one the engine must refuse. */
export function planAnswer(seed: number, c: PlanCase, body: unknown, rates: Required<DialogueSimOptions>): { plan: unknown; bad: boolean } {
  const plan = writePlan(dialogueRng("plan", seed, c), c);
  const faults = dialogueRng("plan-fault", seed, body);
  if (faults.chance(rates.plannerBadPlanRate)) return { plan: badPlan(faults, plan), bad: true };
  return { plan, bad: false };
}
