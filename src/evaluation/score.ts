/**
 * BFCL overall score. `computeOverallV3` is the RULES.md formula toolloop reports;
 * `expectedPackageSummary` reproduces what the installed bfcl-eval writes into its
 * data_overall.csv for the same category scores, so the two can be cross-checked number by number.
 */
import { LIVE, LIVE_AST, MULTI_TURN, NON_LIVE_SIMPLE, type BfclCategory, type PackageLayout } from "./categories.js";

export interface CategoryScore {
  correct: number;
  total: number;
  accuracy: number;
}
export type CategoryScores = Partial<Record<BfclCategory, CategoryScore>>;
/** Entry count of each category in the package's data: the weight a missing category gets. */
export type DatasetSizes = Partial<Record<BfclCategory, number>>;

export interface OverallScore {
  nonLive: number;
  live: number;
  multiTurn: number;
  overall: number;
  /** Categories without a result; each counted as accuracy 0. */
  missing: BfclCategory[];
}

const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const acc = (s: CategoryScores, c: BfclCategory): number => s[c]?.accuracy ?? 0;

/** Mean weighted by entry count; a missing category weighs its full dataset size at accuracy 0. */
function weighted(scores: CategoryScores, categories: readonly BfclCategory[], sizes: DatasetSizes): number {
  let weight = 0;
  let sum = 0;
  for (const c of categories) {
    const s = scores[c];
    const w = s ? s.total : (sizes[c] ?? 0);
    weight += w;
    sum += (s?.accuracy ?? 0) * w;
  }
  return weight === 0 ? 0 : sum / weight;
}

/** RULES.md (v3): non-live plain mean of 5 parts, live weighted over 6, multi-turn plain mean of 4, overall plain mean of the 3. */
export function computeOverallV3(scores: CategoryScores, sizes: DatasetSizes): OverallScore {
  const simple = mean(NON_LIVE_SIMPLE.map((c) => acc(scores, c)));
  const nonLive = mean([simple, acc(scores, "multiple"), acc(scores, "parallel"), acc(scores, "parallel_multiple"), acc(scores, "irrelevance")]);
  const live = weighted(scores, LIVE, sizes);
  const multiTurn = mean(MULTI_TURN.map((c) => acc(scores, c)));
  const all: BfclCategory[] = [...NON_LIVE_SIMPLE, "multiple", "parallel", "parallel_multiple", "irrelevance", ...LIVE, ...MULTI_TURN];
  return { nonLive, live, multiTurn, overall: mean([nonLive, live, multiTurn]), missing: all.filter((c) => !scores[c]) };
}

/** A data_overall.csv column: a fraction, or null where the package prints "N/A". */
export type SummaryValue = number | null;
export type PackageSummary = Record<string, SummaryValue>;

/**
 * The columns of the package's data_overall.csv that aggregate categories, as the package computes
 * them. v4 releases: non-live AST excludes irrelevance (N/A if a part is missing), live is weighted
 * over the four AST categories, and the overall mixes in relevance and the agentic categories
 * (web search, memory), which toolloop never runs and so count 0. v3 releases: the RULES.md formula.
 */
export function expectedPackageSummary(scores: CategoryScores, sizes: DatasetSizes, layout: PackageLayout): PackageSummary {
  const multiTurn = mean(MULTI_TURN.map((c) => acc(scores, c)));
  if (layout === "v3") {
    const v3 = computeOverallV3(scores, sizes);
    return { "Overall Acc": v3.overall };
  }
  const simple = mean(NON_LIVE_SIMPLE.map((c) => acc(scores, c)));
  const nonLiveParts: BfclCategory[] = [...NON_LIVE_SIMPLE, "multiple", "parallel", "parallel_multiple"];
  const nonLive = mean([simple, acc(scores, "multiple"), acc(scores, "parallel"), acc(scores, "parallel_multiple")]);
  const live = weighted(scores, LIVE_AST, sizes);
  const irrelevance = mean([acc(scores, "irrelevance"), acc(scores, "live_irrelevance")]);
  const agentic = 0;
  const overall = (10 * nonLive + 10 * live + 10 * irrelevance + 30 * multiTurn + 40 * agentic) / 100;
  return {
    "Overall Acc": overall,
    "Non-Live AST Acc": nonLiveParts.every((c) => scores[c]) ? nonLive : null,
    "Live Acc": live,
    "Multi Turn Acc": multiTurn,
  };
}

/** The package prints percentages with two decimals; anything within that rounding agrees. */
const PRINT_TOLERANCE = 0.00005 + 1e-9;

export interface SummaryMismatch {
  column: string;
  ours: SummaryValue;
  theirs: SummaryValue | undefined;
}

export function compareSummaries(ours: PackageSummary, theirs: PackageSummary): SummaryMismatch[] {
  const out: SummaryMismatch[] = [];
  for (const [column, value] of Object.entries(ours)) {
    const other = theirs[column];
    const agree = value === null || other === null || other === undefined ? value === other : Math.abs(value - other) <= PRINT_TOLERANCE;
    if (!agree) out.push({ column, ours: value, theirs: other });
  }
  return out;
}
