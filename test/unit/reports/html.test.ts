/** Report rendering (src/reports/html.ts): escaping, charts left out with a note, the simulated banner. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { histograms } from "../../../src/reports/data.js";
import { escapeHtml, evaluatedModels, renderReportHtml, reportCharts, scriptJson } from "../../../src/reports/html.js";
import { fullReportData, longBfclRows, longCampaignReportData, synthesisOnlyReportData } from "../../helpers/reportFixture.js";

const CHART_JS = "/* chart.js stand-in for string tests */ window.Chart = function () {};";

/** The charts' JSON as the page embeds it. */
function embeddedCharts(html: string): { id: string; config: { data: { datasets: { data: unknown[] }[] } } }[] {
  const m = /<script type="application\/json" id="report-charts">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, "the page embeds its charts as JSON");
  return JSON.parse(m[1]!) as never;
}

test("every chart of a full campaign is drawn with data; nothing is listed as not shown", () => {
  const d = fullReportData();
  const { charts, omitted } = reportCharts(d);
  assert.deepEqual(omitted, []);
  assert.deepEqual(
    charts.map((c) => c.title),
    [
      "Acceptance funnel",
      "Rejection reasons",
      "Tokens per role",
      "Requests per role",
      "Samples per kind and domain",
      "Score distribution: label_ppl",
      "Score distribution: own_ppl",
      "Score distribution: consistency",
      "Judges' verdicts",
      "Committee decisions",
      "Probe agreement",
      "BFCL scores per category",
      "Training reward curve",
      "Pool composition",
      "Left out of the pool",
      "Multi-turn dialogues kept and dropped",
      "Multi-turn dialogue length",
      "Multi-turn assistant turn decisions",
      "Multi-turn self-reflection",
      "Multi-turn tool results",
    ],
  );
  const html = renderReportHtml(d, { chartJs: CHART_JS });
  const embedded = embeddedCharts(html);
  assert.equal(embedded.length, charts.length);
  for (const c of embedded) {
    assert.ok(html.includes(`<canvas id="${c.id}"`), `a canvas for ${c.id}`);
    assert.ok(c.config.data.datasets.length > 0, `${c.id} has datasets`);
    assert.ok(
      c.config.data.datasets.every((ds) => ds.data.some((v) => typeof v === "number" && v > 0)),
      `${c.id}: every dataset has a non-zero value`,
    );
  }
  // Stacked funnel: verified and rejected standard samples of the synthesis stage, parallel ones verified only.
  const funnel = charts[0]!.config;
  assert.deepEqual(funnel.data.labels, ["synthesize.singleTurn · standard", "synthesize.singleTurn · parallel"]);
  assert.deepEqual(
    funnel.data.datasets.map((ds) => [ds.label, ds.data]),
    [
      ["rejected", [5, 0]],
      ["verified", [40, 20]],
    ],
  );
  // The reward curve plots the score per step.
  const reward = charts.find((c) => c.title === "Training reward curve")!.config;
  assert.deepEqual(reward.data.labels, [1, 2]);
  assert.deepEqual(reward.data.datasets[0]!.data, [0.4, 0.5]);
  assert.ok(html.includes("SIMULATED: 90 of 90 LLM requests were answered by the toolloop LLM simulator"));
  assert.ok(html.includes("sha256 " + "ab".repeat(32)));
  assert.ok(html.includes('<a href="iter-2/report.html">iteration 2</a>'), "the campaign report links each iteration's report");
});

test("a chart without data is left out with a one-line note, never drawn empty", () => {
  const d = synthesisOnlyReportData();
  const { charts, omitted } = reportCharts(d);
  assert.deepEqual(
    charts.map((c) => c.title),
    ["Acceptance funnel", "Rejection reasons", "Tokens per role", "Requests per role", "Samples per kind and domain"],
  );
  assert.equal(omitted.length, 15);
  const html = renderReportHtml(d, { chartJs: CHART_JS });
  assert.equal(embeddedCharts(html).length, 5);
  assert.equal((html.match(/<canvas /g) ?? []).length, 5);
  assert.ok(html.includes("<li>Training reward curve: no GRPO training ran.</li>"));
  assert.ok(html.includes("<li>Multi-turn dialogue length: no multi-turn dialogue ran (no synthesize.multiTurn).</li>"));
  assert.ok(html.includes("<li>Score distribution: consistency: no sample was scored with this metric (no score stage ran).</li>"));
  assert.ok(!html.includes("SIMULATED"), "no banner when nothing says the run was simulated");
  assert.ok(html.includes("not recorded by this database&#39;s request ledger"), "an unknowable simulator use says so");
});

