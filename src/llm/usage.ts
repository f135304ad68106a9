/** Token accounting: every HTTP call an LlmClient completes is reported to a UsageSink. */

export interface UsageEvent {
  role: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** The call produced no usable response (HTTP error, timeout, unreadable body); tokens are 0. */
  failed: boolean;
}

export interface UsageSink {
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
