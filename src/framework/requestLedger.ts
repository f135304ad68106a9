/**
 * The usage sink stages give their LLM clients: every request attempt is written to the
 * `llm_requests` ledger before it is sent and completed when its outcome is known, so a killed
 * attempt's requests are counted (status "sent") and nothing is counted twice (rows are keyed by the
 * request id). Writes are group-committed: while one write is in flight the next ones queue, so at
 * a thousand requests a second the ledger costs a few statements a second, not one per request.
 */
import type { Db } from "../db/client.js";
import { deleteUnsentLlmRequests, upsertLlmRequests, type LlmRequestRow } from "../db/repos/usage.js";
import type { RequestStart, UsageEvent, UsageSink } from "../llm/usage.js";

export interface LedgerKey {
  campaignId: string;
  iteration: number;
  stage: string;
  /** The batch making the requests; null for a stage's plan or finalize step. */
  batchIndex: number | null;
}

/** Rows per statement: keeps one statement's size well within limits. */
const ROWS_PER_STATEMENT = 1000;

/**
 * Before a write that would carry only a few rows, wait this long for more: at hundreds of requests
 * a second, a write per round trip was a statement every millisecond or two, each costing the
 * worker more than the LLM request it records. The wait delays a request's send by at most this
 * much, small beside any model's latency.
 */
const LINGER_MS = 40;
const LINGER_UNTIL_ROWS = 64;

/** A ledger row, or the withdrawal of one whose request was never sent. */
type LedgerRow = Omit<LlmRequestRow, "status"> & { status: LlmRequestRow["status"] | "unsent" };

export class RequestLedger implements UsageSink {
  private pending = new Map<string, LedgerRow>();
  private announced: { resolve(): void; reject(err: unknown): void }[] = [];
  private writing: Promise<void> | undefined;
  private lastError: unknown;

  constructor(
    private readonly db: Db,
    private readonly key: LedgerKey,
  ) {}

  sending(e: RequestStart): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.set(e.requestId, this.row(e.requestId, e.role, e.model, "sent", 0, 0, false, false));
      this.announced.push({ resolve, reject });
      this.startWriting();
    });
  }

  withdrawn(e: RequestStart): void {
    this.pending.set(e.requestId, this.row(e.requestId, e.role, e.model, "unsent", 0, 0, false, false));
    this.startWriting();
  }

  record(e: UsageEvent): void {
    this.pending.set(
      e.requestId,
      this.row(e.requestId, e.role, e.model, e.failed ? "failed" : "ok", e.promptTokens, e.completionTokens, true, e.simulated ?? false),
    );
    this.startWriting();
  }

  /** Waits until everything recorded so far is written; throws if the last write failed. */
  async drain(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.pending.size > 0) {
      this.startWriting();
      while (this.writing) await this.writing;
    }
    if (this.pending.size > 0) throw this.lastError ?? new Error("request ledger: rows left unwritten");
  }

  private startWriting(): void {
    this.writing ??= this.writeLoop().finally(() => {
      this.writing = undefined;
    });
  }

  private async writeLoop(): Promise<void> {
    while (this.pending.size > 0) {
      if (this.pending.size < LINGER_UNTIL_ROWS) await new Promise((r) => setTimeout(r, LINGER_MS));
      const rows = [...this.pending.values()];
      const waiting = this.announced;
      this.pending = new Map();
      this.announced = [];
      try {
        const written = rows.filter((r): r is LlmRequestRow => r.status !== "unsent");
        for (let i = 0; i < written.length; i += ROWS_PER_STATEMENT) await upsertLlmRequests(this.db, written.slice(i, i + ROWS_PER_STATEMENT));
        await deleteUnsentLlmRequests(
          this.db,
          rows.filter((r) => r.status === "unsent").map((r) => r.id),
        );
        this.lastError = undefined;
        for (const w of waiting) w.resolve();
      } catch (err) {
        // The pool already retried a transient outage for a while. Requests waiting to be announced
        // fail unsent; outcomes are kept for the next write (or drain) so none is lost.
        this.lastError = err;
        for (const w of waiting) w.reject(err);
        for (const r of rows) if (r.status !== "sent" && !this.pending.has(r.id)) this.pending.set(r.id, r);
        return;
      }
    }
  }

  private row(
    id: string,
    role: string,
    model: string,
    status: LlmRequestRow["status"] | "unsent",
    promptTokens: number,
    completionTokens: number,
    finished: boolean,
    simulated: boolean,
  ): LedgerRow {
    return { id, ...this.key, role, model, status, promptTokens, completionTokens, finished, simulated };
  }
}
