/**
 * The multi-turn roles' random streams, one per decision kind, each seeded by the simulator's seed and
 * what the decision depends on. Separate streams keep a rate's draws from moving any other answer.
 */
import { canonicalJson, seedFrom } from "../../../util/ids.js";
import { SeededRandom } from "../../../util/random.js";

export type DialogueStream =
  "plan" | "plan-fault" | "user" | "user-dialogue" | "user-fault" | "assistant-text" | "assistant-fault" | "tool-result" | "tool-fault" | "sample-check";

export function dialogueRng(stream: DialogueStream, seed: number, ...parts: unknown[]): SeededRandom {
  return new SeededRandom(seedFrom(`dialogue-${stream}`, seed, ...parts.map((p) => (typeof p === "string" ? p : canonicalJson(p)))));
}
