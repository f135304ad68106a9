/**
 * A pool member's weight in training: export.verl repeats its train rows, because verl's parquet has
 * no per-row weight. So a weight is a whole number of rows, rounded, at least one (an easyWeight
 * below 1.5 leaves easy items at one row) and at most MAX_POOL_WEIGHT_REPEATS; campaign configs warn
 * of a weight that rounding or the cap changes.
 */

/** A weight never multiplies a sample's train rows more than this (a pool weight is a nudge, not a dataset). */
export const MAX_POOL_WEIGHT_REPEATS = 16;

export function poolWeightRepeats(weight: number): number {
  return Math.min(MAX_POOL_WEIGHT_REPEATS, Math.max(1, Math.round(weight)));
}
