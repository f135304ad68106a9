/**
 * Builds a stage's context for one step: role clients wired to a request ledger, the batch's
 * planned samples, the iteration's output folder. Activities use it; so do tests that call a
 * handler directly.
 */
import { setMaxListeners } from "node:events";
import type { CampaignConfig } from "../config/campaignConfig.js";
import type { Db } from "../db/client.js";
import { pageBatchSamples } from "../db/repos/stageBatchItems.js";
import { iterationOutputDir } from "../output/layout.js";
import { configForIteration } from "../db/repos/campaignConfigs.js";
import { simulatedByRole } from "../db/repos/usage.js";
import type { UsageSink } from "../llm/usage.js";
import { codeVersion } from "../provenance/codeVersion.js";
import { campaignProvenance, exportProvenance, sampleProvenance, type CampaignProvenance } from "../provenance/provenance.js";
import { RequestLedger } from "./requestLedger.js";
import type { StageContext, StageDeps, StageEntry } from "./stage.js";

export function buildStageContext<S extends StageEntry>(p: {
  campaignId: string;
  iteration: number;
  config: CampaignConfig;
  stage: S;
  deps: StageDeps;
  signal: AbortSignal;
  /** model_versions.id of the served policy in force (null: the configured policy). */
  policyVersionId?: string | null;
  /** The step's ledger; a new one (batch unknown) when absent. */
  ledger?: RequestLedger;
}): { ctx: StageContext<S>; ledger: RequestLedger } {
  const key = { campaignId: p.campaignId, iteration: p.iteration, stage: p.stage.name };
  const ledger = p.ledger ?? new RequestLedger(p.deps.db, { ...key, batchIndex: null });
  const db: Db = p.deps.db;
  // Stages fan out many concurrent LLM calls, each listening on the step's signal while in flight
  // (their number is bounded by the endpoint limits): a signal of the step's own, without Node's
  // listener-count warning, that follows the activity's cancellation.
  const step = new AbortController();
  setMaxListeners(0, step.signal);
  if (p.signal.aborted) step.abort(p.signal.reason);
  else p.signal.addEventListener("abort", () => step.abort(p.signal.reason), { once: true });
  // Roles whose answers in this step came from the LLM simulator: what sample provenance reports.
  const simulatedRoles = new Set<string>();
  const sink: UsageSink = {
    sending: (e) => ledger.sending(e),
    withdrawn: (e) => ledger.withdrawn(e),
    record: (e) => {
      if (e.simulated) simulatedRoles.add(e.role);
      ledger.record(e);
    },
  };
  let base: Promise<CampaignProvenance> | undefined;
  const campaignPart = () =>
    (base ??= configForIteration(db, p.campaignId, p.iteration).then((stored) =>
      campaignProvenance({ campaignId: p.campaignId, config: p.config, stored, code: codeVersion() }),
    ));
  const ctx: StageContext<S> = {
    campaignId: p.campaignId,
    iteration: p.iteration,
    config: p.config,
    stage: p.stage,
    deps: p.deps,
    signal: step.signal,
    policyVersionId: p.policyVersionId ?? null,
    llm: (role) => p.deps.createLlm(p.config, role, sink, p.campaignId),
    batchSamples: (batchIndex, page) => pageBatchSamples(db, key, batchIndex, page),
    outputDir: () => iterationOutputDir(p.deps.baseDir, p.config.output.dir, p.campaignId, p.iteration),
    sampleProvenance: async (roles, opts = {}) =>
      sampleProvenance(await campaignPart(), {
        config: p.config,
        iteration: p.iteration,
        stage: p.stage.name,
        roles,
        simulatedRoles,
        alsoSimulated: opts.alsoSimulated,
      }),
    exportProvenance: async () => exportProvenance(await campaignPart(), p.config, p.iteration, await simulatedByRole(db, p.campaignId, { upto: p.iteration })),
  };
  return { ctx, ledger };
}
