/**
 * The class of a sample's failure that is not its own (an endpoint that cannot do what the stage
 * asks), counted per batch so that a stage in which no sample succeeded can name what actually went
 * wrong (failIfNothingSucceeded) and give that class's fix, not a list of everything to check.
 *
 * Batches count each class under `failedByEndpoint.<class>` beside `failedByEndpoint`; the counts are
 * summed across batches like every other count.
 */
import { LlmError } from "../llm/errors.js";
import { afterConfigChangeAdvice, afterFixAdvice, endpointRefusalAdvice, type StageFailurePolicy } from "./stageFailureAdvice.js";

export const FAILURE_CLASS_PREFIX = "failedByEndpoint.";

/**
 * `http<status>`: the endpoint refused the request with that status (a 400 for a parameter it does
 * not take); `unusable`: it answered, but not with what the stage reads; else the LlmError's kind, or
 * `other`.
 */
export function endpointFailureClass(err: unknown): string {
  if (!(err instanceof LlmError)) return "other";
  if (err.kind === "client" && err.status !== undefined) return `http${err.status}`;
  if (err.kind === "bad_response") return "unusable";
  return err.kind;
}

/** The batch-result key a failure of `err`'s class is counted under. */
export const failureClassKey = (err: unknown): string => FAILURE_CLASS_PREFIX + endpointFailureClass(err);

/** Adds one failure of `err`'s class to `counts` (a batch's per-class counts). */
export function countFailureClass(counts: Record<string, number>, err: unknown): void {
  const key = failureClassKey(err);
  counts[key] = (counts[key] ?? 0) + 1;
}

/** The per-class counts summed over a stage's batches (keys without the prefix). */
export function failureClassCounts(batches: readonly Record<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const b of batches)
    for (const [k, v] of Object.entries(b))
      if (k.startsWith(FAILURE_CLASS_PREFIX)) out.set(k.slice(FAILURE_CLASS_PREFIX.length), (out.get(k.slice(FAILURE_CLASS_PREFIX.length)) ?? 0) + v);
  return out;
}

/** What a stage must have of its endpoint, per class of failure (the stage knows what it asks). */
export interface EndpointChecks {
  /** Whatever the class (and where none was counted: batches of an older build). */
  any: string;
  /** When the endpoint refused the requests with a 4xx other than a key, path or proxy problem (mostly 400). */
  refused?: string;
  /** When it answered without what the stage reads. */
  unusable?: string;
}

/** The class most failures fell in, with its count; undefined where none was counted. */
export function dominantClass(counts: ReadonlyMap<string, number>): { cls: string; count: number } | undefined {
  let best: { cls: string; count: number } | undefined;
  for (const [cls, count] of counts) if (count > 0 && (best === undefined || count > best.count)) best = { cls, count };
  return best;
}

/** "refused with HTTP 400", "answered with nothing the stage can use", ... */
export function describeClass(cls: string): string {
  const http = /^http(\d+)$/.exec(cls);
  if (http) return `refused with HTTP ${http[1]}`;
  if (cls === "unusable") return "answered, but without what the stage reads";
  if (cls === "timeout") return "timed out";
  return `failed (${cls})`;
}

/**
 * The fix for failures of class `cls`: a key, path or proxy refusal (401, 403, 404, 405, 407) gets
 * endpointRefusalAdvice's (where the fix lives: the workers' environment or the config); another
 * refusal or an unusable answer gets the stage's own check for it, then what to do after the fix.
 */
export function classAdvice(cls: string, checks: EndpointChecks, policy: StageFailurePolicy): string {
  const http = /^http(\d+)$/.exec(cls);
  const status = http ? Number(http[1]) : undefined;
  if (status !== undefined && [401, 403, 404, 405, 407].includes(status)) return endpointRefusalAdvice(status, policy);
  const afterFix = afterFixAdvice(policy.onStageFailure, policy.campaignId);
  const configChange = afterConfigChangeAdvice(policy.onStageFailure, policy.campaignId);
  const check = (status !== undefined ? checks.refused : cls === "unusable" ? checks.unusable : undefined) ?? checks.any;
  return `${check}. Fix the endpoint, ${afterFix}; or, if the role must call another endpoint or model instead, change the campaign's config: ${configChange}`;
}
