import { z } from "zod";
import { batchSize, endOfTurnTokens, runIn } from "../../../config/fields.js";
import { defineStage } from "../../../framework/stageSpec.js";
import { committeeRolePaths, committeeSchema, SINGLE_JUDGE } from "../../../judging/committeeConfig.js";

/** LoopTool's judgement-guided label verification, with a committee whose consensus is reachable and, when reached, unique. */
export const repairLabelsSpec = defineStage({
  name: "repair.labels",
  title: "judged label repair",
  latency: "llm",
  batchTimeoutMinutes: 30,
  // Committee members may name further roles; the handler checks those against `roles` when it runs.
  roles: ["policy"],
  // Repaired samples are the iteration's; mismatches judged so become error seeds.
  makes: () => ["samples", "errorSeeds"],
  configuredRoles: (c) => committeeRolePaths(c.committee),
  reads: {
    kind: "samples",
    selection: () => ({ scope: "probeMismatches" }),
    describe: "the pool samples probe.greedy found the policy getting wrong in this iteration",
  },
  writes:
    "judge_votes (every vote), label_judgements (verdict and action per mismatch), repaired samples (origin repaired, parent = the original, verified by rules)",
  schema: z.strictObject({
    name: z.literal("repair.labels"),
    runIn,
    /** Mismatches per batch: a batch costs ~6 history events; a rerun asks only the judges whose vote is missing. */
    batchSize: batchSize(250),
    /** Who judges and how many votes a verdict needs; one judge asked once by default. */
    committee: committeeSchema.default(SINGLE_JUDGE),
    /**
     * The policy's end-of-turn token(s) for the perplexities a both-correct verdict compares, as in
     * score.perplexity (set both alike: a stored label_ppl is reused only when computed with the same).
     */
    endOfTurnTokens: endOfTurnTokens.optional(),
  }),
});
