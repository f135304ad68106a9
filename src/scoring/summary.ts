/** Distribution summaries of per-sample scores, for a scoring stage's result. Pure. */

export interface Distribution {
  n: number;
  mean: number | null;
  p10: number | null;
  p50: number | null;
  p90: number | null;
}

/** Linear-interpolation quantile (numpy's default) of sorted values; null when there are none. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    n,
    mean: n === 0 ? null : sorted.reduce((s, v) => s + v, 0) / n,
    p10: quantile(sorted, 0.1),
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
  };
}

/**
 * How often two scores of the same samples disagree on which half a sample is in (above its own
 * metric's median or not): 0 when they rank the halves the same, about 0.5 when unrelated. Only
 * samples with both scores count.
 */
export function halfDisagreement(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): { n: number; disagree: number; rate: number | null } {
  const both = [...a.keys()].filter((id) => b.has(id));
  if (both.length === 0) return { n: 0, disagree: 0, rate: null };
  const medianOf = (m: ReadonlyMap<string, number>) =>
    quantile(
      both.map((id) => m.get(id) as number).sort((x, y) => x - y),
      0.5,
    ) as number;
  const ma = medianOf(a);
  const mb = medianOf(b);
  const disagree = both.filter((id) => (a.get(id) as number) > ma !== (b.get(id) as number) > mb).length;
  return { n: both.length, disagree, rate: disagree / both.length };
}
