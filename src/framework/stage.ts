/**
 * The stage framework's contract. A stage is planned into batches, each batch runs in one activity
 * (resumable from its heartbeat details), and a finalize step sums the batch results. Nothing here
 * imports Temporal: activities adapt it.
 */
import type { CampaignConfig } from "../config/campaignConfig.js";
import type { Db } from "../db/client.js";
import type { SampleRow } from "../db/repos/samples.js";
import type { LlmClient, UsageSink } from "../llm/client.js";
import type { ExportProvenance, SampleProvenance } from "../provenance/provenance.js";
import type { RewardConfig } from "../reward/config.js";
import { afterFixAdvice, type OnStageFailure, type StageFailurePolicy } from "./stageFailureAdvice.js";
import { classAdvice, describeClass, dominantClass, type EndpointChecks } from "./endpointFailureClass.js";

export interface StageDeps {
  db: Db;
  /**
   * Builds an LLM client for a role of the campaign, recording usage to the sink. `campaignId` is
   * whose share of the endpoint's concurrency slots its requests take (src/llm/endpointLimiter.ts).
   */
  createLlm(config: CampaignConfig, role: RoleName, usage: UsageSink, campaignId?: string): LlmClient;
  /** Directory campaign outputs go under (config.output.dir is resolved against it). */
  baseDir: string;
  /**
   * The URL of a reward service for a reward config, hosted by this worker (cluster role); absent
   * where the worker hosts none (then `cluster.rewardService.url` must name one).
   */
  rewardService?(config: RewardConfig, bind: { host: string; port: number }): Promise<string>;
  log(message: string): void;
}

export type { RoleName } from "./stageSpec.js";
import type { RoleName } from "./stageSpec.js";

/** The shape every `stages[]` entry has; each stage's spec adds its own fields. */
export interface StageEntry {
  name: string;
  batchSize: number;
}

export interface StageContext<S extends StageEntry = StageEntry> {
  campaignId: string;
  iteration: number;
  config: CampaignConfig;
  stage: S;
  deps: StageDeps;
  signal: AbortSignal;
  /**
   * The LLM client of a configured role, its every request recorded in the campaign's request
   * ledger before it is sent (the framework drains the ledger when the step ends).
   */
  llm(role: RoleName): LlmClient;
  /** For stages that read a selection: a page of the samples planned into a batch, in id order. */
  batchSamples(batchIndex: number, page: { afterId?: string; limit: number }): Promise<SampleRow[]>;
  /**
   * model_versions.id of the served policy the `policy` role points at in this step (an earlier
   * iteration's, or this one's after serve.policy); null when it is the configured base policy.
   */
  policyVersionId: string | null;
  /** This iteration's output folder: config.output.dir under the worker's base dir, per campaign and iteration. */
  outputDir(): string;
  /**
   * What a sample this step writes records in `metadata.provenance`: the roles whose answers made it
   * (models and endpoints, no keys), seed, config hash and version, code version, and `simulated`
   * when those roles' answers in this step (or `alsoSimulated`: e.g. its parent's) came from the simulator.
   */
  sampleProvenance(roles: readonly RoleName[], opts?: { alsoSimulated?: boolean }): Promise<SampleProvenance>;
  /** What an export manifest records: the campaign-level provenance, every role, and per-role simulated flags from the request ledger. */
  exportProvenance(): Promise<ExportProvenance>;
}

/** Counters a batch reports; every value is a count so results can be summed. */
export type BatchResult = Record<string, number> & { items: number };

export interface BatchProgress<D> {
  /** Details from the last heartbeat of an earlier attempt of this batch, if any. */
  resumeFrom: D | undefined;
  /** Records progress (sent as the activity's heartbeat details). */
  report(details: D): void;
  /**
   * Records a failure that is not an item's own (the endpoint refused or could not do what the stage
   * asks). The batch's first is kept with its done record and handed to finalize (StageNotes), which
   * decides whether the stage failed as a whole. Absent where a caller keeps no notes (tests).
   */
  noteFailure?(message: string, failureClass?: string): void;
}

/**
 * What finalize gets beside the batch counts: the first failure each batch noted (noteFailure), in
 * batch order, and the first of each failure class (endpointFailureClass.ts) over the batches, so the
 * advice for the class most failures fell in shows one of that class.
 */
