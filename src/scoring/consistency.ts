/**
 * Execution consistency (InfTool): k sampled answers of the policy to an item's prompt, each compared
 * with the label by the matcher in strict mode; the share that agrees sorts the item into easy,
 * medium or hard. Pure: the stage does the sampling.
 */
import type { McpTool } from "../domain/types.js";
import { compareToLabel, type AssistantAnswer } from "../matching/labelAgreement.js";

export type ConsistencyClass = "easy" | "medium" | "hard";

export interface ConsistencyThresholds {
  /** At or above this share an item is easy. */
  easyAtLeast: number;
  /** At or below this share an item is hard (must be below easyAtLeast). */
  hardAtMost: number;
}

export function classifyConsistency(consistency: number, t: ConsistencyThresholds): ConsistencyClass {
  if (!(t.hardAtMost < t.easyAtLeast)) throw new Error(`hardAtMost (${t.hardAtMost}) must be below easyAtLeast (${t.easyAtLeast})`);
  if (consistency >= t.easyAtLeast) return "easy";
  if (consistency <= t.hardAtMost) return "hard";
  return "medium";
}

export interface ConsistencyResult {
  k: number;
  agree: number;
  consistency: number;
  class: ConsistencyClass;
}

/** How many of `answers` agree with `label` (strict matcher, duplicates counted), and the class that gives. */
export function consistencyOfAnswers(
  answers: readonly AssistantAnswer[],
  label: AssistantAnswer,
  tools: readonly McpTool[],
  thresholds: ConsistencyThresholds,
): ConsistencyResult {
  if (answers.length === 0) throw new Error("consistency needs at least one sampled answer");
  const agree = answers.filter((a) => compareToLabel(a, label, tools).agrees).length;
  const consistency = agree / answers.length;
  return { k: answers.length, agree, consistency, class: classifyConsistency(consistency, thresholds) };
}
