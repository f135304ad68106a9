/**
 * The warning select.nextRound's summary carries when a pool fills less than its budget: which
 * sources fell short of their quota and by how much, what was left out, and the pool before it.
 *
 * In a long loop the pool runs dry without it being an error: the unused seeds are used up (or all
 * excluded, e.g. as BFCL-contaminated), and high_ppl keeps only the top share of the previous pool,
 * so each round trains on fewer samples (100, 67, 44, ..., 7 in a 12-iteration demo loop) while the
 * stage still reads "100/100 succeeded". `campaign status` shows this warning under the stage.
 */

export interface PoolSourceFigures {
  quota: number;
  candidates: number;
  selected: number;
}

export interface PoolShortfallInput {
  budget: number;
  /** Members the pool holds. */
  used: number;
  sources: Record<string, PoolSourceFigures>;
  /** Left out of the pool, per reason. */
  exclusions: Record<string, number>;
  /** The size of the pool this one was selected after (absent: the first round). */
  previousPool?: number;
  /** high_ppl's top share of the previous pool. */
  highPplTopFraction?: number;
}

/** The warning, or undefined when the pool filled its budget. */
export function poolShortfallWarning(p: PoolShortfallInput): string | undefined {
  if (p.budget <= 0 || p.used >= p.budget) return undefined;
  const pct = Math.round((100 * p.used) / p.budget);
  const short = Object.entries(p.sources)
    .filter(([, s]) => s.quota > 0 && s.selected < s.quota)
    .sort(([, a], [, b]) => b.quota - b.selected - (a.quota - a.selected))
    .map(
      ([name, s]) =>
        `${name} ${s.selected} of ${s.quota} (${s.candidates === 0 ? "no candidate" : `${s.candidates} candidate${s.candidates === 1 ? "" : "s"}`})`,
    );
  const left = Object.entries(p.exclusions)
    .filter(([, n]) => n > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([reason, n]) => `${reason} ${n}`);
  const parts = [
    `the pool filled ${p.used} of its budget ${p.budget} (${pct}%)${p.previousPool !== undefined ? `; the pool before it had ${p.previousPool}` : ""}`,
  ];
  if (short.length) parts.push(`short of their quota: ${short.join(", ")}`);
  if (left.length) parts.push(`left out: ${left.join(", ")}`);
  const seeds = p.sources.unused_seed;
  const shrinking = p.previousPool !== undefined && p.used < p.previousPool;
  if (shrinking && (!seeds || seeds.selected < seeds.quota)) {
    const top = p.highPplTopFraction !== undefined ? ` (high_ppl keeps the top ${Math.round(p.highPplTopFraction * 100)}% of the last pool)` : "";
    parts.push(
      `no fresh samples are left, so each round trains on fewer${top}: synthesize seeds in later iterations (a synthesize stage without runIn "first"), raise highPpl.topFraction or lower the budget`,
    );
  }
  return parts.join("; ");
}
