/**
 * The reward a GRPO job is trained with: InfTool's gated composite reward, or LoopTool's plain 0/1
 * reward for comparison. Pure (the campaign config schema embeds it; workflows may import it).
 *
 *   gatedComposite: R = w_format * format + w_execution * execution + [execution correct] * w_reasoning * reasoning
 *   binary:         R = 1 when the calls match the ground truth, else 0
 */
import { z } from "zod";
import { atMost, int, onceFieldsValid } from "../config/fields.js";

const MAX_WEIGHT = 100;
const weight = z
  .number({ error: "expected a number between 0 and 100" })
  .min(0, "expected a number between 0 and 100")
  .max(MAX_WEIGHT, "expected a number between 0 and 100");

export const rewardWeightsSchema = z.strictObject({
  format: weight.default(0.2),
  execution: weight.default(0.6),
  reasoning: weight.default(0.2),
});

/** How much each reasoning rule counts (0 turns a rule off). */
export const reasoningRuleWeightsSchema = z.strictObject({
  /** The reasoning is between minChars and maxChars long. */
  length: weight.default(1),
  /** The reasoning names the functions it calls. */
  mentionsTools: weight.default(1),
  /** The reasoning mentions the scalar argument values it passes. */
  mentionsArguments: weight.default(1),
  /** The reasoning does not repeat the same sentence. */
  noRepetition: weight.default(1),
});

const MAX_REASONING_CHARS = 1_000_000;
const charCount = int("a non-negative integer").min(0, "expected a non-negative integer").max(MAX_REASONING_CHARS, atMost(MAX_REASONING_CHARS));

/** Reasoning quality from deterministic rules over the text around the calls (see reasoning.ts). */
export const rulesReasoningSchema = z
  .strictObject({
    kind: z.literal("rules"),
    minChars: charCount.default(20),
    maxChars: charCount.default(2000),
    weights: reasoningRuleWeightsSchema.default(reasoningRuleWeightsSchema.parse({})),
  })
  .refine((r) => r.minChars <= r.maxChars, { message: "minChars must not exceed maxChars", path: ["minChars"], ...onceFieldsValid });

export const reasoningScorerSchema = z.discriminatedUnion("kind", [rulesReasoningSchema], {
  error: 'expected a reasoning scorer {"kind": "rules", ...} (the only kind the reward service implements)',
});

export const rewardConfigSchema = z.strictObject({
  kind: z.enum(["gatedComposite", "binary"], { error: 'expected "gatedComposite" or "binary"' }).default("gatedComposite"),
  weights: rewardWeightsSchema.default(rewardWeightsSchema.parse({})),
  /** How the policy writes calls: Hermes/Qwen `<tool_call>` blocks, OpenAI tool_calls JSON, or whichever the response looks like. */
  template: z.enum(["hermes", "openai", "auto"], { error: 'expected "hermes", "openai" or "auto"' }).default("hermes"),
  /** Execution credit for a wrong answer: none, the share of expected calls matched, or the share of arguments right. */
  partialCredit: z.enum(["none", "perCall", "perArgument"], { error: 'expected "none", "perCall" or "perArgument"' }).default("none"),
  /** The matcher's mode: strict (optimal assignment of parallel calls) or bfcl (the official checker's greedy one). */
  matchMode: z.enum(["strict", "bfcl"], { error: 'expected "strict" or "bfcl"' }).default("strict"),
  reasoning: reasoningScorerSchema.default(rulesReasoningSchema.parse({ kind: "rules" })),
});

export type RewardConfig = z.infer<typeof rewardConfigSchema>;
export type RewardConfigInput = z.input<typeof rewardConfigSchema>;
export type ReasoningRules = z.infer<typeof rulesReasoningSchema>;

/** One scored response, as the reward service returns it and the shim hands to verl. */
export interface RewardResult {
  score: number;
  format: number;
  execution: number;
  reasoning: number;
  execution_correct: boolean;
  reason?: string;
}
