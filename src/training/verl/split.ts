/**
 * Train/validation split by a fixed function of each sample's key. A sample goes to validation iff
 * sha256(SPLIT_SALT, key), read as a fraction in [0, 1), is below `valFraction`. Its side depends on
 * nothing else: not on the rest of the pool, the iteration or the campaign's seed. So a sample that
 * was in validation stays there as the pool grows or shrinks between iterations and when a
 * continuing campaign (`continuesFrom`, new seed) carries it over: validation reward is never
 * measured on prompts an earlier iteration or campaign trained on. (Ranking by a seeded hash and
 * cutting at an exact count, as before, moved the cut-off whenever the pool changed, and a new seed
 * reshuffled everything.) The price: the validation size is binomial around n * valFraction, not exact.
 * The output does not depend on input order either. Pure.
 *
 * Grouped samples (the cuts of one multi-turn dialogue) go to one side together: each later cut's
 * prompt holds the earlier cuts' labels, so a dialogue split across train and validation would score
 * validation on turns the policy trained on. The key is the group (tagged, so a group named like a
 * sample id never merges with that sample); a sample without a group is its own key, its id.
 *
 * Guards, the only cases where a sample's side depends on the rest of the pool: no validation below
 * two samples or at valFraction 0; when the threshold would put every sample in validation, the group
 * with the highest hash trains; when it puts none in validation although valFraction > 0 and n >= 2,
 * the group with the lowest hash is held out (unless it is every sample) so that verl has a validation
 * set. Only in that last case can a sample trained on before land in validation.
 */
import { createHash } from "node:crypto";

/** Fixed for good: changing it reshuffles every campaign's split and leaks trained samples into validation. */
export const SPLIT_SALT = "toolloop/verl-split/v1";

export interface SplitResult {
  /** Sorted by id, so file order does not depend on input order either. */
  train: string[];
  val: string[];
}

/** The key's position in [0, 1): the top 52 bits of sha256(SPLIT_SALT, key). */
export function splitFraction(key: string): number {
  const digest = createHash("sha256").update(`${SPLIT_SALT}\n${key}`).digest();
  return (digest.readUIntBE(0, 6) * 16 + (digest[6]! >> 4)) / 2 ** 52;
}

/** `groupOf(id)`: the group a sample belongs to (undefined: its own). */
export function splitByKey(ids: readonly string[], valFraction: number, groupOf?: (id: string) => string | undefined): SplitResult {
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction: expected a number in [0, 1), got ${valFraction}`);
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
  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  if (!(valFraction > 0) || ids.length < 2) return { val: [], train: [...ids].sort(byId) };

  const ranked = [...groups.entries()].map(([key, members]) => ({ members, at: splitFraction(key), key })).sort((a, b) => a.at - b.at || byId(a.key, b.key));
  let held = ranked.filter((g) => g.at < valFraction).length;
  // Never everything in validation: the group nearest the threshold trains.
  if (held === ranked.length) held -= 1;
  // verl needs a validation set: the lowest group, when it leaves something to train on.
  if (held === 0 && ranked.length > 1) held = 1;
  const val = ranked.slice(0, held).flatMap((g) => g.members);
  const train = ranked.slice(held).flatMap((g) => g.members);
  return { val: val.sort(byId), train: train.sort(byId) };
}
