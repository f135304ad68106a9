/**
 * The stage framework's contract. A stage is planned into batches, each batch runs in one activity
 * (resumable from its heartbeat details), and a finalize step sums the batch results. Nothing here
 * imports Temporal: activities adapt it.
 */
import type { CampaignConfig, StageConfig } from "../config/campaignConfig.js";
import type { Db } from "../db/client.js";
import type { LlmClient, UsageSink } from "../llm/client.js";

export interface StageDeps {
  db: Db;
  /** Builds an LLM client for a role of the campaign, recording usage to the sink. */
  createLlm(config: CampaignConfig, role: RoleName, usage: UsageSink): LlmClient;
  /** Directory campaign outputs go under (config.output.dir is resolved against it). */
  baseDir: string;
  log(message: string): void;
}

export type RoleName = "generator" | "judge" | "policy";

export interface StageContext<S extends StageConfig = StageConfig> {
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
}

/** Counters a batch reports; every value is a count so results can be summed. */
export type BatchResult = Record<string, number> & { items: number };

export interface BatchProgress<D> {
  /** Details from the last heartbeat of an earlier attempt of this batch, if any. */
  resumeFrom: D | undefined;
  /** Records progress (sent as the activity's heartbeat details). */
  report(details: D): void;
}

export interface StagePlan {
  batches: number;
  /** Work items the stage will process (samples to write, samples to verify, ...). */
  items: number;
}

export interface StageHandler<S extends StageConfig = StageConfig, D = unknown> {
  name: S["name"];
  plan(ctx: StageContext<S>): Promise<StagePlan>;
  runBatch(ctx: StageContext<S>, batchIndex: number, progress: BatchProgress<D>): Promise<BatchResult>;
  /** Summary persisted as the stage's result; the default sums the batch counters. */
  finalize?(ctx: StageContext<S>, batches: BatchResult[]): Promise<Record<string, unknown>>;
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
