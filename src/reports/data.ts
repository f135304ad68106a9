/**
 * Everything a report shows, gathered from PostgreSQL (src/db/repos/reportData.ts) and, for the
 * training reward curve, from the GRPO jobs' logs (verl's `step:N - key:value` lines; the stand-in
 * trainer prints the same). The result is plain JSON-able data: src/reports/html.ts renders it.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import type { FrozenCampaignConfig } from "../config/frozen.js";
import type { Db } from "../db/client.js";
import { configForIteration, latestConfig } from "../db/repos/campaignConfigs.js";
import {
  anySimulatedModelVersion,
  bfclScoreRows,
  campaignRow,
  exclusionCounts,
  iterationRows,
  judgeVoteCounts,
  labelJudgementCounts,
  multiTurnCounts,
  poolComposition,
  probeCounts,
  rejectionReasons,
  samplesByKindAndDomain,
  samplesByStageKindStatus,
  scoreHistogramBins,
  type ScoreBinRow,
  simulatedRequestCount,
  stageRunRows,
  iterationStepRows,
  trainingJobs,
  usageByRole,
  type MultiTurnCounts,
  type ReportScope,
} from "../db/repos/reportData.js";
import { parseMetricLine } from "../training/jobOutputs.js";

export interface Histogram {
  metric: string;
  /** Scores (one per sample and iteration that scored it). */
  count: number;
  /** Distinct samples scored, when the values name them. */
  samples?: number;
  mean: number;
  bins: { from: number; to: number; n: number }[];
  /** "log": the bins are equal in log(value) (a perplexity spanning more than LOG_BINS_RATIO), else equal in value. */
  scale?: "log";
  /** The same bins per scoring iteration (each iteration's policy scores its own pool), when the values name it. */
  iterations?: { iteration: number; count: number; mean: number; n: number[] }[];
}

export interface RewardCurve {
  iteration: number;
  /** One point per training step that printed a score (the last attempt's value wins on a resumed step). */
  points: { step: number; score?: number; reward?: number }[];
}