test("training logs that could not be read are named in the note", () => {
  const d = fullReportData({ reward: [], rewardNotes: ["job-a: log /x/job-a.log is not on this machine"] });
  const html = renderReportHtml(d, { chartJs: CHART_JS });
  assert.ok(html.includes("Training reward curve: no training reward could be read (job-a: log /x/job-a.log is not on this machine)."));
});

test("text from the database is escaped in the page and cannot end the embedded JSON or the script", () => {
  const evil = `</script><script>alert("x")</script><img src=x onerror=alert(1)>`;
  const d = fullReportData({
    name: evil,
    campaignId: `c&"'<b>`,
    rejectionReasons: [{ reason: evil, n: 3 }],
    iterations: [{ iteration: 1, status: evil, startedAt: "2026-01-01T00:00:00.000Z", finishedAt: null }],
  });
  const html = renderReportHtml(d, { chartJs: CHART_JS });
  assert.ok(!html.includes("<script>alert"), "no injected script element");
  assert.ok(!html.includes("<img src=x"), "no injected element");
  assert.ok(html.includes("&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)"), "the text is shown escaped");
  assert.ok(html.includes("c&amp;&quot;&#39;&lt;b&gt;"));
  // Exactly the page's own four script elements.
  assert.equal((html.match(/<script/g) ?? []).length, 4);
  // The reason survives the JSON round trip unchanged (as a chart label).
  const reasons = embeddedCharts(html).find((c) => c.id === "chart-2")!;
  assert.deepEqual((reasons.config.data as unknown as { labels: string[] }).labels, [evil]);
  assert.equal(escapeHtml(`<&>"'`), "&lt;&amp;&gt;&quot;&#39;");
  assert.equal(scriptJson("</script>\u2028"), '"\\u003c/script>\\u2028"');
});

test("an iteration report links back to the campaign report and to the other iterations", () => {
  const html = renderReportHtml(fullReportData({ iteration: 2 }), { chartJs: CHART_JS });
  assert.ok(html.includes('<a href="../report.html">campaign report</a>'));
  assert.ok(html.includes('<a href="../iter-1/report.html">iteration 1</a>'));
  assert.ok(html.includes("<h1>Campaign camp-1, iteration 2</h1>"));
});

test("an iteration report states its own iteration's status, then the campaign's; a campaign report only the campaign's", () => {
  const iterationHtml = renderReportHtml(fullReportData({ status: "running", iteration: 1, iterationStatus: "aborted" }), { chartJs: CHART_JS });
  assert.ok(iterationHtml.includes("<tr><th>status (when generated)</th><td>iteration aborted</td></tr>"));
  assert.ok(iterationHtml.includes("<tr><th>campaign status (when generated)</th><td>running</td></tr>"));
  const campaignHtml = renderReportHtml(fullReportData({ status: "aborted" }), { chartJs: CHART_JS });
  assert.ok(campaignHtml.includes("<tr><th>status (when generated)</th><td>aborted</td></tr>"));
  assert.ok(!campaignHtml.includes("campaign status (when generated)"));
});

test("histograms: equal-width bins over the value range, every value counted once", () => {
  const [h] = histograms(
    [0, 0.1, 0.5, 0.99, 1].map((value) => ({ metric: "consistency", value })),
    4,
  );
  assert.equal(h!.count, 5);
  assert.deepEqual(
    h!.bins.map((b) => b.n),
    [2, 0, 1, 2],
  );
  assert.equal(h!.bins[0]!.from, 0);
  assert.equal(h!.bins.at(-1)!.to, 1);
  // One distinct value: one bin, not a division by zero.
  const [same] = histograms([2, 2, 2].map((value) => ({ metric: "label_ppl", value })));
  assert.deepEqual(
    same!.bins.map((b) => b.n),
    [3],
  );
  assert.deepEqual(histograms([{ metric: "x", value: Number.NaN }]), []);
});

