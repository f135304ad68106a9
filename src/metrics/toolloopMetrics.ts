/**
 * toolloop's own Prometheus metrics, in one prom-client registry per process. Counting is always on
 * (an increment is a few nanoseconds); the worker serves the registry only when asked
 * (`--metrics-address`, src/metrics/server.ts). Names follow Prometheus conventions: `toolloop_`
 * prefix, `_total` counters, base units (seconds). Label values are bounded sets (roles, endpoint
 * names, stage names, sample kinds, outcomes), never sample or request ids. Each also carries
 * `campaign` (the campaign id; empty for work of no campaign): several campaigns share a worker, and
 * their endpoint names are their own (two configs may name different servers `vllm`), so a series
 * without it would add up one campaign's failures with another's successes. A campaign's series
 * stay until the worker restarts (a few dozen per campaign).
 */
import { Counter, Histogram, Registry } from "prom-client";

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
