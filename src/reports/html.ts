/**
 * A report as one self-contained HTML page: data in, string out (no I/O). Chart.js's UMD build is
 * passed in and inlined, the chart definitions travel as embedded JSON, so the file opens from disk
 * with no network. A chart whose data this campaign does not have is left out with a one-line note,
 * never drawn empty. Every text from the database is escaped; the embedded JSON cannot close its
 * script element.
 */
import { BFCL_EVAL_CATEGORIES } from "../bfcl/categoryNames.js";
import { LOG_BINS_RATIO, type Histogram, type ReportData } from "./data.js";

export interface ChartSpec {
  id: string;
  title: string;
  /** What the chart shows, one sentence under its title. */
  caption: string;
  /** A Chart.js configuration ({ type, data, options }): plain JSON. */
  config: { type: string; data: { labels: (string | number)[]; datasets: Record<string, unknown>[] }; options?: Record<string, unknown> };
  /** The chart's height in pixels when the default (320) is too small for its bars. */
  height?: number;
}

export interface OmittedChart {
  title: string;
  note: string;
}

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b"];
const STATUS_COLORS: Record<string, string> = { verified: "#59a14f", rejected: "#e15759", pending: "#bab0ac", duplicate: "#edc948" };
const color = (i: number) => PALETTE[i % PALETTE.length]!;
/** Viridis, dark to light: the colour scale of iterations when there are more than the palette's colours. */
const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];

function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const [a, b] = [VIRIDIS[i]!, VIRIDIS[i + 1]!].map((h) => [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16)));
  return `#${a!
    .map((v, k) =>
      Math.round(v + (b![k]! - v) * (x - i))
        .toString(16)
        .padStart(2, "0"),
    )
    .join("")}`;
}

/**
 * An iteration's colour, the same in every chart that has a series per iteration (score histograms,
 * reward curve). Up to the palette's 12 iterations, its colours; a longer campaign (`iterations`, the
 * highest in the report) gets a colour scale from dark (first) to light (last), because the palette
 * repeated gave iterations 1, 13 and 25 one colour.
 */
export const iterationColor = (iteration: number, iterations = PALETTE.length) =>
  iterations <= PALETTE.length ? color(iteration - 1) : viridis((iteration - 1) / (iterations - 1));

/**
 * A chart's height for its legend: Chart.js wraps legend items into rows above the plot and gives the
 * legend at most half the chart, so 30 series (one per iteration of a long campaign) once took 160 of
 * 320 px, left an 88 px plot and dropped the last items. Estimated from the labels' lengths at the
 * report's width (about 1050 px of legend row, 6.5 px a character in the legend's font, 50 px for the
 * colour box and padding).
 */
export function heightForLegend(labels: string[], base = 320): number {
  let rows = labels.length > 0 ? 1 : 0;
  let width = 0;
  for (const label of labels) {
    const w = 50 + 6.5 * label.length;
    if (width > 0 && width + w > 1050) {
      rows++;
      width = 0;
    }
    width += w;
  }
  return Math.max(base, 270 + 24 * rows);
}
/** A judge's verdict: correct green, incorrect red, in every committee's vocabulary (src/judging). */
export const VERDICT_COLORS: Record<string, string> = {
  CORRECT: "#59a14f",
  INCORRECT: "#e15759",
  BOTH_CORRECT: "#8cd17d",
  BOTH_WRONG: "#9d2b2b",
  LABEL_WRONG: "#f28e2b",
  PRED_WRONG: "#4e79a7",
  unreadable: "#bab0ac",
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** JSON safe inside a <script> element: no `<` (so no `</script>` or `<!--`), no line separators JS would choke on. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
const fmt = (n: number) => (Number.isInteger(n) ? String(n) : Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3));

/** Stacked bars: one bar per `x`, one colour per `series`. */
function stacked<R>(rows: R[], x: (r: R) => string, series: (r: R) => string, value: (r: R) => number, colors?: Record<string, string>, horizontal = false) {
  const labels = uniq(rows.map(x));
  const names = uniq(rows.map(series)).sort();
  const datasets = names.map((name, i) => ({
    label: name,
    data: labels.map((l) => rows.filter((r) => x(r) === l && series(r) === name).reduce((s, r) => s + value(r), 0)),
    backgroundColor: colors?.[name] ?? color(i),
  }));
  return {
    type: "bar",
    data: { labels, datasets },
    options: { ...(horizontal ? { indexAxis: "y" } : {}), scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  };
}

/**
 * A score histogram. Each iteration's policy scores its own pool, so a sample kept in several pools
 * is scored once per iteration: the bars count scores, stacked by the iteration that scored them.
 */
const scoresText = (n: number) => `${n} score${n === 1 ? "" : "s"}`;

function histogramChart(h: Histogram, iterations: number): ChartSpec["config"] {
  const labels = h.bins.map((b) => `${fmt(b.from)}–${fmt(b.to)}`);
  const of = h.samples !== undefined && h.samples !== h.count ? ` of ${h.samples} samples` : "";
  const perIteration = h.iterations ?? [];
  const datasets =
    perIteration.length > 1
      ? perIteration.map((it) => ({
          label: `iteration ${it.iteration} (${scoresText(it.count)}, mean ${fmt(it.mean)})`,
          data: it.n,
          backgroundColor: iterationColor(it.iteration, iterations),
        }))
      : [
          {
            label: `${h.metric} (${scoresText(h.count)}${of}${perIteration.length === 1 ? `, iteration ${perIteration[0]!.iteration}` : ""}, mean ${fmt(h.mean)})`,
            data: h.bins.map((b) => b.n),
            backgroundColor: perIteration.length === 1 ? iterationColor(perIteration[0]!.iteration, iterations) : color(0),
          },
        ];
  return {
    type: "bar",
    data: { labels, datasets },
    options: {
      scales: {
        x: { stacked: true, title: { display: true, text: h.scale === "log" ? `${h.metric} (log-spaced bins)` : h.metric } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: `scores (${h.count}${of}, mean ${fmt(h.mean)})` } },
      },
    },
  };
}