test("stage warnings: the campaign report's iterations name the warned stages; an iteration report shows each warning in full under its stage", () => {
  const warning = "the pool filled 7 of its budget 100 (7%); the pool before it had 8; short of their quota: high_ppl 4 of 35 (5 candidates) <b>";
  const run = (iteration: number, stage: string, w?: string) => ({
    iteration,
    stage,
    status: "succeeded",
    attempts: 1,
    error: null,
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:01.000Z",
    ...(w ? { warning: w } : {}),
  });
  const stages = [
    run(1, "select.nextRound"),
    run(1, "export.verl"),
    run(2, "select.nextRound", warning),
    run(2, "export.verl", "fewer rows than one training batch: train split 6 < train.grpo's grpo.trainBatchSize 32."),
  ];
  const campaignHtml = renderReportHtml(fullReportData({ stages }), { chartJs: CHART_JS });
  assert.ok(campaignHtml.includes("<td>2 succeeded</td>"), "iteration 1 warns of nothing");
  assert.ok(campaignHtml.includes("<td>2 succeeded; warnings: select.nextRound, export.verl</td>"));
  assert.ok(!campaignHtml.includes("warning: the pool filled"), "the campaign report names the stages only");
  const iterationHtml = renderReportHtml(fullReportData({ stages, iteration: 2 }), { chartJs: CHART_JS });
  assert.ok(
    iterationHtml.includes(`<tr class="warning"><td colspan="6" class="error"><pre>warning: ${escapeHtml(warning)}</pre></td></tr>`),
    "the full warning, escaped, under its stage",
  );
  assert.ok(iterationHtml.includes("warning: fewer rows than one training batch: train split 6 &lt; train.grpo&#39;s grpo.trainBatchSize 32."));
  // Stage runs of data gathered before automatic retries were recorded: their operator runs, and no made-up retry count.
  assert.ok(iterationHtml.includes("<td>select.nextRound</td><td>succeeded</td><td>1</td><td>not recorded</td>"), "old stage data still renders");
});

test("a perplexity spanning more than a factor of 10 gets log-spaced bins (a long loop's high-PPL rounds): the bulk no longer sits in one bin", () => {
  // Twelve iterations of label PPLs: early rounds near 1-4, later high-PPL rounds up to 71 (the demo loop's figures).
  const values = [];
  for (let it = 1; it <= 12; it++)
    for (let i = 0; i < 50; i++)
      values.push({ metric: "label_ppl", iteration: it, sampleId: `s${it}-${i}`, value: 1.09 + (i % 10) * 0.3 + (it > 8 && i % 7 === 0 ? 60 + it : 0) });
  values.push({ metric: "consistency", iteration: 1, sampleId: "c", value: 0 }, { metric: "consistency", iteration: 1, sampleId: "d", value: 1 });
  const hs = histograms(values);
  const ppl = hs.find((h) => h.metric === "label_ppl")!;
  assert.equal(ppl.scale, "log");
  assert.equal(ppl.bins[0]!.from, 1.09);
  assert.equal(ppl.bins.at(-1)!.to, 1.09 + 2.7 + 72);
  assert.equal(
    ppl.bins.reduce((n, b) => n + b.n, 0),
    600,
  );
  // Equal-width bins of (74.8 - 1.09) / 20 = 3.7 wide would hold 568 of the 600 in the first bin, in 3 non-empty bins.
  const busiest = Math.max(...ppl.bins.map((b) => b.n));
  assert.ok(busiest <= 200, `the largest bin holds ${busiest} of 600`);
  assert.deepEqual(
    ppl.bins.map((b) => b.n),
    [56, 56, 116, 56, 116, 168, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32],
    "the early rounds' scores spread over six bins",
  );
  for (let i = 1; i < ppl.bins.length; i++)
    assert.ok(Math.abs(ppl.bins[i]!.from / ppl.bins[i - 1]!.from - ppl.bins[1]!.from / ppl.bins[0]!.from) < 1e-9, "equal ratios");
  assert.equal(hs.find((h) => h.metric === "consistency")!.scale, undefined, "consistency is never log-binned");
  const html = renderReportHtml(fullReportData({ scores: hs }), { chartJs: CHART_JS });
  assert.ok(html.includes("The bins are log-spaced: the values span more than a factor of 10."));
  assert.ok(html.includes("label_ppl (log-spaced bins)"));
});

