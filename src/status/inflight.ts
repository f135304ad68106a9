/**
 * The items of batches still running, from the progress their activities heartbeat (read by
 * src/status/workflowFacts.ts from Temporal's description of the running workflows): without them a
 * stage of a few large batches reads 0% until its first batch finishes. Pure.
 */
import type { StageFacts } from "./campaignView.js";

/** One batch activity Temporal has pending, with its batch (from the activity's input) and latest heartbeat details. */
export interface InflightBatch {
  iteration: number;
  stage: string;
  batchIndex: number;
  /** The heartbeat details as decoded (the stage handler's progress type), undefined when none was sent. */
  details: unknown;
  /** Running on a worker now (STARTED), not waiting to be (re)tried. */
  running: boolean;
  /** The attempt Temporal is at and the last attempt's failure, once an attempt failed. */
  lastFailure?: { attempt: number; type: string; message: string };
}

/**
 * What `campaign status` says of batches an older worker refused (StageNotOnThisWorker, a rolling
 * deploy; activities/stageOnWorker.ts): one note per stage, with the refusal, which names the worker
 * and its task queue. Without it the stage only read as running without progress until the limit.
 */
export function refusedBatchNotes(batches: readonly InflightBatch[], refusedType: string): string[] {
  const byStage = new Map<string, InflightBatch[]>();
  for (const b of batches) {
    if (b.lastFailure?.type !== refusedType) continue;
    byStage.set(b.stage, [...(byStage.get(b.stage) ?? []), b]);
  }
  return [...byStage].map(([stage, bs]) => {
    const latest = bs.reduce((a, b) => ((b.lastFailure?.attempt ?? 0) > (a.lastFailure?.attempt ?? 0) ? b : a));
    const which = bs.length === 1 ? `batch ${latest.batchIndex + 1}` : `${bs.length} batches`;
    return `${stage}: ${which} refused by an older worker (without the stage, a field of its config or a value it accepts), retried for another (attempt ${latest.lastFailure!.attempt}): ${latest.lastFailure!.message}`;
  });
}

/**
 * Stages whose heartbeat `done` is not the batch's: evaluate.bfcl reports the current category's
 * entries (done/total restart at each category), so adding it would make the stage go backwards; its
 * `settled` (entries of the batch's finished categories plus the current one's) is the batch's.
 */
const NOT_BATCH_PROGRESS = new Set(["evaluate.bfcl"]);

const count = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);

/**
 * Items of one batch settled so far, by the handlers' progress shapes: `done` (verify.judges,
 * repair.labels, probe.greedy, scoring, evaluate.bfclFast, expand.errors: its seeds, as the plan
 * counts) or `settled` (synthesize.singleTurn, synthesize.multiTurn), at most the batch's `total`
 * when it gives one (expand.errors: at most its `seeds`). Undefined for
 * shapes without either (select.nextRound's phase) and for anything else: unknown is not zero.
 */
export function batchProgressItems(stage: string, details: unknown): number | undefined {
  if (details === null || typeof details !== "object" || Array.isArray(details)) return undefined;
  const d = details as { done?: unknown; settled?: unknown; total?: unknown; seeds?: unknown };
  // A week-long campaign's full evaluation is a few batches of hours each: without this it read 0% until one ended.
  if (NOT_BATCH_PROGRESS.has(stage)) return count(d.settled);
  // expand.errors' items are seeds: its `settled` and `total` count slots (perSeed a seed), so only
  // `done` says how many items (a heartbeat of a worker from before it sent `done` says nothing).
  if (stage === "expand.errors") return count(d.done) === undefined ? undefined : Math.min(count(d.done) as number, count(d.seeds) ?? Infinity);
  const items = count(d.done) ?? count(d.settled);
  if (items === undefined) return undefined;
  const total = count(d.total);
  return total === undefined ? items : Math.min(items, total);
}

export const batchKey = (stage: string, batchIndex: number) => `${stage}#${batchIndex}`;

export interface InflightItems {
  batches: number;
  items: number;
  /** One of them runs on a worker now. */
  running: boolean;
}

/**
 * The running batches' settled items per stage: a batch PostgreSQL already records as finished
 * (`finished`: batchKey of its stage_batches row) is counted there, so its heartbeat is ignored; a
 * batch listed twice counts once; a shape batchProgressItems does not know counts nothing.
 */
export function inflightByStage(batches: InflightBatch[], finished: ReadonlySet<string> = new Set()): Map<string, InflightItems> {
  const byBatch = new Map<string, { stage: string; items: number; running: boolean }>();
  for (const b of batches) {
    const key = batchKey(b.stage, b.batchIndex);
    if (finished.has(key)) continue;
    const items = batchProgressItems(b.stage, b.details);
    if (items === undefined) continue;
    const prev = byBatch.get(key);
    byBatch.set(key, { stage: b.stage, items: Math.max(items, prev?.items ?? 0), running: b.running || (prev?.running ?? false) });
  }
  const out = new Map<string, InflightItems>();
  for (const b of byBatch.values()) {
    const s = out.get(b.stage) ?? { batches: 0, items: 0, running: false };
    out.set(b.stage, { batches: s.batches + 1, items: s.items + b.items, running: s.running || b.running });
  }
  return out;
}

/** What running batches add to a stage's done items: theirs, never past its total. */
export const addableItems = (inflight: number, done: number, total: number | undefined): number =>
  total === undefined ? inflight : Math.max(0, Math.min(inflight, total - done));

/**
 * Adds the running batches' items (inflightByStage) to the stages still running: `itemsDone` grows
 * by them, never above `itemsTotal`, and `inFlight` says so. Not synthesize.multiTurn, whose
 * itemsDone already counts its running batches' dialogues (readCampaignFacts).
 */
export function withInflight(stages: StageFacts[], batches: InflightBatch[], finished: ReadonlySet<string>): StageFacts[] {
  const byStage = inflightByStage(batches, finished);
  return stages.map((s) => {
    const f = byStage.get(s.name);
    if (!f || s.status !== "running" || s.dialogues) return s;
    const items = addableItems(f.items, s.itemsDone, s.itemsTotal);
    return { ...s, itemsDone: s.itemsDone + items, inFlight: { batches: f.batches, items, running: f.running } };
  });
}

/**
 * `start --wait`'s iteration status (the workflow's own counts: batches whose completion it has
 * processed) with the running batches' items added to each running stage. Query the status before
 * describing the activities: a batch finishing in between is then in neither, never in both.
 */
export function iterationWithInflight<S extends { name: string; state: string; itemsDone: number; itemsTotal: number }>(
  stages: S[],
  batches: InflightBatch[],
): S[] {
  const byStage = inflightByStage(batches);
  return stages.map((s) => {
    const f = byStage.get(s.name);
    // A stage planned but not yet given its total (0) has nothing to add to.
    if (!f || s.state !== "running" || s.itemsTotal <= 0) return s;
    return { ...s, itemsDone: s.itemsDone + addableItems(f.items, s.itemsDone, s.itemsTotal) };
  });
}