/** The charts this data supports, and a note for each one it does not. */
export function reportCharts(d: ReportData): { charts: ChartSpec[]; omitted: OmittedChart[] } {
  const charts: ChartSpec[] = [];
  const omitted: OmittedChart[] = [];
  const add = (when: boolean, title: string, note: string, make: () => Omit<ChartSpec, "id" | "title">) => {
    if (!when) omitted.push({ title, note });
    else charts.push({ id: `chart-${charts.length + 1}`, title, ...make() });
  };
  const across = d.iteration === undefined ? "per iteration" : `per iteration, up to iteration ${d.iteration}`;
  // The colour scale of iterations spans the campaign's (every report of a campaign colours iteration N alike once it is known).
  const iterationCount = Math.max(
    0,
    ...d.iterations.map((i) => i.iteration),
    ...d.reward.map((c) => c.iteration),
    ...d.scores.flatMap((h) => (h.iterations ?? []).map((i) => i.iteration)),
  );

  add(d.funnel.length > 0, "Acceptance funnel", "no samples were written", () => ({
    caption: "Samples each stage wrote, per kind, by status (verified: accepted; rejected: failed a verifier, the rules or the judges).",
    config: stacked(
      d.funnel,
      (r) => `${r.stage} · ${r.kind}`,
      (r) => r.status,
      (r) => r.n,
      STATUS_COLORS,
    ),
  }));
  add(d.rejectionReasons.length > 0, "Rejection reasons", "no sample was rejected", () => ({
    caption:
      "The most frequent reasons the verifiers gave for rejecting a sample, each named by the verifier that gave it (rules, seed-shape, judges, judge-committee); each bar counts the rejected samples that gave the reason, once per sample however many calls or judges gave it; a passing verdict's notes are not counted. Long reasons are cut on the axis; hover a bar for the whole text.",
    config: {
      type: "bar",
      data: {
        labels: d.rejectionReasons.map((r) => r.reason),
        datasets: [{ label: "rejected samples", data: d.rejectionReasons.map((r) => r.n), backgroundColor: "#e15759" }],
      },
      // Every reason gets its row (Chart.js would skip every other one when they crowd).
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { ticks: { autoSkip: false } } } },
    },
    height: Math.max(320, 60 + 22 * d.rejectionReasons.length),
  }));
  const usageLabels = d.usage.map((u) => `${u.role} (${u.model})`);
  add(d.usage.length > 0, "Tokens per role", "no LLM request was made", () => ({
    caption: "Prompt and completion tokens per role and model, from the request ledger.",
    config: {
      type: "bar",
      data: {
        labels: usageLabels,
        datasets: [
          { label: "prompt tokens", data: d.usage.map((u) => u.promptTokens), backgroundColor: color(0) },
          { label: "completion tokens", data: d.usage.map((u) => u.completionTokens), backgroundColor: color(1) },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    },
  }));
  const unsettled = d.usage.some((u) => (u.outcomeUnknown ?? 0) > 0);
  add(d.usage.length > 0, "Requests per role", "no LLM request was made", () => ({
    caption:
      "LLM requests per role and model; failures are requests that ended in an error" +
      (unsettled ? "; no outcome: requests in flight when a worker stopped (killed or crashed), neither answered nor failed as far as the ledger knows." : "."),
    config: {
      type: "bar",
      data: {
        labels: usageLabels,
        datasets: [
          { label: "requests", data: d.usage.map((u) => u.requests), backgroundColor: color(3) },
          { label: "failures", data: d.usage.map((u) => u.failures), backgroundColor: "#e15759" },
          ...(unsettled
            ? [{ label: "no outcome (in flight when a worker stopped)", data: d.usage.map((u) => u.outcomeUnknown ?? 0), backgroundColor: "#bab0ac" }]
            : []),
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    },
  }));
  add(d.kindDomain.length > 0, "Samples per kind and domain", "no sample was accepted", () => ({
    caption:
      "Accepted samples per tool domain (of the tool the sample calls, its last call for a text answer; the first offered tool when it calls none), by kind.",
    config: stacked(
      d.kindDomain,
      (r) => r.domain,
      (r) => r.kind,
      (r) => r.n,
    ),
  }));
  for (const metric of ["label_ppl", "own_ppl", "consistency"]) {
    const h = d.scores.find((s) => s.metric === metric);
    const title = `Score distribution: ${metric}`;
    add(h !== undefined, title, "no sample was scored with this metric (no score stage ran)", () => ({
      caption: `${
        metric === "consistency"
          ? "Execution consistency of the policy's sampled answers per sample (score.consistency)."
          : `Perplexity of the ${metric === "label_ppl" ? "label" : "policy's own answer"} under the policy (score.perplexity).`
      } Bars count scores, by the iteration whose policy scored them: a sample in several iterations' pools is scored in each.${
        h?.scale === "log" ? ` The bins are log-spaced: the values span more than a factor of ${LOG_BINS_RATIO}.` : ""
      }`,
      config: histogramChart(h!, iterationCount),
    }));
  }
  add(d.judgeVotes.length > 0, "Judges' verdicts", "no judge voted (no verify.judges, repair.labels or expand.errors committee ran)", () => ({
    caption:
      "Every stored vote of every judge, per committee and judge model: verify.judges on synthesized samples and expand.errors on its new labels (CORRECT / INCORRECT), repair.labels on probed mismatches (LABEL_WRONG, PRED_WRONG, BOTH_CORRECT, BOTH_WRONG).",
    config: stacked(
      d.judgeVotes,
      (r) => `${r.stage} · ${r.model}`,
      (r) => r.verdict,
      (r) => r.n,
      VERDICT_COLORS,
    ),
  }));
  add(d.labelJudgements.length > 0, "Committee decisions", "no committee decided on a mismatch", () => ({
    caption: "The committee's consensus verdict on each mismatch and what was done about it.",
    config: stacked(
      d.labelJudgements,
      (r) => r.verdict,
      (r) => r.action,
      (r) => r.n,
    ),
  }));
  // Every iteration in scope on the axis: one without a probe (its stage failed or was skipped) is a gap, not a vanished label.
  const probeIterations = uniq([...d.iterations.map((i) => i.iteration), ...d.probe.map((p) => p.iteration)]).sort((a, b) => a - b);
  add(d.probe.length > 0, "Probe agreement", "no probe.greedy results", () => ({
    caption: `The policy's greedy answers that matched the pool's labels, ${across}.`,
    config: {
      type: "line",
      data: {
        labels: probeIterations.map((i) => `iteration ${i}`),
        datasets: [
          {
            label: "match rate",
            data: probeIterations.map((i) => {
              const p = d.probe.find((r) => r.iteration === i);
              return p && p.matched + p.mismatched > 0 ? p.matched / (p.matched + p.mismatched) : null;
            }),
            borderColor: color(0),
            backgroundColor: color(0),
          },
        ],
      },
      options: { scales: { y: { min: 0, max: 1, title: { display: true, text: "match rate (fraction of probed samples)" } } } },
    },
  }));
  bfclCharts(d, across, add);
  const steps = uniq(d.reward.flatMap((c) => c.points.map((p) => p.step))).sort((a, b) => a - b);
  add(
    d.reward.length > 0,
    "Training reward curve",
    d.rewardNotes.length ? `no training reward could be read (${d.rewardNotes.join("; ")})` : "no GRPO training ran",
    () => ({
      caption: "Mean reward score per GRPO step (critic/score/mean), one line per iteration's training.",
      config: {
        type: "line",
        data: {
          labels: steps,
          datasets: d.reward.map((c) => ({
            label: `iteration ${c.iteration}`,
            data: steps.map((s) => c.points.find((p) => p.step === s)?.score ?? c.points.find((p) => p.step === s)?.reward ?? null),
            borderColor: iterationColor(c.iteration, iterationCount),
            backgroundColor: iterationColor(c.iteration, iterationCount),
            spanGaps: true,
          })),
        },
        options: { scales: { x: { title: { display: true, text: "step" } }, y: { title: { display: true, text: "mean score" } } } },
      },
    }),
  );
  add(d.pool.length > 0, "Pool composition", "no training pool was selected (no select.nextRound)", () => ({
    caption: `Training pool members by the reason they were chosen, ${across}.`,
    config: stacked(
      d.pool,
      (r) => `iteration ${r.iteration}`,
      (r) => r.reason,
      (r) => r.n,
    ),
  }));
  add(d.exclusions.length > 0, "Left out of the pool", "select.nextRound left no candidate out", () => ({
    caption: `Candidates left out of the pool (duplicates, contamination, budget), ${across}.`,
    config: stacked(
      d.exclusions,
      (r) => `iteration ${r.iteration}`,
      (r) => r.reason,
      (r) => r.n,
    ),
  }));
  multiTurnCharts(d, add);
  for (const c of charts) {
    c.config.options = { animation: false, responsive: true, maintainAspectRatio: false, ...c.config.options };
    // A legend of many series (an iteration each) grows the chart instead of squeezing its plot.
    const legend = heightForLegend(c.config.data.datasets.map((ds) => String(ds.label ?? "")));
    if (legend > (c.height ?? 320)) c.height = legend;
  }
  return { charts, omitted };
}

/** Rows evaluate.bfcl (overall, non_live, live, multi_turn) and evaluate.bfclFast (overall_probe) write for their group scores. */
const BFCL_GROUPS = ["overall", "non_live", "live", "multi_turn", "overall_probe"];
/**
 * One colour per BFCL category, the same under both evaluators (a line style tells them apart):
 * 17 categories would repeat the 12-colour palette, and two categories in one colour read as one.
 */
const BFCL_CATEGORY_COLORS = [...PALETTE, "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#e377c2", "#637939", "#843c39", "#3182bd"];
/** A category's colour; a group row's (a chart of its own) or an unknown name's, by its place in that list. */
const bfclColor = (category: string) => {
  const at = (BFCL_EVAL_CATEGORIES as readonly string[]).indexOf(category);
  return at >= 0 ? BFCL_CATEGORY_COLORS[at]! : color(Math.max(0, BFCL_GROUPS.indexOf(category)));
};
const FAST_EVALUATOR = "toolloop-matcher";

/**
 * Which policy model each iteration's BFCL numbers are of, consecutive iterations of one model
 * together ("iterations 1–3: base; iteration 4: run-iter-4"): in a loop it is the served policy, not
 * the configured `roles.policy` the summary table lists.
 */
export function evaluatedModels(rows: ReportData["bfcl"]): string {
  const byIteration = new Map<number, string[]>();
  for (const r of rows) if (r.model !== undefined) byIteration.set(r.iteration, uniq([...(byIteration.get(r.iteration) ?? []), r.model]));
  const runs: { from: number; to: number; models: string }[] = [];
  for (const [iteration, models] of [...byIteration].sort(([a], [b]) => a - b)) {
    const last = runs.at(-1);
    const text = models.sort().join(" and ");
    if (last && last.models === text && last.to === iteration - 1) last.to = iteration;
    else runs.push({ from: iteration, to: iteration, models: text });
  }
  return runs.map((r) => `${r.from === r.to ? `iteration ${r.from}` : `iterations ${r.from}–${r.to}`}: ${r.models}`).join("; ");
}

/**
 * The BFCL charts: the group scores (the number an operator follows) apart from the per-category
 * accuracies, whose 17 + 13 lines of a campaign running both evaluators once shared one chart with
 * the group scores, a legend taller than the plot and colours used twice. The category chart grows
 * with its legend.
 */
function bfclCharts(
  d: ReportData,
  across: string,
  add: (when: boolean, title: string, note: string, make: () => Omit<ChartSpec, "id" | "title">) => void,
): void {
  const groups = d.bfcl.filter((b) => BFCL_GROUPS.includes(b.category));
  const categories = d.bfcl.filter((b) => !BFCL_GROUPS.includes(b.category));
  // Every iteration in scope gets its place on the axis: one without an evaluation (its stage failed or
  // was skipped, the campaign stopped before it) is a gap in the lines, not an iteration that vanished.
  const iterationsOf = (rows: ReportData["bfcl"]) => uniq([...d.iterations.map((i) => i.iteration), ...rows.map((b) => b.iteration)]).sort((a, b) => a - b);
  const seriesOf = (rows: ReportData["bfcl"], order: (b: ReportData["bfcl"][number]) => number) =>
    uniq(
      [...rows]
        .sort((a, b) => a.evaluator.localeCompare(b.evaluator) || order(a) - order(b) || a.category.localeCompare(b.category))
        .map((b) => `${b.category} (${b.evaluator})`),
    );
  const lines = (rows: ReportData["bfcl"], series: string[], its: number[]) =>
    series.map((name) => {
      const first = rows.find((b) => `${b.category} (${b.evaluator})` === name)!;
      return {
        label: name,
        data: its.map((it) => rows.find((b) => b.iteration === it && `${b.category} (${b.evaluator})` === name)?.accuracy ?? null),
        borderColor: bfclColor(first.category),
        backgroundColor: bfclColor(first.category),
        ...(first.evaluator === FAST_EVALUATOR ? { borderDash: [6, 4] } : {}),
      };
    });
  const accuracyAxis = { y: { min: 0, max: 1, title: { display: true, text: "accuracy (fraction of entries correct)" } } };

  if (groups.length > 0 || categories.length === 0) {
    add(groups.length > 0, "BFCL overall scores", "no BFCL evaluation ran", () => {
      const its = iterationsOf(groups);
      const series = seriesOf(groups, (b) => BFCL_GROUPS.indexOf(b.category));
      const official = groups.filter((b) => b.evaluator === "bfcl-eval");
      const missing = official.filter((b) => b.category === "overall" && (b.missing ?? 0) > 0);
      const limits = uniq(d.bfcl.filter((b) => b.evaluator === "bfcl-eval" && b.limitPerCategory !== undefined).map((b) => b.limitPerCategory!)).sort(
        (a, b) => a - b,
      );
      const parts = [`The group scores, ${across}.`];
      const models = evaluatedModels(d.bfcl);
      if (models) parts.push(`Policy evaluated: ${models}.`);
      if (official.length > 0) {
        parts.push(
          "bfcl-eval (evaluate.bfcl): BFCL v3's formula (RULES.md), overall = mean of non_live, live and multi_turn; each group is a mean of category accuracies, not the share of its entries answered correctly (its stored correct/total only count the entries).",
        );
        if (missing.length > 0)
          parts.push(
            `A category the stage did not evaluate counts 0 (${uniq(missing.map((b) => `${b.missing} of ${BFCL_EVAL_CATEGORIES.length}`)).join(", ")} categories left out${missing.length < official.filter((b) => b.category === "overall").length ? ` in iteration ${missing.map((b) => b.iteration).join(", ")}` : ""}): not a leaderboard number.`,
          );
        if (limits.length > 0)
          parts.push(`Only the first ${limits.join(", ")} entries of each category were evaluated (limitPerCategory): not a leaderboard number.`);
      }
      if (groups.some((b) => b.evaluator === FAST_EVALUATOR))
        parts.push(
          "overall_probe (toolloop-matcher, dashed) is the fast probe's entry-weighted mean over the categories it probed, not the leaderboard formula.",
        );
      const simulated = bfclSimulatedNote(d).trim();
      if (simulated) parts.push(simulated);
      return {
        caption: parts.join(" "),
        config: {
          type: "line",
          data: { labels: its.map((i) => `iteration ${i}`), datasets: lines(groups, series, its) },
          // A group's score is a mean of category accuracies (RULES.md), not a fraction of entries (only overall_probe's is).
          options: { scales: { y: { ...accuracyAxis.y, title: { display: true, text: "accuracy (see the caption for each group's formula)" } } } },
        },
      };
    });
  }
  if (categories.length === 0) return;
  // How many entries each fast-probe accuracy rests on (a category probed with a limit has few).
  const sizes = uniq(categories.filter((b) => b.evaluator === FAST_EVALUATOR).map((b) => b.total)).sort((a, b) => a - b);
  const fastEntries = sizes.length === 0 ? "no category" : `${sizes.length === 1 ? sizes[0] : `${sizes[0]}–${sizes.at(-1)}`} entries per category`;
  const fast = categories.filter((b) => b.evaluator === FAST_EVALUATOR);
  const modes = uniq(fast.flatMap((b) => (b.mode ? [b.mode] : []))).sort();
  // Requests the endpoint refused count as wrong answers, as in BFCL: an accuracy they lowered says so.
  const failedByIteration = iterationsOf(fast)
    .map((it) => ({ it, n: fast.filter((b) => b.iteration === it).reduce((s, b) => s + (b.failedRequests ?? 0), 0) }))
    .filter((f) => f.n > 0);
  const failedNote =
    failedByIteration.length > 0
      ? ` Requests the policy endpoint refused or answered unreadably count as wrong answers (${failedByIteration.map((f) => `iteration ${f.it}: ${f.n}`).join(", ")}).`
      : "";
  const its = iterationsOf(categories);
  const series = seriesOf(categories, (b) => (BFCL_EVAL_CATEGORIES as readonly string[]).indexOf(b.category));
  const both = uniq(categories.map((b) => b.evaluator)).length > 1;
  const officialLimits = uniq(categories.filter((b) => b.evaluator === "bfcl-eval" && b.limitPerCategory !== undefined).map((b) => b.limitPerCategory!)).sort(
    (a, b) => a - b,
  );
  add(true, "BFCL scores per category", "no BFCL evaluation ran", () => ({
    caption: `Accuracy per BFCL category and evaluator, ${across}.${groups.length === 0 && evaluatedModels(d.bfcl) ? ` Policy evaluated: ${evaluatedModels(d.bfcl)}.` : ""}${
      categories.some((b) => b.evaluator === FAST_EVALUATOR)
        ? ` toolloop-matcher is the fast probe (evaluate.bfclFast, ${modes.length > 0 ? `matcher mode ${modes.join(" and ")}, ` : ""}${fastEntries}), not the official bfcl-eval score.${failedNote}`
        : ""
    }${officialLimits.length > 0 ? ` bfcl-eval evaluated the first ${officialLimits.join(", ")} entries of each category (limitPerCategory).` : ""}${both ? " One colour per category: solid lines bfcl-eval, dashed lines toolloop-matcher." : ""}${bfclSimulatedNote(d)}`,
    config: {
      type: "line",
      data: { labels: its.map((i) => `iteration ${i}`), datasets: lines(categories, series, its) },
      options: { scales: accuracyAxis },
    },
    // The legend wraps about four series to a row; the plot keeps its own height under it.
    height: Math.max(320, 250 + 24 * Math.ceil(series.length / 4)),
  }));
}

const DIALOGUE_COLORS: Record<string, string> = { kept: "#59a14f", dropped: "#e15759", failed: "#b07aa1", running: "#bab0ac" };
/** A kept dialogue cut short: kept, but not the clean green of one whose user said done. */
const KEPT_UNFINISHED_COLOR = "#b6d7a8";

/** One bar per label, one dataset. */
function bars(labels: string[], label: string, data: number[], backgroundColor: string | string[], horizontal = false): ChartSpec["config"] {
  return {
    type: "bar",
    data: { labels, datasets: [{ label, data, backgroundColor }] },
    options: { ...(horizontal ? { indexAxis: "y" } : {}), scales: { [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { precision: 0 } } } },
  };
}

/** The multi-turn section (synthesize.multiTurn's dialogues and turns), each chart left out with its note when there is no data. */
function multiTurnCharts(d: ReportData, add: (when: boolean, title: string, note: string, make: () => Omit<ChartSpec, "id" | "title">) => void): void {
  const m = d.multiTurn;
  const none = "no multi-turn dialogue ran (no synthesize.multiTurn)";
  const ran = m !== undefined && m.dialogues.length > 0;
  add(ran, "Multi-turn dialogues kept and dropped", none, () => {
    const rows = m!.dialogues.map((r) => ({ label: r.reason ? `${r.status}: ${r.reason}` : r.status, status: r.status, reason: r.reason, n: r.n }));
    return {
      caption:
        "Dialogues by outcome; a dropped dialogue by its drop reason (too many rejected turns, no accepted turn, a bad plan, ...); one that ended before the user said done is unfinished, with why: turns_max (the user turns ran out), max_tool_rounds (the assistant still called tools), no_valid_candidate (no candidate of a turn was valid), context_length (a role model's context was outgrown).",
      config: bars(
        rows.map((r) => r.label),
        "dialogues",
        rows.map((r) => r.n),
        rows.map((r) => (r.status === "kept" && r.reason ? KEPT_UNFINISHED_COLOR : (DIALOGUE_COLORS[r.status] ?? PALETTE[0]!))),
        true,
      ),
    };
  });
  const lengths = m?.userTurns ?? [];
  add(ran && lengths.length > 0, "Multi-turn dialogue length", ran ? "no dialogue has ended yet" : none, () => {
    const min = Math.min(1, ...lengths.map((l) => l.turns));
    const max = Math.max(...lengths.map((l) => l.turns));
    const turns = Array.from({ length: max - min + 1 }, (_, i) => min + i);
    return {
      caption: "Ended dialogues by the number of user turns they took.",
      config: {
        ...bars(
          turns.map(String),
          "dialogues",
          turns.map((t) => lengths.find((l) => l.turns === t)?.n ?? 0),
          color(0),
        ),
        options: {
          scales: {
            x: { title: { display: true, text: "user turns" } },
            y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "dialogues" } },
          },
        },
      },
    };
  });
  const decisions = m?.decisions ?? [];
  add(ran && decisions.length > 0, "Multi-turn assistant turn decisions", ran ? "no assistant turn was decided" : none, () => ({
    caption: "How each assistant turn was decided: m of k candidates agreed (vote), a judge chose among them (negotiation), or it was rejected.",
    config: bars(
      decisions.map((r) => r.decision),
      "assistant turns",
      decisions.map((r) => r.n),
      decisions.map((r) => (r.decision === "rejected" ? "#e15759" : r.decision === "negotiation" ? "#f28e2b" : "#59a14f")),
    ),
  }));
  const reflections = m?.reflections ?? [];
  add(ran && reflections.length > 0, "Multi-turn self-reflection", ran ? "no assistant candidate broke a rule, so none was reflected on" : none, () => ({
    caption: "Candidates that broke a schema or style rule and got one reflect-and-revise call, by what came of it.",
    config: bars(
      reflections.map((r) => r.result),
      "candidates",
      reflections.map((r) => r.n),
      reflections.map((r) => (r.result === "revised" ? "#59a14f" : "#e15759")),
    ),
  }));
  const tools = m?.toolResults ?? [];
  add(ran && tools.length > 0, "Multi-turn tool results", ran ? "no dialogue called a tool" : none, () => {
    const series = tools.map(toolResultSeries);
    const count = (pick: (r: (typeof tools)[number]) => boolean) => tools.filter(pick).reduce((n, r) => n + r.n, 0);
    const errors = count((r) => r.result !== "ok");
    const injected = count((r) => r.result !== "ok" && r.origin === "injected");
    const simulated = count((r) => r.simulated === true);
    const unknown = count((r) => r.result !== "ok" && r.origin === undefined);
    const simulatorOwn = (cause: string | undefined) =>
      count((r) => r.result !== "ok" && r.origin === "tool_server" && r.simulated === true && r.simulatedCause === cause);
    const parts = [
      `Tool results per tool in the dialogues: ok, or an error by where it came from. Injected: the engine asked the tool server for it (fault injection at the stage's toolErrorRate), not trouble of the server or the call. Tool server: the server's own answer to the call (a bad call, an unknown id, its own trouble, an answer that could not be read). ${errors} of ${count(() => true)} results are errors, ${injected} of them injected.`,
    ];
    if (unknown > 0) parts.push(`${unknown} ${unknown === 1 ? "error was" : "errors were"} stored before their origin was recorded: origin not recorded.`);
    if (simulated > 0) {
      const unsaid = simulatorOwn(undefined);
      parts.push(
        `SIMULATED: the toolloop LLM simulator played the tool server for ${simulated} results (scripted answers, not a model). Its own errors are shown by kind: "tool server rules" (${simulatorOwn("rules")}): the call broke its tool's rules (an unknown tool, arguments against the schema, an id the session never saw); "tool server random fault" (${simulatorOwn("fault")}): its own random trouble at --dialogue-tool-server-error-rate, no fault of the call.${
          unsaid > 0 ? ` ${unsaid} "tool server (SIMULATED)" ${unsaid === 1 ? "error was" : "errors were"} stored before the simulator said which kind.` : ""
        }`,
      );
    }
    return {
      caption: parts.join(" "),
      config: stacked(
        tools.map((r, i) => ({ ...r, series: series[i]! })),
        (r) => r.tool,
        (r) => r.series,
        (r) => r.n,
        toolResultColors(series),
        true,
      ),
    };
  });
}

/**
 * A tool result's series: ok, or the error type and its origin; SIMULATED when the toolloop simulator
 * played the server, whose own errors are its rules' or its random faults' (simulatedCause).
 */
export function toolResultSeries(r: { result: string; origin?: string; simulated?: boolean; simulatedCause?: string }): string {
  const simulated = r.simulated ? " (SIMULATED)" : "";
  if (r.result === "ok") return `ok${simulated}`;
  if (r.origin === "injected") return `${r.result}: injected${simulated}`;
  if (r.origin === "tool_server" && r.simulated && r.simulatedCause === "rules") return `${r.result}: tool server rules (SIMULATED)`;
  if (r.origin === "tool_server" && r.simulated && r.simulatedCause === "fault") return `${r.result}: tool server random fault (SIMULATED)`;
  if (r.origin === "tool_server") return `${r.result}: tool server${simulated}`;
  return `${r.result}: origin not recorded`;
}

/**
 * ok green; injected errors in oranges and yellows, the tool server's own in reds and purples (the
 * simulator's random faults in blues), unknown origins in greys.
 */
function toolResultColors(series: string[]): Record<string, string> {
  const shades = {
    ok: ["#59a14f", "#8cd17d"],
    injected: ["#f28e2b", "#ffbe7d", "#edc948", "#b6992d", "#d37295", "#fabfd2"],
    server: ["#e15759", "#9d2b2b", "#b07aa1", "#ff9da7", "#d4a6c8", "#79706e"],
    fault: ["#4e79a7", "#a0cbe8", "#76b7b2", "#2f4b7c", "#86bcb6", "#499894"],
    unknown: ["#bab0ac", "#79706e", "#9c755f", "#d7b5a6"],
  };
  const used = { ok: 0, injected: 0, server: 0, fault: 0, unknown: 0 };
  const colors: Record<string, string> = {};
  for (const name of uniq(series).sort()) {
    const group = name.startsWith("ok")
      ? "ok"
      : name.includes(": injected")
        ? "injected"
        : name.includes(": tool server random fault")
          ? "fault"
          : name.includes(": tool server")
            ? "server"
            : "unknown";
    colors[name] = shades[group][used[group]++ % shades[group].length]!;
  }
  return colors;
}

/** Which iterations' BFCL scores the LLM simulator answered (stored per row), for the chart's caption. */
function bfclSimulatedNote(d: ReportData): string {
  const iterations = uniq(d.bfcl.filter((b) => b.simulated).map((b) => b.iteration)).sort((a, b) => a - b);
  if (iterations.length === 0) return "";
  const which =
    iterations.length === uniq(d.bfcl.map((b) => b.iteration)).length
      ? "every iteration"
      : `iteration${iterations.length > 1 ? "s" : ""} ${iterations.join(", ")}`;
  return ` SIMULATED (${which}): the policy answering was the toolloop LLM simulator (scripted, not a model); these numbers measure no model.`;
}

/**
 * What the requests the simulator did not answer were: a failed or cut-off request (connection refused,
 * timed out, in flight when a worker was killed) carries no simulator mark, and "90 of 100 answered by
 * the simulator" alone reads as 10 answered by a model.
 */
function otherRequests(llm: NonNullable<ReportData["simulated"]["llm"]>, where: "banner" | "row"): string {
  const rest = llm.total - llm.simulated;
  if (rest <= 0 || llm.otherAnswers === undefined) return "";
  const failed = rest - llm.otherAnswers;
  if (llm.otherAnswers === 0)
    return where === "banner"
      ? `; none of the other ${rest} was answered by another server: they failed or were cut off with no answer`
      : ` (the other ${rest} failed or were cut off with no answer; none was answered by another server)`;
  const answered = `${llm.otherAnswers} ${llm.otherAnswers === 1 ? "was" : "were"} answered by another server`;
  return where === "banner"
    ? `; of the other ${rest}, ${answered}${failed > 0 ? ` and ${failed} failed or were cut off with no answer` : ""}`
    : ` (of the other ${rest}, ${answered}${failed > 0 ? `, ${failed} failed or were cut off with no answer` : ""})`;
}

function simulatedBanner(d: ReportData): string | undefined {
  const parts: string[] = [];
  if (d.simulated.llm && d.simulated.llm.simulated > 0)
    parts.push(
      `${d.simulated.llm.simulated} of ${d.simulated.llm.total} LLM requests were answered by the toolloop LLM simulator (scripted, not a model)${otherRequests(d.simulated.llm, "banner")}`,
    );
  if (d.simulated.training) parts.push("training used the stand-in trainer and/or a simulator-served policy (nothing was trained)");
  return parts.length ? `SIMULATED: ${parts.join("; ")}.` : undefined;
}

/** A multi-turn synthesis that kept no dialogue, shown above the summary like the simulated banner (src/dialogue/noneKept.ts). */
function multiTurnWarnings(d: ReportData): string {
  const ws = d.multiTurn?.warnings ?? [];
  if (ws.length === 0) return "";
  const items = ws.map((w) => `<li>iteration ${w.iteration}, synthesize.multiTurn: ${escapeHtml(w.warning)}</li>`).join("");
  return `<div class="banner" id="multi-turn-warning">WARNING: a multi-turn synthesis kept no dialogue.<ul>${items}</ul></div>`;
}

type StageRun = NonNullable<ReportData["stages"]>[number];

/**
 * A stage run's attempts as two counts: the operator's runs (retry-stage) and the retries Temporal
 * made of its steps on its own, which the operator never saw; data without the latter (recorded
 * since stage runs keep them) says only the run.
 */
function runsText(s: StageRun): string {
  const run = `operator run ${s.attempts}`;
  if (s.automaticRetries === undefined) return run;
  return `${run}, ${s.automaticRetries} automatic ${s.automaticRetries === 1 ? "retry" : "retries"}`;
}

/** A long error cut in the middle: its head says what failed, its tail (a job's last output) usually why. */
export function shortenMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.floor(max / 3);
  return `${text.slice(0, head)} … ${text.slice(text.length - (max - head - 3))}`;
}

