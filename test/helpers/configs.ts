import assert from "node:assert/strict";
import { parseCampaignConfig, type CampaignConfig, type CampaignConfigInput } from "../../src/config/campaignConfig.js";

/** A small campaign against a simulator endpoint; tests override what they exercise. */
export function simulatorCampaign(simUrl: string, over: Partial<CampaignConfigInput> & { count?: number; batchSize?: number } = {}): CampaignConfigInput {
  const { count = 40, batchSize = 10, ...rest } = over;
  return {
    name: "test",
    seed: 7,
    iterations: 1,
    endpoints: { sim: { baseUrl: simUrl, maxConcurrency: 8, timeoutMs: 10_000, maxRetries: 1 } },
    roles: { generator: { endpoint: "sim", model: "toolloop-sim" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [
      { name: "synthesize.singleTurn", count, batchSize, mix: { standard: 0.5, parallel: 0.3, irrelevance: 0.2 } },
      { name: "verify.rules", batchSize: 25 },
      { name: "export.dataset" },
    ],
    concurrency: { batchesInParallel: 2 },
    ...rest,
  };
}

/**
 * Parsing a campaign whose second stage (after verify.rules) is `stageName` with the given fields:
 * `rawConfig` the input, `parse` the config (throws if refused), `configError` the refusal's message (fails if accepted).
 */
export function afterVerifyStageParser(stageName: string): {
  rawConfig: (stage: Record<string, unknown>) => Record<string, unknown>;
  parse: (stage: Record<string, unknown>) => CampaignConfig;
  configError: (stage: Record<string, unknown>) => string;
} {
  const rawConfig = (stage: Record<string, unknown>): Record<string, unknown> => ({
    name: `${stageName.replace(".", "-")}-test`,
    seed: 42,
    endpoints: { sim: { baseUrl: "http://127.0.0.1:9/v1" } },
    roles: { generator: { endpoint: "sim", model: "toolloop-sim-generator" } },
    tools: { sources: [{ kind: "example" }] },
    stages: [{ name: "verify.rules" }, { name: stageName, ...stage }],
  });
  return {
    rawConfig,
    parse(stage) {
      const r = parseCampaignConfig(rawConfig(stage));
      if (!r.ok) throw r.error;
      return r.config;
    },
    configError(stage) {
      const r = parseCampaignConfig(rawConfig(stage));
      assert.equal(r.ok, false, `expected ${JSON.stringify(stage)} to be rejected`);
      return r.ok ? "" : r.error.message;
    },
  };
}
