/**
 * The self-evolving loop's campaign for end-to-end tests: synthesis and verification in the first
 * iteration, then every iteration selects the pool, exports it, trains with the stand-in trainer,
 * evaluates, scores, probes, repairs labels and expands errors. Sizes differ per test.
 */
import path from "node:path";
import { simulatorCampaign } from "./configs.js";
import { standinTrainingStages } from "./standinTraining.js";
import { trainVenvPython } from "./trainVenv.js";

export interface LoopSizes {
  iterations: number;
  count: number;
  synthBatch: number;
  verifyBatch: number;
  seedBudget: number;
  budget: number;
  standin: Parameters<typeof standinTrainingStages>[0];
  bfclCategories: string[];
  bfclLimit: number;
  scoreBatch: number;
  consistencyK: number;
  repairBatch: number;
  perSeed: number;
}

export function selfEvolvingLoopConfig(p: { simUrl: string; workDir: string; campaignId?: string; sizes: LoopSizes }) {
  const z = p.sizes;
  const committee = { members: [{ role: "judge", samples: 3 }], consensus: 2 };
  const stages = [
    { name: "synthesize.singleTurn", runIn: "first", count: z.count, batchSize: z.synthBatch, mix: { standard: 0.6, parallel: 0.25, irrelevance: 0.15 } },
    { name: "verify.rules", runIn: "first", batchSize: z.verifyBatch },
    { name: "dedupe.exact", runIn: "first" },
    {
      name: "select.nextRound",
      seedBudget: z.seedBudget,
      budget: z.budget,
      mix: { high_ppl: 0.35, repaired: 0.15, error_seed: 0.1, expanded: 0.2, unused_seed: 0.2 },
    },
    { name: "export.verl", from: "pool", valFraction: 0.1, sft: true },
    ...standinTrainingStages(z.standin),
    { name: "evaluate.bfclFast", categories: z.bfclCategories, limitPerCategory: z.bfclLimit, batchSize: 10 },
    { name: "score.perplexity", batchSize: z.scoreBatch },
    { name: "score.consistency", k: z.consistencyK, batchSize: z.scoreBatch },
    { name: "probe.greedy", batchSize: z.scoreBatch },
    { name: "repair.labels", batchSize: z.repairBatch, committee },
    { name: "expand.errors", perSeed: z.perSeed, batchSize: 20, committee },
  ];
  return simulatorCampaign(p.simUrl, {
    iterations: z.iterations,
    roles: {
      generator: { endpoint: "sim", model: "toolloop-sim-generator", temperature: 0.7 },
      judge: { endpoint: "sim", model: "toolloop-sim-judge", temperature: 0.7 },
      policy: { endpoint: "sim", model: "toolloop-sim-policy", temperature: 0 },
    },
    stages: stages as never,
    cluster: { launcher: { kind: "local", stateDir: path.join(p.workDir, "local-jobs") }, python: trainVenvPython() },
    ...(p.campaignId ? { campaignId: p.campaignId } : {}),
  } as never);
}