/**
 * Failed stage runs (their latest attempt failed: a campaign waiting for an operator, or one that
 * failed) and those skipped after failing (an operator's skip, onStageFailure "skip": the iteration
 * went on without them), shown above the summary; an iteration report's own.
 */
function failedStagesBanner(d: ReportData): string {
  const failed = (d.stages ?? []).filter(
    (s) => (s.status === "failed" || (s.status === "skipped" && s.error)) && (d.iteration === undefined || s.iteration === d.iteration),
  );
  if (failed.length === 0) return "";
  const items = failed
    .map(
      (s) =>
        `<li>iteration ${s.iteration}, ${escapeHtml(s.stage)} (${runsText(s)}${s.status === "skipped" ? ", skipped after it failed" : ""}${s.finishedAt ? `, ${escapeHtml(s.finishedAt)}` : ""}): ${escapeHtml(shortenMiddle(s.error ?? "no error recorded", 600))}</li>`,
    )
    .join("");
  return `<div class="banner failed" id="failed-stages">FAILED: ${failed.length === 1 ? "a stage" : `${failed.length} stages`} failed.<ul>${items}</ul></div>`;
}

/** An iteration's status as it stands: a row still "running" under a failed, aborted or terminated campaign never finished. */
function iterationStatusText(d: ReportData, iteration: number, status: string): string {
  if (status !== "running" && status !== "failed") return status;
  const failed = (d.stages ?? []).filter((s) => s.iteration === iteration && s.status === "failed").map((s) => s.stage);
  if (status === "failed") return `failed${failed.length ? ` (stage ${failed.join(", ")})` : ""}`;
  if (d.status === "failed" || d.status === "aborted" || d.status === "terminated")
    return `running: did not finish (campaign ${d.status}${failed.length ? `; stage ${failed.join(", ")} failed` : ""})`;
  return failed.length ? `running; stage ${failed.join(", ")} failed` : status;
}

