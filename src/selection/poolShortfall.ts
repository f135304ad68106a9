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

export interface UnscoredPoolInput {
  /** high_ppl's quota in this pool. */
  highPplQuota: number;
  /** Members of the previous pool, and how many of them that round scored (label_ppl). */
  previousPool: number;
  previousScored: number;
  /** The round the previous pool is of ("iteration 3", "iteration 5 of campaign X"). */
  previousRound: string;
}

/**
 * The warning when high_ppl had a quota but not one member of the previous pool has a label_ppl
 * score (score.perplexity did not run, or failed every sample: an endpoint without vLLM's
 * prompt_logprobs, a chat template whose generation prompt differs from its assistant turn). Its
 * quota then goes to the other sources, so the pool can fill its budget and poolShortfallWarning
 * says nothing, while the round's high-perplexity selection silently did not happen.
 */
export function unscoredPoolWarning(p: UnscoredPoolInput): string | undefined {
  if (p.highPplQuota <= 0 || p.previousPool <= 0 || p.previousScored > 0) return undefined;
  return (
    `high_ppl had no candidate: none of the ${p.previousPool} samples of the previous pool (${p.previousRound}) has a label_ppl score, ` +
    `so its quota of ${p.highPplQuota} went to the other sources; check that score.perplexity ran in that round and why it scored nothing ` +
    "(its summary's failed count; the worker log names each sample's reason)"
  );
}
