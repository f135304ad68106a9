import type { BfclEntry } from "./data.js";
import { categoryInfo, matchWithCategory, type MatchMode, type MatchReason } from "../matching/matcher.js";
import type { BfclCall } from "../matching/bfclChecker.js";
import { isDict } from "../matching/pyValue.js";

export interface EntryVerdict {
  id: string;
  valid: boolean;
  errorType?: string;
  reasons: MatchReason[];
}

/** BFCL's is_function_calling_format_output: a list of one-key objects whose value is an object (no copy). */
export function isBfclCallFormat(result: unknown): result is BfclCall[] {
  if (!Array.isArray(result)) return false;
  for (let i = 0; i < result.length; i++) {
    const item: unknown = result[i];
    if (!isDict(item)) return false;
    let n = 0;
    let args: unknown;
    for (const k in item) {
      n++;
      args = item[k];
    }
    if (n !== 1 || !isDict(args)) return false;
  }
  return true;
}

/**
 * Scores one entry given its output in BFCL's decoded form (`[{"func": {"p": v}}]`; for java and
 * javascript every value is source text). Relevance categories only ask whether there is a call:
 * anything that is not in call format counts as "no call", as in BFCL's is_empty_output.
 */
export function checkEntry(entry: BfclEntry, result: unknown, mode: MatchMode): EntryVerdict {
  const calls = isBfclCallFormat(result) ? result : undefined;
  const info = categoryInfo(entry.category);
  if (info.relevance) {
    const m = matchWithCategory(calls ?? [], entry.function, [], entry.category, info, mode, false);
    return verdict(entry.id, m.valid, m.errorType, m.reasons);
  }
  if (calls === undefined) {
    return verdict(entry.id, false, "ast_decoder:decoder_wrong_output_format", [
      { code: "ast_decoder:decoder_wrong_output_format", message: "output is not a list of {function_name: {param: value}} objects" },
    ]);
  }
  if (!entry.answer) {
    return verdict(entry.id, false, "missing_possible_answer", [{ code: "missing_possible_answer", message: `entry ${entry.id} has no possible answer` }]);
  }
  const m = matchWithCategory(calls, entry.function, entry.answer, entry.category, info, mode, false);
  return verdict(entry.id, m.valid, m.errorType, m.reasons);
}

function verdict(id: string, valid: boolean, errorType: string | undefined, reasons: MatchReason[]): EntryVerdict {
  // A fresh array replaces the matcher's shared empty one, so callers own what they get.
  if (errorType === undefined) return { id, valid, reasons: reasons.length === 0 ? [] : reasons };
  return { id, valid, errorType, reasons };
}