export interface ReportData {
  campaignId: string;
  name: string;
  /** The campaign row's status (running, completed, failed, aborted). */
  status: string;
  /** Set for an iteration report. */
  iteration?: number;
  /** An iteration report's own iteration row status: the campaign's says running while a later iteration may follow. */
  iterationStatus?: string;
  generatedAt: string;
  config?: {
    version: number;
    hash: string;
    seed: number;
    iterations: number;
    roles: { role: string; endpoint: string; model: string }[];
    stages: string[];
  };
  iterations: { iteration: number; status: string; startedAt: string; finishedAt: string | null }[];
  /**
   * The stage runs of the iterations in scope (stage_runs: the latest attempt of each stage of each
   * iteration; an iteration report's: those up to its iteration, as `iterations`), in the order they
   * started: a failed stage and its error, a retried one's operator runs and automatic retries.
   * Absent in data gathered before it was recorded here.
   */
  stages?: {
    iteration: number;
    stage: string;
    status: string;
    /** Operator runs: the first, and one more per retry-stage (stage_runs.attempts). */
    attempts: number;
    /**
     * The retries Temporal made of the stage's steps on its own over those runs (a transient failure,
     * a killed worker, a step left for another worker); absent where not recorded (a stage run begun
     * before they were, and report data gathered before).
     */
    automaticRetries?: number;
    error: string | null;
    startedAt: string;
    finishedAt: string | null;
    /** The warning the stage's summary carries (a pool short of its budget, a set smaller than a batch, no dialogue kept). */
    warning?: string;
  }[];
  /**
   * The iterations' own steps (the activities outside stage steps: registration, loading the plan,
   * starting and finishing the iteration with its reports, recording a stage's outcome, the campaign's
   * end; schema.iterationSteps), per iteration in scope and step: its calls and the retries Temporal
   * made of them by itself. An iteration without rows ran before they were recorded; absent in data
   * gathered before.
   */
  iterationSteps?: { iteration: number; step: string; calls: number; automaticRetries: number }[];
  simulated: {
    /** Requests the LLM simulator answered, when the request ledger records it; absent when unknowable. */
    /** otherAnswers: requests not the simulator's that succeeded (another server answered); the rest of them failed with no answer marked. */
    llm?: { simulated: number; total: number; otherAnswers?: number };
    /** A stand-in trainer trained, or the simulator served, a policy version of this campaign. */
    training: boolean;
  };
  funnel: { stage: string; kind: string; status: string; n: number }[];
  rejectionReasons: { reason: string; n: number }[];
  /** outcomeUnknown: requests sent and never settled (in flight when a worker stopped); absent in older fixtures. */
  usage: { role: string; model: string; requests: number; failures: number; outcomeUnknown?: number; promptTokens: number; completionTokens: number }[];
  kindDomain: { kind: string; domain: string; n: number }[];
  scores: Histogram[];
  /** Every stored vote per committee stage (repair.labels, verify.judges, expand.errors), judge model and verdict. */
  judgeVotes: { stage: string; model: string; verdict: string; n: number }[];
  labelJudgements: { verdict: string; action: string; n: number }[];
  probe: { iteration: number; matched: number; mismatched: number }[];
  bfcl: {
    iteration: number;
    evaluator: string;
    category: string;
    accuracy: number;
    total: number;
    /** A group row's categories left out of the evaluation (each counted 0 in the formula). */
    missing?: number;
    /** The entries per category a limited run evaluated (limitPerCategory). */
    limitPerCategory?: number;
    /** The policy model the evaluation asked (the iteration's served policy in a loop); absent in rows stored before it was recorded. */
    model?: string;
    /** The fast probe's matcher mode (strict or bfcl). */
    mode?: string;
    /** The fast probe's requests that failed (HTTP 4xx, an unreadable answer), each scored as a wrong answer. */
    failedRequests?: number;
    /** The policy answering was the toolloop LLM simulator (the score measures no model). */
    simulated?: boolean;
  }[];
  pool: { iteration: number; reason: string; n: number }[];
  exclusions: { iteration: number; reason: string; n: number }[];
  reward: RewardCurve[];
  /** Why some training jobs' curves are missing (a log no longer on disk, a Ray job). */
  rewardNotes: string[];
  /** synthesize.multiTurn's dialogues (kept/dropped, lengths, turn decisions, reflections, tool results); absent in data from before it. */
  multiTurn?: MultiTurnCounts;
}

export class UnknownCampaignError extends Error {}