/** One iteration's stages in a line: counts by status, the failed ones named. */
function stagesInLine(d: ReportData, iteration: number): string {
  const runs = (d.stages ?? []).filter((s) => s.iteration === iteration);
  if (runs.length === 0) return "none recorded";
  const byStatus = new Map<string, string[]>();
  for (const r of runs) byStatus.set(r.status, [...(byStatus.get(r.status) ?? []), r.stage]);
  const retried = runs.filter((r) => r.attempts > 1).map((r) => `${r.stage} ×${r.attempts}`);
  const retriedByTemporal = runs.filter((r) => (r.automaticRetries ?? 0) > 0).map((r) => `${r.stage} ${r.automaticRetries}`);
  // A skipped stage is named like a failed one: it failed, and the iteration went on without what it makes (a BFCL score, a pool).
  const parts = [...byStatus].map(([status, names]) => (status === "succeeded" ? `${names.length} ${status}` : `${status}: ${names.join(", ")}`));
  // Only the names here (twelve iterations of full warnings would bury the table); each iteration's report has them in full.
  const warned = runs.filter((r) => r.warning).map((r) => r.stage);
  return `${parts.join("; ")}${retried.length ? `; operator runs: ${retried.join(", ")}` : ""}${
    retriedByTemporal.length ? `; automatic retries: ${retriedByTemporal.join(", ")}` : ""
  }${iterationStepRetriesInLine(d, iteration)}${warned.length ? `; warnings: ${warned.join(", ")}` : ""}`;
}

