import type { BfclEntry } from "./data.js";
import { categoryInfo, matchWithCategory, type MatchMode, type MatchReason } from "../matching/matcher.js";
import { bfclCallsFromValue, type MatchCall } from "../matching/matchCall.js";

export interface EntryVerdict {
  id: string;
  valid: boolean;
  errorType?: string;
  reasons: MatchReason[];
}

/**
 * Scores one entry given its output in BFCL's decoded form (`[{"func": {"p": v}}]`; for java and
 * javascript every value is source text), either as a plain value or as parsed by
 * parseBfclResult / parseBfclOutputLine (a BfclDecodedResult, the faster form). Relevance
 * categories only ask whether there is a call: anything that is not in call format counts as
 * "no call", as in BFCL's is_empty_output.
 */
export function checkEntry(entry: BfclEntry, result: unknown, mode: MatchMode): EntryVerdict {
  return checkEntryCalls(entry, bfclCallsFromValue(result), mode);
}

/** checkEntry on an output already in the matcher's form: undefined when it is not in call format. */
export function checkEntryCalls(entry: BfclEntry, calls: MatchCall[] | undefined, mode: MatchMode): EntryVerdict {
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

/** One shape for every verdict (errorType undefined when valid; JSON leaves it out). */
class Verdict implements EntryVerdict {
  constructor(
    public id: string,
    public valid: boolean,
    public errorType: string | undefined,
    public reasons: MatchReason[],
  ) {}
}

function verdict(id: string, valid: boolean, errorType: string | undefined, reasons: MatchReason[]): EntryVerdict {
  // A fresh array replaces the matcher's shared empty one, so callers own what they get.
  return new Verdict(id, valid, errorType, reasons.length === 0 ? [] : reasons);
}
