/**
 * Read-only queries behind the HTML reports (src/reports/): every figure a chart plots, for the whole
 * campaign or up to / at one iteration. Grouping and counting happen in SQL, score histograms too:
 * a report is rebuilt at the end of every iteration, so nothing it reads may come back one row per
 * score (a 30-iteration loop with pools of 20,000 holds 1.8 million).
 */
import { and, asc, eq, lte, sql, type AnyColumn, type SQL } from "drizzle-orm";
import type { Db } from "../client.js";
import { noDialogueKeptWarning } from "../../dialogue/noneKept.js";
import { SIMULATED_TOOL_SERVER_CAUSES, TOOL_RESULT_ORIGINS, type SimulatedToolServerCause, type ToolResultOrigin } from "../../dialogue/protocol.js";
import { STEP_RETRIES_KEY } from "./stages.js";
import { COMMITTEE_VERIFIER, JUDGE_REASON_PREFIX_PATTERN } from "../../judging/committeeConfig.js";
import {
  bfclScores,
  campaigns,
  clusterJobs,
  dialogues,
  dialogueTurns,
  iterations,
  judgeVotes,
  labelJudgements,
  llmRequests,
  llmUsage,
  modelVersions,
  poolMembers,
  probeResults,
  samples,
  sampleCheckVotes,
  sampleScores,
  selectionExclusions,
  stageRuns,
  tools,
} from "../schema.js";

/** Which rows a report covers: the whole campaign, or one iteration (figures plotted across iterations then stop at it). */
export interface ReportScope {
  campaignId: string;
  iteration?: number;
}

function scoped(scope: ReportScope, campaignCol: AnyColumn, iterationCol: AnyColumn): SQL | undefined {
  return scope.iteration === undefined ? eq(campaignCol, scope.campaignId) : and(eq(campaignCol, scope.campaignId), eq(iterationCol, scope.iteration));
}
/** For figures plotted across iterations: the iteration report shows the iterations up to its own. */
function upTo(scope: ReportScope, campaignCol: AnyColumn, iterationCol: AnyColumn): SQL | undefined {
  return scope.iteration === undefined ? eq(campaignCol, scope.campaignId) : and(eq(campaignCol, scope.campaignId), lte(iterationCol, scope.iteration));
}

const count = sql<number>`count(*)::int`.mapWith(Number);

/** `execute` returns `{ rows }` on node-postgres and PGlite alike. */
function rowsOf(result: unknown): Record<string, unknown>[] {
  return ((result as { rows?: Record<string, unknown>[] }).rows ?? (result as Record<string, unknown>[])) as Record<string, unknown>[];
}

export async function campaignRow(db: Db, campaignId: string) {
  const rows = await db
    .select({ id: campaigns.id, name: campaigns.name, status: campaigns.status })
    .from(campaigns)
    .where(eq(campaigns.id, campaignId))
    .limit(1);
  return rows[0];
}

export async function iterationRows(db: Db, scope: ReportScope) {
  return db
    .select({ iteration: iterations.iteration, status: iterations.status, startedAt: iterations.startedAt, finishedAt: iterations.finishedAt })
    .from(iterations)
    .where(upTo(scope, iterations.campaignId, iterations.iteration))
    .orderBy(asc(iterations.iteration));
}

export { iterationStepRows } from "./iterationSteps.js";

/**
 * Every stage run (one row per iteration and stage, its latest attempt): what ran, what failed and why.
 * Up to the report's iteration, like its iterations table, which sums each iteration's stages.
 * `attempts` counts operator runs (retry-stage); `automaticRetries` the retries Temporal made of the
 * stage's steps over those runs (src/db/repos/stages.ts STEP_RETRIES_KEY), null for a row begun
 * before they were recorded.
 */
export async function stageRunRows(db: Db, scope: ReportScope) {
  return db
    .select({
      iteration: stageRuns.iteration,
      stage: stageRuns.stage,
      status: stageRuns.status,
      attempts: stageRuns.attempts,
      error: stageRuns.error,
      startedAt: stageRuns.startedAt,
      finishedAt: stageRuns.finishedAt,
      warning: sql<string | null>`${stageRuns.result}->>'warning'`,
      automaticRetries: sql<number | null>`CASE WHEN ${stageRuns.result} ? ${STEP_RETRIES_KEY}
        THEN (SELECT coalesce(sum(r.value::int), 0)::int FROM jsonb_each_text(${stageRuns.result}->${STEP_RETRIES_KEY}) r) END`.mapWith((v) =>
        v === null ? null : Number(v),
      ),
    })
    .from(stageRuns)
    .where(upTo(scope, stageRuns.campaignId, stageRuns.iteration))
    .orderBy(asc(stageRuns.iteration), asc(stageRuns.startedAt), asc(stageRuns.stage));
}