export async function gatherReportData(db: Db, scope: ReportScope, opts: { now?: Date } = {}): Promise<ReportData> {
  const campaign = await campaignRow(db, scope.campaignId);
  if (!campaign) throw new UnknownCampaignError(`no campaign with id ${JSON.stringify(scope.campaignId)} in the database`);
  const stored = scope.iteration === undefined ? await latestConfig(db, scope.campaignId) : await configForIteration(db, scope.campaignId, scope.iteration);
  const [
    its,
    funnel,
    reasons,
    usage,
    kindDomain,
    scoreBins,
    votes,
    judgements,
    probeRows,
    bfcl,
    pool,
    exclusions,
    jobs,
    simTraining,
    simLlm,
    multiTurn,
    stageRows,
    stepRows,
  ] = await Promise.all([
    iterationRows(db, scope),
    samplesByStageKindStatus(db, scope),
    rejectionReasons(db, scope),
    usageByRole(db, scope),
    samplesByKindAndDomain(db, scope),
    scoreHistogramBins(db, scope, BINS, { metrics: [...LOG_METRICS], ratio: LOG_BINS_RATIO }),
    judgeVoteCounts(db, scope),
    labelJudgementCounts(db, scope),
    probeCounts(db, scope),
    bfclScoreRows(db, scope),
    poolComposition(db, scope),
    exclusionCounts(db, scope),
    trainingJobs(db, scope),
    anySimulatedModelVersion(db, scope),
    simulatedRequestCount(db, scope),
    multiTurnCounts(db, scope),
    stageRunRows(db, scope),
    iterationStepRows(db, { campaignId: scope.campaignId, ...(scope.iteration !== undefined ? { upTo: scope.iteration } : {}) }),
  ]);
  if (scope.iteration !== undefined && !its.some((i) => i.iteration === scope.iteration))
    throw new UnknownCampaignError(`campaign ${scope.campaignId} has no iteration ${scope.iteration}`);

  const probe = new Map<number, { iteration: number; matched: number; mismatched: number }>();
  for (const r of probeRows) {
    const p = probe.get(r.iteration) ?? { iteration: r.iteration, matched: 0, mismatched: 0 };
    p[r.match ? "matched" : "mismatched"] += r.n;
    probe.set(r.iteration, p);
  }
  const { curves, notes } = await rewardCurves(jobs);

  return {
    campaignId: campaign.id,
    name: campaign.name,
    status: campaign.status,
    ...(scope.iteration !== undefined ? { iteration: scope.iteration, iterationStatus: its.find((i) => i.iteration === scope.iteration)?.status } : {}),
    generatedAt: (opts.now ?? new Date()).toISOString(),
    ...(stored ? { config: configSummary(stored.frozen, stored.version, stored.sha256) } : {}),
    iterations: its.map((i) => ({
      iteration: i.iteration,
      status: i.status,
      startedAt: i.startedAt.toISOString(),
      finishedAt: i.finishedAt?.toISOString() ?? null,
    })),
    stages: stageRows.map((r) => ({
      iteration: r.iteration,
      stage: r.stage,
      status: r.status,
      attempts: r.attempts,
      ...(r.automaticRetries !== null ? { automaticRetries: r.automaticRetries } : {}),
      error: r.error,
      startedAt: r.startedAt.toISOString(),
      finishedAt: r.finishedAt?.toISOString() ?? null,
      ...(r.warning ? { warning: r.warning } : {}),
    })),
    iterationSteps: stepRows,
    simulated: { training: simTraining, llm: simLlm },
    funnel,
    rejectionReasons: reasons,
    usage,
    kindDomain,
    scores: histogramsFromBins(scoreBins),
    judgeVotes: votes,
    labelJudgements: judgements,
    probe: [...probe.values()],
    bfcl: bfcl.map(({ missing, limitPerCategory, model, mode, failedRequests, ...row }) => ({
      ...row,
      ...(model !== null ? { model } : {}),
      ...(mode !== null ? { mode } : {}),
      ...(failedRequests !== null ? { failedRequests: Number(failedRequests) } : {}),
      ...(missing !== null ? { missing: Number(missing) } : {}),
      ...(limitPerCategory !== null ? { limitPerCategory: Number(limitPerCategory) } : {}),
    })),
    pool,
    exclusions,
    reward: curves,
    rewardNotes: notes,
    multiTurn,
  };
}

function configSummary(frozen: FrozenCampaignConfig, version: number, hash: string): NonNullable<ReportData["config"]> {
  const c = frozen.config;
  return {
    version,
    hash,
    seed: c.seed,
    iterations: c.iterations,
    roles: Object.entries(c.roles)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([role, r]) => ({ role, endpoint: r.endpoint, model: r.model })),
    stages: c.stages.map((s) => s.name),
  };
}

const BINS = 20;
/**
 * Perplexities whose largest value is more than this many times the smallest get log-spaced bins:
 * a long loop keeps selecting the highest-PPL labels, so its range widens round after round (1.1 to
 * 71 by iteration 12 of the demo loop) and equal-width bins put nearly every score in the first one.
 */
export const LOG_BINS_RATIO = 10;
const LOG_METRICS: ReadonlySet<string> = new Set(["label_ppl", "own_ppl"]);

/** Whether a metric's histogram over [min, max] is log-spaced. */
export function logBinned(metric: string, min: number, max: number): boolean {
  return LOG_METRICS.has(metric) && min > 0 && max / min > LOG_BINS_RATIO;
}

