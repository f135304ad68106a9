/**
 * The usage sink stages give their LLM clients: every request attempt is written to the
 * `llm_requests` ledger before it is sent and completed when its outcome is known, so a killed
 * attempt's requests are counted (status "sent") and nothing is counted twice (rows are keyed by the
 * request id). Writes are group-committed: while one write is in flight the next ones queue, so at
 * a thousand requests a second the ledger costs a few statements a second, not one per request. The
 * ledgers of one database handle (a worker's concurrent batches) share one writer, so their rows go
 * out together: one statement per linger for the whole worker, not one per batch.
 */
import type { Db } from "../db/client.js";
import { describeQueryError } from "../db/queryError.js";
import { thrownMessage } from "../util/thrown.js";
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
  /** Rows not yet handed to a write, and the announcements waiting for them. Read by the writer. */
  pending = new Map<string, LedgerRow>();
  announced: { resolve(): void; reject(err: unknown): void }[] = [];
  lastError: unknown;
  /** The write carrying rows of this ledger, while one is under way (it never rejects). */
  inFlight: Promise<void> | undefined;
  /** Called when the next write carrying rows of this ledger has finished, whatever its outcome. */
  afterNextWrite: (() => void)[] = [];
  private readonly writer: LedgerWriter;

  constructor(
    db: Db,
    private readonly key: LedgerKey,
  ) {
    this.writer = writerFor(db);
  }

  sending(e: RequestStart): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.set(e.requestId, this.row(e.requestId, e.role, e.model, "sent", 0, 0, false, false));
      this.announced.push({ resolve, reject });
      this.writer.start(this);
    });
  }

  withdrawn(e: RequestStart): void {
    this.pending.set(e.requestId, this.row(e.requestId, e.role, e.model, "unsent", 0, 0, false, false));
    this.writer.start(this);
  }

  record(e: UsageEvent): void {
    this.pending.set(
      e.requestId,
      this.row(e.requestId, e.role, e.model, e.failed ? "failed" : "ok", e.promptTokens, e.completionTokens, true, e.simulated ?? false),
    );
    this.writer.start(this);
  }

  /** Waits until everything recorded so far is written; throws if the last write failed. */
  async drain(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    // The writer serves other ledgers too: wait for the writes that carry this ledger's rows, not for it to go idle.
    while (this.pending.size > 0) {
      const written = new Promise<void>((resolve) => this.afterNextWrite.push(resolve));
      this.writer.start(this);
      await written;
      if (this.lastError !== undefined) break;
    }
    if (this.pending.size > 0) {
      // drizzle's own message is the whole statement and every row's parameters (hundreds of KB at
      // 1000 rows a statement) in the worker's log and the activity's failure; the driver's error it
      // wraps says why (and classifies the failure as the database's), so that is the cause kept.
      const err = this.lastError;
      const query = describeQueryError(err);
      const why = err === undefined ? "rows left unwritten" : (query ?? thrownMessage(err));
      throw new Error(`request ledger: ${this.pending.size === 1 ? "1 row" : `${this.pending.size} rows`} not written: ${why}`, {
        cause: query !== undefined ? (err as Error).cause : err,
      });
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
    const k = this.key;
    return {
      id,
      campaignId: k.campaignId,
      iteration: k.iteration,
      stage: k.stage,
      batchIndex: k.batchIndex,
      role,
      model,
      status,
      promptTokens,
      completionTokens,
      finished,
      simulated,
    };
  }
}

/**
 * The write loop of every ledger of one database handle. Each write takes the rows of all ledgers
 * with some pending; a failed write fails the announcements it carried and keeps the outcomes it
 * carried in their ledgers for the next write (or drain), as one ledger alone would.
 */
class LedgerWriter {
  /** The loop is running; cleared by the loop itself in the same step as it decides to stop, so a row added later always starts a new one. */
  private running = false;
  private readonly dirty = new Set<RequestLedger>();

  constructor(private readonly db: Db) {}

  start(ledger: RequestLedger): void {
    this.dirty.add(ledger);
    if (this.running) return;
    this.running = true;
    this.writeLoop().catch((err: unknown) => {
      // Not expected (writes report their own failures): leave the error where drain() finds it.
      this.running = false;
      for (const l of this.dirty) l.lastError = err;
    });
  }

  private pendingRows(): number {
    let n = 0;
    for (const l of this.dirty) n += l.pending.size;
    return n;
  }

  /** Never rejects: a failed write is reported to the ledgers it carried, then the loop stops until the next row. */
  private async writeLoop(): Promise<void> {
    for (;;) {
      if (this.pendingRows() === 0) {
        this.running = false;
        return;
      }
      if (this.pendingRows() < LINGER_UNTIL_ROWS) await new Promise((r) => setTimeout(r, LINGER_MS));
      const taken: { ledger: RequestLedger; rows: LedgerRow[]; waiting: RequestLedger["announced"]; after: (() => void)[] }[] = [];
      let settle!: () => void;
      const inFlight = new Promise<void>((resolve) => (settle = resolve));
      for (const ledger of this.dirty) {
        taken.push({ ledger, rows: [...ledger.pending.values()], waiting: ledger.announced, after: ledger.afterNextWrite });
        ledger.pending = new Map();
        ledger.announced = [];
        ledger.afterNextWrite = [];
        ledger.inFlight = inFlight;
      }
      this.dirty.clear();
      let failed = false;
      try {
        const rows = taken.flatMap((t) => t.rows);
        const written = rows.filter((r): r is LlmRequestRow => r.status !== "unsent");
        for (let i = 0; i < written.length; i += ROWS_PER_STATEMENT) await upsertLlmRequests(this.db, written.slice(i, i + ROWS_PER_STATEMENT));
        await deleteUnsentLlmRequests(
          this.db,
          rows.filter((r) => r.status === "unsent").map((r) => r.id),
        );
        for (const t of taken) {
          t.ledger.lastError = undefined;
          for (const w of t.waiting) w.resolve();
        }
      } catch (err) {
        // The pool already retried a transient outage for a while. Requests waiting to be announced
        // fail unsent; outcomes are kept for the next write (or drain) so none is lost.
        failed = true;
        for (const t of taken) {
          t.ledger.lastError = err;
          for (const w of t.waiting) w.reject(err);
          for (const r of t.rows) if (r.status !== "sent" && !t.ledger.pending.has(r.id)) t.ledger.pending.set(r.id, r);
          if (t.ledger.pending.size > 0) this.dirty.add(t.ledger);
        }
      } finally {
        for (const t of taken) {
          if (t.ledger.inFlight === inFlight) t.ledger.inFlight = undefined;
          for (const after of t.after) after();
        }
        settle();
      }
      if (failed) {
        this.running = false;
        return;
      }
    }
  }
}

const writers = new WeakMap<Db, LedgerWriter>();
function writerFor(db: Db): LedgerWriter {
  let w = writers.get(db);
  if (!w) {
    w = new LedgerWriter(db);
    writers.set(db, w);
  }
  return w;
}
