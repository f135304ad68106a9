/**
 * Train/validation split by seed. Each id is ranked by sha256(seed, id) and the lowest-ranked
 * `round(n * valFraction)` go to validation, so the split depends only on the set of ids and the
 * seed (not on the order the database returned them), is exact in size, and a sample keeps its side
 * when others are added or removed unless the cut-off moves past it. Pure.
 *
 * Grouped samples (the cuts of one multi-turn dialogue) go to one side together: each later cut's
 * prompt holds the earlier cuts' labels, so a dialogue split across train and validation would score
 * validation on turns the policy trained on. Groups are ranked by sha256(seed, group) and taken into
 * validation, lowest first, until it holds `validationCount` samples (the last group taken may make it
 * a little larger; a group that would leave nothing to train on is passed over). A sample without a
 * group is a group of its own under its id, so ungrouped ids split exactly as before.
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

/** `groupOf(id)`: the group a sample belongs to (undefined: its own). */
export function splitBySeed(ids: readonly string[], valFraction: number, seed: number, groupOf?: (id: string) => string | undefined): SplitResult {
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction: expected a number in [0, 1), got ${valFraction}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed: expected an integer, got ${seed}`);
  // Group keys are tagged so a group named like a sample id never merges with that sample.
  const keyOf = (id: string) => {
    const g = groupOf?.(id);
    return g === undefined ? id : `group\n${g}`;
  };
  const groups = new Map<string, string[]>();
  for (const id of ids) {
    const key = keyOf(id);
    const members = groups.get(key);
    if (members) members.push(id);
    else groups.set(key, [id]);
  }
  const ranked = [...groups.entries()]
    .map(([key, members]) => ({ key, members, rank: rank(seed, key) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.key < b.key ? -1 : 1));
  const k = validationCount(ids.length, valFraction);
  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const val: string[] = [];
  const train: string[] = [];
  for (const g of ranked) {
    if (val.length < k && val.length + g.members.length < ids.length) val.push(...g.members);
    else train.push(...g.members);
  }
  return { val: val.sort(byId), train: train.sort(byId) };
}
