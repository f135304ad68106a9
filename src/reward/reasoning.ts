/**
 * Reasoning quality by rules: deterministic checks of the text the policy wrote around its calls
 * (or of its whole answer when it answered in text). Each rule scores 0..1; the result is their
 * weighted mean over the rules that apply (a rule about calls does not apply to a text answer).
 */
import type { ReasoningRules } from "./config.js";
import type { MatchCall } from "../matching/matchCall.js";
import { PyFloat } from "../matching/pyValue.js";

/** At most this many argument values are looked up (bounds the cost of a call with huge argument lists). */
const MAX_CHECKED_VALUES = 32;
const SENTENCE_BREAK = /[.!?\n]+/;

function lengthScore(len: number, min: number, max: number): number {
  if (len < min) return len / min;
  if (len > max) return Math.max(0, 1 - (len - max) / Math.max(max, 1));
  return 1;
}

function mentionsToolsScore(lower: string, calls: readonly MatchCall[]): number {
  const names = new Set<string>();
  for (const c of calls) names.add(c.name.toLowerCase());
  let hit = 0;
  for (const n of names) if (lower.includes(n) || lower.includes(n.replace(/[_.-]+/g, " "))) hit++;
  return hit / names.size;
}

/** Share of the scalar (string and number) argument values that the reasoning mentions; undefined when there are none. */
function mentionsArgumentsScore(lower: string, calls: readonly MatchCall[]): number | undefined {
  let total = 0;
  let hit = 0;
  for (const c of calls) {
    for (const v of c.argValues) {
      let text: string | undefined;
      if (typeof v === "string") text = v.trim().toLowerCase();
      else if (typeof v === "number" || typeof v === "bigint") text = String(v);
      else if (v instanceof PyFloat) text = String(v.value);
      if (text === undefined || text === "") continue;
      total++;
      if (lower.includes(text)) hit++;
      if (total >= MAX_CHECKED_VALUES) return hit / total;
    }
  }
  return total === 0 ? undefined : hit / total;
}

/** 1 minus the share of sentences that repeat an earlier one; undefined for a text with no sentence. */
function noRepetitionScore(lower: string): number | undefined {
  const seen = new Set<string>();
  let total = 0;
  for (const raw of lower.split(SENTENCE_BREAK)) {
    const s = raw.trim();
    if (s === "") continue;
    total++;
    seen.add(s);
  }
  return total === 0 ? undefined : seen.size / total;
}

/** The reasoning quality of `text` (already stripped of the calls) for the calls made (empty: a text answer). */
export function scoreReasoningRules(rules: ReasoningRules, text: string, calls: readonly MatchCall[]): number {
  const w = rules.weights;
  const trimmed = text.trim();
  const lower = trimmed.toLowerCase();
  let sum = 0;
  let weights = 0;
  const add = (weight: number, score: number | undefined) => {
    if (weight <= 0 || score === undefined) return;
    sum += weight * score;
    weights += weight;
  };
  add(w.length, lengthScore(trimmed.length, rules.minChars, rules.maxChars));
  if (calls.length > 0) {
    add(w.mentionsTools, mentionsToolsScore(lower, calls));
    if (w.mentionsArguments > 0) add(w.mentionsArguments, mentionsArgumentsScore(lower, calls));
  }
  if (w.noRepetition > 0) add(w.noRepetition, noRepetitionScore(lower));
  return weights === 0 ? 0 : sum / weights;
}
