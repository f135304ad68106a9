import type { CampaignConfigInput } from "../../src/config/campaignConfig.js";

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
