/**
 * Which of a stored match result's reasons to show in one line. An expected call no model call
 * could be assigned to is followed by one reason per model call it was checked against, in call
 * order; the first of those is usually "Function name 'x' not found" from comparing it with another
 * function's call, while the reason that explains the mismatch is the one against the call of the
 * same function (its wrong argument). So a wrong-name reason is dropped where the same expected
 * call has a reason against a call of its own name.
 */
export interface StoredReason {
  code?: string;
  message?: string;
  /** The model call a pairwise check compared (absent for whole-answer reasons). */
  call?: number;
  expectedCall?: number;
}

const WRONG_NAME = /:wrong_func_name$/;

export function shownReasons(reasons: readonly StoredReason[], max = 2): string[] {
  const explained = new Set<number>();
  for (const r of reasons) if (r.call !== undefined && r.expectedCall !== undefined && !WRONG_NAME.test(r.code ?? "")) explained.add(r.expectedCall);
  return reasons
    .filter((r) => !(r.call !== undefined && r.expectedCall !== undefined && WRONG_NAME.test(r.code ?? "") && explained.has(r.expectedCall)))
    .map((r) => r.message)
    .filter((m): m is string => typeof m === "string" && m.length > 0)
    .slice(0, max);
}