/** An iteration report's stages, in the order they started. */
function stagesTable(d: ReportData): string {
  if (d.iteration === undefined || d.stages === undefined) return "";
  const runs: StageRun[] = d.stages.filter((s) => s.iteration === d.iteration);
  if (runs.length === 0) return "<h2>Stages</h2><p>No stage of this iteration has started.</p>";
  const stopped = d.iterationStatus !== undefined && d.iterationStatus !== "running";
  const body = runs
    .map((r) => {
      const status =
        r.status === "running" && (stopped || d.status === "failed" || d.status === "aborted" || d.status === "terminated")
          ? "running: did not finish"
          : r.status;
      const cls = r.status === "failed" ? ' class="failed"' : "";
      // The error (a failed stage's, or a retried one's last) on its own full-width row under the stage.
      const error = r.error ? `<tr${cls}><td colspan="6" class="error"><pre>${escapeHtml(shortenMiddle(r.error, 4000))}</pre></td></tr>` : "";
      const warning = r.warning ? `<tr class="warning"><td colspan="6" class="error"><pre>warning: ${escapeHtml(r.warning)}</pre></td></tr>` : "";
      const automatic = r.automaticRetries === undefined ? "not recorded" : String(r.automaticRetries);
      return `<tr${cls}><td>${escapeHtml(r.stage)}</td><td>${escapeHtml(status)}</td><td>${r.attempts}</td><td>${automatic}</td><td>${escapeHtml(r.startedAt)}</td><td>${escapeHtml(r.finishedAt ?? "")}</td></tr>${error}${warning}`;
    })
    .join("");
  // Operator runs: the first and each retry-stage; automatic retries: Temporal's own, of the stage's steps over those runs.
  const legend =
    '<p class="caption">Operator runs: the first run and one more per retry-stage. Automatic retries: the attempts Temporal made again of the stage\'s steps on its own (a transient failure, a killed worker, a step left for a worker that has the stage), over all its runs; "not recorded" for a run begun before they were recorded.</p>';
  return `<h2>Stages</h2>${legend}<table class="stages"><thead><tr><th>stage</th><th>status</th><th>operator runs</th><th>automatic retries</th><th>started</th><th>finished</th></tr></thead><tbody>${body}</tbody></table>`;
}