test("one colour per iteration in every score histogram and the reward curve; judges' CORRECT votes green, INCORRECT red", () => {
  const scored = [1, 2, 3].flatMap((iteration) =>
    ["label_ppl", "own_ppl", "consistency"].flatMap((metric) => [0.2, 0.5, 0.9].map((v) => ({ metric, iteration, value: v * iteration }))),
  );
  const d = fullReportData({
    scores: histograms(scored),
    reward: [1, 2, 3].map((iteration) => ({ iteration, points: [{ step: 1, score: 0.1 * iteration, reward: 0.1 * iteration }] })),
    judgeVotes: [
      { stage: "expand.errors", model: "toolloop-sim-judge", verdict: "CORRECT", n: 30 },
      { stage: "expand.errors", model: "toolloop-sim-judge", verdict: "INCORRECT", n: 4 },
      { stage: "repair.labels", model: "toolloop-sim-judge", verdict: "BOTH_WRONG", n: 1 },
      { stage: "repair.labels", model: "toolloop-sim-judge", verdict: "BOTH_CORRECT", n: 2 },
    ],
  });
  const { charts } = reportCharts(d);
  const perIteration = charts
    .filter((c) => c.title.startsWith("Score distribution") || c.title === "Training reward curve")
    .map((c) => new Map(c.config.data.datasets.map((ds) => [Number(/^iteration (\d+)/.exec(String(ds.label))?.[1]), ds.backgroundColor])));
  assert.equal(perIteration.length, 4);
  for (const colours of perIteration) assert.deepEqual([...colours.keys()], [1, 2, 3]);
  for (const iteration of [1, 2, 3])
    assert.equal(new Set(perIteration.map((colours) => colours.get(iteration))).size, 1, `iteration ${iteration} has one colour in every chart`);
  assert.equal(new Set([1, 2, 3].map((iteration) => perIteration[0]!.get(iteration))).size, 3, "each iteration its own colour");

  const votes = charts.find((c) => c.title === "Judges' verdicts")!.config.data.datasets;
  const colourOf = (verdict: string) => votes.find((ds) => ds.label === verdict)?.backgroundColor;
  assert.equal(colourOf("CORRECT"), "#59a14f", "CORRECT is green");
  assert.equal(colourOf("INCORRECT"), "#e15759", "INCORRECT is red");
  assert.notEqual(colourOf("BOTH_CORRECT"), colourOf("BOTH_WRONG"));
});

test("BFCL scores the LLM simulator answered are called SIMULATED in the chart's caption, naming which iterations", () => {
  const caption = (d: ReturnType<typeof fullReportData>) => reportCharts(d).charts.find((c) => c.title === "BFCL scores per category")?.caption ?? "";
  const real = fullReportData();
  assert.doesNotMatch(caption(real), /SIMULATED/);
  const partly = fullReportData();
  partly.bfcl = partly.bfcl.map((b) => ({ ...b, simulated: b.iteration === 2 }));
  assert.match(caption(partly), /SIMULATED \(iteration 2\): the policy answering was the toolloop LLM simulator/);
  const all = fullReportData();
  all.bfcl = all.bfcl.map((b) => ({ ...b, simulated: true }));
  assert.match(caption(all), /SIMULATED \(every iteration\)/);
});