/** Samples per (stage, kind, status): the acceptance funnel. */
export async function samplesByStageKindStatus(db: Db, scope: ReportScope) {
  return db
    .select({ stage: sql<string>`coalesce(${samples.stage}, ${samples.origin})`, kind: samples.kind, status: samples.status, n: count })
    .from(samples)
    .where(scoped(scope, samples.campaignId, samples.iteration))
    .groupBy(sql`1`, samples.kind, samples.status)
    .orderBy(sql`1`, asc(samples.kind), asc(samples.status));
}

/**
 * Rejection reasons of the failing verdicts, each as `<verifier>: <reason>` (without the `call[i] `
 * prefix, nor the `<judge>: ` of a committee's reason), most frequent first: a sample is rejected by
 * the rules or the judges, and the chart says which. `n` counts rejected samples, not reasons: a
 * sample that gives the same reason for two calls (`call[0] missing ...`, `call[1] missing ...`), or
 * from two judges (`judge#0: ...`, `judge#2: ...`), counts once under it.
 */
export async function rejectionReasons(db: Db, scope: ReportScope, limit = 15): Promise<{ reason: string; n: number }[]> {
  const it = scope.iteration === undefined ? sql`` : sql` AND ${samples.iteration} = ${scope.iteration}`;
  // A committee's reasons name the judge that gave each (`judge#2: ...`): without that prefix, judges agreeing on a sample give one reason, counted once.
  const result = await db.execute(sql`
    SELECT coalesce(v->>'verifier' || ': ', '') || regexp_replace(
        CASE WHEN v->>'verifier' = ${COMMITTEE_VERIFIER} THEN regexp_replace(reason, ${JUDGE_REASON_PREFIX_PATTERN}, '') ELSE reason END,
        '^call\\[\\d+\\] ', '') AS reason, count(DISTINCT ${samples.id})::int AS n
    FROM ${samples}, jsonb_array_elements(${samples.verdicts}) v, jsonb_array_elements_text(v->'reasons') reason
    WHERE ${samples.campaignId} = ${scope.campaignId} AND ${samples.status} = 'rejected'${it}
      AND v->'ok' IS DISTINCT FROM 'true'::jsonb
    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${limit}`);
  return rowsOf(result).map((r) => ({ reason: String(r.reason), n: Number(r.n) }));
}

/**
 * LLM requests and tokens per (role, model), each role's models in the order the campaign first used
 * them: a policy served per iteration (`<campaign>-iter-N`) reads iteration 1, 2, ..., 10, not 1, 10, 11, 2.
 */
export async function usageByRole(db: Db, scope: ReportScope) {
  return db
    .select({
      role: llmUsage.role,
      model: llmUsage.model,
      requests: sql<number>`sum(${llmUsage.requests})::int`.mapWith(Number),
      failures: sql<number>`sum(${llmUsage.failures})::int`.mapWith(Number),
      // Sent and never settled: in flight when a worker was killed (neither a success nor a failure).
      outcomeUnknown: sql<number>`sum(${llmUsage.outcomeUnknown})::int`.mapWith(Number),
      promptTokens: sql<number>`sum(${llmUsage.promptTokens})::bigint`.mapWith(Number),
      completionTokens: sql<number>`sum(${llmUsage.completionTokens})::bigint`.mapWith(Number),
    })
    .from(llmUsage)
    .where(scoped(scope, llmUsage.campaignId, llmUsage.iteration))
    .groupBy(llmUsage.role, llmUsage.model)
    .orderBy(asc(llmUsage.role), sql`min(${llmUsage.iteration})`, asc(llmUsage.model));
}

/**
 * Accepted (verified) samples per kind and domain. A sample's domain is its tool's: the first call of
 * its last calling assistant turn (the label's, or for a text answer the call it answers over), else
 * (no call at all: irrelevance) its first offered tool. A multi-turn dialogue offers its tools in a
 * shuffled order, so the first offered one says nothing about what a cut is about.
 */
