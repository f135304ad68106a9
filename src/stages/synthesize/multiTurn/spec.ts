import { z } from "zod";
import { atMost, batchSize, CONFIG_LIMITS, fraction, nonNegativeInt, onceFieldsValid, positiveInt, runIn, temperature } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";

/** Personas and styles the user simulator draws from (one of each per dialogue, seeded). */
export const DEFAULT_PERSONAS = [
  "a busy small-business owner who wants things done quickly",
  "a graduate student planning a research trip on a tight budget",
  "a retired engineer who double-checks every number",
  "a product manager juggling several projects at once",
  "a nurse finishing a night shift, tired but precise",
  "a traveller abroad with patchy connectivity",
  "a parent organising a family event",
  "a data analyst who likes exact figures and units",
] as const;
export const DEFAULT_STYLES = ["terse", "chatty", "formal", "casual", "precise", "uncertain, thinks aloud"] as const;

const listOfText = (what: string) =>
  z
    .array(
      z
        .string({ error: `expected ${what} as text` })
        .min(1, "expected a non-empty string")
        .max(500, atMost(500, " characters")),
      {
        error: `expected a list of ${what}s`,
      },
    )
    .min(1, `expected at least one ${what} (the user simulator draws one per dialogue)`)
    .max(1000, atMost(1000, ` ${what}s`));

const trueOrFalse = z.boolean({ error: "expected true or false" });
/** An object field with its defaults: anything but an object is refused saying so. */
const objectOf = <S extends z.core.$ZodLooseShape>(shape: S, what: string) => z.strictObject(shape, { error: `expected an object (${what})` });

const roleName = z
  .string({ error: "expected a role name" })
  .regex(/^[a-zA-Z][a-zA-Z0-9_]{0,62}$/, "expected a role name (a letter, then letters, digits or '_')");

export const multiTurnStageSchema = z.strictObject({
  name: z.literal("synthesize.multiTurn"),
  runIn,
  /** Dialogues per batch activity (a dialogue takes tens of requests; a batch heartbeats per turn). */
  batchSize: batchSize(20, 500),
  /** Dialogues to attempt per iteration. */
  dialogues: positiveInt.max(CONFIG_LIMITS.count, atMost(CONFIG_LIMITS.count, " dialogues per iteration")),
  /** Tools sampled from the library per dialogue (the planner plans over them; the assistant is offered them). */
  toolsPerDialogue: objectOf({ min: positiveInt.max(64, atMost(64)).default(3), max: positiveInt.max(64, atMost(64)).default(6) }, "{ min, max }")
    .default({ min: 3, max: 6 })
    .superRefine((r, ctx) => {
      // The values are named: one of them may be a default the config never wrote (max defaults to 6).
      if (r.min > r.max) ctx.addIssue({ code: "custom", path: ["min"], message: `expected min <= max (min ${r.min}, max ${r.max})` });
    }, onceFieldsValid),
  /** User turns per dialogue: drawn around `mean`, never above `max` (InfTool: 7-8 on average, up to 15). */
  turns: objectOf(
    {
      mean: z.number({ error: "expected a number" }).min(1, "expected at least 1").max(64, atMost(64)).default(7.5),
      max: positiveInt.max(64, atMost(64)).default(15),
    },
    "{ mean, max }",
  )
    .default({ mean: 7.5, max: 15 })
    .superRefine((t, ctx) => {
      // The values are named: one of them may be a default the config never wrote (mean defaults to 7.5).
      if (t.mean > t.max) ctx.addIssue({ code: "custom", path: ["mean"], message: `expected mean <= max (mean ${t.mean}, max ${t.max})` });
    }, onceFieldsValid),
  /** Relative proportions of plan step needs; at least one above 0. */
  needs: objectOf({ single: fraction.default(0.5), multi: fraction.default(0.3), parallel: fraction.default(0.2) }, "{ single, multi, parallel }")
    .default({ single: 0.5, multi: 0.3, parallel: 0.2 })
    .refine((n) => n.single + n.multi + n.parallel > 0, { message: "expected at least one proportion above 0", ...onceFieldsValid }),
  personas: listOfText("persona").default([...DEFAULT_PERSONAS]),
  styles: listOfText("style").default([...DEFAULT_STYLES]),
  /** Assistant rounds (tool calls then results) allowed within one user turn before the turn is cut. */
  maxToolRounds: positiveInt.max(16, atMost(16)).default(4),
  /** Share of tool calls the tool server is asked to fail with realistic trouble (rate limit, timeout, ...). */
  toolErrorRate: fraction.default(0.05),
  /** LoopTool voting: sample each assistant turn k times; accept when at least m agree under the matcher. */
  voting: z
    .strictObject(
      {
        k: positiveInt.max(16, atMost(16)).default(3),
        m: positiveInt.max(16, atMost(16)).default(2),
        /** Temperature of the k samples (each has its own seed). */
        temperature: temperature.default(0.7),
        /** The role that negotiates when no m agree: picks a candidate with reasons or rejects all. Absent: no negotiation (the turn is rejected). */
        negotiator: roleName.optional(),
      },
      { error: "expected an object ({ k, m, temperature, negotiator })" },
    )
    .default({ k: 3, m: 2, temperature: 0.7 })
    .superRefine((v, ctx) => {
      if (v.m > v.k)
        ctx.addIssue({ code: "custom", path: ["m"], message: `m ${v.m} can never be reached: only k = ${v.k} candidates are sampled; use m <= k` });
    }, onceFieldsValid),
  /** InfTool self-reflection: one bounded reflect-and-revise call for a candidate that breaks its tool's schema or the style rules. */
  reflection: objectOf({ enabled: trueOrFalse.default(true) }, '{ "enabled": true }').default({ enabled: true }),
  /** A dialogue with more rejected assistant turns than this is dropped. */
  maxRejectedTurns: nonNegativeInt.max(64, atMost(64)).default(2),
  /** Keep a dialogue that reached turns.max (or outgrew a role model's context) before the user said done (its accepted turns are good data). */
  keepUnfinished: trueOrFalse.default(true),
});

export type MultiTurnStage = z.infer<typeof multiTurnStageSchema>;

export const synthesizeMultiTurnSpec = defineStage({
  name: "synthesize.multiTurn",
  title: "multi-turn role-play synthesis",
  latency: "llm",
  batchTimeoutMinutes: 120,
  roles: ["planner", "user", "assistant", "toolServer"],
  makes: () => ["samples"],
  configuredRoles: (c) => (c.voting.negotiator ? [{ role: c.voting.negotiator, path: ["voting", "negotiator"] }] : []),
  reads: { kind: "slots", items: (c) => c.dialogues, describe: "dialogues numbered slots of the iteration; tools from the campaign's library" },
  writes:
    "dialogues, dialogue_turns and tool_executions (turn by turn), samples (kind multi_turn, origin synthesized, one per accepted assistant turn, the dialogue up to it); LLM requests",
  schema: multiTurnStageSchema,
});
