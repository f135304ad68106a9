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
 * parseBfclResult / parseBfclOutputLine (MatchCalls, the faster form). Relevance
 * categories only ask whether there is a call: anything that is not in call format counts as
 * "no call", as in BFCL's is_empty_output.
 */
export function checkEntry(entry: BfclEntry, result: unknown, mode: MatchMode): EntryVerdict {
  return checkEntryCalls(entry, bfclCallsFromValue(result), mode);
}

/**
 * checkEntry on an output already in the matcher's form (undefined: not in call format).
 *
 * The verdict and its error type are computed at once; the reasons (messages, expected and got
 * values) when first read. Scoring and rewards read only the verdict, and building the reasons of
 * every failure was most of what the checker allocated. The checker is pure and the calls are
 * immutable, so the reasons read later are exactly what an eager check would have built.
 */
export function checkEntryCalls(entry: BfclEntry, calls: MatchCall[] | undefined, mode: MatchMode): EntryVerdict {
  const m = matchEntry(entry, calls, mode, false);
  return new Verdict(entry, calls, mode, m.valid, m.errorType);
}

interface EntryMatch {
  valid: boolean;
  errorType: string | undefined;
  reasons: MatchReason[];
}

function matchEntry(entry: BfclEntry, calls: MatchCall[] | undefined, mode: MatchMode, withReasons: boolean): EntryMatch {
  const info = categoryInfo(entry.category);
  if (info.relevance) return matchWithCategory(calls ?? [], entry.function, [], entry.category, info, mode, false, withReasons) as EntryMatch;
  if (calls === undefined) {
    return {
      valid: false,
      errorType: WRONG_FORMAT,
      reasons: [{ code: WRONG_FORMAT, message: "output is not a list of {function_name: {param: value}} objects" }],
    };
  }
  if (!entry.answer) {
    return {
      valid: false,
      errorType: "missing_possible_answer",
      reasons: [{ code: "missing_possible_answer", message: `entry ${entry.id} has no possible answer` }],
    };
  }
  return matchWithCategory(calls, entry.function, entry.answer, entry.category, info, mode, false, withReasons) as EntryMatch;
}
const WRONG_FORMAT = "ast_decoder:decoder_wrong_output_format";

/** One shape for every verdict; `reasons` is computed on first read (see checkEntryCalls). */
class Verdict implements EntryVerdict {
  readonly id: string;
  readonly valid: boolean;
  readonly errorType: string | undefined;
  private _reasons: MatchReason[] | undefined;
  private readonly _entry: BfclEntry;
  private readonly _calls: MatchCall[] | undefined;
  private readonly _mode: MatchMode;

  constructor(entry: BfclEntry, calls: MatchCall[] | undefined, mode: MatchMode, valid: boolean, errorType: string | undefined) {
    this.id = entry.id;
    this.valid = valid;
    this.errorType = errorType;
    this._reasons = undefined;
    this._entry = entry;
    this._calls = calls;
    this._mode = mode;
  }

  get reasons(): MatchReason[] {
    if (this._reasons === undefined) {
      // A fresh array even when empty (the matcher shares its empty one), so callers own it.
      const reasons = this.valid ? [] : matchEntry(this._entry, this._calls, this._mode, true).reasons;
      this._reasons = reasons.length === 0 ? [] : reasons;
    }
    return this._reasons;
  }

  set reasons(reasons: MatchReason[]) {
    this._reasons = reasons;
  }

  toJSON(): { id: string; valid: boolean; errorType?: string; reasons: MatchReason[] } {
    return this.errorType === undefined
      ? { id: this.id, valid: this.valid, reasons: this.reasons }
      : { id: this.id, valid: this.valid, errorType: this.errorType, reasons: this.reasons };
  }
}