export async function samplesByKindAndDomain(db: Db, scope: ReportScope): Promise<{ kind: string; domain: string; n: number }[]> {
  const it = scope.iteration === undefined ? sql`` : sql` AND s.iteration = ${scope.iteration}`;
  const result = await db.execute(sql`
    SELECT s.kind AS kind, coalesce(t.domain, 'unknown') AS domain, count(*)::int AS n
    FROM ${samples} s
    LEFT JOIN LATERAL (
      SELECT c.call->'function'->>'name' AS name
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.messages) = 'array' THEN s.messages ELSE '[]'::jsonb END) WITH ORDINALITY AS m(msg, i),
        jsonb_array_elements(CASE WHEN jsonb_typeof(m.msg->'tool_calls') = 'array' THEN m.msg->'tool_calls' ELSE '[]'::jsonb END) WITH ORDINALITY AS c(call, j)
      ORDER BY m.i DESC, c.j ASC LIMIT 1
    ) called ON true
    LEFT JOIN ${tools} t ON t.campaign_id = s.campaign_id AND t.name = coalesce(called.name, s.tools->0->>'name')
    WHERE s.campaign_id = ${scope.campaignId} AND s.status = 'verified'${it}
    GROUP BY 1, 2 ORDER BY 1, 2`);
  return rowsOf(result).map((r) => ({ kind: String(r.kind), domain: String(r.domain), n: Number(r.n) }));
}

/** One row per (metric, iteration, bin) of the score histograms, with the metric's range and distinct samples. */
export interface ScoreBinRow {
  metric: string;
  /** The metric's smallest and largest finite value (the histogram's range). */
  lo: number;
  hi: number;
  /** Distinct samples the metric scored. */
  samples: number;
  iteration: number;
  bin: number;
  /** Scores in the bin, and their sum. */
  n: number;
  sum: number;
}

/**
 * The score histograms counted in SQL: `bins` equal-width bins per metric between its smallest and
 * largest finite value (one bin when they are equal; equal in log(value) for `logBins` metrics whose
 * range is wider than its ratio), per scoring iteration. The bin of a value is
 * computed as src/reports/data.ts's `histograms` does in JavaScript (same float8 operations).
 */
