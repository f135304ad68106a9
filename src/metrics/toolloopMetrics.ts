/**
 * toolloop's own Prometheus metrics, in one prom-client registry per process. Counting is always on
 * (an increment is a few nanoseconds); the worker serves the registry only when asked
 * (`--metrics-address`, src/metrics/server.ts). Names follow Prometheus conventions: `toolloop_`
 * prefix, `_total` counters, base units (seconds). Label values are bounded sets (roles, endpoint
 * names, stage names, sample kinds, outcomes), never sample or request ids. Each also carries
 * `campaign` (the campaign id; empty for work of no campaign): several campaigns share a worker, and
 * their endpoint names are their own (two configs may name different servers `vllm`), so a series
 * without it would add up one campaign's failures with another's successes. A campaign's series
 * (a few dozen, a histogram's buckets each) are removed once none of them has moved for an hour
 * (forgetIdleCampaigns, run by the worker every few minutes): a worker running weekly campaigns for
 * months would otherwise keep, and serve at every scrape, the series of every campaign it ever ran.
 */
import { Counter, Histogram, Registry, type MetricValueWithName } from "prom-client";

export const metricsRegistry = new Registry();

export const llmRequests = new Counter({
  name: "toolloop_llm_requests_total",
  help: "HTTP attempts to LLM endpoints, by role, endpoint (config name), outcome (ok or the failure kind) and whether the LLM simulator answered",
  labelNames: ["campaign", "role", "endpoint", "outcome", "simulated"] as const,
  registers: [metricsRegistry],
});

export const llmRequestDuration = new Histogram({
  name: "toolloop_llm_request_duration_seconds",
  help: "Duration of HTTP attempts to LLM endpoints (sent to body read, or to failure)",
  labelNames: ["campaign", "role", "endpoint", "outcome"] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [metricsRegistry],
});

export const llmFailures = new Counter({
  name: "toolloop_llm_failures_total",
  help: "LLM requests that failed after the client's own retries (what the caller saw), by role, endpoint and error kind",
  labelNames: ["campaign", "role", "endpoint", "kind"] as const,
  registers: [metricsRegistry],
});

export const llmTokens = new Counter({
  name: "toolloop_llm_tokens_total",
  help: "Tokens reported by LLM endpoints, by role, endpoint and direction (prompt or completion)",
  labelNames: ["campaign", "role", "endpoint", "direction"] as const,
  registers: [metricsRegistry],
});

export const llmThoughtsStripped = new Counter({
  name: "toolloop_llm_thoughts_stripped_total",
  help: "Answers of reasoning models served without a reasoning parser whose leading <think> block was cut from the content (never stored), by role and endpoint",
  labelNames: ["campaign", "role", "endpoint"] as const,
  registers: [metricsRegistry],
});

export const samplesWritten = new Counter({
  name: "toolloop_samples_written_total",
  help: "Samples inserted into the sample store (new rows only), by kind and origin",
  labelNames: ["campaign", "kind", "origin"] as const,
  registers: [metricsRegistry],
});

export const verificationVerdicts = new Counter({
  name: "toolloop_verification_verdicts_total",
  help: "Verification verdicts recorded on samples, by verifier and verdict (pass or fail)",
  labelNames: ["campaign", "verifier", "verdict"] as const,
  registers: [metricsRegistry],
});

export const judgeVotesCounted = new Counter({
  name: "toolloop_judge_votes_total",
  help: "Votes of judge committees recorded (repair.labels, expand.errors, verify.judges), by verdict (unreadable: the answer could not be read)",
  labelNames: ["campaign", "verdict"] as const,
  registers: [metricsRegistry],
});

export const labelDecisions = new Counter({
  name: "toolloop_label_judgements_total",
  help: "Committee decisions on probed labels, by action (repaired, kept_label, error_seed, dropped, no_consensus, ...)",
  labelNames: ["campaign", "action"] as const,
  registers: [metricsRegistry],
});

export const stageBatches = new Counter({
  name: "toolloop_stage_batches_total",
  help: "Stage batch activities that ended in this worker, by stage and outcome (done or failed; a failed attempt may be retried)",
  labelNames: ["campaign", "stage", "outcome"] as const,
  registers: [metricsRegistry],
});