/** What each of an iteration's own steps does, for the Iteration steps table (activities/index.ts). */
const ITERATION_STEP_WHAT: Record<string, string> = {
  registerCampaign: "registration: freezes the config, loads the tools (a campaign run's start)",
  loadCampaignPlan: "loads the iteration's plan from the frozen config",
  startIteration: "records the iteration started",
  finishIteration: "counts the samples and writes the reports",
  recordStageOutcome: "records a failed or skipped stage",
  awaitStageEndpoints: "watches a failed stage's endpoints until they answer",
  setCampaignStatus: "records the campaign's end and refreshes its report",
  forwardStageDecision: "forwards an operator's retry-stage or skip-stage",
  requestWorkflowCancel: "asks Temporal to cancel the workflow (an abort)",
};

type IterationStepRow = NonNullable<ReportData["iterationSteps"]>[number];

/** An iteration's own steps retried by Temporal, in a line (the iterations table); empty when none was or none is recorded. */
function iterationStepRetriesInLine(d: ReportData, iteration: number): string {
  const retried = (d.iterationSteps ?? []).filter((r) => r.iteration === iteration && r.automaticRetries > 0);
  return retried.length ? `; automatic retries of iteration steps: ${retried.map((r) => `${r.step} ${r.automaticRetries}`).join(", ")}` : "";
}

