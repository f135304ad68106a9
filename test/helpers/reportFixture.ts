/** A report's data with every chart's figures present (or, with `empty`, none of the optional ones), for the render tests. */
import type { ReportData } from "../../src/reports/data.js";
import { histograms } from "../../src/reports/data.js";

export function fullReportData(overrides: Partial<ReportData> = {}): ReportData {
  return {
    campaignId: "camp-1",
    name: "camp",
    status: "completed",
    generatedAt: "2026-01-01T00:00:00.000Z",
    config: {
      version: 1,
      hash: "ab".repeat(32),
      seed: 7,
      iterations: 2,
      roles: [
        { role: "generator", endpoint: "sim", model: "toolloop-sim-generator" },
        { role: "policy", endpoint: "sim", model: "toolloop-sim-policy" },
      ],
      stages: ["synthesize.singleTurn", "verify.rules"],
    },
    iterations: [
      { iteration: 1, status: "completed", startedAt: "2026-01-01T00:00:00.000Z", finishedAt: "2026-01-01T00:10:00.000Z" },
      { iteration: 2, status: "completed", startedAt: "2026-01-01T00:10:00.000Z", finishedAt: "2026-01-01T00:20:00.000Z" },
    ],
    simulated: { training: true, llm: { simulated: 90, total: 90 } },
    funnel: [
      { stage: "synthesize.singleTurn", kind: "standard", status: "verified", n: 40 },
      { stage: "synthesize.singleTurn", kind: "standard", status: "rejected", n: 5 },
      { stage: "synthesize.singleTurn", kind: "parallel", status: "verified", n: 20 },
    ],
    rejectionReasons: [{ reason: "argument location: expected a string", n: 5 }],
    usage: [
      { role: "generator", model: "toolloop-sim-generator", requests: 60, failures: 1, promptTokens: 12000, completionTokens: 3000 },
      { role: "policy", model: "toolloop-sim-policy", requests: 30, failures: 0, promptTokens: 6000, completionTokens: 900 },
    ],
    kindDomain: [
      { kind: "standard", domain: "weather", n: 25 },
      { kind: "parallel", domain: "weather", n: 10 },
      { kind: "standard", domain: "travel", n: 15 },
    ],
    scores: histograms([
      ...[1.1, 1.4, 2.0, 3.5, 1.2].map((value) => ({ metric: "label_ppl", value })),
      ...[1.0, 1.3].map((value) => ({ metric: "own_ppl", value })),
      ...[0, 0.33, 0.67, 1, 1].map((value) => ({ metric: "consistency", value })),
    ]),
    judgeVotes: [
      { stage: "repair.labels", model: "toolloop-sim-judge", verdict: "LABEL_WRONG", n: 6 },
      { stage: "repair.labels", model: "toolloop-sim-judge", verdict: "PRED_WRONG", n: 9 },
      { stage: "verify.judges", model: "toolloop-sim-judge", verdict: "CORRECT", n: 40 },
    ],
    labelJudgements: [
      { verdict: "LABEL_WRONG", action: "repaired", n: 2 },
      { verdict: "PRED_WRONG", action: "error_seed", n: 3 },
    ],
    probe: [
      { iteration: 1, matched: 30, mismatched: 10 },
      { iteration: 2, matched: 35, mismatched: 5 },
    ],
    bfcl: [
      { iteration: 1, evaluator: "toolloop-matcher", category: "simple", accuracy: 0.7, total: 20, simulated: false },
      { iteration: 2, evaluator: "toolloop-matcher", category: "simple", accuracy: 0.8, total: 20, simulated: false },
    ],
    pool: [
      { iteration: 1, reason: "seed", n: 40 },
      { iteration: 2, reason: "high_ppl", n: 12 },
      { iteration: 2, reason: "repaired", n: 2 },
    ],
    exclusions: [{ iteration: 2, reason: "duplicate", n: 3 }],
    reward: [
      {
        iteration: 1,
        points: [
          { step: 1, score: 0.4, reward: 0.4 },
          { step: 2, score: 0.5, reward: 0.5 },
        ],
      },
    ],
    rewardNotes: [],
    multiTurn: {
      dialogues: [
        { status: "dropped", reason: "too_many_rejected_turns", n: 2 },
        { status: "kept", reason: "", n: 9 },
      ],
      userTurns: [
        { turns: 3, n: 2 },
        { turns: 7, n: 6 },
        { turns: 12, n: 3 },
      ],
      decisions: [
        { decision: "negotiation", n: 5 },
        { decision: "rejected", n: 4 },
        { decision: "vote", n: 60 },
      ],
      reflections: [
        { result: "revised", n: 7 },
        { result: "revision still invalid", n: 2 },
      ],
      toolResults: [
        { tool: "get_current_weather", result: "ok", n: 20 },
        { tool: "get_current_weather", result: "rate_limited", n: 2 },
        { tool: "search_flights", result: "ok", n: 11 },
        // Recorded with their origin (data before it has none, as above).
        { tool: "search_flights", result: "timeout", n: 2, origin: "injected", simulated: true },
        { tool: "search_flights", result: "invalid_call", n: 1, origin: "tool_server", simulated: true },
        // The simulator's own errors by kind: its rules, its random faults.
        { tool: "search_flights", result: "invalid_call", n: 2, origin: "tool_server", simulated: true, simulatedCause: "rules" },
        { tool: "get_current_weather", result: "unavailable", n: 3, origin: "tool_server", simulated: true, simulatedCause: "fault" },
      ],
    },
    ...overrides,
  };
}