export async function scoreHistogramBins(
  db: Db,
  scope: ReportScope,
  bins: number,
  logBins: { metrics: readonly string[]; ratio: number } = { metrics: [], ratio: Infinity },
): Promise<ScoreBinRow[]> {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins: expected a positive integer, got ${bins}`);
  // Log-spaced bins for these metrics when hi / lo > ratio (src/reports/data.ts's logBinned).
  const logMetrics = logBins.metrics.length
    ? sql.join(
        logBins.metrics.map((m) => sql`${m}`),
        sql`, `,
      )
    : sql`NULL`;
  const ratio = Number.isFinite(logBins.ratio) ? logBins.ratio : 1e308;
  const at = scope.iteration === undefined ? sql`` : sql` AND iteration = ${scope.iteration}`;
  const n = sql.raw(String(bins));
  const result = await db.execute(sql`
    WITH v AS (
      SELECT metric, iteration, sample_id, value FROM ${sampleScores}
      WHERE campaign_id = ${scope.campaignId}${at} AND value NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)
    ), r AS (
      SELECT metric, min(value) AS lo, max(value) AS hi, count(DISTINCT sample_id)::int AS samples FROM v GROUP BY metric
    )
    SELECT v.metric, r.lo, r.hi, r.samples, v.iteration,
      CASE WHEN r.lo = r.hi THEN 0
        WHEN v.metric IN (${logMetrics}) AND r.lo > 0 AND r.hi / r.lo > ${ratio}::float8
          THEN least(${n} - 1, floor((ln(v.value) - ln(r.lo)) / ((ln(r.hi) - ln(r.lo)) / ${n})))::int
        ELSE least(${n} - 1, floor((v.value - r.lo) / ((r.hi - r.lo) / ${n})))::int END AS bin,
      count(*)::int AS n, sum(v.value) AS sum
    FROM v JOIN r USING (metric)
    GROUP BY v.metric, r.lo, r.hi, r.samples, v.iteration, 6
    ORDER BY v.metric, v.iteration, 6`);
  return rowsOf(result).map((r) => ({
    metric: String(r.metric),
    lo: Number(r.lo),
    hi: Number(r.hi),
    samples: Number(r.samples),
    iteration: Number(r.iteration),
    bin: Number(r.bin),
    n: Number(r.n),
    sum: Number(r.sum),
  }));
}

/**
 * Every score value per metric (label_ppl, own_ppl, consistency), with the iteration whose policy
 * scored it and the sample: a sample in the pools of several iterations is scored once in each. One
 * row per score: for tests and small scopes only (the report uses scoreHistogramBins).
 */
export async function scoreValues(db: Db, scope: ReportScope): Promise<{ metric: string; iteration: number; sampleId: string; value: number }[]> {
  return db
    .select({ metric: sampleScores.metric, iteration: sampleScores.iteration, sampleId: sampleScores.sampleId, value: sampleScores.value })
    .from(sampleScores)
    .where(scoped(scope, sampleScores.campaignId, sampleScores.iteration));
}

/**
 * Every stored judge vote per (stage, judge model, verdict); a null verdict is an unreadable answer.
 * Three committees store votes: repair.labels on probed mismatches (judge_votes), verify.judges on
 * samples (sample_check_votes) and expand.errors on its new labels (in the written sample's
 * metadata.committee.votes).
 */
export async function judgeVoteCounts(db: Db, scope: ReportScope): Promise<{ stage: string; model: string; verdict: string; n: number }[]> {
  const at = (col: SQL) => (scope.iteration === undefined ? sql`` : sql` AND ${col} = ${scope.iteration}`);
  const result = await db.execute(sql`
    SELECT stage, model, verdict, count(*)::int AS n FROM (
      SELECT 'repair.labels' AS stage, model, coalesce(verdict, 'unreadable') AS verdict
        FROM ${judgeVotes} WHERE campaign_id = ${scope.campaignId}${at(sql`iteration`)}
      UNION ALL
      SELECT 'verify.judges', model, coalesce(verdict, 'unreadable')
        FROM ${sampleCheckVotes} WHERE campaign_id = ${scope.campaignId}${at(sql`iteration`)}
      UNION ALL
      SELECT s.stage, coalesce(v->>'model', 'unknown'), coalesce(v->>'verdict', 'unreadable')
        FROM ${samples} s CROSS JOIN LATERAL jsonb_array_elements(
          CASE WHEN jsonb_typeof(s.metadata->'committee'->'votes') = 'array' THEN s.metadata->'committee'->'votes' ELSE '[]'::jsonb END) v
        WHERE s.campaign_id = ${scope.campaignId} AND s.origin = 'expanded'${at(sql`s.iteration`)}
    ) votes
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
  return rowsOf(result).map((r) => ({ stage: String(r.stage), model: String(r.model), verdict: String(r.verdict), n: Number(r.n) }));
}

/** The committees' decisions per (consensus verdict, action). */
export async function labelJudgementCounts(db: Db, scope: ReportScope) {
  return db
    .select({ verdict: sql<string>`coalesce(${labelJudgements.verdict}, 'no consensus')`, action: labelJudgements.action, n: count })
    .from(labelJudgements)
    .where(scoped(scope, labelJudgements.campaignId, labelJudgements.iteration))
    .groupBy(sql`1`, labelJudgements.action)
    .orderBy(sql`1`, asc(labelJudgements.action));
}

/** probe.greedy's matches and mismatches per iteration (across iterations). */
export async function probeCounts(db: Db, scope: ReportScope) {
  return db
    .select({ iteration: probeResults.iteration, match: probeResults.match, n: count })
    .from(probeResults)
    .where(upTo(scope, probeResults.campaignId, probeResults.iteration))
    .groupBy(probeResults.iteration, probeResults.match)
    .orderBy(asc(probeResults.iteration));
}