export interface StageNotes {
  firstFailures: string[];
  firstFailureByClass?: Record<string, string>;
}

export interface StagePlan {
  batches: number;
  /** Work items the stage will process (samples to write, samples to verify, ...). */
  items: number;
}

export interface StageHandler<S extends StageEntry = StageEntry, D = unknown> {
  name: S["name"];
  /** Plans the stage's batches; stages that read a sample selection are planned by the framework instead. */
  plan?(ctx: StageContext<S>): Promise<StagePlan>;
  runBatch(ctx: StageContext<S>, batchIndex: number, progress: BatchProgress<D>): Promise<BatchResult>;
  /** Summary persisted as the stage's result; the default sums the batch counters. */
  finalize?(ctx: StageContext<S>, batches: BatchResult[], notes?: StageNotes): Promise<Record<string, unknown>>;
}

export function sumBatchResults(batches: BatchResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of batches) for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Thrown when a stage cannot proceed for a reason a retry will not fix (bad data, bad config). */
export class StageInputError extends Error {
  override name = "StageInputError";
}

/**
 * Thrown by finalize when no item of the stage succeeded and some failed for a reason outside them
 * (an endpoint that cannot do what the stage asks): the stage fails for an operator without retries,
 * and the framework forgets its done batches so that retry-stage runs them again once the endpoint is
 * fixed (each batch skips the work already stored). A stage whose items all failed for reasons of
 * their own is not this: it succeeds with them counted.
 */
export class EveryItemFailedError extends StageInputError {
  override name = "EveryItemFailedError";
}

/**
 * Fails a finalized stage in which no item succeeded and some failed for a reason outside them: its
 * name, the count, the first such failure as it came, and what to check. Items that failed only for
 * reasons of their own leave it succeeded.
 */
export function failIfNothingSucceeded(
  stage: string,
  r: {
    succeeded: number;
    failed: number;
    failedByEndpoint: number;
    firstFailures: readonly string[];
    /** What the endpoint must do for the stage: one text, or one per class of failure (endpointFailureClass.ts). */
    check: string | EndpointChecks;
    /** The failures not the samples' own, per class (failureClassCounts of the batches); absent or empty: not counted. */
    classes?: ReadonlyMap<string, number>;
    /** The first failure of each class (StageNotes.firstFailureByClass); absent for batches of an older build. */
    firstFailureByClass?: Readonly<Record<string, string>>;
  },
  policy: StageFailurePolicy,
): void {
  if (r.succeeded > 0 || r.failedByEndpoint === 0) return;
  const first = r.firstFailures[0] ?? "(not recorded)";
  // Its done batches are forgotten (activities), so the retry asks its samples again.
  const again = policy.onStageFailure === "skip" || policy.onStageFailure === "fail" ? "" : " (its samples are asked again)";
  const checks: EndpointChecks = typeof r.check === "string" ? { any: r.check } : r.check;
  const top = r.classes ? dominantClass(r.classes) : undefined;
  if (top) {
    // Named by what happened (all refused with HTTP 400, all answered without prompt_logprobs), with that class's fix.
    const share = top.count === r.failedByEndpoint ? `all ${top.count}` : `${top.count} of the ${r.failedByEndpoint} (the most)`;
    // The example is of the class named (the first noted overall may be another's); the others are counted by class.
    const firstOfTop = r.firstFailureByClass?.[top.cls];
    const example = firstOfTop !== undefined ? `The first of them: ${firstOfTop}` : `The first: ${first}`;
    const others = [...(r.classes ?? [])].filter(([cls, n]) => cls !== top.cls && n > 0).map(([cls, n]) => `${n} ${describeClass(cls)}`);
    const rest = r.failedByEndpoint - top.count;
    const otherCounts = rest > 0 ? ` The other ${rest}: ${others.length > 0 ? others.join(", ") : "not classed"}.` : "";
    throw new EveryItemFailedError(
      `${stage}: no sample succeeded; ${r.failed} failed, ${r.failedByEndpoint} of them for a reason that is not the sample's own: ${share} ${describeClass(top.cls)}. ` +
        `${example}.${otherCounts} ${classAdvice(top.cls, checks, policy)}${again}`,
    );
  }
  const check = checks.any;
  throw new EveryItemFailedError(
    `${stage}: no sample succeeded; ${r.failed} failed, ${r.failedByEndpoint} of them for a reason that is not the sample's own. The first: ${first}. ${check}; ${afterFixAdvice(policy.onStageFailure, policy.campaignId)}${again}`,
  );
}