/** The same campaign before anything optional happened: only synthesis and verification ran. */
export function synthesisOnlyReportData(): ReportData {
  return fullReportData({
    simulated: { training: false },
    scores: [],
    judgeVotes: [],
    labelJudgements: [],
    probe: [],
    bfcl: [],
    pool: [],
    exclusions: [],
    reward: [],
    multiTurn: undefined,
  });
}

/**
 * A long campaign that runs both BFCL evaluations every iteration: evaluate.bfcl on all 17
 * categories (with its four group rows) and evaluate.bfclFast on the 13 it scores (with overall_probe).
 */
export function longBfclRows(iterations: number): ReportData["bfcl"] {
  const official = [
    ...["simple", "multiple", "parallel", "parallel_multiple", "java", "javascript", "irrelevance"],
    ...["live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance"],
  ];
  const multiTurn = ["multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context"];
  const rows: ReportData["bfcl"] = [];
  for (let it = 1; it <= iterations; it++) {
    for (const category of [...official, ...multiTurn, "overall", "non_live", "live", "multi_turn"])
      rows.push({ iteration: it, evaluator: "bfcl-eval", category, accuracy: 0.3 + 0.01 * it, total: 100 });
    for (const category of [...official, "overall_probe"])
      rows.push({ iteration: it, evaluator: "toolloop-matcher", category, accuracy: 0.2 + 0.01 * it, total: 60 });
  }
  return rows;
}

/** A 30-iteration campaign: a series per iteration in the score histograms and the reward curve, and both BFCL evaluations. */
export function longCampaignReportData(iterations = 30): ReportData {
  const its = Array.from({ length: iterations }, (_, i) => i + 1);
  const values: { metric: string; value: number; iteration: number; sampleId: string }[] = [];
  for (const iteration of its)
    for (let k = 0; k < 20; k++) {
      values.push({ metric: "label_ppl", value: 1 + ((k * 7 + iteration) % 40) / 4, iteration, sampleId: `s${k}-${iteration}` });
      values.push({ metric: "consistency", value: (k % 5) / 4, iteration, sampleId: `s${k}` });
    }
  return fullReportData({
    iterations: its.map((iteration) => ({ iteration, status: "completed", startedAt: "2026-01-01T00:00:00.000Z", finishedAt: "2026-01-01T00:10:00.000Z" })),
    scores: histograms(values),
    bfcl: longBfclRows(iterations),
    probe: its.map((iteration) => ({ iteration, matched: 80, mismatched: 20 })),
    reward: its.map((iteration) => ({ iteration, points: Array.from({ length: 10 }, (_, s) => ({ step: s + 1, score: 0.3 + s * 0.02 })) })),
    pool: its.map((iteration) => ({ iteration, reason: "high_ppl", n: 50 })),
  });
}