/** BFCL accuracies per (iteration, evaluator, category) (across iterations). */
export async function bfclScoreRows(db: Db, scope: ReportScope) {
  return db
    .select({
      iteration: bfclScores.iteration,
      evaluator: bfclScores.evaluator,
      category: bfclScores.category,
      accuracy: bfclScores.accuracy,
      total: bfclScores.total,
      simulated: bfclScores.simulated,
      // evaluate.bfcl's group rows list the categories it did not evaluate (each counted 0); its category rows, the entry limit.
      missing: sql<
        number | null
      >`case when jsonb_typeof(${bfclScores.details}->'missing') = 'array' then jsonb_array_length(${bfclScores.details}->'missing') end`,
      model: sql<string | null>`${bfclScores.details}->>'model'`,
      // The fast probe's matcher mode, and its requests the endpoint refused (each scored as a wrong answer).
      mode: sql<string | null>`${bfclScores.details}->>'mode'`,
      failedRequests: sql<
        number | null
      >`case when jsonb_typeof(${bfclScores.details}->'failedRequests') = 'number' then (${bfclScores.details}->>'failedRequests')::int end`,
      limitPerCategory: sql<
        number | null
      >`case when jsonb_typeof(${bfclScores.details}->'limitPerCategory') = 'number' then (${bfclScores.details}->>'limitPerCategory')::int end`,
    })
    .from(bfclScores)
    .where(upTo(scope, bfclScores.campaignId, bfclScores.iteration))
    .orderBy(asc(bfclScores.iteration), asc(bfclScores.evaluator), asc(bfclScores.category));
}

/** Pool members per (iteration, reason) (across iterations). */
export async function poolComposition(db: Db, scope: ReportScope) {
  return db
    .select({ iteration: poolMembers.iteration, reason: poolMembers.reason, n: count })
    .from(poolMembers)
    .where(upTo(scope, poolMembers.campaignId, poolMembers.iteration))
    .groupBy(poolMembers.iteration, poolMembers.reason)
    .orderBy(asc(poolMembers.iteration), asc(poolMembers.reason));
}

/** Candidates select.nextRound left out, per (iteration, reason). */
export async function exclusionCounts(db: Db, scope: ReportScope) {
  return db
    .select({ iteration: selectionExclusions.iteration, reason: selectionExclusions.reason, n: count })
    .from(selectionExclusions)
    .where(upTo(scope, selectionExclusions.campaignId, selectionExclusions.iteration))
    .groupBy(selectionExclusions.iteration, selectionExclusions.reason)
    .orderBy(asc(selectionExclusions.iteration), asc(selectionExclusions.reason));
}

/** The GRPO training jobs (every attempt), whose logs hold the reward curve. */
export async function trainingJobs(db: Db, scope: ReportScope) {
  return db
    .select({
      name: clusterJobs.name,
      iteration: clusterJobs.iteration,
      attempt: clusterJobs.attempt,
      launcher: clusterJobs.launcher,
      externalId: clusterJobs.externalId,
      request: clusterJobs.request,
      state: clusterJobs.state,
    })
    .from(clusterJobs)
    .where(and(scoped(scope, clusterJobs.campaignId, clusterJobs.iteration), eq(clusterJobs.stage, "train.grpo")))
    .orderBy(asc(clusterJobs.iteration), asc(clusterJobs.attempt));
}

/** Whether any model version the campaign made or served came from a stand-in trainer or the simulator. */
export async function anySimulatedModelVersion(db: Db, scope: ReportScope): Promise<boolean> {
  const rows = await db
    .select({ n: count })
    .from(modelVersions)
    .where(and(upTo(scope, modelVersions.campaignId, modelVersions.iteration), eq(modelVersions.simulated, true)));
  return (rows[0]?.n ?? 0) > 0;
}

/**
 * Requests answered by the LLM simulator (the request ledger records the simulator's mark per request),
 * and of the others those that succeeded with another server's answer: the rest failed or were cut off
 * (connection refused, timed out, in flight when a worker stopped) with no answer marked, and say nothing
 * about who would have answered them.
 */
export async function simulatedRequestCount(db: Db, scope: ReportScope): Promise<{ simulated: number; total: number; otherAnswers: number }> {
  const rows = await db
    .select({
      simulated: sql<number>`count(*) FILTER (WHERE ${llmRequests.simulated})::int`,
      total: sql<number>`count(*)::int`,
      otherAnswers: sql<number>`count(*) FILTER (WHERE NOT ${llmRequests.simulated} AND ${llmRequests.status} = 'ok')::int`,
    })
    .from(llmRequests)
    .where(and(eq(llmRequests.campaignId, scope.campaignId), scope.iteration === undefined ? undefined : eq(llmRequests.iteration, scope.iteration)));
  return { simulated: Number(rows[0]?.simulated ?? 0), total: Number(rows[0]?.total ?? 0), otherAnswers: Number(rows[0]?.otherAnswers ?? 0) };
}