/**
 * An iteration report's own steps (outside stage steps): each with its calls and the retries Temporal
 * made of them by itself; "not recorded" for an iteration that ran before they were.
 */
function iterationStepsTable(d: ReportData): string {
  if (d.iteration === undefined) return "";
  const rows: IterationStepRow[] = (d.iterationSteps ?? []).filter((r) => r.iteration === d.iteration);
  const legend =
    "<p class=\"caption\">The iteration's own steps, outside its stages: registration, loading the plan, starting and finishing the iteration (its reports), recording a stage's outcome, the campaign's end. Calls: how many times its workflows ran the step (again on a rerun). Automatic retries: the attempts Temporal made again of those calls on its own (a transient failure, a killed worker), which no operator saw.</p>";
  if (rows.length === 0)
    return `<h2>Iteration steps</h2>${legend}<p id="iteration-steps-not-recorded">Automatic retries of this iteration's own steps: not recorded (the iteration ran before they were recorded).</p>`;
  const body = rows
    .map(
      (r) =>
        `<tr${r.automaticRetries > 0 ? ' class="warning"' : ""}><td>${escapeHtml(r.step)}</td><td>${escapeHtml(ITERATION_STEP_WHAT[r.step] ?? "")}</td><td>${r.calls}</td><td>${r.automaticRetries}</td></tr>`,
    )
    .join("");
  return `<h2>Iteration steps</h2>${legend}<table class="iteration-steps"><thead><tr><th>step</th><th>what it does</th><th>calls</th><th>automatic retries</th></tr></thead><tbody>${body}</tbody></table>`;
}

function row(k: string, v: string): string {
  return `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`;
}

function summaryTable(d: ReportData): string {
  const rows: string[] = [row("campaign", `${d.name} (${d.campaignId})`)];
  // An iteration report states its iteration's status (aborted, completed), then the campaign's.
  if (d.iterationStatus !== undefined)
    rows.push(
      row("status (when generated)", `iteration ${iterationStatusText(d, d.iteration!, d.iterationStatus)}`),
      row("campaign status (when generated)", d.status),
    );
  else rows.push(row("status (when generated)", d.status));
  if (d.config) {
    rows.push(row("config", `version ${d.config.version}, sha256 ${d.config.hash}`));
    rows.push(row("seed", String(d.config.seed)));
    rows.push(row("iterations", `${d.iterations.length} run of ${d.config.iterations} configured`));
    for (const r of d.config.roles) rows.push(row(`role ${r.role}`, `${r.model} on endpoint ${r.endpoint}`));
    rows.push(row("stages", d.config.stages.join(", ")));
  } else rows.push(row("config", "not recorded"));
  const byStatus = new Map<string, number>();
  for (const f of d.funnel) byStatus.set(f.status, (byStatus.get(f.status) ?? 0) + f.n);
  // What the stages wrote, not what was exported and trained on: that is the pool (a later
  // iteration writes a few repaired and expanded samples and trains on a pool of hundreds).
  rows.push(
    row(d.iteration === undefined ? "samples written" : "samples written (this iteration)", [...byStatus].map(([s, n]) => `${n} ${s}`).join(", ") || "none"),
  );
  const poolSizes = new Map<number, number>();
  for (const p of d.pool) if (d.iteration === undefined || p.iteration === d.iteration) poolSizes.set(p.iteration, (poolSizes.get(p.iteration) ?? 0) + p.n);
  if (poolSizes.size > 0)
    rows.push(
      row(
        "training pool",
        [...poolSizes]
          .sort(([a], [b]) => a - b)
          .map(([i, n]) => `${n} (iteration ${i})`)
          .join(", "),
      ),
    );
  if (d.multiTurn && d.multiTurn.dialogues.length > 0) {
    const byDialogueStatus = new Map<string, number>();
    for (const r of d.multiTurn.dialogues) byDialogueStatus.set(r.status, (byDialogueStatus.get(r.status) ?? 0) + r.n);
    const keptUnfinished = d.multiTurn.dialogues.filter((r) => r.status === "kept" && r.reason.startsWith("unfinished")).reduce((n, r) => n + r.n, 0);
    const counted = [...byDialogueStatus].map(([s, n]) => `${n} ${s}${s === "kept" && keptUnfinished > 0 ? ` (${keptUnfinished} unfinished)` : ""}`);
    rows.push(row("multi-turn dialogues", counted.join(", ")));
  }
  for (const w of d.multiTurn?.warnings ?? []) rows.push(row(`warning (iteration ${w.iteration})`, `synthesize.multiTurn: ${w.warning}`));
  const requests = d.usage.reduce((s, u) => s + u.requests, 0);
  const tokens = d.usage.reduce((s, u) => s + u.promptTokens + u.completionTokens, 0);
  rows.push(row("LLM requests", `${requests} (${tokens} tokens)`));
  rows.push(
    row(
      "LLM simulator",
      d.simulated.llm
        ? `${d.simulated.llm.simulated} of ${d.simulated.llm.total} requests${otherRequests(d.simulated.llm, "row")}`
        : "not recorded by this database's request ledger",
    ),
  );
  rows.push(row("generated", d.generatedAt));
  return `<table class="summary">${rows.join("")}</table>`;
}