test("BFCL of a long campaign running both evaluators: group scores in a chart of their own, every category line in its own colour or style", () => {
  const bfcl = longBfclRows(30);
  const { charts } = reportCharts(fullReportData({ bfcl }));
  const overall = charts.find((c) => c.title === "BFCL overall scores");
  const perCategory = charts.find((c) => c.title === "BFCL scores per category");
  assert.ok(overall && perCategory);
  const labels = (c: typeof overall) => c.config.data.datasets.map((ds) => ds.label as string);
  assert.deepEqual(labels(overall), [
    "overall (bfcl-eval)",
    "non_live (bfcl-eval)",
    "live (bfcl-eval)",
    "multi_turn (bfcl-eval)",
    "overall_probe (toolloop-matcher)",
  ]);
  assert.equal(perCategory.config.data.datasets.length, 17 + 13, "categories only: the group scores are not among them");
  assert.ok(!labels(perCategory).some((l) => /^(overall|non_live|live|multi_turn|overall_probe) /.test(l)));
  for (const chart of [overall, perCategory]) {
    const looks = chart.config.data.datasets.map((ds) => `${String(ds.borderColor)} ${JSON.stringify(ds.borderDash ?? [])}`);
    assert.equal(new Set(looks).size, looks.length, `${chart.title}: no two lines look alike (${looks.join(", ")})`);
  }
  // The same category has one colour under both evaluators; the fast probe's line is dashed.
  const simple = perCategory.config.data.datasets.filter((ds) => String(ds.label).startsWith("simple ("));
  assert.equal(simple.length, 2);
  assert.equal(simple[0]!.borderColor, simple[1]!.borderColor);
  assert.deepEqual(
    simple.map((ds) => ds.borderDash ?? null),
    [null, [6, 4]],
  );
  assert.equal(overall.config.data.labels.length, 30);
  // bfcl-eval's group scores are means of category accuracies, not shares of entries: the chart does not call them that.
  assert.match(overall.caption ?? "", /each group is a mean of category accuracies, not the share of its entries answered correctly/);
  const yTitle = (c: typeof overall) => (c.config.options as { scales: { y: { title: { text: string } } } }).scales.y.title.text;
  assert.doesNotMatch(yTitle(overall), /fraction of entries/);
  assert.match(yTitle(perCategory), /fraction of entries correct/, "a category's accuracy is one");
  assert.ok((perCategory.height ?? 320) > 320, "the category chart grows with its 30-line legend");
});

test("the BFCL overall chart says when bfcl-eval's overall leaves categories out or rests on a limited run", () => {
  const rows = [
    { iteration: 1, evaluator: "bfcl-eval", category: "simple", accuracy: 0.5, total: 20, limitPerCategory: 20 },
    { iteration: 1, evaluator: "bfcl-eval", category: "overall", accuracy: 0.0333, total: 20, missing: 16 },
  ];
  const overall = reportCharts(fullReportData({ bfcl: rows })).charts.find((c) => c.title === "BFCL overall scores")!;
  assert.match(overall.caption, /A category the stage did not evaluate counts 0 \(16 of 17 categories left out\): not a leaderboard number\./);
  assert.match(overall.caption, /Only the first 20 entries of each category were evaluated \(limitPerCategory\)/);
  const perCategory = reportCharts(fullReportData({ bfcl: rows })).charts.find((c) => c.title === "BFCL scores per category")!;
  assert.match(perCategory.caption, /bfcl-eval evaluated the first 20 entries of each category \(limitPerCategory\)/);
  const full = reportCharts(
    fullReportData({ bfcl: [{ iteration: 1, evaluator: "bfcl-eval", category: "overall", accuracy: 0.6, total: 4000, missing: 0 }] }),
  ).charts.find((c) => c.title === "BFCL overall scores")!;
  assert.doesNotMatch(full.caption, /counts 0|limitPerCategory/);
});

test("an iteration without a probe keeps its place on the probe agreement chart's axis, as a gap", () => {
  const iterations = [1, 2, 3].map((iteration) => ({ iteration, status: "completed", startedAt: "2026-01-01T00:00:00.000Z", finishedAt: null }));
  const probe = [
    { iteration: 1, matched: 30, mismatched: 10 },
    { iteration: 3, matched: 36, mismatched: 4 },
  ];
  const chart = reportCharts(fullReportData({ iterations, probe })).charts.find((c) => c.title === "Probe agreement")!;
  assert.deepEqual(chart.config.data.labels, ["iteration 1", "iteration 2", "iteration 3"]);
  assert.deepEqual(chart.config.data.datasets[0]!.data, [0.75, null, 0.9]);
});

test("an iteration without a BFCL evaluation keeps its place on the BFCL charts' axis, as a gap", () => {
  const iterations = [1, 2, 3].map((iteration) => ({ iteration, status: "completed", startedAt: "2026-01-01T00:00:00.000Z", finishedAt: null }));
  iterations[1]!.status = "failed";
  const bfcl = [1, 3].flatMap((iteration) => [
    { iteration, evaluator: "toolloop-matcher", category: "simple", accuracy: 0.5, total: 20 },
    { iteration, evaluator: "toolloop-matcher", category: "overall_probe", accuracy: 0.5, total: 20 },
  ]);
  for (const title of ["BFCL overall scores", "BFCL scores per category"]) {
    const chart = reportCharts(fullReportData({ iterations, bfcl })).charts.find((c) => c.title === title)!;
    assert.deepEqual(chart.config.data.labels, ["iteration 1", "iteration 2", "iteration 3"], `${title}: iteration 2 is not dropped`);
    assert.deepEqual(chart.config.data.datasets[0]!.data, [0.5, null, 0.5]);
    assert.notEqual(chart.config.data.datasets[0]!.spanGaps, true, `${title}: the line breaks where no evaluation ran`);
  }
});

