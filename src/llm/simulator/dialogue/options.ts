/**
 * The multi-turn roles' scriptable behaviour: how often each role does the thing a test wants to
 * observe (a schema violation, a disagreement, an early stop, a change of mind, a left-out value, a
 * tool error, a bad plan). Every rate draws from its own random stream (streams.ts), so a rate never
 * shifts any other answer, and the single-turn roles' answers are untouched by all of them.
 */

export interface DialogueSimOptions {
  /** Share of assistant answers whose tool calls break the tool's schema (wrong type, missing required, extra parameter, unknown tool). */
  assistantSchemaViolationRate?: number;
  /** At temperature > 0: share of assistant answers that differ from the truthful reading (a schema-valid wrong value, an invented value, a redundant call). */
  assistantDisagreementRate?: number;
  /** Share of dialogues whose user says "done" before the plan is served (decided once per dialogue). */
  userEarlyStopRate?: number;
  /** Per user turn after the first served step: chance the user changes an earlier request's value. */
  userChangeOfMindRate?: number;
  /** Per user request: chance one required value is left out (the assistant must ask; the user then supplies it). */
  missingParameterRate?: number;
  /** Share of tool calls the simulated tool server fails on its own (beyond the `fail` the engine asks for). */
  toolServerErrorRate?: number;
  /** Share of planner answers that cannot be used (an unknown tool, or no steps). */
  plannerBadPlanRate?: number;
}

export const DIALOGUE_RATE_NAMES = [
  "assistantSchemaViolationRate",
  "assistantDisagreementRate",
  "userEarlyStopRate",
  "userChangeOfMindRate",
  "missingParameterRate",
  "toolServerErrorRate",
  "plannerBadPlanRate",
] as const satisfies readonly (keyof DialogueSimOptions)[];
export type DialogueRateName = (typeof DIALOGUE_RATE_NAMES)[number];

/**
 * Defaults: a user who now and then leaves a value out or changes its mind (the behaviours the issue
 * asks the user simulator to show), and no faults.
 */
export const DEFAULT_DIALOGUE_RATES: Readonly<Required<DialogueSimOptions>> = {
  assistantSchemaViolationRate: 0,
  assistantDisagreementRate: 0,
  userEarlyStopRate: 0,
  userChangeOfMindRate: 0.1,
  missingParameterRate: 0.15,
  toolServerErrorRate: 0,
  plannerBadPlanRate: 0,
};

/** The CLI flag of a rate: assistantSchemaViolationRate -> --dialogue-assistant-schema-violation-rate. */
export function dialogueRateFlag(name: DialogueRateName): string {
  return `--dialogue-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Every rate filled in and checked; the error names the option (`dialogue.<name>`). */
export function normaliseDialogueOptions(o: DialogueSimOptions | undefined): Required<DialogueSimOptions> {
  const out = { ...DEFAULT_DIALOGUE_RATES };
  for (const name of DIALOGUE_RATE_NAMES) {
    const v = o?.[name];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1)
      throw new Error(`simulator dialogue.${name} must be a number between 0 and 1 (got ${String(v)})`);
    out[name] = v;
  }
  return out;
}