/** The bin edges: equal steps in value, or in log(value) (the first and last edges are min and max). */
function binEdges(min: number, max: number, n: number, log: boolean): { from: number; to: number }[] {
  if (!log) {
    const width = min === max ? 1 : (max - min) / n;
    return Array.from({ length: n }, (_, i) => ({ from: min + i * width, to: min + (i + 1) * width }));
  }
  const lo = Math.log(min);
  const w = (Math.log(max) - lo) / n;
  return Array.from({ length: n }, (_, i) => ({ from: i === 0 ? min : Math.exp(lo + i * w), to: i === n - 1 ? max : Math.exp(lo + (i + 1) * w) }));
}

/**
 * Equal-width histograms per metric between its smallest and largest value; values that name their
 * iteration are also counted per iteration in the same bins, and those that name their sample give
 * the number of distinct samples (fewer than the scores when a sample was scored in several iterations).
 */
export function histograms(values: { metric: string; value: number; iteration?: number; sampleId?: string }[], bins = BINS): Histogram[] {
  const byMetric = new Map<string, { value: number; iteration?: number; sampleId?: string }[]>();
  for (const v of values) {
    if (!Number.isFinite(v.value)) continue;
    const list = byMetric.get(v.metric) ?? [];
    list.push(v);
    byMetric.set(v.metric, list);
  }
  const out: Histogram[] = [];
  for (const [metric, vs] of [...byMetric].sort(([a], [b]) => a.localeCompare(b))) {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const { value } of vs) {
      min = Math.min(min, value);
      max = Math.max(max, value);
      sum += value;
    }
    const n = min === max ? 1 : bins;
    const log = logBinned(metric, min, max);
    const width = min === max ? 1 : log ? (Math.log(max) - Math.log(min)) / n : (max - min) / n;
    const counts = new Array<number>(n).fill(0);
    const perIteration = new Map<number, { count: number; sum: number; n: number[] }>();
    const sampleIds = new Set<string>();
    for (const v of vs) {
      const bin = Math.min(n - 1, Math.floor((log ? Math.log(v.value) - Math.log(min) : v.value - min) / width));
      counts[bin]! += 1;
      if (v.sampleId !== undefined) sampleIds.add(v.sampleId);
      if (v.iteration === undefined) continue;
      const it = perIteration.get(v.iteration) ?? { count: 0, sum: 0, n: new Array<number>(n).fill(0) };
      it.count += 1;
      it.sum += v.value;
      it.n[bin]! += 1;
      perIteration.set(v.iteration, it);
    }
    out.push({
      metric,
      count: vs.length,
      ...(sampleIds.size > 0 ? { samples: sampleIds.size } : {}),
      mean: sum / vs.length,
      bins: binEdges(min, max, n, log).map((e, i) => ({ ...e, n: counts[i] ?? 0 })),
      ...(log ? { scale: "log" as const } : {}),
      ...(perIteration.size > 0
        ? {
            iterations: [...perIteration]
              .sort(([a], [b]) => a - b)
              .map(([iteration, it]) => ({ iteration, count: it.count, mean: it.sum / it.count, n: it.n })),
          }
        : {}),
    });
  }
  return out;
}

/** The histograms of `histograms` from the bins SQL counted (scoreHistogramBins): the same figures, without a row per score. */
export function histogramsFromBins(rows: readonly ScoreBinRow[], bins = BINS): Histogram[] {
  const byMetric = new Map<string, ScoreBinRow[]>();
  for (const r of rows) byMetric.set(r.metric, [...(byMetric.get(r.metric) ?? []), r]);
  const out: Histogram[] = [];
  for (const [metric, rs] of [...byMetric].sort(([a], [b]) => a.localeCompare(b))) {
    const { lo: min, hi: max, samples } = rs[0] as ScoreBinRow;
    const n = min === max ? 1 : bins;
    const log = logBinned(metric, min, max);
    const counts = new Array<number>(n).fill(0);
    const perIteration = new Map<number, { count: number; sum: number; n: number[] }>();
    let count = 0;
    let sum = 0;
    for (const r of rs) {
      const bin = Math.min(n - 1, Math.max(0, r.bin));
      counts[bin]! += r.n;
      count += r.n;
      sum += r.sum;
      const it = perIteration.get(r.iteration) ?? { count: 0, sum: 0, n: new Array<number>(n).fill(0) };
      it.count += r.n;
      it.sum += r.sum;
      it.n[bin]! += r.n;
      perIteration.set(r.iteration, it);
    }
    out.push({
      metric,
      count,
      ...(samples > 0 ? { samples } : {}),
      mean: sum / count,
      bins: binEdges(min, max, n, log).map((e, i) => ({ ...e, n: counts[i] ?? 0 })),
      ...(log ? { scale: "log" as const } : {}),
      iterations: [...perIteration].sort(([a], [b]) => a - b).map(([iteration, it]) => ({ iteration, count: it.count, mean: it.sum / it.count, n: it.n })),
    });
  }
  return out;
}