/** The multi-turn section's figures (synthesize.multiTurn's dialogues and their stored turns). */
export interface MultiTurnCounts {
  /**
   * Dialogues per status and drop reason ("" when kept, running or failed without one); a kept or
   * dropped dialogue that ended before the user said done has reason `unfinished (<cause>)`.
   */
  dialogues: { status: string; reason: string; n: number }[];
  /** Ended dialogues per number of user turns taken. */
  userTurns: { turns: number; n: number }[];
  /** Assistant turns per decision (vote, negotiation, rejected). */
  decisions: { decision: string; n: number }[];
  /** Self-reflections on assistant candidates, by what came of them. */
  reflections: { result: string; n: number }[];
  /**
   * Tool results per tool, ok or the error type, by where they came from (recorded with each result
   * since src/dialogue/protocol.ts ToolResult.origin; absent for results stored before, and in report
   * data gathered before): `injected` (fault injection, the stage's toolErrorRate) or `tool_server`
   * (the server's own answer); `simulated` when the toolloop LLM simulator played the server, and
   * `simulatedCause` for an error it chose itself: `rules` (the call broke its tool's rules) or
   * `fault` (its random faults); absent for a real server, and in results stored before.
   */
  toolResults: {
    tool: string;
    result: string;
    n: number;
    origin?: ToolResultOrigin;
    simulated?: boolean;
    simulatedCause?: SimulatedToolServerCause;
  }[];
  /** Iterations whose dialogues all ended and none was kept (no multi-turn sample written), with why (src/dialogue/noneKept.ts). */
  warnings?: { iteration: number; warning: string }[];
}