/** Counts a batch activity's end without ever throwing into it. */
export async function countStageBatch<T>(campaign: string, stage: string, fn: () => Promise<T>): Promise<T> {
  try {
    const result = await fn();
    stageBatches.inc({ campaign, stage, outcome: "done" });
    return result;
  } catch (err) {
    stageBatches.inc({ campaign, stage, outcome: "failed" });
    throw err;
  }
}

/** The metrics that carry `campaign`: all of toolloop's own. */
const CAMPAIGN_METRICS: readonly (Counter<string> | Histogram<string>)[] = [
  llmRequests,
  llmRequestDuration,
  llmFailures,
  llmTokens,
  llmThoughtsStripped,
  samplesWritten,
  verificationVerdicts,
  judgeVotesCounted,
  labelDecisions,
  stageBatches,
];

/**
 * A campaign's series unchanged this long are removed. Long against any scrape interval, so the
 * last increments were scraped; a campaign that moves again later (resumed after a weekend waiting
 * for an operator) starts its series from zero, which Prometheus reads as a counter reset.
 */
export const CAMPAIGN_SERIES_IDLE_MS = 60 * 60_000;

/** Per campaign: the sum of its series' counts at the last look, and when that sum last changed. */
const lastLook = new Map<string, { total: number; changedAt: number }>();

/**
 * Removes the series of every campaign none of whose series changed in `idleMs` (counts only grow,
 * so an unchanged sum means no increment), returning those campaigns. Series of no campaign
 * (`campaign=""`) are kept: their label sets are bounded. Cheap: a walk over the series in memory.
 */
export async function forgetIdleCampaigns(opts: { now?: number; idleMs?: number } = {}): Promise<string[]> {
  const now = opts.now ?? Date.now();
  const idleMs = opts.idleMs ?? CAMPAIGN_SERIES_IDLE_MS;
  type Series = { metric: Counter<string> | Histogram<string>; labels: Partial<Record<string, string | number>> };
  const campaigns = new Map<string, { total: number; series: Series[] }>();
  for (const metric of CAMPAIGN_METRICS) {
    const { name, values } = await metric.get();
    for (const v of values as (MetricValueWithName<string> & (typeof values)[number])[]) {
      // A histogram lists each bucket, its sum and its count: the count row names the label set (without `le`).
      if (metric instanceof Histogram && v.metricName !== `${name}_count`) continue;
      const campaign = String(v.labels.campaign ?? "");
      if (campaign === "") continue;
      let c = campaigns.get(campaign);
      if (!c) campaigns.set(campaign, (c = { total: 0, series: [] }));
      c.total += v.value;
      c.series.push({ metric, labels: v.labels });
    }
  }
  const forgotten: string[] = [];
  for (const [campaign, c] of campaigns) {
    const seen = lastLook.get(campaign);
    if (!seen || seen.total !== c.total) {
      lastLook.set(campaign, { total: c.total, changedAt: now });
      continue;
    }
    if (now - seen.changedAt < idleMs) continue;
    for (const s of c.series) s.metric.remove(s.labels);
    lastLook.delete(campaign);
    forgotten.push(campaign);
  }
  for (const campaign of lastLook.keys()) if (!campaigns.has(campaign)) lastLook.delete(campaign);
  return forgotten;
}

/** Runs forgetIdleCampaigns every `intervalMs` (unref'd: it never holds the process open); returns its stop. */
export function startForgettingIdleCampaigns(opts: { intervalMs?: number; idleMs?: number; log?: (m: string) => void } = {}): () => void {
  const timer = setInterval(
    () => {
      forgetIdleCampaigns(opts.idleMs !== undefined ? { idleMs: opts.idleMs } : {}).then(
        (gone) => {
          if (gone.length)
            opts.log?.(
              `[metrics] series of ${gone.length} campaign(s) idle on this worker removed: ${gone.slice(0, 5).join(", ")}${gone.length > 5 ? ", ..." : ""}`,
            );
        },
        (err: unknown) => opts.log?.(`[metrics] idle campaigns' series not removed: ${err instanceof Error ? err.message : String(err)}`),
      );
    },
    opts.intervalMs ?? 5 * 60_000,
  );
  timer.unref();
  return () => clearInterval(timer);
}