interface TrainingJob {
  name: string;
  iteration: number;
  launcher: string;
  externalId: string | null;
  request: unknown;
  state?: string;
}

/** Where a job's console output is on disk (local and Slurm launchers write it under the job's workDir); undefined for Ray. */
export function jobLogPath(job: TrainingJob): string | undefined {
  const workDir = (job.request as { workDir?: unknown } | null)?.workDir;
  if (typeof workDir !== "string") return undefined;
  if (job.launcher === "local") return path.join(workDir, `${job.name}.log`);
  if (job.launcher === "slurm" && job.externalId) return path.join(workDir, `${job.name}-${job.externalId}.log`);
  return undefined;
}

type RewardPoint = { step: number; score?: number; reward?: number };

/**
 * Reward points parsed from each job log, kept while the file's size and modification time stay the
 * same. The campaign and iteration reports are rebuilt at every iteration's end and read every earlier
 * job's log: without it, iteration N re-read N-1 finished logs (verl's run to tens of MB each).
 */
const parsedLogs = new Map<string, { size: number; mtimeMs: number; points: RewardPoint[] }>();
const PARSED_LOGS_KEPT = 1000;

/** A job log's reward points, in file order (a resumed step appears again; the caller keeps the last). */
export async function rewardPointsOf(file: string): Promise<RewardPoint[] | undefined> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  const cached = parsedLogs.get(file);
  if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) return cached.points;
  const points: RewardPoint[] = [];
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
  for await (const line of lines) {
    const m = parseMetricLine(line);
    const score = m?.metrics["critic/score/mean"];
    const reward = m?.metrics["critic/rewards/mean"];
    if (!m || (score === undefined && reward === undefined)) continue;
    points.push({ step: m.step, ...(score !== undefined ? { score } : {}), ...(reward !== undefined ? { reward } : {}) });
  }
  parsedLogs.delete(file);
  parsedLogs.set(file, { size: st.size, mtimeMs: st.mtimeMs, points });
  if (parsedLogs.size > PARSED_LOGS_KEPT) parsedLogs.delete(parsedLogs.keys().next().value as string);
  return points;
}

async function rewardCurves(jobs: TrainingJob[]): Promise<{ curves: RewardCurve[]; notes: string[] }> {
  const byIteration = new Map<number, Map<number, RewardPoint>>();
  const notes: string[] = [];
  for (const job of jobs) {
    const file = jobLogPath(job);
    if (!file) {
      notes.push(`${job.name}: its log is kept by the ${job.launcher} scheduler, not on this machine's disk`);
      continue;
    }
    const parsed = await rewardPointsOf(file);
    if (!parsed) {
      notes.push(`${job.name}: log ${file} is not on this machine`);
      continue;
    }
    const points = byIteration.get(job.iteration) ?? new Map<number, RewardPoint>();
    byIteration.set(job.iteration, points);
    for (const p of parsed) points.set(p.step, p);
    // A job that ran (and failed, or was stopped) before its first training step: say so, not "no training ran".
    if (parsed.length === 0) notes.push(`${job.name}${job.state ? ` (${job.state})` : ""}: its log has no training step with a reward score`);
  }
  const curves = [...byIteration]
    .filter(([, points]) => points.size > 0)
    .sort(([a], [b]) => a - b)
    .map(([iteration, points]) => ({ iteration, points: [...points.values()].sort((a, b) => a.step - b.step) }));
  return { curves, notes };
}