export async function multiTurnCounts(db: Db, scope: ReportScope): Promise<MultiTurnCounts> {
  const it = scope.iteration === undefined ? sql`` : sql` AND d.iteration = ${scope.iteration}`;
  const inScope = sql`d.campaign_id = ${scope.campaignId}${it}`;
  // Why a dialogue ended early: recorded since outcomes carry it (src/dialogue/types.ts UNFINISHED_CAUSES),
  // else read from the detail the engine (src/dialogue/engine.ts) wrote.
  const cause = sql`coalesce(d.outcome->>'unfinished', CASE
      WHEN d.outcome->>'detail' LIKE '%reached turns.max%' THEN 'turns_max'
      WHEN d.outcome->>'detail' LIKE '%still called tools after maxToolRounds%' THEN 'max_tool_rounds'
      WHEN d.outcome->>'detail' LIKE '%outgrew the context%' THEN 'context_length'
      WHEN d.outcome->>'detail' LIKE '%the dialogue ends before that turn%' THEN 'no_valid_candidate'
      ELSE 'cause not recorded' END)`;
  const [byStatus, byTurns, byDecision, byReflection, byTool, byIteration] = await Promise.all([
    // A kept dialogue cut short (keepUnfinished) is shown apart from one whose user said done, with its cause.
    db.execute(sql`
      SELECT d.status AS status, CASE
          WHEN d.status = 'kept' AND d.outcome->>'finished' = 'false' THEN 'unfinished (' || ${cause} || ')'
          WHEN d.status = 'dropped' AND d.outcome->>'dropReason' = 'unfinished' THEN 'unfinished (' || ${cause} || ')'
          ELSE coalesce(d.outcome->>'dropReason', '') END AS reason,
        count(*)::int AS n
      FROM ${dialogues} d WHERE ${inScope} GROUP BY 1, 2 ORDER BY 1, 2`),
    db.execute(sql`
      SELECT (d.outcome->>'userTurns')::int AS turns, count(*)::int AS n
      FROM ${dialogues} d WHERE ${inScope} AND d.outcome IS NOT NULL AND d.outcome ? 'userTurns' GROUP BY 1 ORDER BY 1`),
    db.execute(sql`
      SELECT coalesce(t.turn->'review'->>'decision', 'unknown') AS decision, count(*)::int AS n
      FROM ${dialogueTurns} t JOIN ${dialogues} d ON d.id = t.dialogue_id
      WHERE ${inScope} AND t.kind = 'assistant' GROUP BY 1 ORDER BY 1`),
    db.execute(sql`
      SELECT CASE
          WHEN c->'reflection'->'revision' IS NULL OR jsonb_typeof(c->'reflection'->'revision') = 'null' THEN 'no revision'
          WHEN jsonb_array_length(coalesce(c->'reflection'->'stillInvalid', '[]'::jsonb)) > 0 THEN 'revision still invalid'
          ELSE 'revised'
        END AS result, count(*)::int AS n
      FROM ${dialogueTurns} t JOIN ${dialogues} d ON d.id = t.dialogue_id,
        jsonb_array_elements(coalesce(t.turn->'review'->'candidates', '[]'::jsonb)) c
      WHERE ${inScope} AND t.kind = 'assistant' AND c ? 'reflection' GROUP BY 1 ORDER BY 1`),
    db.execute(sql`
      SELECT coalesce(t.turn->>'callName', '?') AS tool,
        CASE WHEN (t.turn->'result'->>'ok')::boolean THEN 'ok' ELSE coalesce(t.turn->'result'->'error'->>'type', 'error') END AS result,
        t.turn->'result'->>'origin' AS origin,
        coalesce(t.turn->'result'->>'simulated', 'false') = 'true' AS simulated,
        t.turn->'result'->>'simulatedCause' AS simulated_cause,
        count(*)::int AS n
      FROM ${dialogueTurns} t JOIN ${dialogues} d ON d.id = t.dialogue_id
      WHERE ${inScope} AND t.kind = 'tool' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3 NULLS FIRST, 4, 5 NULLS FIRST`),
    db.execute(sql`
      SELECT d.iteration AS iteration, d.status AS status, coalesce(d.outcome->>'dropReason', '') AS reason, count(*)::int AS n
      FROM ${dialogues} d WHERE ${inScope} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`),
  ]);
  return {
    dialogues: rowsOf(byStatus).map((r) => ({ status: String(r.status), reason: String(r.reason), n: Number(r.n) })),
    userTurns: rowsOf(byTurns).map((r) => ({ turns: Number(r.turns), n: Number(r.n) })),
    decisions: rowsOf(byDecision).map((r) => ({ decision: String(r.decision), n: Number(r.n) })),
    reflections: rowsOf(byReflection).map((r) => ({ result: String(r.result), n: Number(r.n) })),
    toolResults: rowsOf(byTool).map((r) => ({
      tool: String(r.tool),
      result: String(r.result),
      n: Number(r.n),
      ...((TOOL_RESULT_ORIGINS as readonly unknown[]).includes(r.origin) ? { origin: r.origin as ToolResultOrigin } : {}),
      ...(r.simulated === true ? { simulated: true } : {}),
      ...(r.simulated === true && (SIMULATED_TOOL_SERVER_CAUSES as readonly unknown[]).includes(r.simulated_cause)
        ? { simulatedCause: r.simulated_cause as SimulatedToolServerCause }
        : {}),
    })),
    warnings: noneKeptWarnings(
      rowsOf(byIteration).map((r) => ({ iteration: Number(r.iteration), status: String(r.status), reason: String(r.reason), n: Number(r.n) })),
    ),
  };
}

/** Per iteration whose dialogues have all ended: the no-dialogue-kept warning, if none was kept. */
function noneKeptWarnings(rows: { iteration: number; status: string; reason: string; n: number }[]): { iteration: number; warning: string }[] {
  const byIteration = new Map<number, { kept: number; dropped: number; failed: number; running: number; dropReasons: Record<string, number> }>();
  for (const r of rows) {
    const e = byIteration.get(r.iteration) ?? { kept: 0, dropped: 0, failed: 0, running: 0, dropReasons: {} };
    byIteration.set(r.iteration, e);
    if (r.status === "kept" || r.status === "dropped" || r.status === "failed" || r.status === "running") e[r.status] += r.n;
    if (r.status === "dropped") e.dropReasons[r.reason] = (e.dropReasons[r.reason] ?? 0) + r.n;
  }
  const out: { iteration: number; warning: string }[] = [];
  for (const [iteration, e] of [...byIteration].sort(([a], [b]) => a - b)) {
    const warning = e.running === 0 ? noDialogueKeptWarning(e) : undefined;
    if (warning) out.push({ iteration, warning });
  }
  return out;
}
