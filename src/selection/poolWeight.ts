/**
 * A pool member's weight in training: export.verl repeats its train rows, because verl's parquet has
 * no per-row weight. So a weight is a whole number of rows, rounded, at least one (an easyWeight
 * below 1.5 leaves easy items at one row; campaign configs warn of a weight rounding changes).
 */
export function poolWeightRepeats(weight: number): number {
  return Math.max(1, Math.round(weight));
}