function iterationsTable(d: ReportData): string {
  if (d.iterations.length === 0) return "<p>No iteration has started.</p>";
  const link = (i: number) =>
    d.iteration === undefined
      ? `<a href="iter-${i}/report.html">iteration ${i}</a>`
      : i === d.iteration
        ? `iteration ${i}`
        : `<a href="../iter-${i}/report.html">iteration ${i}</a>`;
  const withStages = d.stages !== undefined;
  const body = d.iterations
    .map(
      (i) =>
        `<tr><td>${link(i.iteration)}</td><td>${escapeHtml(iterationStatusText(d, i.iteration, i.status))}</td>${withStages ? `<td>${escapeHtml(stagesInLine(d, i.iteration))}</td>` : ""}<td>${escapeHtml(i.startedAt)}</td><td>${escapeHtml(i.finishedAt ?? "")}</td></tr>`,
    )
    .join("");
  return `<table class="iterations"><thead><tr><th>iteration</th><th>status</th>${withStages ? "<th>stages</th>" : ""}<th>started</th><th>finished</th></tr></thead><tbody>${body}</tbody></table>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin:0 0 .2em}
.banner{background:#fff3cd;border:2px solid #d39e00;padding:.6em 1em;font-weight:bold;margin:1em 0}
.banner.failed{background:#f8d7da;border-color:#b02a37}tr.failed td{background:#f8d7da}tr.warning td{background:#fff3cd}
table.stages td{word-break:normal;white-space:nowrap}table.stages td.error pre{white-space:pre-wrap;word-break:break-word;font-size:.8em;margin:0;max-width:1000px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;font-size:.9em}
table.summary th{background:#f5f5f5;white-space:nowrap}td{word-break:break-all}
.chart{margin:1.5em 0;page-break-inside:avoid}.chart .box{position:relative;height:320px}.caption{color:#555;font-size:.9em;margin:0 0 .5em}
.omitted{color:#666;font-size:.9em}`;

/**
 * In the page: a horizontal bar chart's category labels (rejection reasons, drop reasons, tool names)
 * cut with an ellipsis to the width Chart.js gives its y axis (half the chart), measured in the
 * tick font, so a long one is shortened at its end instead of clipped at the canvas edge, mid-word.
 * The data keep the whole label, which the tooltip shows.
 */
const FIT_AXIS_LABELS = `function fitCategoryLabels(options) {
  const y = ((options.scales ??= {}).y ??= {});
  (y.ticks ??= {}).callback = function (value) {
    const full = String(this.getLabelForValue(value));
    const ctx = this.ctx;
    ctx.save();
    ctx.font = Chart.helpers.toFont(this.options.ticks.font).string;
    const room = this.chart.width / 2 - 2 * (this.options.ticks.padding ?? 3) - 12;
    let text = full;
    if (ctx.measureText(text).width > room) {
      let n = text.length;
      while (n > 1 && ctx.measureText(text.slice(0, n) + "\u2026").width > room) n--;
      const space = text.lastIndexOf(" ", n);
      text = text.slice(0, space > n * 0.6 ? space : n).trimEnd() + "\u2026";
    }
    ctx.restore();
    return text;
  };
}`;

/** The whole page. `chartJs` is Chart.js's UMD build (chart.umd.js), inlined as is. */
export function renderReportHtml(d: ReportData, opts: { chartJs: string }): string {
  const { charts, omitted } = reportCharts(d);
  const title = d.iteration === undefined ? `Campaign ${d.campaignId}` : `Campaign ${d.campaignId}, iteration ${d.iteration}`;
  const banner = simulatedBanner(d);
  const nav = d.iteration === undefined ? "" : `<p><a href="../report.html">campaign report</a></p>`;
  const chartHtml = charts
    .map(
      (c) =>
        `<section class="chart"><h2>${escapeHtml(c.title)}</h2><p class="caption">${escapeHtml(c.caption)}</p><div class="box"${c.height ? ` style="height:${c.height}px"` : ""}><canvas id="${c.id}" data-title="${escapeHtml(c.title)}"></canvas></div></section>`,
    )
    .join("\n");
  const omittedHtml = omitted.length
    ? `<h2>Not shown</h2><ul class="omitted">${omitted.map((o) => `<li>${escapeHtml(o.title)}: ${escapeHtml(o.note)}.</li>`).join("")}</ul>`
    : "";
  const rewardNotes =
    d.reward.length && d.rewardNotes.length ? `<ul class="omitted">${d.rewardNotes.map((n) => `<li>reward curve: ${escapeHtml(n)}</li>`).join("")}</ul>` : "";
  // Chart.js's source never contains "</script", but a future build must not be able to end the element early.
  const lib = opts.chartJs.replace(/<\/script/gi, "<\\/script").replace(/^\/\/# sourceMappingURL=.*$/m, "");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — toolloop report</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
${nav}
${banner ? `<div class="banner" id="simulated-banner">${escapeHtml(banner)}</div>` : ""}
${failedStagesBanner(d)}
${multiTurnWarnings(d)}
${summaryTable(d)}
<h2>Iterations</h2>
${iterationsTable(d)}
${stagesTable(d)}
${iterationStepsTable(d)}
${chartHtml}
${rewardNotes}
${omittedHtml}
<script type="application/json" id="report-charts">${scriptJson(charts.map((c) => ({ id: c.id, config: c.config })))}</script>
<script type="application/json" id="report-data">${scriptJson(d)}</script>
<script>${lib}</script>
<script>
${FIT_AXIS_LABELS}
for (const spec of JSON.parse(document.getElementById("report-charts").textContent)) {
  if (spec.config.options.indexAxis === "y") fitCategoryLabels(spec.config.options);
  new Chart(document.getElementById(spec.id), spec.config);
}
</script>
</body></html>
`;
}
