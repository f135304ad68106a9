/**
 * Token accounting: every HTTP request attempt an LlmClient makes is announced to its UsageSink
 * before it is sent (`sending`, which may hold the request back until it is durably recorded) and
 * reported once its outcome is known (`record`). Both carry the attempt's request id, which the
 * request also carries as its X-Request-Id header.
 */

export interface RequestStart {
  requestId: string;
  role: string;
  model: string;
}

export interface UsageEvent {
  requestId: string;
  role: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** The call produced no usable response (HTTP error, timeout, unreadable body); tokens are 0. */
  failed: boolean;
  /** The response came from the toolloop LLM simulator (it marks every response); false when unknown (no response). */
  simulated?: boolean;
}

export interface UsageSink {
  /** Called before the request is sent; the request waits for a returned promise (a durable ledger's write). */
  sending?(e: RequestStart): void | Promise<void>;
  /** An announced request that was never sent after all (its call was aborted while it was being announced). */
  withdrawn?(e: RequestStart): void;
  record(e: UsageEvent): void;
}

export interface UsageRow {
  role: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  failures: number;
}

/** Sums events per (role, model) until drained; a stage drains it once and persists the rows. */
export class UsageAccumulator implements UsageSink {
  private rows = new Map<string, UsageRow>();

  record(e: UsageEvent): void {
    // JSON keeps the key unambiguous whatever characters role and model contain.
    const key = JSON.stringify([e.role, e.model]);
    let row = this.rows.get(key);
    if (!row) {
      row = { role: e.role, model: e.model, requests: 0, promptTokens: 0, completionTokens: 0, failures: 0 };
      this.rows.set(key, row);
    }
    row.requests++;
    row.promptTokens += e.promptTokens;
    row.completionTokens += e.completionTokens;
    if (e.failed) row.failures++;
  }

  /** Returns one row per (role, model) seen since the last drain, and empties the accumulator. */
  drain(): UsageRow[] {
    const out = [...this.rows.values()];
    this.rows = new Map();
    return out;
  }
}
