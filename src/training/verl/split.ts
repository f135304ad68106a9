/**
 * Train/validation split by seed. Each id is ranked by sha256(seed, id) and the lowest-ranked
 * `round(n * valFraction)` go to validation, so the split depends only on the set of ids and the
 * seed (not on the order the database returned them), is exact in size, and a sample keeps its side
 * when others are added or removed unless the cut-off moves past it. Pure.
 */
import { createHash } from "node:crypto";

export interface SplitResult {
  /** Sorted by id, so file order does not depend on input order either. */
  train: string[];
  val: string[];
}

/** How many of `n` samples go to validation: none below two samples, else at least one and never all. */
export function validationCount(n: number, valFraction: number): number {
  if (!(valFraction > 0) || n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
}

function rank(seed: number, id: string): string {
  return createHash("sha256").update(`${seed}\n${id}`).digest("hex");
}

export function splitBySeed(ids: readonly string[], valFraction: number, seed: number): SplitResult {
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction: expected a number in [0, 1), got ${valFraction}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed: expected an integer, got ${seed}`);
  const ranked = ids.map((id) => ({ id, rank: rank(seed, id) })).sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.id < b.id ? -1 : 1));
  const k = validationCount(ids.length, valFraction);
  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return {
    val: ranked
      .slice(0, k)
      .map((r) => r.id)
      .sort(byId),
    train: ranked
      .slice(k)
      .map((r) => r.id)
      .sort(byId),
  };
}
