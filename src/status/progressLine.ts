/**
 * A long stage's progress as one line: done/total, percent, the rate over a recent window and the
 * time left at that rate (`synthesize.singleTurn  1,250/4,000 (31%)  42.1 items/s  ETA 1m05s`).
 * The rate comes from batch completion times in PostgreSQL, so it needs no worker; a stage that stops
 * finishing batches decays to no rate (and no ETA) once the window has passed. Running batches'
 * items (their heartbeats) count only where they were certainly settled in the time divided by:
 * see `sinceStart`.
 */

/** How far back batch completions count toward the rate. */
export const RATE_WINDOW_MS = 5 * 60_000;

export interface ProgressInput {
  done: number;
  total: number;
  /** Items of the batches finished within the window ending at `nowMs`. */
  windowItems: number;
  nowMs: number;
  /** When the stage run started: a window reaching before it is cut there (a young stage is not diluted). */
  startedAtMs?: number;
  windowMs?: number;
  /**
   * Every item the stage settled since `startedAtMs` (finished batches and running ones), given only
   * when that count is exact (the stage's first run) and running batches add to it. It gives the rate
   * of a stage younger than the window (all of it happened inside), and of an older one no batch
   * finished within the window (the run's average rate, while a batch runs on a worker: `live`).
   * Batch completions over the window stay the rate of an older stage otherwise: adding running
   * batches' items there would count items settled before the window as if settled in it.
   */
  sinceStart?: { items: number; live: boolean };
}

export interface StageProgress {
  done: number;
  total: number;
  /** 0..1, clamped. */
  fraction: number;
  /** Items per second over the window; undefined when nothing finished in it. */
  ratePerSec?: number;
  /** Seconds left at that rate; undefined without a rate, 0 when done. */
  etaSeconds?: number;
}

/**
 * The items a status shows as done. A succeeded stage is done whatever its counter says: a
 * cluster-job stage (train.*, serve.policy) is planned as one item, its job, and nothing counts
 * that item when the job ends (it runs no batch activity; the job's own progress, when it reports
 * any, is in steps and need not include the last one), so its counter can stay at 0 of 1.
 */
export function shownItemsDone(state: string, done: number, total: number): number {
  return state === "succeeded" && total > 0 ? Math.max(done, total) : done;
}

export function stageProgress(p: ProgressInput): StageProgress {
  const total = Math.max(0, p.total);
  const done = Math.max(0, p.done);
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const windowMs = p.windowMs ?? RATE_WINDOW_MS;
  const elapsed = p.startedAtMs === undefined ? windowMs : Math.min(windowMs, p.nowMs - p.startedAtMs);
  const out: StageProgress = { done, total, fraction };
  const age = p.startedAtMs === undefined ? undefined : p.nowMs - p.startedAtMs;
  let items = p.windowItems;
  let over = elapsed;
  if (p.sinceStart && age !== undefined && age > 0 && (age <= windowMs || (p.windowItems <= 0 && p.sinceStart.live))) {
    items = p.sinceStart.items;
    over = age;
  }
  if (over > 0 && items > 0) {
    out.ratePerSec = items / (over / 1000);
    out.etaSeconds = Math.max(0, total - done) / out.ratePerSec;
  } else if (total > 0 && done >= total) {
    out.etaSeconds = 0;
  }
  return out;
}

const INTEGER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** 4000 -> "4,000". */
export const formatCount = (n: number): string => INTEGER.format(n);

/** 42.06 -> "42.1", 1234.5 -> "1,235", 0.042 -> "0.04". */
export function formatRate(perSec: number): string {
  if (perSec >= 100) return INTEGER.format(perSec);
  if (perSec >= 1) return perSec.toFixed(1);
  return perSec
    .toPrecision(2)
    .replace(/(\.\d*?)0+$/, "$1")
    .replace(/\.$/, "");
}

/** Seconds as `45s`, `1m05s`, `2h03m`, `3d04h` (rounded up to the shown unit's resolution). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  const m = Math.ceil(s / 60);
  if (m < 24 * 60) return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
  const h = Math.ceil(m / 60);
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

/**
 * `name  done/total (pct%)  rate items/s  ETA d`; `note` replaces rate and ETA (a stage waiting for
 * an operator has neither), `eta` replaces the ETA alone (a paused campaign's stage: `paused`).
 */
export function renderProgressLine(name: string, p: StageProgress, opts: { unit?: string; note?: string; eta?: string; nameWidth?: number } = {}): string {
  const unit = opts.unit ?? "items";
  const pct = `${Math.floor(p.fraction * 100)}%`;
  const head = `${name.padEnd(opts.nameWidth ?? 0)}  ${formatCount(p.done)}/${formatCount(p.total)} (${pct})`;
  if (opts.note !== undefined) return `${head}  ${opts.note}`;
  if (p.done >= p.total && p.total > 0) return head;
  const rate = p.ratePerSec === undefined ? `-- ${unit}/s` : `${formatRate(p.ratePerSec)} ${unit}/s`;
  const eta = opts.eta ?? (p.etaSeconds === undefined ? "ETA --" : `ETA ${formatDuration(p.etaSeconds)}`);
  return `${head}  ${rate}  ${eta}`;
}