/** A stage's failure policy from its context: the frozen config's onStageFailure and the campaign. */
export function stageFailurePolicy(ctx: { campaignId: string; config: { onStageFailure?: OnStageFailure } }): StageFailurePolicy {
  return { onStageFailure: ctx.config.onStageFailure, campaignId: ctx.campaignId };
}

/** A batch result as stored with its done record: the counts, the first failure it noted and the first of each class, if any. */
export function splitStoredBatch(stored: unknown): { counts: BatchResult; firstFailure?: string; firstFailureByClass?: Record<string, string> } {
  const counts: Record<string, number> = {};
  let firstFailure: string | undefined;
  const byClass: Record<string, string> = {};
  for (const [k, v] of Object.entries((stored ?? {}) as Record<string, unknown>)) {
    if (typeof v === "number") counts[k] = v;
    else if (k === FIRST_FAILURE_KEY && typeof v === "string") firstFailure = v;
    else if (k.startsWith(FIRST_FAILURE_OF_CLASS_PREFIX) && typeof v === "string") byClass[k.slice(FIRST_FAILURE_OF_CLASS_PREFIX.length)] = v;
  }
  return {
    counts: { items: 0, ...counts },
    ...(firstFailure !== undefined ? { firstFailure } : {}),
    ...(Object.keys(byClass).length > 0 ? { firstFailureByClass: byClass } : {}),
  };
}

/** The key a batch's first noted failure is stored under, beside its counts. */
export const FIRST_FAILURE_KEY = "firstFailure";
/** The prefix of the keys a batch's first failure of each class is stored under (`firstFailureOf.http400`). */
export const FIRST_FAILURE_OF_CLASS_PREFIX = "firstFailureOf.";

/**
 * A batch's noted failures (BatchProgress.noteFailure): the first, and the first of each class, each
 * cut to `maxChars`; `stored()` is what goes beside the batch's counts in its done record.
 */
export class BatchFailureNotes {
  private first: string | undefined;
  private readonly byClass: Record<string, string> = {};
  constructor(private readonly maxChars = 2000) {}

  note(message: string, failureClass?: string): void {
    this.first ??= message.slice(0, this.maxChars);
    if (failureClass !== undefined && !Object.hasOwn(this.byClass, failureClass)) this.byClass[failureClass] = message.slice(0, this.maxChars);
  }

  stored(): Record<string, string> {
    if (this.first === undefined) return {};
    const out: Record<string, string> = { [FIRST_FAILURE_KEY]: this.first };
    for (const [cls, message] of Object.entries(this.byClass)) out[FIRST_FAILURE_OF_CLASS_PREFIX + cls] = message;
    return out;
  }
}

/** The notes finalize gets from the stored batches, in batch order: each batch's first failure, and the first of each class over them. */
export function stageNotesOf(stored: readonly ReturnType<typeof splitStoredBatch>[]): StageNotes {
  const firstFailureByClass: Record<string, string> = {};
  for (const b of stored) for (const [cls, message] of Object.entries(b.firstFailureByClass ?? {})) firstFailureByClass[cls] ??= message;
  return { firstFailures: stored.flatMap((b) => (b.firstFailure === undefined ? [] : [b.firstFailure])), firstFailureByClass };
}

/** Every sample planned into a batch, in id order (batches hold hundreds to a few thousand). */
export async function allBatchSamples(ctx: Pick<StageContext, "batchSamples">, batchIndex: number, pageSize = 1000): Promise<SampleRow[]> {
  const rows: SampleRow[] = [];
  for (let afterId: string | undefined; ;) {
    const page = await ctx.batchSamples(batchIndex, { afterId, limit: pageSize });
    rows.push(...page);
    if (page.length < pageSize) return rows;
    afterId = page[page.length - 1]?.id;
  }
}