test("the BFCL charts name the policy each iteration's numbers are of (the served one in a loop, not roles.policy)", () => {
  const row = (iteration: number, category: string, model?: string) => ({
    iteration,
    evaluator: "toolloop-matcher",
    category,
    accuracy: 0.5,
    total: 20,
    ...(model ? { model } : {}),
  });
  const bfcl = [
    row(1, "simple", "base"),
    row(1, "overall_probe", "base"),
    row(2, "overall_probe", "base"),
    row(3, "overall_probe", "c-iter-3"),
    row(4, "overall_probe", "c-iter-4"),
    row(5, "overall_probe"),
  ];
  assert.equal(evaluatedModels(bfcl), "iterations 1–2: base; iteration 3: c-iter-3; iteration 4: c-iter-4");
  const overall = reportCharts(fullReportData({ bfcl })).charts.find((c) => c.title === "BFCL overall scores")!;
  assert.match(overall.caption, /Policy evaluated: iterations 1–2: base; iteration 3: c-iter-3; iteration 4: c-iter-4\./);
  const categoriesOnly = reportCharts(fullReportData({ bfcl: [row(1, "simple", "c-iter-1")] })).charts.find((c) => c.title === "BFCL scores per category")!;
  assert.match(categoriesOnly.caption, /Policy evaluated: iteration 1: c-iter-1\./);
  assert.equal(evaluatedModels([row(1, "simple")]), "", "rows stored before the model was recorded name none");
});

test("a 30-iteration campaign: each iteration keeps a colour of its own in the histograms and the reward curve, and those charts grow with their legends", () => {
  const { charts } = reportCharts(longCampaignReportData(30));
  for (const title of ["Score distribution: label_ppl", "Score distribution: consistency", "Training reward curve"]) {
    const chart = charts.find((c) => c.title === title)!;
    const colours = chart.config.data.datasets.map((ds) => String(ds.backgroundColor));
    assert.equal(colours.length, 30, title);
    assert.equal(new Set(colours).size, 30, `${title}: 30 iterations, 30 colours (${colours.join(" ")})`);
    assert.ok((chart.height ?? 320) > 320, `${title}: taller than a chart with a one-row legend`);
  }
  // The same iteration, the same colour in every chart.
  const colourOf = (title: string, i: number) => String(charts.find((c) => c.title === title)!.config.data.datasets[i]!.backgroundColor);
  assert.equal(colourOf("Score distribution: label_ppl", 12), colourOf("Training reward curve", 12));
  // A short campaign keeps the palette.
  const short = reportCharts(fullReportData()).charts.find((c) => c.title === "Training reward curve")!;
  assert.equal(short.config.data.datasets[0]!.backgroundColor, "#4e79a7");
  assert.equal(short.height, undefined);
});

test("the summary says the sample counts are what was written and gives the training pool apart", () => {
  // An iteration report once read "samples | 4 verified" beside a 121-row dataset: the counts are the
  // samples the iteration's stages wrote, not what it exported and trained on (its pool).
  const summaryRows = (html: string) => {
    const table = /<table class="summary">([\s\S]*?)<\/table>/.exec(html)![1]!;
    return new Map([...table.matchAll(/<tr><th>([^<]*)<\/th><td>([^<]*)<\/td><\/tr>/g)].map((m) => [m[1]!, m[2]!]));
  };
  const campaign = summaryRows(renderReportHtml(fullReportData(), { chartJs: CHART_JS }));
  assert.equal(campaign.has("samples"), false);
  assert.match(campaign.get("samples written")!, /^\d+ verified/);
  assert.equal(campaign.get("training pool"), "40 (iteration 1), 14 (iteration 2)");
  const iteration = summaryRows(renderReportHtml(fullReportData({ iteration: 2, iterationStatus: "completed" }), { chartJs: CHART_JS }));
  assert.match(iteration.get("samples written (this iteration)")!, /^\d+ verified/);
  assert.equal(iteration.get("training pool"), "14 (iteration 2)");
});
